#!/usr/bin/env bash
# Scale mode of the benchmark (issue 12): the same URLs on 5 k and on 1 M compositions, first
# pages and deep ones (old-style ?page=N and cursor ?after=<nanoseconds>_<id>), on PostgreSQL
# seeded by `ragtime seed`, the server in the production configuration, wrk on one URL at a
# time. Not a test and not run by CI.
#
#   BENCH_SCALE=5k bash bench/scale.sh                 # a few minutes
#   BENCH_SCALE=1m BENCH_REUSE=1 bash bench/scale.sh   # the 1 M seed alone takes many minutes
#
# Environment (all optional):
#   BENCH_SCALE     5k: 200 users, 5,000 compositions, 10,000 comments, 20 follows each
#                   1m: 20,000 users, 1,000,000 compositions, 2,000,000 comments, 20 follows [5k]
#   BENCH_REUSE     1: keep a database this script seeded before (same name) instead of
#                   dropping and re-seeding it; `ragtime deploy` runs on it all the same, so new
#                   migrations meet old data (and are timed)                               [0]
#   BENCH_DB        the database                               [ragtime_scale_<scale>]
#   BENCH_PG        PostgreSQL server URL without a database   [postgres://postgres@127.0.0.1:5432]
#   BENCH_BIN       the ragtime binary to measure              [target/release/ragtime, built]
#   BENCH_WRK       wrk's options                              [-t1 -c4 -d8s --latency]
#   BENCH_POOL_SIZE DATABASE_POOL_SIZE of the server           [5, the production default]
#   BENCH_ONLY      measure only the URLs whose label matches this regular expression, e.g.
#                   'tag|search' for the discovery pages of issue 13, 'feed|sitemap' for
#                   the Atom feeds and sitemaps of issue 14, 'trending|permalink' for the
#                   trending list and "More from this artist" of issue 26              [all]
#
# Besides seeding, the script changes the database in two ways, both kept for the next run:
# if no composition has 500 comments, the most commented one is given that many by SQL (the
# permalink measured is the composition with the fewest comments of those with 500 or more),
# and the second seeded user is made a Moderator, for /moderate. After deploy it runs VACUUM ANALYZE,
# as autovacuum would on a live site. The database is left in place at the end; only the
# server this script started is stopped.
#
# A binary that does not know after= ignores it and serves the first page: such rows are
# marked "= first page" (the body is compared with the URL's without after=). wrk gives up on
# a request after 2 s (a "Socket errors: ... timeout N" note; those requests are left out of
# the latencies): add --timeout 30s to BENCH_WRK to time slower pages. A URL answering 5xx is
# asked once more before it is given up (a cold cache can make the first request time out).

set -euo pipefail

SCALE=${BENCH_SCALE:-5k}
case $SCALE in
5k)
    USERS=200 COMPOSITIONS=5000 COMMENTS=10000 FOLLOWS=20
    DEEP=2500 DEEP_PAGE=125 DEEP_COMMENT=1000 # the deep cursors' and the old deep page's rank
    ;;
1m)
    USERS=20000 COMPOSITIONS=1000000 COMMENTS=2000000 FOLLOWS=20
    DEEP=100000 DEEP_PAGE=5000 DEEP_COMMENT=100000
    ;;
*)
    echo "bench: BENCH_SCALE is 5k or 1m, not '$SCALE'" >&2
    exit 2
    ;;
esac
FEED_DEEP=2000     # the followed feed's deep cursor: its 2,000th item (or its middle one)
THREAD=500         # comments on the measured permalink
THREAD_DEEP=250    # its deep comments page: from its 250th comment
UNTIL='2026-11-01 00:00:00+00' # the seed's fixed "now" (src/commands/seed): added comments stay before it

PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
DB=${BENCH_DB:-ragtime_scale_$SCALE}
POOL=${BENCH_POOL_SIZE:-5}
REUSE=${BENCH_REUSE:-0}
read -r -a WRK_ARGS <<<"${BENCH_WRK:--t1 -c4 -d8s --latency}"

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init

now() { date +%s.%N; }
seconds_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# The first row of a query, its columns in variables: sql_into "SELECT a, b ..." A B
sql_into() {
    local query=$1
    shift
    IFS='|' read -r "$@" < <(psql_bench "$query" | head -n 1) || true
}

# A keyset cursor: "<timestamp as Unix nanoseconds>_<id>".
cursor() { printf "(extract(epoch from %s) * 1000000000)::bigint || '_' || %s" "$1" "$2"; }
ID_CURSOR=$(cursor timestamp id)

# ----- Database: seeded once, deployed every time -------------------------------------------

# The seed report is kept as the database's comment: its presence says the seed finished.
seed_mark() {
    psql_admin "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '$DB'"
}

REUSED=
if [[ $REUSE == 1 ]] && [[ $(seed_mark) == seed:* ]]; then
    REUSED=1
    SEED_REPORT="$(seed_mark) (seeded by an earlier run; reused)"
    say "reusing the seeded database $DB"
else
    [[ $REUSE == 1 ]] && say "no seeded database $DB to reuse"
    fresh_database
fi

say "ragtime deploy"
start=$(now)
ragtime deploy >/dev/null
DEPLOY_SECONDS=$(seconds_since "$start")
say "deploy took $DEPLOY_SECONDS s"

if [[ -z $REUSED ]]; then
    start=$(now)
    seed --users "$USERS" --compositions "$COMPOSITIONS" --follows "$FOLLOWS" --comments "$COMMENTS"
    SEED_REPORT="$SEED_REPORT (wall $(seconds_since "$start") s)"
    psql_admin "COMMENT ON DATABASE $DB IS \$seed\$$SEED_REPORT\$seed\$"
fi

# A thread of $THREAD comments: of the compositions with at least that many, the one with the
# fewest; if there is none, the most commented one, topped up by SQL (the added comments spread
# between the composition's date and the seed's "now").
sql_into "SELECT composition_id, count(*) FROM comments GROUP BY composition_id
    ORDER BY count(*) >= $THREAD DESC, abs(count(*) - $THREAD), composition_id LIMIT 1" THREAD_ID THREAD_HAD
[[ -n $THREAD_ID ]] || die "no seeded comments found"
ADDED=0
if ((THREAD_HAD < THREAD)); then
    ADDED=$((THREAD - THREAD_HAD))
    say "adding $ADDED comments to composition $THREAD_ID"
    psql_bench "INSERT INTO comments (body, body_html, timestamp, disabled, author_id, composition_id)
        SELECT 'Bench comment ' || g, '<p>Bench comment ' || g || '</p>',
               c.timestamp + (timestamptz '$UNTIL' - c.timestamp) * g / ($ADDED + 1),
               false, u.ids[1 + g % cardinality(u.ids)], c.id
        FROM generate_series(1, $ADDED) AS g,
             (SELECT array_agg(id ORDER BY id) AS ids FROM users) AS u,
             compositions AS c
        WHERE c.id = $THREAD_ID"
fi

# /moderate needs a moderator: the second seeded user (the first stays a plain user).
sql_into "SELECT id, email FROM users ORDER BY id OFFSET 1 LIMIT 1" MODERATOR_ID MODERATOR_EMAIL
psql_bench "UPDATE users SET role_id = (SELECT id FROM roles WHERE name = 'Moderator')
    WHERE id = $MODERATOR_ID"

# Notifications: a database seeded before they existed gets those of its follows, likes and
# comments by SQL, as `ragtime seed` derives them now (the seed's last week unread).
sql_into "SELECT count(*) FROM notifications" NOTIFICATIONS
if ((NOTIFICATIONS == 0)); then
    say "deriving the notifications of the seeded follows, likes and comments"
    start=$(now)
    psql_bench "INSERT INTO notifications (user_id, kind, actor_id, composition_id, comment_id, timestamp, read_at, mail)
        SELECT followed_id, 1, follower_id, NULL, NULL, timestamp,
               CASE WHEN timestamp < timestamptz '$UNTIL' - interval '7 days' THEN timestamp END, 0
        FROM follows WHERE follower_id <> followed_id;
    INSERT INTO notifications (user_id, kind, actor_id, composition_id, comment_id, timestamp, read_at, mail)
        SELECT c.artist_id, 4, l.user_id, l.composition_id, NULL, l.timestamp,
               CASE WHEN l.timestamp < timestamptz '$UNTIL' - interval '7 days' THEN l.timestamp END, 0
        FROM likes l JOIN compositions c ON c.id = l.composition_id WHERE c.artist_id <> l.user_id;
    INSERT INTO notifications (user_id, kind, actor_id, composition_id, comment_id, timestamp, read_at, mail)
        SELECT c.artist_id, 2, m.author_id, m.composition_id, m.id, m.timestamp,
               CASE WHEN m.timestamp < timestamptz '$UNTIL' - interval '7 days' THEN m.timestamp END, 0
        FROM comments m JOIN compositions c ON c.id = m.composition_id WHERE c.artist_id <> m.author_id"
    sql_into "SELECT count(*) FROM notifications" NOTIFICATIONS
    say "$NOTIFICATIONS notifications in $(seconds_since "$start") s"
fi

# Trending (issue 26): a database seeded without plays gets a week's trending rows by SQL, one
# composition in ten (100,000 at 1 M), with scores spread as a week of plays and likes would
# spread them. The list reads a page of the index (score, composition_id) whatever their number.
sql_into "SELECT count(*) FROM trending" TRENDING
if ((TRENDING == 0)); then
    say "adding trending scores to one composition in ten"
    psql_bench "INSERT INTO trending (composition_id, score, events)
        SELECT id, 335000000 + (hashtext(id::text)::bigint % 7000000), 1 + id % 5
        FROM compositions WHERE id % 10 = 0"
    sql_into "SELECT count(*) FROM trending" TRENDING
fi

say "VACUUM ANALYZE"
start=$(now)
psql_bench "VACUUM ANALYZE"
VACUUM_SECONDS=$(seconds_since "$start")

start_server

# ----- What to measure -----------------------------------------------------------------------

# run.sh's user: the first seeded one.
sql_into "SELECT id, username, email FROM users ORDER BY id LIMIT 1" USER_ID USERNAME EMAIL
[[ -n $USER_ID ]] || die "no seeded user found"
sql_into "SELECT count(*) FROM follows WHERE follower_id = $USER_ID AND followed_id <> $USER_ID" FOLLOWING

# The All feed's deep cursor.
sql_into "SELECT $ID_CURSOR FROM compositions
    ORDER BY timestamp DESC, id DESC OFFSET $((DEEP - 1)) LIMIT 1" DEEP_CURSOR

# The followed feed (the user's own compositions too: everyone follows themself).
sql_into "WITH feed AS (SELECT timestamp, id FROM compositions WHERE artist_id IN
        (SELECT followed_id FROM follows WHERE follower_id = $USER_ID))
    SELECT (SELECT count(*) FROM feed), $ID_CURSOR FROM feed ORDER BY timestamp DESC, id DESC
    OFFSET (SELECT CASE WHEN count(*) >= $FEED_DEEP THEN $FEED_DEEP - 1 ELSE count(*) / 2 END FROM feed)
    LIMIT 1" FEED_SIZE FEED_CURSOR

# The most prolific artist and its middle composition.
sql_into "SELECT artist_id, count(*) FROM compositions GROUP BY artist_id
    ORDER BY count(*) DESC, artist_id LIMIT 1" PROLIFIC_ID PROLIFIC_COUNT
sql_into "SELECT username FROM users WHERE id = $PROLIFIC_ID" PROLIFIC
sql_into "SELECT $ID_CURSOR FROM compositions WHERE artist_id = $PROLIFIC_ID
    ORDER BY timestamp DESC, id DESC OFFSET $((PROLIFIC_COUNT / 2)) LIMIT 1" PROLIFIC_CURSOR

# The most followed artist and its middle follower.
sql_into "SELECT followed_id, count(*) FROM follows WHERE follower_id <> followed_id
    GROUP BY followed_id ORDER BY count(*) DESC, followed_id LIMIT 1" FOLLOWED_ID FOLLOWERS
sql_into "SELECT username FROM users WHERE id = $FOLLOWED_ID" FOLLOWED
sql_into "SELECT $(cursor timestamp follower_id) FROM follows
    WHERE followed_id = $FOLLOWED_ID AND follower_id <> $FOLLOWED_ID
    ORDER BY timestamp DESC, follower_id DESC OFFSET $((FOLLOWERS / 2)) LIMIT 1" FOLLOWERS_CURSOR

# The thread: its permalink, its 250th comment (oldest first) and the page that holds it.
sql_into "SELECT title FROM compositions WHERE id = $THREAD_ID" THREAD_TITLE
sql_into "SELECT count(*) FROM comments WHERE composition_id = $THREAD_ID" THREAD_COMMENTS
sql_into "SELECT $ID_CURSOR FROM comments WHERE composition_id = $THREAD_ID
    ORDER BY timestamp, id OFFSET $((THREAD_DEEP - 1)) LIMIT 1" THREAD_CURSOR
THREAD_PAGE=$(((THREAD_DEEP - 1) / 30 + 1)) # 30 comments a page (RAGTIME_COMMENTS_PER_PAGE)
PERMALINK=$(permalink "$THREAD_ID" "$THREAD_TITLE")

# All comments, newest first (the API's list and /moderate).
sql_into "SELECT $ID_CURSOR FROM comments
    ORDER BY timestamp DESC, id DESC OFFSET $((DEEP_COMMENT - 1)) LIMIT 1" COMMENT_CURSOR

# The most used tag and the middle of its page list.
sql_into "SELECT t.name, t.compositions_count FROM tags t ORDER BY t.compositions_count DESC, t.id LIMIT 1" TAG TAG_COUNT
sql_into "SELECT $(cursor timestamp composition_id) FROM composition_tags
    WHERE tag_id = (SELECT id FROM tags WHERE name = '$TAG')
    ORDER BY timestamp DESC, composition_id DESC OFFSET $((TAG_COUNT / 2)) LIMIT 1" TAG_CURSOR

# The user with the most notifications, and the middle of their list.
sql_into "SELECT user_id, count(*) FROM notifications GROUP BY user_id
    ORDER BY count(*) DESC, user_id LIMIT 1" NOTIFIED_ID NOTIFIED_COUNT
sql_into "SELECT email FROM users WHERE id = $NOTIFIED_ID" NOTIFIED_EMAIL
sql_into "SELECT $ID_CURSOR FROM notifications WHERE user_id = $NOTIFIED_ID
    ORDER BY timestamp DESC, id DESC OFFSET $((NOTIFIED_COUNT / 2)) LIMIT 1" NOTIFIED_CURSOR

# Trending's deep cursor ("<score>_<id>"), and the newest composition of the most prolific
# artist, whose permalink reads "More from this artist" from the top of the largest range.
sql_into "SELECT score || '_' || composition_id FROM trending
    ORDER BY score DESC, composition_id DESC OFFSET $((TRENDING / 2)) LIMIT 1" TRENDING_CURSOR
sql_into "SELECT id, title FROM compositions WHERE artist_id = $PROLIFIC_ID
    ORDER BY timestamp DESC, id DESC LIMIT 1" PROLIFIC_NEWEST PROLIFIC_NEWEST_TITLE
PROLIFIC_PERMALINK=$(permalink "$PROLIFIC_NEWEST" "$PROLIFIC_NEWEST_TITLE")

# The sitemap of the middle of the compositions' ids (50,000 of them at 1 M).
sql_into "SELECT (min(id) + max(id)) / 2 / 50000 FROM compositions" SITEMAP_N

FEED_COOKIE=$(login "$EMAIL" "$WORK/cookies" show_followed)
NOTIFIED_COOKIE=$(login "$NOTIFIED_EMAIL" "$WORK/notified-cookies")
NOTIFIED_TOKEN=$(api_token "$NOTIFIED_EMAIL")
MODERATOR_COOKIE=$(login "$MODERATOR_EMAIL" "$WORK/moderator-cookies")
API_TOKEN=$(api_token "$EMAIL")

# ----- Load ----------------------------------------------------------------------------------

# Other work on the machine skews the figures: the load average is printed with them.
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
measure "/ (all, anonymous)" "/"
measure "/?page=20" "/?page=20"
measure "/?after= (${DEEP}th)" "/?after=$DEEP_CURSOR"
measure "/?page=$DEEP_PAGE (old-style deep)" "/?page=$DEEP_PAGE"
if [[ -n $FEED_COOKIE ]]; then
    feed="Cookie: $FEED_COOKIE"
    measure "/ (followed, logged in)" "/" "$feed"
    measure "/?after= (followed deep)" "/?after=$FEED_CURSOR" "$feed"
else
    say "skipping the followed feed"
fi
measure "/user/ (most prolific)" "/user/$PROLIFIC"
measure "/user/?after= (its middle)" "/user/$PROLIFIC?after=$PROLIFIC_CURSOR"
measure "/user/ (most followed)" "/user/$FOLLOWED"
measure "/followers/ (most followed)" "/followers/$FOLLOWED"
measure "/followers/?after= (middle)" "/followers/$FOLLOWED?after=$FOLLOWERS_CURSOR"
measure "/following/ (bench user)" "/following/$USERNAME"
measure "permalink ($THREAD_COMMENTS comments)" "$PERMALINK"
measure "permalink ?after= (${THREAD_DEEP}th comment)" "$PERMALINK?after=$THREAD_CURSOR"
measure "permalink ?page=$THREAD_PAGE (old-style)" "$PERMALINK?page=$THREAD_PAGE"
measure "permalink (most prolific's newest: more from this artist)" "$PROLIFIC_PERMALINK"
measure "/trending ($TRENDING trending)" "/trending"
measure "/trending?after= (its middle)" "/trending?after=$TRENDING_CURSOR"
measure "/tag/ (most used: $TAG, $TAG_COUNT)" "/tag/$TAG"
measure "/tag/?after= (its middle)" "/tag/$TAG?after=$TAG_CURSOR"
# Atom feeds (a page of entries with their tracks) and the sitemaps (issue 14).
measure "atom feed: site" "/feed.atom"
measure "atom feed: most prolific artist" "/user/$PROLIFIC/feed.atom"
measure "atom feed: most used tag ($TAG)" "/tag/$TAG/feed.atom"
measure "sitemap index" "/sitemap.xml"
measure "sitemap: compositions-$SITEMAP_N (a range of 50,000 ids)" "/sitemaps/compositions-$SITEMAP_N.xml"
measure "sitemap: users-0" "/sitemaps/users-0.xml"
# Searches, from words in most compositions to words in none (the seed's vocabulary).
measure "search: common words (recorded live)" "/search?q=recorded+live"
SEARCH_NEXT=$(curl -s "$BASE/search?q=recorded+live" | sed -nE 's/.*href="([^"]*)" rel="next".*/\1/p' | head -n 1 | sed 's/&#38;/\&/g; s/&amp;/\&/g')
if [[ -n $SEARCH_NEXT ]]; then
    measure "search: common words, page 2" "$SEARCH_NEXT"
fi
measure "search: one word (waltz)" "/search?q=waltz"
measure "search: a rarer word (klezmer)" "/search?q=klezmer"
measure "search: phrase and exclusion" "/search?q=%22delta+blues%22+-stride"
measure "search: accents (cafe, montreal)" "/search?q=montreal"
measure "search: no match" "/search?q=xylophonic"
measure "search: people (rosa)" "/search?q=rosa&type=people"
if [[ -n $NOTIFIED_COOKIE ]]; then
    notified="Cookie: $NOTIFIED_COOKIE"
    measure "/notifications (most notified: $NOTIFIED_COUNT)" "/notifications" "$notified"
    measure "/notifications?after= (their middle)" "/notifications?after=$NOTIFIED_CURSOR" "$notified"
    measure "/notifications?unread=1" "/notifications?unread=1" "$notified"
fi
if [[ -n $NOTIFIED_TOKEN ]]; then
    measure "API notifications (most notified)" "/api/v1/notifications" "Authorization: Bearer $NOTIFIED_TOKEN"
fi
if [[ -n $MODERATOR_COOKIE ]]; then
    measure "/moderate (moderator)" "/moderate" "Cookie: $MODERATOR_COOKIE"
    measure "/moderate?after= (${DEEP_COMMENT}th)" "/moderate?after=$COMMENT_CURSOR" "Cookie: $MODERATOR_COOKIE"
else
    say "skipping /moderate"
fi
if [[ -n $API_TOKEN ]]; then
    token="Authorization: Bearer $API_TOKEN"
    measure "API compositions" "/api/v1/compositions/" "$token"
    measure "API compositions ?after= (${DEEP}th)" "/api/v1/compositions/?after=$DEEP_CURSOR" "$token"
    measure "API timeline (bench user)" "/api/v1/users/$USER_ID/timeline/" "$token"
    measure "API timeline ?after= (followed deep)" "/api/v1/users/$USER_ID/timeline/?after=$FEED_CURSOR" "$token"
    measure "API trending" "/api/v1/compositions/trending" "$token"
    measure "API trending ?after= (its middle)" "/api/v1/compositions/trending?after=$TRENDING_CURSOR" "$token"
    measure "API comments" "/api/v1/comments/" "$token"
    measure "API comments ?after= (${DEEP_COMMENT}th)" "/api/v1/comments/?after=$COMMENT_CURSOR" "$token"
    measure "API search: common words" "/api/v1/search?q=recorded+live" "$token"
    measure "API search: people" "/api/v1/search?q=rosa&type=users" "$token"
else
    say "skipping the API"
fi

RSS=$(server_rss)
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ----- Report --------------------------------------------------------------------------------

echo
echo "ragtime scale benchmark ($SCALE): $(date -u +%Y-%m-%dT%H:%MZ), wrk ${WRK_ARGS[*]}, pool $POOL"
echo "binary: $BIN_DESCRIPTION"
echo "machine: $(nproc) CPUs; $(free -g | awk '/^Mem:/ { print $2 " GiB memory, " $7 " GiB available" }');" \
    "load average $LOAD_BEFORE before the load, $LOAD_AFTER after;" \
    "$(psql_bench "SELECT split_part(version(), ' on ', 1) || ', shared_buffers ' || current_setting('shared_buffers')")"
echo "database: $DB, $(psql_bench "SELECT pg_size_pretty(pg_database_size(current_database()))")"
echo "$SEED_REPORT"
echo "ragtime deploy: $DEPLOY_SECONDS s; VACUUM ANALYZE: $VACUUM_SECONDS s"
echo "bench user: $USERNAME (id $USER_ID) follows $FOLLOWING users; followed feed: $FEED_SIZE compositions"
echo "most prolific artist: $PROLIFIC ($PROLIFIC_COUNT compositions); most followed: $FOLLOWED ($FOLLOWERS followers)"
echo "thread: composition $THREAD_ID, $THREAD_COMMENTS comments ($ADDED added by SQL in this run)"
echo "moderator: $MODERATOR_EMAIL"
echo "cursors: all $DEEP_CURSOR, followed $FEED_CURSOR, profile $PROLIFIC_CURSOR," \
    "followers $FOLLOWERS_CURSOR, thread $THREAD_CURSOR, comments $COMMENT_CURSOR"
echo
print_table
echo
echo "server peak RSS (VmHWM): $RSS"
echo "database $DB left in place (BENCH_REUSE=1 reuses it): psql $DATABASE_URL"
