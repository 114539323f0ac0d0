//! Likes through HTTP with CSRF on, and through the API: one like per user and composition, an
//! exact count, the like button on every card showing each viewer their own likes (even on the
//! cached home page), the "liked by" list, and hostile input that never gives a 500.

use std::collections::HashSet;

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use chrono::{Duration, TimeZone, Utc};
use ragtime::models::keyset::{Cursor, Key, Order, Reading};
use ragtime::models::{composition, like, user};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, Statement};

use crate::helpers::{Client, TestApp, TestResponse, rel_link, submit};
use crate::lists::{assert_bounded, plan};

async fn likes_count(app: &TestApp, id: i32) -> i32 {
    composition::find(&app.db, id)
        .await
        .unwrap()
        .unwrap()
        .likes_count
}

fn like_action(c: &composition::Model) -> String {
    format!(r#"action="/composition/{}/like""#, c.slug())
}

fn unlike_action(c: &composition::Model) -> String {
    format!(r#"action="/composition/{}/unlike""#, c.slug())
}

#[tokio::test]
async fn liking_twice_is_one_like_and_the_count_is_exact() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let bob = app.create_user("bob").await;
    let rag = app.publish(&bob, "Maple Leaf Rag").await;
    let mut client = app.logged_in_client(&ann).await;
    let action = format!("/composition/{}/like", rag.slug());
    let res = submit(&mut client, "/", &action, &[("back", "/user/bob")]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.header("location"), Some("/user/bob"));
    let again = submit(&mut client, "/", &action, &[("back", "/")]).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    assert_eq!(likes_count(&app, rag.id).await, 1);
    let home = client.get("/").await;
    assert!(home.body.contains("You already like this composition."));
    assert!(home.body.contains(">1 like</a>"), "{}", home.body);
    assert!(home.body.contains(&unlike_action(&rag)));
    assert!(home.body.contains(r#"aria-pressed="true""#));
    assert_eq!(
        like::like(&app.db, ann.id, rag.id).await.unwrap(),
        like::Outcome::Already
    );
    // A second liker counts, exactly.
    like::like(&app.db, bob.id, rag.id).await.unwrap();
    assert_eq!(likes_count(&app, rag.id).await, 2);
    let page = client.get(&format!("/composition/{}", rag.slug())).await;
    assert!(page.body.contains(">2 likes</a>"), "{}", page.body);
}

#[tokio::test]
async fn unliking_takes_the_like_back() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let rag = app.publish(&ann, "Rag").await;
    like::like(&app.db, ann.id, rag.id).await.unwrap();
    let mut client = app.logged_in_client(&ann).await;
    let permalink = format!("/composition/{}", rag.slug());
    let res = submit(
        &mut client,
        &permalink,
        &format!("{permalink}/unlike"),
        &[("back", &permalink)],
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.header("location"), Some(permalink.as_str()));
    assert_eq!(likes_count(&app, rag.id).await, 0);
    let page = client.get(&permalink).await;
    assert!(page.body.contains(&like_action(&rag)));
    assert!(page.body.contains(r#"aria-pressed="false""#));
    assert!(page.body.contains(">0 likes</a>"));
    assert_eq!(
        like::unlike(&app.db, ann.id, rag.id).await.unwrap(),
        like::Outcome::Already
    );
    // Unliking what one does not like is harmless and says so.
    submit(
        &mut client,
        &permalink,
        &format!("{permalink}/unlike"),
        &[("back", &permalink)],
    )
    .await;
    assert!(
        client
            .get(&permalink)
            .await
            .body
            .contains("You do not like this composition.")
    );
    assert_eq!(likes_count(&app, rag.id).await, 0);
}

#[tokio::test]
async fn a_like_leads_back_only_to_a_page_of_this_site() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let rag = app.publish(&ann, "Rag").await;
    let mut client = app.logged_in_client(&ann).await;
    let action = format!("/composition/{}/like", rag.slug());
    for hostile in [
        "https://evil.example/",
        "//evil.example",
        "/\\evil.example",
        "",
        "/caf\u{e9} bar",
        "/a\"b<c>",
    ] {
        let res = submit(&mut client, "/", &action, &[("back", hostile)]).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER);
        assert_eq!(
            res.header("location"),
            Some(format!("/composition/{}", rag.url_slug()).as_str()),
            "{hostile:?}"
        );
    }
}

#[tokio::test]
async fn visitors_must_log_in_and_users_without_follow_cannot_like() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let rag = app.publish(&ann, "Rag").await;
    let action = format!("/composition/{}/like", rag.slug());

    let mut visitor = app.client();
    let home = visitor.get("/").await;
    assert!(!home.body.contains(&like_action(&rag)));
    assert!(
        home.body.contains(">0 likes</a>"),
        "the count is shown to all"
    );
    let res = submit(&mut visitor, "/auth/login", &action, &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert!(res.header("location").unwrap().starts_with("/auth/login"));

    let muted = app.create_role("Muted", 0).await;
    let bob = app.create_user("bob").await;
    app.give_role(&bob, muted.id).await;
    let mut client = app.logged_in_client(&bob).await;
    let home = client.get("/").await;
    assert!(!home.body.contains(&like_action(&rag)));
    assert!(home.body.contains(">0 likes</a>"));
    let res = submit(&mut client, "/", &action, &[]).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = submit(
        &mut client,
        "/",
        &format!("/composition/{}/unlike", rag.slug()),
        &[],
    )
    .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(likes_count(&app, rag.id).await, 0);
    assert_eq!(
        client.get(&action).await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
}

#[tokio::test]
async fn a_like_without_the_csrf_token_is_refused() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let rag = app.publish(&ann, "Rag").await;
    let mut client = app.logged_in_client(&ann).await;
    let action = format!("/composition/{}/like", rag.slug());
    let res = client.post_form(&action, &[("back", "/")]).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let res = client
        .post_form(&action, &[("csrf_token", "forged"), ("back", "/")])
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(likes_count(&app, rag.id).await, 0);
}

#[tokio::test]
async fn liking_a_composition_that_does_not_exist_is_a_404() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let rag = app.publish(&ann, "Rag").await;
    let mut client = app.logged_in_client(&ann).await;
    for slug in [
        "999999-gone",
        "abc",
        "99999999999999999999-x",
        "-1",
        "0",
        "%00",
    ] {
        for verb in ["like", "unlike"] {
            let res = submit(
                &mut client,
                "/",
                &format!("/composition/{slug}/{verb}"),
                &[],
            )
            .await;
            assert_eq!(res.status, StatusCode::NOT_FOUND, "{verb} {slug}");
        }
    }
    // Gone between the lookup and the like: the foreign key says so, not a 500.
    assert_eq!(
        like::like(&app.db, ann.id, rag.id + 1000).await.unwrap(),
        like::Outcome::NoSuchComposition
    );
    composition::delete(&app.db, rag.id).await.unwrap();
    assert_eq!(
        like::like(&app.db, ann.id, rag.id).await.unwrap(),
        like::Outcome::NoSuchComposition
    );
}

#[tokio::test]
async fn each_viewer_sees_their_own_likes_even_on_the_cached_home_page() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let bob = app.create_user("bob").await;
    let liked = app.publish(&ann, "Liked by ann").await;
    let other = app.publish(&ann, "Liked by nobody").await;
    let mut ann_client = app.logged_in_client(&ann).await;
    let mut bob_client = app.logged_in_client(&bob).await;
    // Bob reads the page first, so the feed cache holds it; then ann likes one (directly,
    // which leaves the cache as it is) and both read the cached page.
    let first = bob_client.get("/").await;
    assert!(!first.body.contains(r#"aria-pressed="true""#));
    like::like(&app.db, ann.id, liked.id).await.unwrap();
    let for_ann = ann_client.get("/").await;
    assert!(
        for_ann.body.contains(&unlike_action(&liked)),
        "{}",
        for_ann.body
    );
    assert!(for_ann.body.contains(&like_action(&other)));
    let for_bob = bob_client.get("/").await;
    assert!(for_bob.body.contains(&like_action(&liked)));
    assert!(!for_bob.body.contains(r#"aria-pressed="true""#));
    // And the other way round: ann's page in the cache, bob reads it.
    like::unlike(&app.db, ann.id, liked.id).await.unwrap();
    like::like(&app.db, bob.id, other.id).await.unwrap();
    app.state.feeds.clear();
    let for_ann = ann_client.get("/").await;
    assert!(!for_ann.body.contains(r#"aria-pressed="true""#));
    let for_bob = bob_client.get("/").await;
    assert!(for_bob.body.contains(&unlike_action(&other)));
    assert!(for_bob.body.contains(&like_action(&liked)));
    // The profile shows the viewer's likes too.
    let profile = bob_client.get("/user/ann").await;
    assert!(profile.body.contains(&unlike_action(&other)));
}

/// `n` new users who like `c`, two by two at the same minute.
async fn likers(app: &TestApp, c: &composition::Model, n: i64) -> Vec<user::Model> {
    let base = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
    let mut users = Vec::new();
    for i in 0..n {
        let u = app.create_user(&format!("fan{i}")).await;
        // Two by two at the same moment: the tie is broken by the user's id.
        like::ActiveModel {
            user_id: Set(u.id),
            composition_id: Set(c.id),
            timestamp: Set(base + Duration::minutes(i / 2)),
        }
        .insert(&app.db)
        .await
        .unwrap();
        users.push(u);
    }
    users
}

/// The usernames a "liked by" page lists, in order.
fn listed(body: &str) -> Vec<String> {
    let marker = r#"<a class="author" href="/user/"#;
    body.match_indices(marker)
        .map(|(at, _)| {
            let rest = &body[at + marker.len()..];
            rest[..rest.find('"').unwrap()].to_owned()
        })
        .collect()
}

#[tokio::test]
async fn the_liked_by_page_lists_the_likers_newest_first_by_cursor_pages() {
    let app = TestApp::with_env(&[("RAGTIME_FOLLOWERS_PER_PAGE", "3")]).await;
    let ann = app.create_user("ann").await;
    let rag = app.publish(&ann, "Rag").await;
    let fans = likers(&app, &rag, 8).await;
    // Newest first, ties by id descending: fan7, fan6, ... fan0.
    let expected: Vec<String> = fans.iter().rev().map(|u| u.username.clone()).collect();
    let mut client = app.client();
    let mut forward = Vec::new();
    let mut path = Some(format!("/composition/{}/likes", rag.slug()));
    let mut last = String::new();
    while let Some(p) = path {
        let res = client.get(&p).await;
        assert_eq!(res.status, StatusCode::OK);
        let names = listed(&res.body);
        assert!(names.len() <= 3);
        forward.extend(names);
        path = rel_link(&res.body, "next");
        last = p;
        assert!(forward.len() < 100);
    }
    assert_eq!(forward, expected);
    let mut backward = Vec::new();
    let mut path = Some(last);
    while let Some(p) = path {
        let res = client.get(&p).await;
        backward.splice(0..0, listed(&res.body));
        path = rel_link(&res.body, "prev");
        assert!(backward.len() < 100);
    }
    assert_eq!(backward, expected);
    let unique: HashSet<_> = forward.iter().collect();
    assert_eq!(unique.len(), 8);
    // The model, by its cursors.
    let page = like::page(&app.db, rag.id, Cursor::First, 3).await.unwrap();
    let names: Vec<_> = page.iter().map(|e| e.user.username.as_str()).collect();
    assert_eq!(names, ["fan7", "fan6", "fan5"]);
    // An empty list says so.
    let lonely = app.publish(&ann, "Lonely").await;
    let res = client
        .get(&format!("/composition/{}/likes", lonely.slug()))
        .await;
    assert!(
        res.body.contains("Nobody has liked it yet."),
        "{}",
        res.body
    );
}

#[tokio::test]
async fn hostile_input_on_like_pages_is_never_a_500() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let rag = app.publish(&ann, "Rag").await;
    like::like(&app.db, ann.id, rag.id).await.unwrap();
    let mut client = app.logged_in_client(&ann).await;
    for slug in [
        "abc",
        "99999999999999999999",
        "0",
        "-5",
        "999999",
        "%00",
        "1%27--",
    ] {
        let res = client.get(&format!("/composition/{slug}/likes")).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{slug}");
    }
    let slug = rag.slug();
    for query in [
        "after=junk",
        "before=9999999999999999999999_1",
        "after=-9223372036854775808_-2147483648",
        "before=9223372036854775807_2147483647",
        "page=99999999999999999999",
        "page=11",
        "page=last",
        "after=1_1&before=2_2&page=3",
    ] {
        let res = client
            .get(&format!("/composition/{slug}/likes?{query}"))
            .await;
        assert_eq!(res.status, StatusCode::OK, "{query}");
    }
    let res = submit(
        &mut client,
        "/",
        &format!("/composition/{slug}/like"),
        &[("back", &"x".repeat(10_000))],
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
}

// The API.

fn bearer(app: &TestApp, u: &user::Model) -> String {
    format!("Bearer {}", ragtime::api::auth::issue(&app.state.signer, u))
}

async fn call(client: &mut Client, method: Method, path: &str, auth: &str) -> TestResponse {
    let req = client
        .request(method, path)
        .header(header::AUTHORIZATION, auth)
        .body(Body::empty())
        .unwrap();
    client.send(req).await
}

#[tokio::test]
async fn the_api_likes_and_unlikes_and_shows_like_count_and_liked() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let bob = app.create_user("bob").await;
    let rag = app.publish(&ann, "Rag").await;
    let (ann_auth, bob_auth) = (bearer(&app, &ann), bearer(&app, &bob));
    let mut client = app.client();
    let like_path = format!("/api/v1/compositions/{}/like", rag.id);

    let res = call(&mut client, Method::POST, &like_path, &ann_auth).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert!(res.header("location").unwrap().ends_with(&like_path));
    assert_eq!(res.json()["like_count"], 1);
    assert_eq!(res.json()["liked"], true);
    let res = call(&mut client, Method::POST, &like_path, &ann_auth).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json()["like_count"], 1);
    assert_eq!(likes_count(&app, rag.id).await, 1);

    let one = format!("/api/v1/compositions/{}", rag.id);
    let as_ann = call(&mut client, Method::GET, &one, &ann_auth).await.json();
    assert_eq!(
        (as_ann["like_count"].clone(), as_ann["liked"].clone()),
        (1.into(), true.into())
    );
    let as_bob = call(&mut client, Method::GET, &one, &bob_auth).await.json();
    assert_eq!(
        (as_bob["like_count"].clone(), as_bob["liked"].clone()),
        (1.into(), false.into())
    );
    // Lists, cached or not, say it per caller.
    app.publish(&ann, "Other").await;
    for list in [
        "/api/v1/compositions/".to_owned(),
        format!("/api/v1/users/{}/compositions/", ann.id),
    ] {
        for (auth, expected) in [(&ann_auth, [false, true]), (&bob_auth, [false, false])] {
            let res = call(&mut client, Method::GET, &list, auth).await.json();
            let liked: Vec<bool> = res["compositions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["liked"].as_bool().unwrap())
                .collect();
            assert_eq!(liked, expected, "{list}");
        }
    }

    let res = call(&mut client, Method::DELETE, &like_path, &ann_auth).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    let res = call(&mut client, Method::DELETE, &like_path, &ann_auth).await;
    assert_eq!(
        res.status,
        StatusCode::NO_CONTENT,
        "unliking twice is harmless"
    );
    let as_ann = call(&mut client, Method::GET, &one, &ann_auth).await.json();
    assert_eq!(
        (as_ann["like_count"].clone(), as_ann["liked"].clone()),
        (0.into(), false.into())
    );
}

#[tokio::test]
async fn the_api_refuses_likes_without_follow_and_of_missing_compositions() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let rag = app.publish(&ann, "Rag").await;
    let muted = app.create_role("Muted", 0).await;
    let bob = app.create_user("bob").await;
    let bob = app.give_role(&bob, muted.id).await;
    let mut client = app.client();
    let like_path = format!("/api/v1/compositions/{}/like", rag.id);
    for method in [Method::POST, Method::DELETE] {
        let res = call(&mut client, method.clone(), &like_path, &bearer(&app, &bob)).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{method}");
        assert!(res.json()["error"].is_string());
        for (id, status) in [
            ("999999", StatusCode::NOT_FOUND),
            ("99999999999999999999", StatusCode::BAD_REQUEST),
            ("abc", StatusCode::BAD_REQUEST),
        ] {
            let path = format!("/api/v1/compositions/{id}/like");
            let res = call(&mut client, method.clone(), &path, &bearer(&app, &ann)).await;
            assert_eq!(res.status, status, "{method} {id}");
            assert!(res.json()["error"].is_string());
        }
        let res = client
            .send(
                client
                    .request(method.clone(), &like_path)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(likes_count(&app, rag.id).await, 0);
}

#[tokio::test]
async fn the_openapi_document_describes_liking() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let mut client = app.client();
    let doc = call(
        &mut client,
        Method::GET,
        "/api/v1/openapi.json",
        &bearer(&app, &ann),
    )
    .await
    .json();
    let like = &doc["paths"]["/api/v1/compositions/{id}/like"];
    for (method, status) in [
        ("post", "201"),
        ("post", "200"),
        ("post", "404"),
        ("delete", "204"),
        ("delete", "403"),
    ] {
        assert!(
            like[method]["responses"][status].is_object(),
            "{method} {status}"
        );
    }
    let properties = &doc["components"]["schemas"]["Composition"]["properties"];
    assert!(properties["like_count"].is_object() && properties["liked"].is_object());
}

#[tokio::test]
#[ignore = "needs PostgreSQL: TEST_DATABASE_URL=… cargo test -- --include-ignored (.ci/run does)"]
async fn on_postgresql_the_liked_by_list_reads_a_page_from_its_index() {
    let app = TestApp::new().await;
    app.require_postgres();
    let options = ragtime::commands::seed::SeedOptions {
        users: 3000,
        compositions: 300,
        follows: 2,
        comments: 0,
        ..Default::default()
    };
    ragtime::commands::seed::seed(&app.db, &options)
        .await
        .unwrap();
    let db = &app.db;
    let backend = db.get_database_backend();
    // Every user likes a few compositions; the newest one is liked by everyone.
    db.execute_raw(Statement::from_string(
        backend,
        "INSERT INTO likes (user_id, composition_id, timestamp) \
         SELECT u.id, c.id, u.member_since + (c.id % 97) * interval '1 minute' \
         FROM users u JOIN compositions c ON (u.id + c.id) % 60 = 0 \
         ON CONFLICT DO NOTHING"
            .to_owned(),
    ))
    .await
    .unwrap();
    let busy: i32 = db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT id FROM compositions ORDER BY timestamp DESC LIMIT 1".to_owned(),
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index(0)
        .unwrap();
    db.execute_raw(Statement::from_string(
        backend,
        format!(
            "INSERT INTO likes (user_id, composition_id, timestamp) \
             SELECT id, {busy}, member_since FROM users ON CONFLICT DO NOTHING"
        ),
    ))
    .await
    .unwrap();
    ragtime::db::refresh_statistics(db).await.unwrap();
    let row = db
        .query_one_raw(Statement::from_string(
            backend,
            format!(
                "SELECT timestamp, user_id FROM likes WHERE composition_id = {busy} \
                 ORDER BY timestamp DESC, user_id DESC OFFSET 1500 LIMIT 1"
            ),
        ))
        .await
        .unwrap()
        .unwrap();
    let deep = Key::new(
        row.try_get_by_index(0).unwrap(),
        row.try_get_by_index(1).unwrap(),
    );
    let limit = 21;
    for cursor in [
        Cursor::First,
        Cursor::After(deep),
        Cursor::Before(deep),
        Cursor::Numbered(10),
        Cursor::Last,
    ] {
        let reading = Reading::new(cursor, Order::NewestFirst, 20);
        let statement = like::page_statement(backend, busy, &reading);
        let bound = if matches!(cursor, Cursor::Numbered(_)) {
            10 * limit
        } else {
            2 * limit
        };
        let plan = plan(db, statement).await;
        assert!(
            plan.join("\n")
                .contains("ix_likes_composition_id_timestamp_user_id"),
            "{}",
            plan.join("\n")
        );
        assert_bounded(&format!("likes of {busy} from {cursor:?}"), &plan, bound);
    }
}
