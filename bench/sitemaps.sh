#!/usr/bin/env bash
# Do sitemaps crowd out other pages? (issue 25, item 15.) On PostgreSQL seeded with 100,000
# compositions, the server in the production configuration: an unrelated profile page is timed
# alone, then again while eight clients read the 50,000-URL sitemaps and searches for
# BENCH_SECONDS. Not a test and not run by CI.
#
#   bash bench/sitemaps.sh
#   BENCH_REUSE=1 BENCH_BIN=/path/to/other/ragtime bash bench/sitemaps.sh   # compare a binary
#
# Environment (all optional):
#   BENCH_REUSE     1: keep the database this script seeded before                          [0]
#   BENCH_DB        the database                                  [ragtime_sitemaps]
#   BENCH_PG        PostgreSQL server URL without a database      [postgres://postgres@127.0.0.1:5432]
#   BENCH_BIN       the ragtime binary to measure                 [target/release/ragtime, built]
#   BENCH_SECONDS   how long the eight clients load the server   [20]
#   BENCH_POOL_SIZE DATABASE_POOL_SIZE of the server              [5, the production default]
#
# The clients: four wrk connections on the compositions' sitemaps (0, 1 and 2: 50,000 URLs
# each for the first two) and the users' one, four on searches (common words, one word, a
# phrase, people). The profile is timed by one wrk connection, one request at a time. Only the
# server this script started is stopped; the database is left in place.

set -euo pipefail

PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
DB=${BENCH_DB:-ragtime_sitemaps}
POOL=${BENCH_POOL_SIZE:-5}
REUSE=${BENCH_REUSE:-0}
SECONDS_OF_LOAD=${BENCH_SECONDS:-20}
WRK_ARGS=()
USERS=2000
COMPOSITIONS=100000

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init

if [[ $REUSE == 1 ]] && psql_admin "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
    say "reusing the database $DB"
    ragtime deploy >/dev/null
    SEED_REPORT="(reused: $(psql_bench "SELECT count(*) FROM compositions") compositions)"
else
    fresh_database
    say "ragtime deploy"
    ragtime deploy >/dev/null
    seed --users "$USERS" --compositions "$COMPOSITIONS" --follows 20 --comments 0 --likes 0
    psql_bench "VACUUM ANALYZE" >/dev/null
fi
start_server

# An artist of a few compositions: their profile is a small page, no sitemap's business.
PROFILE=$(psql_bench "SELECT username FROM users WHERE compositions_count BETWEEN 5 AND 50
    ORDER BY id LIMIT 1")
[[ -n $PROFILE ]] || die "no artist with 5 to 50 compositions"
PROFILE_PATH=/user/$PROFILE
code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE$PROFILE_PATH")
[[ $code == 200 ]] || die "$PROFILE_PATH answers $code"

LOADS=(
    /sitemaps/compositions-0.xml
    /sitemaps/compositions-1.xml
    /sitemaps/compositions-2.xml
    /sitemaps/users-0.xml
    "/search?q=recorded+live"
    "/search?q=waltz"
    "/search?q=%22delta+blues%22+-stride"
    "/search?q=rosa&type=people"
)
for path in "${LOADS[@]}"; do
    code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE$path")
    [[ $code == 200 ]] || die "$path answers $code"
done

# profile SECONDS: p50 and p99 of the profile, one connection.
profile() {
    local out
    out=$(wrk -t1 -c1 -d"$1s" --timeout 10s --latency "$BASE$PROFILE_PATH")
    printf 'p50 %s, p99 %s, max %s, %s req/s\n' \
        "$(awk '$1 == "50%" { print $2 }' <<<"$out")" \
        "$(awk '$1 == "99%" { print $2 }' <<<"$out")" \
        "$(awk '$1 == "Latency" { print $4 }' <<<"$out")" \
        "$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")"
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
say "the profile $PROFILE_PATH alone"
ALONE=$(profile 8)

say "eight clients on sitemaps and searches for ${SECONDS_OF_LOAD}s, the profile meanwhile"
pids=()
for i in "${!LOADS[@]}"; do
    wrk -t1 -c1 -d"${SECONDS_OF_LOAD}s" --timeout 30s "$BASE${LOADS[$i]}" >"$WORK/load-$i.txt" &
    pids+=($!)
done
sleep 2 # let the load start
LOADED=$(profile $((SECONDS_OF_LOAD - 4)))
for pid in "${pids[@]}"; do
    wait "$pid"
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

echo
echo "ragtime sitemap benchmark: $(date -u +%Y-%m-%dT%H:%MZ), pool $POOL"
echo "binary: $BIN_DESCRIPTION"
echo "machine: $(nproc) CPUs; load average $LOAD_BEFORE before, $LOAD_AFTER after"
echo "database: $DB, $(psql_bench "SELECT pg_size_pretty(pg_database_size(current_database()))")"
echo "$SEED_REPORT"
echo
echo "$PROFILE_PATH alone:            $ALONE"
echo "$PROFILE_PATH under the load:   $LOADED"
echo
echo "the load (requests in ${SECONDS_OF_LOAD}s, one connection each):"
for i in "${!LOADS[@]}"; do
    printf '  %-45s %6s requests, %s\n' "${LOADS[$i]}" \
        "$(awk '/requests in/ { print $1 }' "$WORK/load-$i.txt")" \
        "$(grep -E 'Non-2xx|Socket errors' "$WORK/load-$i.txt" | sed 's/^ *//' | tr '\n' ' ')"
done
echo "server peak RSS (VmHWM): $(server_rss)"
