#!/usr/bin/env bash
# Benchmark the release build on PostgreSQL with wrk: a fresh database seeded with
# `ragtime seed`, the server in the production configuration, then the main pages one by one.
# Not a test and not run by CI; about two minutes of load in all.
#
#   bash bench/run.sh
#
# Environment (all optional):
#   BENCH_PG        PostgreSQL server URL without a database  [postgres://postgres@127.0.0.1:5432]
#   BENCH_DB        database to (re)create for the benchmark  [ragtime_bench]
#   BENCH_DURATION  wrk duration per URL                      [15s]
#   BENCH_POOL_SIZE DATABASE_POOL_SIZE of the server          [5, the production default]
#
# The database is dropped and re-created at the start and left in place at the end, so the
# data can be inspected (`psql $BENCH_PG/$BENCH_DB`). Only the server this script started is
# stopped; nothing else is touched.

set -euo pipefail

PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
DB=${BENCH_DB:-ragtime_bench}
DURATION=${BENCH_DURATION:-15s}
POOL=${BENCH_POOL_SIZE:-5}
USERS=200
COMPOSITIONS=5000
FOLLOWS=20
PASSWORD=ragtime-seed # what `ragtime seed` gives every fake user

if [[ ! $DB =~ ^[a-z_][a-z0-9_]*$ ]]; then
    echo "bench: BENCH_DB must be a plain lower-case identifier, not '$DB'" >&2
    exit 2
fi

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$ROOT/target/release/ragtime
WORK=$(mktemp -d)
SERVER_PID=
DATABASE_URL=$PG/$DB

say() { printf '==> %s\n' "$*" >&2; }
die() {
    printf 'bench: %s\n' "$*" >&2
    exit 1
}

cleanup() {
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# ----- Tools ---------------------------------------------------------------------------------

if ! command -v wrk >/dev/null; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        say "installing wrk"
        apt-get install -y wrk >/dev/null 2>&1 ||
            { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; } ||
            die "cannot install wrk with apt-get"
    else
        die "wrk is not installed (apt-get install wrk, brew install wrk)"
    fi
fi
for tool in curl psql cargo; do
    command -v "$tool" >/dev/null || die "$tool is required"
done

psql_admin() { psql "$PG/postgres" -v ON_ERROR_STOP=1 -qAtc "$1"; }
psql_bench() { psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -qAtc "$1"; }

# ----- Build, database, seed ----------------------------------------------------------------

say "building the release binary"
(cd "$ROOT" && cargo build --release --quiet)

say "creating the database $DB"
psql_admin "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
psql_admin "CREATE DATABASE $DB"

SECRET_KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')

# The binary runs from an empty directory so no developer .env leaks in.
ragtime() {
    (
        cd "$WORK" &&
            exec env RAGTIME_CONFIG=production SECRET_KEY="$SECRET_KEY" RAGTIME_SERVER_NAME=127.0.0.1 RAGTIME_MEDIA_URL="file://$WORK/media" \
                DATABASE_URL="$DATABASE_URL" DATABASE_POOL_SIZE="$POOL" \
                RAGTIME_HOST=127.0.0.1 RUST_LOG=warn "$@"
    )
}

say "ragtime deploy"
ragtime "$BIN" deploy >/dev/null
say "ragtime seed --users $USERS --compositions $COMPOSITIONS --follows $FOLLOWS"
SEED_REPORT=$(ragtime "$BIN" seed --users "$USERS" --compositions "$COMPOSITIONS" --follows "$FOLLOWS" |
    grep '^seed: ')
printf '%s\n' "$SEED_REPORT" >&2

# ----- Server --------------------------------------------------------------------------------

port_is_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PORT=
for _ in $(seq 1 50); do
    candidate=$((20000 + RANDOM % 20000))
    if port_is_free "$candidate"; then
        PORT=$candidate
        break
    fi
done
[[ -n $PORT ]] || die "no free port found"
BASE=http://127.0.0.1:$PORT

say "starting the server on $BASE (production config, pool $POOL)"
(
    cd "$WORK" &&
        exec env RAGTIME_CONFIG=production SECRET_KEY="$SECRET_KEY" RAGTIME_SERVER_NAME=127.0.0.1 RAGTIME_MEDIA_URL="file://$WORK/media" \
            DATABASE_URL="$DATABASE_URL" DATABASE_POOL_SIZE="$POOL" \
            RAGTIME_HOST=127.0.0.1 PORT="$PORT" RUST_LOG=warn "$BIN" serve
) >"$WORK/server.log" 2>&1 &
SERVER_PID=$!

for _ in $(seq 1 100); do
    if curl -fsS -o /dev/null "$BASE/healthz" 2>/dev/null; then
        break
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || {
        cat "$WORK/server.log" >&2
        die "the server exited"
    }
    sleep 0.1
done
curl -fsS -o /dev/null "$BASE/healthz" || die "the server did not answer /healthz"

# ----- What to measure -----------------------------------------------------------------------

# The first seeded user is the most prolific artist and follows about $FOLLOWS others.
USERNAME=$(psql_bench "SELECT username FROM users ORDER BY id LIMIT 1")
[[ -n $USERNAME ]] || die "no seeded user found"
EMAIL=$(psql_bench "SELECT email FROM users ORDER BY id LIMIT 1")

# A composition from the middle of the table, at its permalink (SPEC §3): id-slug, where the
# slug is the lower-cased title with runs of non-word characters replaced by '-'. If the server
# redirects (our slug differs from its own), measure the URL it redirects to.
read -r COMP_ID COMP_TITLE < <(psql_bench "SELECT id, title FROM compositions ORDER BY id
    OFFSET (SELECT count(*) / 2 FROM compositions) LIMIT 1" | tr '|' ' ')
SLUG=$(printf '%s' "$COMP_TITLE" | tr '[:upper:]' '[:lower:]' | sed -E 's/[^[:alnum:]_]+/-/g; s/^-+//; s/-+$//')
PERMALINK=/composition/$COMP_ID-$SLUG
read -r code location < <(curl -s -o /dev/null -w '%{http_code} %{redirect_url}\n' "$BASE$PERMALINK")
if [[ $code == 301 || $code == 308 ]] && [[ -n $location ]]; then
    PERMALINK=${location#"$BASE"}
fi

# Log in once like a browser: the login form gives a session cookie and a CSRF token.
JAR=$WORK/cookies
login_page=$(curl -s -c "$JAR" -b "$JAR" "$BASE/auth/login")
CSRF=$(printf '%s' "$login_page" | sed -nE 's/.*name="csrf_token" value="([^"]*)".*/\1/p' | head -n 1)
FEED_COOKIE=
if [[ -n $CSRF ]]; then
    login_code=$(curl -s -o /dev/null -w '%{http_code}' -c "$JAR" -b "$JAR" \
        --data-urlencode "csrf_token=$CSRF" --data-urlencode "email=$EMAIL" \
        --data-urlencode "password=$PASSWORD" --data-urlencode "next=/" "$BASE/auth/login")
    # /followed sets the show_followed cookie (30 days).
    curl -s -o /dev/null -c "$JAR" -b "$JAR" "$BASE/followed"
    FEED_COOKIE=$(awk -F'\t' 'NF >= 7 && $6 != "" { printf "%s%s=%s", sep, $6, $7; sep = "; " }' "$JAR")
    if [[ $login_code != 303 && $login_code != 302 ]]; then
        say "login answered $login_code: skipping the logged-in feed"
        FEED_COOKIE=
    elif [[ $FEED_COOKIE != *show_followed=1* ]]; then
        say "/followed did not set show_followed=1: adding it by hand"
        FEED_COOKIE="$FEED_COOKIE; show_followed=1"
    fi
else
    say "no CSRF token on /auth/login: skipping the logged-in feed"
fi

# The API, once it exists: a token from POST /api/v1/tokens/ (Basic email:password).
API_TOKEN=
api_answer=$(curl -s -w '\n%{http_code}' -X POST -u "$EMAIL:$PASSWORD" "$BASE/api/v1/tokens/")
api_code=${api_answer##*$'\n'}
if [[ $api_code == 200 || $api_code == 201 ]]; then
    API_TOKEN=$(printf '%s' "${api_answer%$'\n'*}" | sed -nE 's/.*"token" *: *"([^"]*)".*/\1/p')
else
    say "POST /api/v1/tokens/ answered $api_code: skipping the API"
fi

# ----- Load ----------------------------------------------------------------------------------

ROWS=()
row() { ROWS+=("$(printf '%-40s %6s %10s %10s %10s %s' "$@")"); }

# measure LABEL PATH [HEADER]
measure() {
    local label=$1 path=$2 header=${3:-}
    local args=()
    [[ -n $header ]] && args=(-H "$header")
    local code
    code=$(curl -s -o /dev/null -w '%{http_code}' "${args[@]}" "$BASE$path")
    if [[ $code != 200 ]]; then
        row "$label" "$code" "-" "-" "-" "(not measured)"
        say "$label: $path answers $code, not measured"
        return
    fi
    say "wrk $DURATION: $label ($path)"
    local out
    out=$(wrk -t2 -c16 -d"$DURATION" --latency "${args[@]}" "$BASE$path")
    local rps p50 p99 bad note=
    rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
    p50=$(awk '$1 == "50%" { print $2 }' <<<"$out")
    p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
    bad=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' <<<"$out")
    [[ -n $bad ]] && note="$bad non-2xx"
    if grep -q 'Socket errors' <<<"$out"; then
        note="$note $(grep 'Socket errors' <<<"$out" | sed 's/^ *//')"
    fi
    row "$label" "$code" "${rps:-?}" "${p50:-?}" "${p99:-?}" "$note"
}

measure "/ (all, anonymous)" "/"
measure "/?page=50" "/?page=50"
measure "/user/<name>" "/user/$USERNAME"
measure "permalink" "$PERMALINK"
if [[ -n $FEED_COOKIE ]]; then
    measure "/ (followed feed, logged in)" "/" "Cookie: $FEED_COOKIE"
fi
if [[ -n $API_TOKEN ]]; then
    measure "/api/v1/compositions/ (token)" "/api/v1/compositions/" "Authorization: Bearer $API_TOKEN"
fi

RSS=$(awk '/^VmHWM:/ { print $2, $3 }' "/proc/$SERVER_PID/status" 2>/dev/null || echo "?")

# ----- Report --------------------------------------------------------------------------------

echo
echo "ragtime benchmark: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, wrk -t2 -c16 -d$DURATION"
echo "$SEED_REPORT"
echo "profile /user/$USERNAME, permalink $PERMALINK"
if [[ -n $FEED_COOKIE ]]; then
    echo "followed feed: logged in as $EMAIL, cookies: $(sed -E 's/=[^;]*//g' <<<"$FEED_COOKIE")"
fi
echo
printf '%-40s %6s %10s %10s %10s %s\n' "URL" "status" "req/s" "p50" "p99" ""
printf '%s\n' "${ROWS[@]}"
echo
echo "server peak RSS (VmHWM): $RSS"
echo "database $DB left in place: psql $DATABASE_URL"
