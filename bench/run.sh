#!/usr/bin/env bash
# Benchmark the release build on PostgreSQL with wrk: a fresh database seeded with
# `ragtime seed`, the server in the production configuration, then the main pages one by one.
# Not a test and not run by CI; about two minutes of load in all. bench/scale.sh measures
# more URLs on larger data.
#
#   bash bench/run.sh
#
# Environment (all optional):
#   BENCH_PG        PostgreSQL server URL without a database  [postgres://postgres@127.0.0.1:5432]
#   BENCH_DB        database to (re)create for the benchmark  [ragtime_bench]
#   BENCH_DURATION  wrk duration per URL                      [15s]
#   BENCH_POOL_SIZE DATABASE_POOL_SIZE of the server          [5, the production default]
#   BENCH_BIN       the ragtime binary to measure             [target/release/ragtime, built]
#
# The database is dropped and re-created at the start and left in place at the end, so the
# data can be inspected (`psql $BENCH_PG/$BENCH_DB`). Only the server this script started is
# stopped; nothing else is touched.

set -euo pipefail

PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
DB=${BENCH_DB:-ragtime_bench}
DURATION=${BENCH_DURATION:-15s}
POOL=${BENCH_POOL_SIZE:-5}
WRK_ARGS=(-t2 -c16 -d"$DURATION" --latency)
USERS=200
COMPOSITIONS=5000
FOLLOWS=20

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init

# ----- Database, seed, server ----------------------------------------------------------------

fresh_database
say "ragtime deploy"
ragtime deploy >/dev/null
seed --users "$USERS" --compositions "$COMPOSITIONS" --follows "$FOLLOWS"
start_server

# ----- What to measure -----------------------------------------------------------------------

# The first seeded user is the most prolific artist and follows about $FOLLOWS others.
USERNAME=$(psql_bench "SELECT username FROM users ORDER BY id LIMIT 1")
[[ -n $USERNAME ]] || die "no seeded user found"
EMAIL=$(psql_bench "SELECT email FROM users ORDER BY id LIMIT 1")

# A composition from the middle of the table.
read -r COMP_ID COMP_TITLE < <(psql_bench "SELECT id, title FROM compositions ORDER BY id
    OFFSET (SELECT count(*) / 2 FROM compositions) LIMIT 1" | tr '|' ' ')
PERMALINK=$(permalink "$COMP_ID" "$COMP_TITLE")

FEED_COOKIE=$(login "$EMAIL" "$WORK/cookies" show_followed)
[[ -n $FEED_COOKIE ]] || say "skipping the logged-in feed"
API_TOKEN=$(api_token "$EMAIL")
[[ -n $API_TOKEN ]] || say "skipping the API"

# ----- Load ----------------------------------------------------------------------------------

measure "/ (all, anonymous)" "/"
measure "/?page=5" "/?page=5"
measure "/user/<name>" "/user/$USERNAME"
measure "permalink" "$PERMALINK"
if [[ -n $FEED_COOKIE ]]; then
    measure "/ (followed feed, logged in)" "/" "Cookie: $FEED_COOKIE"
fi
if [[ -n $API_TOKEN ]]; then
    measure "/api/v1/compositions/ (token)" "/api/v1/compositions/" "Authorization: Bearer $API_TOKEN"
fi

RSS=$(server_rss)

# ----- Report --------------------------------------------------------------------------------

echo
echo "ragtime benchmark: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, wrk ${WRK_ARGS[*]}"
echo "binary: $BIN_DESCRIPTION"
echo "$SEED_REPORT"
echo "profile /user/$USERNAME, permalink $PERMALINK"
if [[ -n $FEED_COOKIE ]]; then
    echo "followed feed: logged in as $EMAIL, cookies: $(sed -E 's/=[^;]*//g' <<<"$FEED_COOKIE")"
fi
echo
print_table
echo
echo "server peak RSS (VmHWM): $RSS"
echo "database $DB left in place: psql $DATABASE_URL"
