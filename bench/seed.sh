#!/usr/bin/env bash
# How long `ragtime seed` takes on PostgreSQL (issue 25, item 20): a fresh database, `ragtime
# deploy`, then the seed of bench/scale.sh's 1m data, timed. Not a test and not run by CI.
#
#   bash bench/seed.sh                          # 20,000 users, 1,000,000 compositions
#   BENCH_COMPOSITIONS=100000 bash bench/seed.sh
#
# Environment (all optional):
#   BENCH_USERS         --users                                          [20000]
#   BENCH_COMPOSITIONS  --compositions (comments: twice, likes: as many) [1000000]
#   BENCH_FOLLOWS       --follows                                        [20]
#   BENCH_TIMEOUT       give up after this long (timeout(1))             [1h]
#   BENCH_DB            the database, dropped and re-created             [ragtime_seed]
#   BENCH_PG            PostgreSQL server URL without a database  [postgres://postgres@127.0.0.1:5432]
#   BENCH_BIN           the ragtime binary to time               [target/release/ragtime, built]
#
# The database is left in place at the end (bench/scale.sh can reuse a 1m one with
# BENCH_DB=ragtime_seed BENCH_REUSE=1).

set -euo pipefail

PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
DB=${BENCH_DB:-ragtime_seed}
POOL=5
USERS=${BENCH_USERS:-20000}
COMPOSITIONS=${BENCH_COMPOSITIONS:-1000000}
FOLLOWS=${BENCH_FOLLOWS:-20}
LIMIT=${BENCH_TIMEOUT:-1h}

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init

fresh_database
say "ragtime deploy"
ragtime deploy >/dev/null

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
say "ragtime seed --users $USERS --compositions $COMPOSITIONS --follows $FOLLOWS (at most $LIMIT)"
started=$(date +%s.%N)
status=0
REPORT=$(cd "$WORK" && timeout "$LIMIT" env RAGTIME_CONFIG=production SECRET_KEY="$SECRET_KEY" \
    RAGTIME_SERVER_NAME=127.0.0.1 RAGTIME_MEDIA_URL="file://$WORK/media" \
    DATABASE_URL="$DATABASE_URL" RUST_LOG=warn "$BIN" seed --users "$USERS" \
    --compositions "$COMPOSITIONS" --follows "$FOLLOWS" | grep '^seed: ') || status=$?
WALL=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

echo
echo "ragtime seed benchmark: $(date -u +%Y-%m-%dT%H:%MZ)"
echo "binary: $BIN_DESCRIPTION"
echo "machine: $(nproc) CPUs; load average $LOAD_BEFORE before, $LOAD_AFTER after;" \
    "$(psql_bench "SELECT split_part(version(), ' on ', 1) || ', shared_buffers ' || current_setting('shared_buffers')")"
if [[ $status == 124 ]]; then
    echo "seed --users $USERS --compositions $COMPOSITIONS --follows $FOLLOWS: not done after $LIMIT"
    exit 1
elif [[ $status != 0 ]]; then
    echo "seed failed (exit $status) after $WALL s"
    exit 1
fi
echo "$REPORT"
echo "seed --users $USERS --compositions $COMPOSITIONS --follows $FOLLOWS: $WALL s wall clock"
echo "database: $DB, $(psql_bench "SELECT pg_size_pretty(pg_database_size(current_database()))")"
