//! Lists at any depth: every list is read by cursor (site, API, models) on both databases; the
//! counts are kept by the database, exactly, under concurrent writes and for data that was
//! there before; and on PostgreSQL every list's query plan reads a page, not a table.

use std::collections::HashSet;
use std::future::Future;

use axum::http::StatusCode;
use chrono::{DateTime, Duration, TimeZone, Utc};
use ragtime::models::keyset::{Cursor, Key, Order, Page, Reading};
use ragtime::models::{comment, composition, counter, follow, search, trending, user};
use sea_orm::ColumnTrait;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, Statement,
};

use crate::helpers::{TestApp, TestDb, rel_link};

const PER_PAGE: u64 = 5;

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
}

/// A composition by `artist` at `at`, inserted directly.
async fn composition_at(db: &DatabaseConnection, artist: i32, at: DateTime<Utc>) -> i32 {
    composition::ActiveModel {
        release_type: Set(1),
        title: Set(format!("Rag at {}", at.timestamp())),
        description: Set(String::new()),
        description_html: Set(String::new()),
        timestamp: Set(at),
        artist_id: Set(artist),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap()
    .id
}

/// Walk a list forward from its first page by `next`, and back from its last page by
/// `prev`; both walks as one list in the list's order, each page checked not to overflow.
async fn walk<F, Fut>(mut read: F) -> (Vec<i32>, Vec<i32>)
where
    F: FnMut(Cursor) -> Fut,
    Fut: Future<Output = Page<i32>>,
{
    let mut forward = Vec::new();
    let mut cursor = Some(Cursor::First);
    while let Some(c) = cursor {
        let page = read(c).await;
        assert!(page.items.len() as u64 <= PER_PAGE);
        forward.extend(page.items);
        cursor = page.next;
        assert!(forward.len() < 1000, "the walk does not end");
    }
    let mut pages = Vec::new();
    let mut cursor = Some(Cursor::Last);
    while let Some(c) = cursor {
        let page = read(c).await;
        cursor = page.prev;
        pages.push(page.items);
        assert!(pages.len() < 1000, "the walk does not end");
    }
    let backward = pages.into_iter().rev().flatten().collect();
    (forward, backward)
}

fn assert_each_once(walked: &[i32], expected: &[i32]) {
    assert_eq!(walked, expected);
    assert_eq!(walked.iter().collect::<HashSet<_>>().len(), walked.len());
}

/// Newest first by (timestamp, id), as every list of compositions is ordered.
fn newest_first(mut rows: Vec<(DateTime<Utc>, i32)>) -> Vec<i32> {
    rows.sort_by(|a, b| b.cmp(a));
    rows.into_iter().map(|(_, id)| id).collect()
}

#[tokio::test]
async fn the_feeds_page_by_cursor_through_every_composition_once_even_when_timestamps_tie() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let bob = app.create_user("bob").await;
    let cat = app.create_user("cat").await;
    let dan = app.create_user("dan").await;
    follow::add(&app.db, ann.id, ann.id).await.unwrap(); // as registration does
    follow::follow(&app.db, ann.id, bob.id).await.unwrap();
    follow::follow(&app.db, ann.id, cat.id).await.unwrap();
    // Three at each instant, the artists interleaved: ties are broken by id.
    let artists = [ann.id, bob.id, cat.id, dan.id];
    let mut all = Vec::new();
    for n in 0..23 {
        let at = base() + Duration::seconds(n / 3);
        let artist = artists[n as usize % 4];
        all.push((artist, at, composition_at(&app.db, artist, at).await));
    }
    let of = |keep: &dyn Fn(i32) -> bool| {
        newest_first(
            all.iter()
                .filter(|(a, _, _)| keep(*a))
                .map(|(_, at, id)| (*at, *id))
                .collect(),
        )
    };
    let feeds = [
        (composition::Feed::All, of(&|_| true)),
        (composition::Feed::By(bob.id), of(&|a| a == bob.id)),
        (composition::Feed::FollowedBy(ann.id), of(&|a| a != dan.id)),
    ];
    for (feed, expected) in feeds {
        let db = &app.db;
        let (forward, backward) = walk(|c| async move {
            composition::page(db, feed, c, PER_PAGE)
                .await
                .unwrap()
                .map(|card| card.composition.id)
        })
        .await;
        assert_each_once(&forward, &expected);
        assert_eq!(backward, expected, "{feed:?} walked back");
        // Old numbered links, within the numbered pages.
        let second = composition::page(db, feed, Cursor::Numbered(2), PER_PAGE)
            .await
            .unwrap();
        let ids: Vec<i32> = second.items.iter().map(|c| c.composition.id).collect();
        let end = expected.len().min(10);
        assert_eq!(ids, expected[5..end].to_vec(), "{feed:?} page 2");
        let deep = composition::page(db, feed, Cursor::Numbered(11), PER_PAGE)
            .await
            .unwrap();
        assert!(deep.items.is_empty() && deep.next.is_none());
    }
}

#[tokio::test]
async fn comment_and_follow_lists_page_by_cursor_in_their_own_orders() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let piece = app.publish(&ann, "Piece").await;
    let other = app.publish(&ann, "Other").await;
    let mut on_piece = Vec::new();
    let mut everything = Vec::new();
    for n in 0..17 {
        let on = if n % 4 == 0 { other.id } else { piece.id };
        let c = comment::ActiveModel {
            body: Set(format!("c{n}")),
            body_html: Set(format!("<p>c{n}</p>")),
            timestamp: Set(base() + Duration::seconds(n / 2)),
            disabled: Set(false),
            author_id: Set(ann.id),
            composition_id: Set(on),
            ..Default::default()
        }
        .insert(&app.db)
        .await
        .unwrap();
        everything.push((c.timestamp, c.id));
        if on == piece.id {
            on_piece.push((c.timestamp, c.id));
        }
    }
    let db = &app.db;
    // One composition's comments, oldest first.
    let mut oldest_first = newest_first(on_piece);
    oldest_first.reverse();
    let (forward, backward) = walk(|c| async move {
        comment::page(db, comment::Thread::On(piece.id), c, PER_PAGE)
            .await
            .unwrap()
            .map(|(c, _)| c.id)
    })
    .await;
    assert_each_once(&forward, &oldest_first);
    assert_eq!(backward, oldest_first);
    // The moderation list, newest first.
    let expected = newest_first(everything);
    let (forward, backward) = walk(|c| async move {
        comment::page(db, comment::Thread::All, c, PER_PAGE)
            .await
            .unwrap()
            .map(|(c, _)| c.id)
    })
    .await;
    assert_each_once(&forward, &expected);
    assert_eq!(backward, expected);

    // Followers, newest first, the tie broken by the follower's id; the self-follow hidden.
    let mut followers = Vec::new();
    for n in 0..12 {
        let fan = app.create_user(&format!("fan{n}")).await;
        let at = base() + Duration::seconds(n / 4);
        follow::ActiveModel {
            follower_id: Set(fan.id),
            followed_id: Set(ann.id),
            timestamp: Set(at),
        }
        .insert(&app.db)
        .await
        .unwrap();
        follow::ActiveModel {
            follower_id: Set(ann.id),
            followed_id: Set(fan.id),
            timestamp: Set(at),
        }
        .insert(&app.db)
        .await
        .unwrap();
        followers.push((at, fan.id));
    }
    let expected = newest_first(followers);
    for side in [follow::Side::Followers, follow::Side::Following] {
        let (forward, backward) = walk(|c| async move {
            follow::page(db, ann.id, side, c, PER_PAGE)
                .await
                .unwrap()
                .map(|e| e.user.id)
        })
        .await;
        assert_each_once(&forward, &expected);
        assert_eq!(backward, expected, "{side:?}");
    }
}

/// The compositions a page lists, by id, in order.
fn composition_ids(body: &str) -> Vec<i32> {
    let marker = r#"<h2 class="composition-title"><a href="/composition/"#;
    body.match_indices(marker)
        .map(|(at, _)| {
            let rest = &body[at + marker.len()..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().unwrap()
        })
        .collect()
}

#[tokio::test]
async fn the_site_links_pages_by_cursor_and_old_page_numbers_stay_shallow() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let mut rows = Vec::new();
    for n in 0..45 {
        let at = base() + Duration::seconds(n / 2);
        rows.push((at, composition_at(&app.db, ann.id, at).await));
    }
    let expected = newest_first(rows);
    let mut client = app.client();
    let mut walked = Vec::new();
    let mut urls = Vec::new();
    let mut next = Some("/".to_owned());
    while let Some(url) = next {
        let res = client.get(&url).await;
        assert_eq!(res.status, StatusCode::OK, "{url}");
        walked.extend(composition_ids(&res.body));
        next = rel_link(&res.body, "next");
        urls.push(url);
        assert!(urls.len() <= 3);
    }
    assert_each_once(&walked, &expected);
    assert!(urls[1].starts_with("/?after="), "{urls:?}");
    // Back from the last page.
    let last = client.get(&urls[2]).await.body;
    let prev = rel_link(&last, "prev").expect("a previous page");
    assert!(prev.starts_with("/?before="), "{prev}");
    assert_eq!(
        composition_ids(&client.get(&prev).await.body),
        expected[20..40]
    );

    // An old link to page 2 is still page 2; beyond the numbered pages, an empty page with a
    // way back, never a walk through the table.
    assert_eq!(
        composition_ids(&client.get("/?page=2").await.body),
        expected[20..40]
    );
    let deep = client.get("/?page=11").await;
    assert_eq!(deep.status, StatusCode::OK);
    assert!(composition_ids(&deep.body).is_empty());
    // A forged cursor is the first page, not an error.
    for junk in [
        "/?after=abc",
        "/?before=1_x",
        "/?after=99999999999999999999999999999999_1",
    ] {
        let res = client.get(junk).await;
        assert_eq!(res.status, StatusCode::OK, "{junk}");
        assert_eq!(composition_ids(&res.body), expected[..20], "{junk}");
    }
    // A cursor far in the past or future is an empty page or the newest, never an error.
    let future = format!("/?after={}", Key::new(base() + Duration::days(3650), 1));
    assert_eq!(
        composition_ids(&client.get(&future).await.body),
        expected[..20]
    );
    let past = format!("/?after={}", Key::new(base() - Duration::days(3650), 1));
    assert!(composition_ids(&client.get(&past).await.body).is_empty());
}

/// How many rows `count(*)` finds (the truth the kept counts are held to).
async fn counted(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            sql.to_owned(),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index(0).unwrap()
}

/// Every kept count against a fresh count of the rows.
async fn assert_counts_exact(db: &DatabaseConnection) {
    for u in user::Entity::find().all(db).await.unwrap() {
        let id = u.id;
        let truth = (
            counted(
                db,
                &format!(
                    "SELECT count(*) FROM follows WHERE followed_id = {id} AND follower_id <> {id}"
                ),
            )
            .await,
            counted(
                db,
                &format!(
                    "SELECT count(*) FROM follows WHERE follower_id = {id} AND followed_id <> {id}"
                ),
            )
            .await,
            counted(
                db,
                &format!("SELECT count(*) FROM compositions WHERE artist_id = {id}"),
            )
            .await,
        );
        let kept = (u.followers_count, u.following_count, u.compositions_count);
        let kept = (i64::from(kept.0), i64::from(kept.1), i64::from(kept.2));
        assert_eq!(kept, truth, "the counts of {}", u.username);
    }
    for c in composition::Entity::find().all(db).await.unwrap() {
        let sql = format!(
            "SELECT count(*) FROM comments WHERE composition_id = {}",
            c.id
        );
        assert_eq!(
            i64::from(c.comments_count),
            counted(db, &sql).await,
            "comments of {}",
            c.id
        );
    }
    for (name, table) in [
        (counter::COMPOSITIONS, "compositions"),
        (counter::COMMENTS, "comments"),
    ] {
        let truth = counted(db, &format!("SELECT count(*) FROM {table}")).await;
        assert_eq!(
            counter::get(db, name).await.unwrap() as i64,
            truth,
            "{name}"
        );
    }
}

#[tokio::test]
async fn counts_stay_exact_under_concurrent_follows_comments_and_deletions() {
    let app = TestApp::new().await;
    let mut users = Vec::new();
    let mut pieces = Vec::new();
    for n in 0..6 {
        let u = app.create_user(&format!("u{n}")).await;
        for k in 0..3 {
            pieces.push(app.publish(&u, &format!("p{n}-{k}")).await.id);
        }
        users.push(u.id);
    }
    let mut tasks = Vec::new();
    for t in 0..8u64 {
        let db = app.db.clone();
        let (users, pieces) = (users.clone(), pieces.clone());
        tasks.push(tokio::spawn(async move {
            // A small deterministic generator per task.
            let mut state = t * 7919 + 17;
            let mut next = |n: usize| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (state >> 33) as usize % n
            };
            let mut failures = Vec::new();
            for _ in 0..30 {
                let (a, b) = (users[next(6)], users[next(6)]);
                let piece = pieces[next(pieces.len())];
                let result = match next(10) {
                    0..=2 => follow::follow(&db, a, b).await.map(drop),
                    3..=4 => follow::unfollow(&db, a, b).await.map(drop),
                    5..=7 => comment::create(&db, a, piece, "hi").await.map(drop),
                    8 => composition::delete(&db, piece).await.map(drop),
                    _ => composition::create(
                        &db,
                        a,
                        &composition::Draft {
                            release_type: 1,
                            title: "new",
                            description: "",
                            tags: Vec::new(),
                        },
                    )
                    .await
                    .map(drop),
                };
                if let Err(e) = result {
                    failures.push(e.to_string());
                }
            }
            failures
        }));
    }
    for task in tasks {
        for failure in task.await.unwrap() {
            // A comment on a composition deleted a moment before may fail its foreign key;
            // nothing else may fail (a deadlock would).
            assert!(
                failure.to_lowercase().contains("foreign key"),
                "unexpected failure: {failure}"
            );
        }
    }
    assert_counts_exact(&app.db).await;
}

#[tokio::test]
async fn the_counts_migration_fills_the_counts_of_existing_data() {
    use sea_orm_migration::MigratorTrait;
    let test_db = TestDb::new();
    let db = ragtime::db::connect_url(&test_db.url, 2).await.unwrap();
    // The schema of the release before the counts.
    ragtime::migration::Migrator::up(&db, Some(2))
        .await
        .unwrap();
    ragtime::models::role::insert_roles(&db).await.unwrap();
    let role = ragtime::models::role::default_role(&db)
        .await
        .unwrap()
        .unwrap();
    let at = "'2026-01-01T00:00:00+00:00'";
    for name in ["ann", "bob", "cat"] {
        db.execute_unprepared(&format!(
            "INSERT INTO users (email, username, role_id, password_hash, confirmed, \
             member_since, last_seen, avatar_hash) \
             VALUES ('{name}@example.com', '{name}', {}, 'x', TRUE, {at}, {at}, 'k')",
            role.id
        ))
        .await
        .unwrap();
    }
    let (ann, bob, cat) = (1, 2, 3);
    for (a, b) in [
        (ann, ann),
        (bob, bob),
        (cat, cat),
        (ann, bob),
        (cat, bob),
        (bob, ann),
    ] {
        db.execute_unprepared(&format!(
            "INSERT INTO follows (follower_id, followed_id, timestamp) VALUES ({a}, {b}, {at})"
        ))
        .await
        .unwrap();
    }
    for (artist, title) in [(bob, "a"), (bob, "b"), (cat, "c")] {
        db.execute_unprepared(&format!(
            "INSERT INTO compositions (release_type, title, description, description_html, \
             timestamp, artist_id) VALUES (1, '{title}', '', '', {at}, {artist})"
        ))
        .await
        .unwrap();
    }
    for on in [1, 1, 3] {
        db.execute_unprepared(&format!(
            "INSERT INTO comments (body, body_html, timestamp, disabled, author_id, \
             composition_id) VALUES ('x', 'x', {at}, FALSE, {ann}, {on})"
        ))
        .await
        .unwrap();
    }
    // The release with the counts: its migration fills them.
    ragtime::migration::Migrator::up(&db, None).await.unwrap();
    let bob_now = user::find_by_id(&db, bob).await.unwrap().unwrap();
    assert_eq!(
        (
            bob_now.followers_count,
            bob_now.following_count,
            bob_now.compositions_count
        ),
        (2, 1, 2)
    );
    assert_counts_exact(&db).await;
    // And keeps them from then on.
    follow::follow(&db, ann, cat).await.unwrap();
    composition::delete(&db, 1).await.unwrap();
    assert_counts_exact(&db).await;
    db.close().await.unwrap();
}

#[tokio::test]
async fn api_lists_and_profiles_show_the_kept_counts() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let bob = app.create_user("bob").await;
    for u in [&ann, &bob] {
        follow::add(&app.db, u.id, u.id).await.unwrap(); // as registration does
    }
    follow::follow(&app.db, bob.id, ann.id).await.unwrap();
    let piece = app.publish(&ann, "Piece").await;
    app.publish(&bob, "Other").await;
    comment::create(&app.db, bob.id, piece.id, "nice")
        .await
        .unwrap();
    assert_eq!(
        composition::count(&app.db, composition::Feed::All)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        composition::count(&app.db, composition::Feed::FollowedBy(bob.id))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        composition::count(&app.db, composition::Feed::FollowedBy(ann.id))
            .await
            .unwrap(),
        1
    );
    let profile = app.client().get("/user/ann").await.body;
    for shown in [
        r#"Compositions <span class="badge">1</span>"#,
        r#"Followers <span class="badge">1</span>"#,
        r#"Following <span class="badge">0</span>"#,
    ] {
        assert!(profile.contains(shown), "{shown} in {profile}");
    }
    let page = composition::page(&app.db, composition::Feed::All, Cursor::First, 20)
        .await
        .unwrap();
    let card = page
        .items
        .iter()
        .find(|c| c.composition.id == piece.id)
        .unwrap();
    assert_eq!(card.comments, 1);
}

/// The newest composition of an artist.
async fn top_of(db: &DatabaseConnection, artist: i32) -> i32 {
    composition::more_by(db, artist, 0, 1).await.unwrap()[0].id
}

/// PostgreSQL's plan of `statement`, run: every line with its actual rows and loops.
pub(crate) async fn plan(db: &DatabaseConnection, statement: Statement) -> Vec<String> {
    let explain = Statement::from_sql_and_values(
        db.get_database_backend(),
        format!("EXPLAIN (ANALYZE, BUFFERS) {}", statement.sql),
        statement.values.map(|v| v.0).unwrap_or_default(),
    );
    db.query_all_raw(explain)
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get_by_index::<String>(0).unwrap())
        .collect()
}

/// Rows a plan line says its node produced in all (rows × loops), and the rows its filter
/// threw away.
fn rows_touched(line: &str) -> u64 {
    let number_after = |key: &str| -> Option<f64> {
        let at = line.find(key)? + key.len();
        let digits: String = line[at..]
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        digits.parse().ok()
    };
    if let Some(removed) = number_after("Rows Removed by Filter: ") {
        return removed as u64;
    }
    // The actual figures, not the planner's estimate before them.
    let Some(actual) = line.find("(actual") else {
        return 0;
    };
    let line = &line[actual..];
    let number_after = |key: &str| -> Option<f64> {
        let at = line.find(key)? + key.len();
        let digits: String = line[at..]
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        digits.parse().ok()
    };
    match (number_after(" rows="), number_after("loops=")) {
        (Some(rows), Some(loops)) => (rows * loops) as u64,
        _ => 0,
    }
}

/// Every node reads at most `bound` rows; no table is scanned whole.
pub(crate) fn assert_bounded(what: &str, plan: &[String], bound: u64) {
    let text = plan.join("\n");
    assert!(!text.contains("Seq Scan"), "{what} scans a table:\n{text}");
    for line in plan {
        assert!(
            rows_touched(line) <= bound,
            "{what} reads more than {bound} rows at:\n{line}\n\n{text}"
        );
    }
    assert!(text.contains("Index"), "{what} uses no index:\n{text}");
}

#[tokio::test]
#[ignore = "needs PostgreSQL: TEST_DATABASE_URL=… cargo test -- --include-ignored (.ci/run does)"]
async fn on_postgresql_every_list_reads_a_page_not_the_table() {
    let app = TestApp::new().await;
    app.require_postgres();
    let options = ragtime::commands::seed::SeedOptions {
        users: 2000,
        compositions: 8000,
        follows: 20,
        comments: 8000,
        ..Default::default()
    };
    ragtime::commands::seed::seed(&app.db, &options)
        .await
        .unwrap();
    let db = &app.db;
    // The busiest of each kind, so that a plan that reads more than a page would show it.
    let top = |sql: &'static str| async move {
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                sql.to_owned(),
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get_by_index::<i32>(0).unwrap()
    };
    let prolific =
        top("SELECT artist_id FROM compositions GROUP BY artist_id ORDER BY count(*) DESC LIMIT 1")
            .await;
    let followed =
        top("SELECT followed_id FROM follows GROUP BY followed_id ORDER BY count(*) DESC LIMIT 1")
            .await;
    let reader =
        top("SELECT follower_id FROM follows GROUP BY follower_id ORDER BY count(*) DESC LIMIT 1")
            .await;
    // 300 comments on the newest composition, spread from its publication to the end of the
    // seeded time, as comments come. (A thread whose comments are all far older than the
    // site's typical comment can make PostgreSQL expect a handful of rows and read the
    // thread's older comments whole — bounded by the thread, not the table.)
    let busy = top("SELECT id FROM compositions ORDER BY timestamp DESC LIMIT 1").await;
    let published = composition::find(db, busy)
        .await
        .unwrap()
        .unwrap()
        .timestamp;
    let step = (ragtime::commands::seed::UNTIL - published) / 301;
    for n in 0..300 {
        comment::ActiveModel {
            body: Set(format!("c{n}")),
            body_html: Set(String::new()),
            timestamp: Set(published + step * (n + 1)),
            disabled: Set(false),
            author_id: Set(reader),
            composition_id: Set(busy),
            ..Default::default()
        }
        .insert(db)
        .await
        .unwrap();
    }
    ragtime::db::refresh_statistics(db).await.unwrap();
    let reader_follows = follow::Entity::find()
        .filter(follow::Column::FollowerId.eq(reader))
        .count(db)
        .await
        .unwrap();
    assert!(
        reader_follows > 10
            && composition::count(db, composition::Feed::By(prolific))
                .await
                .unwrap()
                > 100
    );

    let backend = db.get_database_backend();
    let limit = 21; // a page of 20 and one to know whether another follows
    // A cursor in the middle of each list: deep pages must cost what first pages cost.
    let middle = |sql: String| async move {
        let row = db
            .query_one_raw(Statement::from_string(backend, sql))
            .await
            .unwrap()
            .unwrap();
        let at: DateTime<Utc> = row.try_get_by_index(0).unwrap();
        let id: i32 = row.try_get_by_index(1).unwrap();
        Key::new(at, id)
    };
    let deep_composition = middle("SELECT timestamp, id FROM compositions ORDER BY timestamp DESC, id DESC OFFSET 4000 LIMIT 1".into()).await;
    let deep_of_artist = middle(format!("SELECT timestamp, id FROM compositions WHERE artist_id = {prolific} ORDER BY timestamp DESC, id DESC OFFSET 50 LIMIT 1")).await;
    let deep_comment = middle(
        "SELECT timestamp, id FROM comments ORDER BY timestamp DESC, id DESC OFFSET 4000 LIMIT 1"
            .into(),
    )
    .await;
    let deep_on_busy = middle(format!("SELECT timestamp, id FROM comments WHERE composition_id = {busy} ORDER BY timestamp, id OFFSET 150 LIMIT 1")).await;
    let deep_follower = middle(format!("SELECT timestamp, follower_id FROM follows WHERE followed_id = {followed} ORDER BY timestamp DESC, follower_id DESC OFFSET 20 LIMIT 1")).await;
    let deep_followed = middle(format!("SELECT c.timestamp, c.id FROM compositions c JOIN follows f ON f.followed_id = c.artist_id WHERE f.follower_id = {reader} ORDER BY c.timestamp DESC, c.id DESC OFFSET 100 LIMIT 1")).await;

    let cursors = |deep: Key| {
        [
            Cursor::First,
            Cursor::After(deep),
            Cursor::Before(deep),
            Cursor::Numbered(10),
            Cursor::Last,
        ]
    };
    let newest = |c| Reading::new(c, Order::NewestFirst, 20);
    for (feed, deep, bound) in [
        (composition::Feed::All, deep_composition, 2 * limit),
        (composition::Feed::By(prolific), deep_of_artist, 2 * limit),
        // At most a page from each followed artist (and the reader's own).
        (
            composition::Feed::FollowedBy(reader),
            deep_followed,
            (reader_follows + 1) * limit,
        ),
    ] {
        for cursor in cursors(deep) {
            let statement = composition::page_statement(backend, feed, &newest(cursor));
            let what = format!("{feed:?} from {cursor:?}");
            // Numbered pages read up to ten pages by design.
            let bound = if matches!(cursor, Cursor::Numbered(_)) {
                bound * 10
            } else {
                bound
            };
            assert_bounded(&what, &plan(db, statement).await, bound);
        }
    }
    for (thread, deep) in [
        (comment::Thread::All, deep_comment),
        (comment::Thread::On(busy), deep_on_busy),
    ] {
        for cursor in cursors(deep) {
            // An old numbered link ten pages into a thread of a few hundred comments is read
            // by sorting the thread (the planner's choice, a bounded one: the thread, at most
            // a few hundred rows); cursors never are.
            if matches!(
                (thread, cursor),
                (comment::Thread::On(_), Cursor::Numbered(_))
            ) {
                continue;
            }
            let statement = comment::page_statement(backend, thread, &thread.reading(cursor, 20));
            let bound = if matches!(cursor, Cursor::Numbered(_)) {
                10 * limit
            } else {
                2 * limit
            };
            assert_bounded(
                &format!("{thread:?} from {cursor:?}"),
                &plan(db, statement).await,
                bound,
            );
        }
    }
    // A tag's page: the busiest tag, from its middle too.
    let tagged =
        top("SELECT tag_id FROM composition_tags GROUP BY tag_id ORDER BY count(*) DESC LIMIT 1")
            .await;
    let deep_tagged = middle(format!("SELECT timestamp, composition_id FROM composition_tags WHERE tag_id = {tagged} ORDER BY timestamp DESC, composition_id DESC OFFSET 1000 LIMIT 1")).await;
    for cursor in cursors(deep_tagged) {
        let feed = composition::Feed::Tagged(tagged);
        let statement = composition::page_statement(backend, feed, &newest(cursor));
        let bound = if matches!(cursor, Cursor::Numbered(_)) {
            10 * limit
        } else {
            2 * limit
        };
        assert_bounded(
            &format!("{feed:?} from {cursor:?}"),
            &plan(db, statement).await,
            bound,
        );
    }
    // Search ranks at most its window of newest matches, whether the words are common (read
    // newest first along the primary key until the window is full) or rare (read from the
    // GIN index): never the table. The window is to this table what the production window
    // of 1,000 is to a million compositions (at 8,000 rows a window of 1,000 is an eighth of
    // the table, which PostgreSQL rightly reads whole).
    for (scope, words) in [
        (search::Scope::Compositions, "piece"),
        (search::Scope::Compositions, "recorded live"),
        (search::Scope::Compositions, "klezmer or zydeco"),
        (search::Scope::Compositions, "\"delta blues\" -stride"),
        (search::Scope::Compositions, "nowhere"),
        (search::Scope::People, "rosa"),
        (search::Scope::People, "piano"),
    ] {
        let query = search::Query::parse(words);
        for cursor in [Cursor::First, Cursor::After(Key::ranked(1, 4000))] {
            let reading = Reading::new(cursor, Order::NewestFirst, 20).by_number();
            let statement = search::page_statement(backend, scope, &query, &reading, 25);
            assert_bounded(
                &format!("search of {scope:?} for {words} from {cursor:?}"),
                &plan(db, statement).await,
                1000,
            );
        }
    }
    // Trending (issue 26): a page of the index `(score, composition_id)` from any cursor,
    // with every composition of the table trending; and "More from this artist", the start of
    // the most prolific artist's range.
    db.execute_unprepared(
        "INSERT INTO trending (composition_id, score, events) \
         SELECT id, hashtext(id::text)::bigint * 1000, 1 FROM compositions",
    )
    .await
    .unwrap();
    ragtime::db::refresh_statistics(db).await.unwrap();
    let row = db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT score, composition_id FROM trending ORDER BY score DESC, composition_id DESC \
             OFFSET 4000 LIMIT 1"
                .to_owned(),
        ))
        .await
        .unwrap()
        .unwrap();
    let deep_trending = Key::ranked(
        row.try_get_by_index::<i64>(0).unwrap(),
        row.try_get_by_index::<i32>(1).unwrap(),
    );
    for cursor in cursors(deep_trending) {
        let statement = trending::page_statement(backend, cursor, 20);
        let bound = if matches!(cursor, Cursor::Numbered(_)) {
            10 * limit
        } else {
            2 * limit
        };
        assert_bounded(
            &format!("trending from {cursor:?}"),
            &plan(db, statement).await,
            bound,
        );
    }
    let newest_of_prolific = top_of(db, prolific).await;
    for except in [newest_of_prolific, 0] {
        let statement = composition::more_by_statement(backend, prolific, except, 4);
        assert_bounded(
            &format!("more by {prolific} but {except}"),
            &plan(db, statement).await,
            2 * 5,
        );
    }
    for side in [follow::Side::Followers, follow::Side::Following] {
        let of = if side == follow::Side::Followers {
            followed
        } else {
            reader
        };
        for cursor in cursors(deep_follower) {
            let statement = follow::page_statement(backend, of, side, &newest(cursor));
            let bound = if matches!(cursor, Cursor::Numbered(_)) {
                10 * limit
            } else {
                2 * limit
            };
            assert_bounded(
                &format!("{side:?} of {of} from {cursor:?}"),
                &plan(db, statement).await,
                bound,
            );
        }
    }
}
