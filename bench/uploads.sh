#!/usr/bin/env bash
# Uploads that do not hurt the server (issue 11): 8 concurrent 50 MiB WAV uploads through the
# API while wrk loads the home page. Prints the server's peak RSS and the home page's latency
# while the uploads run. Not a test and not run by CI; about half a minute after the build.
#
#   bash bench/uploads.sh
#
# Environment (all optional):
#   BENCH_UPLOADS   concurrent uploads               [8]
#   BENCH_SECONDS   seconds of audio per file        [297: 50 MiB of 44.1 kHz stereo 16-bit WAV]
#
# SQLite in a temporary directory, the local media store; only the server this script started
# is stopped. Needs ffmpeg (for the file) and wrk (apt-get install ffmpeg wrk).

set -euo pipefail

UPLOADS=${BENCH_UPLOADS:-8}
SECONDS_OF_AUDIO=${BENCH_SECONDS:-297}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$ROOT/target/release/ragtime
WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
say() { printf '==> %s\n' "$*" >&2; }
for tool in ffmpeg wrk curl python3; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is required" >&2; exit 1; }
done

say "building the release binary"
(cd "$ROOT" && cargo build --release --quiet)

say "making a ${SECONDS_OF_AUDIO} s stereo WAV"
ffmpeg -loglevel error -f lavfi -i "sine=frequency=330:duration=$SECONDS_OF_AUDIO" -ac 2 \
    -ar 44100 -c:a pcm_s16le "$WORK/big.wav"
ls -l "$WORK/big.wav" | awk '{printf "==> file: %.1f MiB\n", $5 / 1048576}' >&2

PORT=$((20000 + RANDOM % 20000))
BASE=http://127.0.0.1:$PORT
export RAGTIME_CONFIG=production SECRET_KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
export RAGTIME_SERVER_NAME=127.0.0.1:$PORT DATABASE_URL="sqlite://$WORK/bench.sqlite?mode=rwc"
export RAGTIME_MEDIA_URL="file://$WORK/media" RAGTIME_HOST=127.0.0.1 PORT RUST_LOG=warn
export RAGTIME_MEDIA_QUOTA_BYTES=$((4 * 1024 * 1024 * 1024))
cd "$WORK"
"$BIN" deploy >/dev/null
# 8 artists with an album each: the uploads go to different compositions, as in real use.
"$BIN" seed --users "$UPLOADS" --compositions $((UPLOADS * 10)) --follows 2 >/dev/null
"$BIN" serve &
SERVER_PID=$!
for _ in $(seq 1 100); do curl -fs "$BASE/healthz" >/dev/null && break; sleep 0.1; done

# One album (EP or album) per artist, with the artist's address.
TARGETS=$(python3 - "$WORK/bench.sqlite" "$UPLOADS" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute("""SELECT MIN(c.id), u.email FROM compositions c JOIN users u ON u.id = c.artist_id
                     WHERE c.release_type > 1 GROUP BY u.id LIMIT ?""", (int(sys.argv[2]),))
for cid, email in rows:
    print(cid, email)
PY
)
# A token each, as an API client would hold: Basic auth would hash the password (Argon2, 19 MiB
# each) on every upload, which is the login's cost, not the upload's.
TARGETS=$(while read -r cid email; do
    token=$(curl -fs -u "$email:ragtime-seed" -X POST "$BASE/api/v1/tokens/" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')
    echo "$cid $email $token"
done <<< "$TARGETS")
rss() { awk '/VmHWM/ {print $2}' "/proc/$SERVER_PID/status"; }
say "server up, peak RSS so far $(( $(rss) / 1024 )) MiB; $UPLOADS uploads while wrk loads /"
# wrk runs exactly while the uploads do: stopped with SIGINT, it prints what it measured.
wrk -t1 -c4 -d120s --latency "$BASE/" > "$WORK/wrk.txt" &
WRK=$!
sleep 1
start=$(date +%s.%N)
PIDS=()
while read -r cid email token; do
    curl -s -o "$WORK/up.$cid" -w "%{http_code} %{time_total}s\n" -H "Authorization: Bearer $token" \
        -H 'Content-Type: audio/wav' --data-binary "@$WORK/big.wav" \
        "$BASE/api/v1/compositions/$cid/tracks" &
    PIDS+=($!)
done <<< "$TARGETS"
wait "${PIDS[@]}"
end=$(date +%s.%N)
kill -INT "$WRK"
wait "$WRK" || true
say "uploads done in $(python3 -c "print(round($end - $start, 1))") s"
grep -h -o '"duration_ms":[0-9]*' "$WORK"/up.* | sort | uniq -c >&2 || true
echo "peak RSS: $(( $(rss) / 1024 )) MiB"
echo "home page during the uploads (wrk -t1 -c4):"
grep -E "Requests/sec|50%|99%" "$WORK/wrk.txt"
