# shellcheck shell=bash
# What the PostgreSQL benchmarks share (bench/run.sh, bench/scale.sh): sourced, not run.
#
# The sourcing script sets, before calling anything here:
#   PG        PostgreSQL server URL without a database
#   DB        the benchmark database (a plain lower-case identifier)
#   POOL      DATABASE_POOL_SIZE of the server
#   WRK_ARGS  an array: wrk's options (threads, connections, duration, --latency)
# and calls bench_init first. Only the server started here is stopped; nothing else is touched.

PASSWORD=ragtime-seed # what `ragtime seed` gives every fake user

say() { printf '==> %s\n' "$*" >&2; }
die() {
    printf 'bench: %s\n' "$*" >&2
    exit 1
}

# bench_init: checks the names and tools, makes the scratch directory, and picks the binary:
# $BENCH_BIN if set, else target/release/ragtime built from this checkout.
bench_init() {
    if [[ ! $DB =~ ^[a-z_][a-z0-9_]*$ ]]; then
        echo "bench: the database name must be a plain lower-case identifier, not '$DB'" >&2
        exit 2
    fi
    ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    WORK=$(mktemp -d)
    SERVER_PID=
    DATABASE_URL=$PG/$DB
    SECRET_KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
    trap bench_cleanup EXIT

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
    for tool in curl psql; do
        command -v "$tool" >/dev/null || die "$tool is required"
    done

    if [[ -n ${BENCH_BIN:-} ]]; then
        BIN=$BENCH_BIN
        [[ -x $BIN ]] || die "BENCH_BIN=$BIN is not an executable"
        BIN_DESCRIPTION="$BIN (BENCH_BIN)"
    else
        command -v cargo >/dev/null || die "cargo is required (or set BENCH_BIN)"
        say "building the release binary"
        (cd "$ROOT" && cargo build --release --quiet)
        BIN=$ROOT/target/release/ragtime
        BIN_DESCRIPTION="$BIN, built from $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?')"
    fi
}

bench_cleanup() {
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}

psql_admin() { psql "$PG/postgres" -v ON_ERROR_STOP=1 -qAtc "$1"; }
psql_bench() { psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -qAtc "$1"; }

# ragtime [NAME=VALUE...] COMMAND [ARGS...]: the binary in the production configuration, from
# the empty scratch directory so no developer .env leaks in; NAME=VALUE adds to its environment.
ragtime() { (exec_ragtime "$@"); }

# exec_ragtime [NAME=VALUE...] COMMAND [ARGS...]: the same, in place of the calling (sub)shell,
# so that `exec_ragtime serve &` gives the server's own pid in $!.
exec_ragtime() {
    local vars=()
    while [[ ${1:-} == *=* ]]; do
        vars+=("$1")
        shift
    done
    cd "$WORK" &&
        exec env RAGTIME_CONFIG=production SECRET_KEY="$SECRET_KEY" RAGTIME_SERVER_NAME=127.0.0.1 \
            RAGTIME_MEDIA_URL="file://$WORK/media" DATABASE_URL="$DATABASE_URL" \
            DATABASE_POOL_SIZE="$POOL" RAGTIME_HOST=127.0.0.1 RUST_LOG=warn "${vars[@]}" "$BIN" "$@"
}

# fresh_database: drop and re-create $DB.
fresh_database() {
    say "creating the database $DB"
    psql_admin "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
    psql_admin "CREATE DATABASE $DB"
}

# seed ARGS...: `ragtime seed ARGS`; sets SEED_REPORT to its `seed: ` line.
seed() {
    say "ragtime seed $*"
    SEED_REPORT=$(ragtime seed "$@" | grep '^seed: ')
    printf '%s\n' "$SEED_REPORT" >&2
}

# start_server: `ragtime serve` on a free port, waits for /healthz; sets SERVER_PID and BASE.
start_server() {
    port_is_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
    local port='' candidate
    for _ in $(seq 1 50); do
        candidate=$((20000 + RANDOM % 20000))
        if port_is_free "$candidate"; then
            port=$candidate
            break
        fi
    done
    [[ -n $port ]] || die "no free port found"
    BASE=http://127.0.0.1:$port

    say "starting the server on $BASE (production config, pool $POOL)"
    exec_ragtime PORT="$port" serve >"$WORK/server.log" 2>&1 &
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
}

# server_rss: the server's peak resident memory so far (VmHWM).
server_rss() { awk '/^VmHWM:/ { print $2, $3 }' "/proc/$SERVER_PID/status" 2>/dev/null || echo "?"; }

# permalink ID TITLE: the composition's permalink (SPEC §3): id-slug, where the slug is the
# lower-cased title with runs of non-word characters replaced by '-'. If the server redirects
# (our slug differs from its own), the URL it redirects to.
permalink() {
    local slug path code location
    slug=$(printf '%s' "$2" | tr '[:upper:]' '[:lower:]' | sed -E 's/[^[:alnum:]_]+/-/g; s/^-+//; s/-+$//')
    path=/composition/$1-$slug
    read -r code location < <(curl -s -o /dev/null -w '%{http_code} %{redirect_url}\n' "$BASE$path")
    if [[ $code == 301 || $code == 308 ]] && [[ -n $location ]]; then
        path=${location#"$BASE"}
    fi
    printf '%s\n' "$path"
}

# login EMAIL JAR: log in like a browser (the login form gives a session cookie and a CSRF
# token) and print the session's Cookie header value; nothing (and a note) if it fails.
# With show_followed, also visit /followed, which sets the show_followed cookie.
login() {
    local email=$1 jar=$2 show_followed=${3:-} page csrf code cookie
    page=$(curl -s -c "$jar" -b "$jar" "$BASE/auth/login")
    csrf=$(printf '%s' "$page" | sed -nE 's/.*name="csrf_token" value="([^"]*)".*/\1/p' | head -n 1)
    if [[ -z $csrf ]]; then
        say "no CSRF token on /auth/login: cannot log in as $email"
        return
    fi
    code=$(curl -s -o /dev/null -w '%{http_code}' -c "$jar" -b "$jar" \
        --data-urlencode "csrf_token=$csrf" --data-urlencode "email=$email" \
        --data-urlencode "password=$PASSWORD" --data-urlencode "next=/" "$BASE/auth/login")
    if [[ $code != 303 && $code != 302 ]]; then
        say "login as $email answered $code"
        return
    fi
    [[ -n $show_followed ]] && curl -s -o /dev/null -c "$jar" -b "$jar" "$BASE/followed"
    cookie=$(awk -F'\t' 'NF >= 7 && $6 != "" { printf "%s%s=%s", sep, $6, $7; sep = "; " }' "$jar")
    if [[ -n $show_followed && $cookie != *show_followed=1* ]]; then
        say "/followed did not set show_followed=1: adding it by hand"
        cookie="$cookie; show_followed=1"
    fi
    printf '%s\n' "$cookie"
}

# api_token EMAIL: a token from POST /api/v1/tokens/ (Basic email:password), or nothing.
api_token() {
    local answer code
    answer=$(curl -s -w '\n%{http_code}' -X POST -u "$1:$PASSWORD" "$BASE/api/v1/tokens/")
    code=${answer##*$'\n'}
    if [[ $code == 200 || $code == 201 ]]; then
        printf '%s' "${answer%$'\n'*}" | sed -nE 's/.*"token" *: *"([^"]*)".*/\1/p'
    else
        say "POST /api/v1/tokens/ answered $code"
    fi
}

# ----- Load ----------------------------------------------------------------------------------

ROWS=()        # label, path, status, req/s, p50, p99, note: tab-separated
AFTER_IGNORED= # set when a cursor URL answered its first page

# body PATH [HEADER]: the page with the per-request CSRF tokens (long base64 runs) blanked.
body() {
    local args=()
    [[ -n ${2:-} ]] && args=(-H "$2")
    curl -s "${args[@]}" "$BASE$1" | sed -E 's/[A-Za-z0-9_-]{40,}//g'
}

# measure LABEL PATH [HEADER]: wrk on one URL if it answers 200, and a row of the table.
# With BENCH_ONLY set (an extended regular expression), only the labels it matches.
measure() {
    local label=$1 path=$2 header=${3:-}
    if [[ -n ${BENCH_ONLY:-} && ! $label =~ $BENCH_ONLY ]]; then
        return
    fi
    local args=()
    [[ -n $header ]] && args=(-H "$header")
    local code note=
    code=$(curl -s -o /dev/null -w '%{http_code}' "${args[@]}" "$BASE$path")
    if [[ $code == 5* ]]; then
        # Often a statement timeout on a cold cache: the second request finds the data read.
        say "$label: $path answers $code; once more"
        note="first request: $code"
        code=$(curl -s -o /dev/null -w '%{http_code}' "${args[@]}" "$BASE$path")
    fi
    if [[ $code != 200 ]]; then
        ROWS+=("$label"$'\t'"$path"$'\t'"$code"$'\t-\t-\t-\t'"(not measured)${note:+ $note}")
        say "$label: $path answers $code, not measured"
        return
    fi
    # A server that does not know after= ignores it: the same page as without it. (after= is
    # the last parameter of the URLs measured.)
    local cursor_url='^(.*)[?&]after=[^&]*$'
    if [[ $path =~ $cursor_url ]]; then
        local first=${BASH_REMATCH[1]}
        if [[ $(body "$path" "$header") == "$(body "$first" "$header")" ]]; then
            note="= first page (after= ignored)${note:+; $note}"
            AFTER_IGNORED=1
        fi
    fi
    say "wrk ${WRK_ARGS[*]}: $label ($path)"
    local out rps p50 p99 bad
    out=$(wrk "${WRK_ARGS[@]}" "${args[@]}" "$BASE$path")
    rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
    p50=$(awk '$1 == "50%" { print $2 }' <<<"$out")
    p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
    bad=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' <<<"$out")
    [[ -n $bad ]] && note="${note:+$note; }$bad non-2xx"
    if grep -q 'Socket errors' <<<"$out"; then
        note="${note:+$note; }$(grep 'Socket errors' <<<"$out" | sed 's/^ *//')"
    fi
    ROWS+=("$label"$'\t'"$path"$'\t'"$code"$'\t'"${rps:-?}"$'\t'"${p50:-?}"$'\t'"${p99:-?}"$'\t'"$note")
}

# print_table: the rows measured, in columns as wide as their widest cell.
print_table() {
    {
        printf 'URL\tpath\tstatus\treq/s\tp50\tp99\t\n'
        printf '%s\n' "${ROWS[@]}"
    } | awk -F'\t' '
        { for (i = 1; i <= NF; i++) { cell[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } n = NR }
        END {
            for (r = 1; r <= n; r++) {
                line = sprintf("%-" w[1] "s  %-" w[2] "s  %6s  %10s  %9s  %9s", \
                    cell[r, 1], cell[r, 2], cell[r, 3], cell[r, 4], cell[r, 5], cell[r, 6])
                if (cell[r, 7] != "") line = line "  " cell[r, 7]
                print line
            }
        }'
    if [[ -n $AFTER_IGNORED ]]; then
        echo "(= first page: this binary ignores after=, so those rows measure the first page)"
    fi
}
