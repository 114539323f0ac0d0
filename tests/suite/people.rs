//! The people directory `/users`: newest members or most followed first, by cursor pages that
//! keep their order, and hostile parameters that never give a 500; on PostgreSQL, each order
//! reads a page from its index.

use std::collections::HashSet;

use axum::http::StatusCode;
use chrono::{Duration, TimeZone, Utc};
use ragtime::models::keyset::{Cursor, Key};
use ragtime::models::user::{self, Directory};
use sea_orm::{ConnectionTrait, Statement};

use crate::helpers::{TestApp, rel_link};
use crate::lists::{assert_bounded, plan};

/// `n` users, joined two by two at the same moment and followed by `id % 4` people (set
/// directly: the order is what is tested), so both orders have ties to break by id.
async fn members(app: &TestApp, n: i64) -> Vec<user::Model> {
    let base = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
    let mut users = Vec::new();
    for i in 0..n {
        users.push(app.create_user(&format!("member{i}")).await);
    }
    let backend = app.db.get_database_backend();
    for u in &users {
        let joined = base + Duration::minutes(i64::from(u.id) / 2);
        app.db
            .execute_raw(Statement::from_sql_and_values(
                backend,
                match backend {
                    sea_orm::DatabaseBackend::Postgres => {
                        "UPDATE users SET member_since = $1, followers_count = $2 WHERE id = $3"
                    }
                    _ => "UPDATE users SET member_since = ?, followers_count = ? WHERE id = ?",
                },
                [joined.into(), (u.id % 4).into(), u.id.into()],
            ))
            .await
            .unwrap();
    }
    let mut fresh = Vec::new();
    for u in users {
        fresh.push(user::find_by_id(&app.db, u.id).await.unwrap().unwrap());
    }
    fresh
}

/// The usernames a directory page lists, in order.
fn listed(body: &str) -> Vec<String> {
    let marker = r#"<a class="author" href="/user/"#;
    body.match_indices(marker)
        .map(|(at, _)| {
            let rest = &body[at + marker.len()..];
            rest[..rest.find('"').unwrap()].to_owned()
        })
        .collect()
}

/// Walk the directory from `start` by its `next` links, then back by its `prev` links.
async fn walk_site(app: &TestApp, start: &str, keep: &str) -> (Vec<String>, Vec<String>) {
    let mut client = app.client();
    let mut forward = Vec::new();
    let mut path = Some(start.to_owned());
    let mut last = String::new();
    while let Some(p) = path {
        let res = client.get(&p).await;
        assert_eq!(res.status, StatusCode::OK, "{p}");
        let names = listed(&res.body);
        assert!(names.len() <= 20, "20 a page");
        forward.extend(names);
        path = rel_link(&res.body, "next");
        if let Some(next) = &path {
            assert!(next.contains(keep), "{next} keeps {keep:?}");
        }
        last = p;
        assert!(forward.len() < 500, "the walk does not end: {last}");
    }
    let mut backward = Vec::new();
    let mut path = Some(last);
    while let Some(p) = path {
        let res = client.get(&p).await;
        backward.splice(0..0, listed(&res.body));
        path = rel_link(&res.body, "prev");
        if let Some(prev) = &path {
            assert!(prev.contains(keep), "{prev} keeps {keep:?}");
        }
        assert!(backward.len() < 500, "the walk does not end");
    }
    (forward, backward)
}

fn assert_each_once(walked: &[String], expected: &[String]) {
    assert_eq!(walked, expected);
    assert_eq!(walked.iter().collect::<HashSet<_>>().len(), walked.len());
}

#[tokio::test]
async fn the_directory_pages_newest_members_first_both_ways_with_no_gaps_or_repeats() {
    let app = TestApp::new().await;
    let mut users = members(&app, 45).await;
    users.sort_by_key(|u| std::cmp::Reverse((u.member_since, u.id)));
    let expected: Vec<String> = users.iter().map(|u| u.username.clone()).collect();
    let (forward, backward) = walk_site(&app, "/users", "").await;
    assert_each_once(&forward, &expected);
    assert_eq!(backward, expected);
    // Junk in the order means the default one.
    let (forward, _) = walk_site(&app, "/users?sort=%00junk", "").await;
    assert_eq!(forward, expected);
}

#[tokio::test]
async fn the_directory_pages_most_followed_first_both_ways_keeping_the_order_in_its_links() {
    let app = TestApp::new().await;
    let mut users = members(&app, 45).await;
    users.sort_by_key(|u| std::cmp::Reverse((u.followers_count, u.id)));
    let expected: Vec<String> = users.iter().map(|u| u.username.clone()).collect();
    let (forward, backward) = walk_site(&app, "/users?sort=followers", "sort=followers").await;
    assert_each_once(&forward, &expected);
    assert_eq!(backward, expected);
    // The model, by its cursors, in small pages.
    let mut walked = Vec::new();
    let mut cursor = Some(Cursor::First);
    while let Some(c) = cursor {
        let page = user::directory(&app.db, Directory::MostFollowed, c, 7)
            .await
            .unwrap();
        walked.extend(page.items.into_iter().map(|u| u.username));
        cursor = page.next;
    }
    assert_eq!(walked, expected);
}

#[tokio::test]
async fn the_directory_shows_each_persons_name_place_and_followers_and_its_tabs() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    user::update_profile(
        &app.db,
        ann.id,
        &user::Profile {
            name: Some("Ann <b>Lee</b>".into()),
            location: Some("New Orleans".into()),
            about_me: None,
        },
    )
    .await
    .unwrap();
    let bob = app.create_user("bob").await;
    ragtime::models::follow::add(&app.db, bob.id, ann.id)
        .await
        .unwrap();
    let mut client = app.client();
    let res = client.get("/users?sort=followers").await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.body.contains("Ann &"), "escaped");
    assert!(!res.body.contains("<b>Lee"));
    assert!(res.body.contains("New Orleans"));
    assert!(res.body.contains(">1 follower</a>"));
    assert!(res.body.contains(">0 followers</a>"));
    assert!(res.body.contains(
        r#"<a href="/users?sort=followers" class="active" aria-current="page">Most followed</a>"#
    ));
    assert_eq!(listed(&res.body), ["ann", "bob"]);
    let res = client.get("/users").await;
    assert!(
        res.body
            .contains(r#"<a href="/users" class="active" aria-current="page">Newest</a>"#)
    );
    assert_eq!(listed(&res.body), ["bob", "ann"]);
}

#[tokio::test]
async fn hostile_directory_parameters_are_never_a_500() {
    let app = TestApp::new().await;
    members(&app, 3).await;
    let mut client = app.client();
    for query in [
        "sort=followers&after=junk",
        "sort=followers&before=99999999999999999999999_1",
        "sort=followers&after=-9223372036854775808_-2147483648",
        "sort=followers&before=9223372036854775807_2147483647",
        "after=9223372036854775807_2147483647",
        "before=-9223372036854775808_1",
        "sort=followers&sort=newest",
        "sort=%ff%fe",
        "sort=followers&page=99999999999999999999",
        "page=11",
        "page=last&sort=followers",
        "sort=%3Cscript%3E",
    ] {
        let res = client.get(&format!("/users?{query}")).await;
        assert_eq!(res.status, StatusCode::OK, "{query}");
        assert!(!res.body.contains("<script>"), "{query}");
    }
}

#[tokio::test]
#[ignore = "needs PostgreSQL: TEST_DATABASE_URL=… cargo test -- --include-ignored (.ci/run does)"]
async fn on_postgresql_both_directory_orders_read_a_page_from_their_index() {
    let app = TestApp::new().await;
    app.require_postgres();
    let options = ragtime::commands::seed::SeedOptions {
        users: 4000,
        compositions: 100,
        follows: 5,
        comments: 0,
        ..Default::default()
    };
    ragtime::commands::seed::seed(&app.db, &options)
        .await
        .unwrap();
    let db = &app.db;
    ragtime::db::refresh_statistics(db).await.unwrap();
    let backend = db.get_database_backend();
    let middle = |sql: &'static str| async move {
        db.query_one_raw(Statement::from_string(backend, sql.to_owned()))
            .await
            .unwrap()
            .unwrap()
    };
    let row = middle("SELECT member_since, id FROM users ORDER BY member_since DESC, id DESC OFFSET 2000 LIMIT 1").await;
    let deep_newest = Key::new(
        row.try_get_by_index(0).unwrap(),
        row.try_get_by_index(1).unwrap(),
    );
    let row = middle("SELECT followers_count, id FROM users ORDER BY followers_count DESC, id DESC OFFSET 2000 LIMIT 1").await;
    let count: i32 = row.try_get_by_index(0).unwrap();
    let deep_followed = Key::ranked(i64::from(count), row.try_get_by_index(1).unwrap());
    let limit = 21;
    for (order, deep, index) in [
        (Directory::Newest, deep_newest, "ix_users_member_since_id"),
        (
            Directory::MostFollowed,
            deep_followed,
            "ix_users_followers_count_id",
        ),
    ] {
        for cursor in [
            Cursor::First,
            Cursor::After(deep),
            Cursor::Before(deep),
            Cursor::Numbered(10),
            Cursor::Last,
        ] {
            let statement = user::directory_statement(backend, order, cursor, 20);
            let plan = plan(db, statement).await;
            let text = plan.join("\n");
            assert!(text.contains(index), "{order:?} from {cursor:?}:\n{text}");
            let bound = if matches!(cursor, Cursor::Numbered(_)) {
                10 * limit
            } else {
                2 * limit
            };
            assert_bounded(&format!("{order:?} from {cursor:?}"), &plan, bound);
        }
    }
}

/// `follower` follows `followed`.
async fn follows(app: &TestApp, follower: &user::Model, followed: &user::Model) {
    ragtime::models::follow::add(&app.db, follower.id, followed.id)
        .await
        .unwrap();
}

/// A user with the self-follow that registration gives everyone.
async fn artist(app: &TestApp, username: &str) -> user::Model {
    let u = app.create_user(username).await;
    follows(app, &u, &u).await;
    u
}

fn names(people: &[user::Model]) -> Vec<&str> {
    people.iter().map(|u| u.username.as_str()).collect()
}

#[tokio::test]
async fn suggestions_rank_friends_of_friends_first_then_the_most_followed_never_oneself_or_the_followed()
 {
    let app = TestApp::new().await;
    let ann = artist(&app, "ann").await;
    let bob = artist(&app, "bob").await;
    let cat = artist(&app, "cat").await;
    let dan = artist(&app, "dan").await;
    let eve = artist(&app, "eve").await;
    let fay = artist(&app, "fay").await;
    let star = artist(&app, "star").await;
    artist(&app, "nobody").await;
    for fan in ["f1", "f2", "f3"] {
        let fan = artist(&app, fan).await;
        follows(&app, &fan, &star).await;
        follows(&app, &fan, &fay).await;
        follows(&app, &fan, &ann).await;
    }
    follows(&app, &ann, &bob).await;
    follows(&app, &ann, &cat).await;
    follows(&app, &ann, &fay).await;
    // Both of ann's friends follow dan; one follows eve; they follow ann and fay, whom she
    // is or follows already.
    for friend in [&bob, &cat] {
        follows(&app, friend, &dan).await;
        follows(&app, friend, &ann).await;
        follows(&app, friend, &fay).await;
    }
    follows(&app, &bob, &eve).await;
    let suggested = ragtime::models::suggestion::who_to_follow(&app.db, ann.id, 3)
        .await
        .unwrap();
    assert_eq!(names(&suggested), ["dan", "eve", "star"]);
    let all = ragtime::models::suggestion::who_to_follow(&app.db, ann.id, 50)
        .await
        .unwrap();
    let listed = names(&all);
    for excluded in ["ann", "bob", "cat", "fay"] {
        assert!(!listed.contains(&excluded), "{excluded} in {listed:?}");
    }
    assert!(
        listed.contains(&"nobody") && listed.len() == 7,
        "{listed:?}"
    );
    // Someone who follows nobody gets the most followed.
    let new = artist(&app, "new").await;
    let suggested = ragtime::models::suggestion::who_to_follow(&app.db, new.id, 2)
        .await
        .unwrap();
    // fay has six followers, ann five.
    assert_eq!(names(&suggested), ["fay", "ann"]);
}

#[tokio::test]
async fn a_short_followed_feed_and_profiles_suggest_who_to_follow() {
    let app = TestApp::new().await;
    let ann = artist(&app, "ann").await;
    let bob = artist(&app, "bob").await;
    let cat = artist(&app, "cat").await;
    follows(&app, &ann, &bob).await;
    follows(&app, &bob, &cat).await;
    let mut client = app.logged_in_client(&ann).await;
    // The All tab has no suggestions; the Followed tab, nearly empty, has.
    let all = client.get("/").await;
    assert!(!all.body.contains("Who to follow"));
    client.get("/followed").await;
    let followed = client.get("/").await;
    assert!(followed.body.contains("Who to follow"), "{}", followed.body);
    assert!(followed.body.contains(r#"action="/follow/cat""#));
    assert!(!followed.body.contains(r#"action="/follow/bob""#));
    assert!(!followed.body.contains(r#"action="/follow/ann""#));
    // Following from the suggestion works like the profile's button.
    let token = followed.csrf_token();
    let res = client
        .post_form("/follow/cat", &[("csrf_token", &token)])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert!(
        ragtime::models::follow::is_following(&app.db, ann.id, cat.id)
            .await
            .unwrap()
    );
    // On a profile, not the profile's own user (who has the button above).
    let dan = artist(&app, "dan").await;
    follows(&app, &bob, &dan).await;
    let profile = client.get("/user/dan").await;
    assert_eq!(profile.body.matches(r#"action="/follow/dan""#).count(), 1);
    let profile = client.get("/user/bob").await;
    assert!(profile.body.contains("Who to follow"));
    assert!(profile.body.contains(r#"action="/follow/dan""#));
    // Visitors get none.
    assert!(
        !app.client()
            .get("/user/bob")
            .await
            .body
            .contains("Who to follow")
    );
}
