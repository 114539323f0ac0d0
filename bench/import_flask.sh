#!/usr/bin/env bash
# Benchmark of `ragtime import-flask` (issue 16) on PostgreSQL: builds a Flask Ragtime database
# with generate_series (100,000 users, 1,000,000 compositions, 2,000,000 follows plus most
# users' self-follows, with some rows of every kind that does not fit), prepares a fresh
# Ragtime database with `ragtime deploy`, then times the import of the release build. The
# goal of the issue: under two minutes on a 2-core machine. Not a test and not run by CI.
#
#   bash bench/import_flask.sh
#   BENCH_USERS=10000 BENCH_COMPOSITIONS=100000 BENCH_FOLLOWS=200000 bash bench/import_flask.sh
#
# Environment (all optional):
#   BENCH_PG            PostgreSQL server URL without a database [postgres://postgres@127.0.0.1:5432]
#   BENCH_OLD_DB        the Flask database, re-created            [ragtime_flask_old]
#   BENCH_DB            the Ragtime database, re-created          [ragtime_flask_new]
#   BENCH_USERS         users                                     [100000]
#   BENCH_COMPOSITIONS  compositions                              [1000000]
#   BENCH_FOLLOWS       follows between different users (at most 50 per user) [2000000]
#   BENCH_REUSE_OLD     1: keep the Flask database of an earlier run [0]
#   BENCH_BIN           the ragtime binary            [target/release/ragtime, built here]
#
# Both databases are left in place at the end, for inspection; the import's report is in
# the scratch directory printed at the end (its first lines are printed here).

set -euo pipefail

PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
OLD_DB=${BENCH_OLD_DB:-ragtime_flask_old}
NEW_DB=${BENCH_DB:-ragtime_flask_new}
USERS=${BENCH_USERS:-100000}
COMPOSITIONS=${BENCH_COMPOSITIONS:-1000000}
FOLLOWS=${BENCH_FOLLOWS:-2000000}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=$(mktemp -d)

say() { printf '==> %s\n' "$*" >&2; }
die() {
    printf 'bench: %s\n' "$*" >&2
    exit 1
}
for name in "$OLD_DB" "$NEW_DB"; do
    [[ $name =~ ^[a-z_][a-z0-9_]*$ ]] || die "database names are plain lower-case identifiers, not '$name'"
done
[[ $OLD_DB != "$NEW_DB" ]] || die "BENCH_OLD_DB and BENCH_DB must differ"
(( FOLLOWS <= USERS * 50 )) || die "BENCH_FOLLOWS is at most 50 per user"
command -v psql >/dev/null || die "psql is required"

if [[ -n ${BENCH_BIN:-} ]]; then
    BIN=$BENCH_BIN
else
    say "cargo build --release"
    (cd "$ROOT" && cargo build --release --quiet)
    BIN=$ROOT/target/release/ragtime
fi
[[ -x $BIN ]] || die "$BIN is not an executable"
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

psql_admin() { PGOPTIONS="-c client_min_messages=warning" psql "$PG/postgres" -v ON_ERROR_STOP=1 -qAtc "$1"; }
# The binary in the production configuration, from the empty scratch directory so no
# developer .env leaks in.
RAGTIME_ENV=(env -i PATH="$PATH" RAGTIME_CONFIG=production DATABASE_URL="$PG/$NEW_DB"
    SECRET_KEY=bench-import-flask-secret-key-0123456789abcdef RAGTIME_SERVER_NAME=127.0.0.1
    RAGTIME_MEDIA_URL="file://$WORK/media"
    RUST_LOG=info,sqlx=warn,sea_orm=warn)
now() { date +%s.%N; }
seconds_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

if [[ ${BENCH_REUSE_OLD:-0} == 1 ]] && psql "$PG/$OLD_DB" -qAtc "SELECT 1 FROM alembic_version" >/dev/null 2>&1; then
    say "reusing the Flask database $OLD_DB"
else
    say "building the Flask database $OLD_DB: $USERS users, $COMPOSITIONS compositions, $FOLLOWS follows"
    psql_admin "DROP DATABASE IF EXISTS $OLD_DB WITH (FORCE)"
    psql_admin "CREATE DATABASE $OLD_DB"
    start=$(now)
    psql "$PG/$OLD_DB" -v ON_ERROR_STOP=1 -q \
        -v users="$USERS" -v compositions="$COMPOSITIONS" -v follows="$FOLLOWS" >/dev/null <<'SQL'
-- The Flask Ragtime's schema at revision 515a4f38c862 (../shared/FLASK_RAGTIME_SCHEMA.md).
CREATE TABLE roles (id serial PRIMARY KEY, name varchar(64) UNIQUE, "default" boolean,
    permissions integer);
CREATE INDEX ix_roles_default ON roles ("default");
CREATE TABLE users (id serial PRIMARY KEY, email varchar(64) UNIQUE, username varchar(64) UNIQUE,
    role_id integer REFERENCES roles (id), password_hash varchar(128), confirmed boolean,
    name varchar(64), location varchar(64), bio text, age integer,
    last_seen timestamp without time zone, avatar_hash varchar(32));
CREATE TABLE compositions (id serial PRIMARY KEY, release_type integer, title varchar(64),
    description text, description_html text, "timestamp" timestamp without time zone,
    artist_id integer REFERENCES users (id), slug varchar(128) UNIQUE);
CREATE INDEX ix_compositions_timestamp ON compositions ("timestamp");
CREATE TABLE follows (follower_id integer NOT NULL REFERENCES users (id),
    following_id integer NOT NULL REFERENCES users (id), "timestamp" timestamp without time zone,
    PRIMARY KEY (follower_id, following_id));
CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);
INSERT INTO alembic_version VALUES ('515a4f38c862');
-- Role ids that are not 1/2/3.
INSERT INTO roles (id, name, "default", permissions) VALUES
    (4, 'User', true, 7), (5, 'Moderator', false, 15), (6, 'Administrator', false, 31);

-- Every 1000th username repeats the one before it in capitals, every 997th address has
-- spaces and capitals, every 10th user has no role, every 7th an unknown confirmation, every
-- 5000th an invalid username, every 20,000th no address at all.
INSERT INTO users (id, email, username, role_id, password_hash, confirmed, name, location, bio,
    age, last_seen, avatar_hash)
SELECT i,
    CASE WHEN i % 20000 = 0 THEN NULL
         WHEN i % 997 = 0 THEN ' Person' || i || '@Example.org '
         ELSE 'person' || i || '@example.org' END,
    CASE WHEN i % 1000 = 0 THEN 'USER' || (i - 1)
         WHEN i % 5000 = 1 THEN 'user ' || i || '!'
         ELSE 'user' || i END,
    CASE WHEN i % 10 = 0 THEN NULL ELSE 4 + i % 3 END,
    'pbkdf2:sha256:260000$' || substr(md5(i::text), 1, 16) || '$' || md5(i::text) || md5('x' || i),
    CASE WHEN i % 7 = 0 THEN NULL ELSE i % 2 = 0 END,
    'Person ' || i, CASE WHEN i % 3 = 0 THEN NULL ELSE 'City ' || (i % 100) END,
    CASE WHEN i % 4 = 0 THEN NULL ELSE 'I play <b>music</b>.' || chr(10) || 'Since ' || (1990 + i % 30) END,
    NULL,
    CASE WHEN i % 11 = 0 THEN NULL
         ELSE timestamp '2021-01-01' + (i || ' minutes')::interval END,
    md5('person' || i || '@example.org')
FROM generate_series(1, :users) AS i;

-- Every 50th composition has no release type, every 10,000th an empty title, every
-- 100,000th no artist, every 3rd a NULL slug.
INSERT INTO compositions (id, release_type, title, description, description_html, "timestamp",
    artist_id, slug)
SELECT i,
    CASE WHEN i % 50 = 0 THEN NULL ELSE 1 + i % 3 END,
    CASE WHEN i % 10000 = 0 THEN '' ELSE 'Song number ' || i || ', take ' || (i % 7) END,
    'Recorded <live> in room ' || (i % 40) || chr(10) || 'with friends & family.' || chr(10)
        || chr(10) || 'https://example.org/songs/' || i,
    '<p>ignored</p>',
    timestamp '2019-01-01' + (i || ' seconds')::interval * 30,
    CASE WHEN i % 100000 = 0 THEN NULL ELSE 1 + (i::bigint * 7919) % :users END,
    CASE WHEN i % 3 = 0 THEN NULL ELSE i || '-song-number-' || i || '-take-' || (i % 7) END
FROM generate_series(1, :compositions) AS i;

-- Follows: user u follows the next k users (k = 1..), spread over the users.
INSERT INTO follows (follower_id, following_id, "timestamp")
SELECT 1 + i % :users, 1 + (i % :users + 1 + i / :users) % :users,
    CASE WHEN i % 100000 = 0 THEN NULL
         ELSE timestamp '2020-01-01' + (i || ' seconds')::interval END
FROM generate_series(0, :follows - 1) AS i;
-- Self-follows, which the old deploy added; every 10th user has none.
INSERT INTO follows (follower_id, following_id, "timestamp")
SELECT i, i, timestamp '2021-06-01' FROM generate_series(1, :users) AS i WHERE i % 10 <> 0;
SELECT setval('users_id_seq', :users);
SELECT setval('compositions_id_seq', :compositions);
ANALYZE;
SQL
    say "built in $(seconds_since "$start") s"
fi

say "fresh Ragtime database $NEW_DB: ragtime deploy"
psql_admin "DROP DATABASE IF EXISTS $NEW_DB WITH (FORCE)"
psql_admin "CREATE DATABASE $NEW_DB"
(cd "$WORK" && "${RAGTIME_ENV[@]}" "$BIN" deploy >"$WORK/deploy.log")

say "ragtime import-flask --from $PG/$OLD_DB"
start=$(now)
(cd "$WORK" && /usr/bin/time -v -o "$WORK/time.txt" "${RAGTIME_ENV[@]}" "$BIN" import-flask \
    --from "$PG/$OLD_DB" >"$WORK/report.txt" 2>"$WORK/import.log") || {
    cat "$WORK/import.log" >&2
    die "the import failed"
}
elapsed=$(seconds_since "$start")
rss=$(awk -F: '/Maximum resident/ {gsub(/ /, "", $2); print $2}' "$WORK/time.txt")

grep '^import-flask:' "$WORK/report.txt"
grep -v '^  ' "$WORK/report.txt" | grep -v '^import-flask:' | grep -v '^$' || true
echo
echo "import-flask: ${elapsed} s wall clock (the report's time excludes connecting and the statistics refresh); peak memory ${rss} kB"
echo "rows in $NEW_DB: $(psql "$PG/$NEW_DB" -qAtc "SELECT (SELECT count(*) FROM users) || ' users, ' ||
    (SELECT count(*) FROM compositions) || ' compositions, ' || (SELECT count(*) FROM follows) ||
    ' follows, ' || (SELECT count(*) FROM composition_documents) || ' search documents'")"
echo "the report and logs: $WORK"
