//! What an account that has not confirmed its address may do (SPEC §2): read and listen like an
//! anonymous visitor, on the site and through the API; but whatever writes — publish, comment,
//! follow, like, edit — is refused with the unconfirmed message and nothing is saved. Its role's
//! powers (moderation, administration) wait for the confirmation too.

use std::path::Path;

use crate::helpers::{Client, PASSWORD, TestApp, TestResponse};
use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use ragtime::models::{comment, composition, follow, like, track, user};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait, PaginatorTrait};
use serde_json::{Value, json};

/// The words every refusal carries.
const UNCONFIRMED: &str = "Your account is not confirmed yet";

/// `account` with its address marked unconfirmed.
async fn unconfirm(app: &TestApp, account: &user::Model) -> user::Model {
    let mut active: user::ActiveModel = account.clone().into();
    active.confirmed = Set(false);
    active.update(&app.db).await.unwrap()
}

/// A new user, unconfirmed (with the default role), logged in.
async fn newcomer(app: &TestApp) -> (user::Model, Client) {
    let account = app.create_user_with_password("newcomer").await;
    let account = unconfirm(app, &account).await;
    let client = app.logged_in_client(&account).await;
    (account, client)
}

/// An uploaded track of `c` (by its artist, who must be confirmed while uploading).
async fn a_track(app: &TestApp, artist: &user::Model, c: &composition::Model) -> track::Model {
    let bytes =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/audio/tone.wav"))
            .unwrap();
    let res = api(
        app,
        Method::POST,
        &format!("/api/v1/compositions/{}/tracks", c.id),
        artist,
        Some(("audio/wav", bytes)),
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    track::Entity::find().one(&app.db).await.unwrap().unwrap()
}

/// One API call with a bearer token for `who` and an optional body of this type.
async fn api(
    app: &TestApp,
    method: Method,
    path: &str,
    who: &user::Model,
    body: Option<(&str, Vec<u8>)>,
) -> TestResponse {
    let mut client = app.client();
    let token = ragtime::api::auth::issue(&app.state.signer, who);
    let mut req = client
        .request(method, path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    let body = match body {
        Some((content_type, bytes)) => {
            req = req.header(header::CONTENT_TYPE, content_type);
            Body::from(bytes)
        }
        None => Body::empty(),
    };
    client.send(req.body(body).unwrap()).await
}

async fn api_json(
    app: &TestApp,
    method: Method,
    path: &str,
    who: &user::Model,
    body: Value,
) -> TestResponse {
    let bytes = body.to_string().into_bytes();
    api(app, method, path, who, Some(("application/json", bytes))).await
}

/// What the database holds that a write could change.
async fn counts(app: &TestApp) -> [u64; 5] {
    [
        composition::Entity::find().count(&app.db).await.unwrap(),
        comment::Entity::find().count(&app.db).await.unwrap(),
        follow::Entity::find().count(&app.db).await.unwrap(),
        like::Entity::find().count(&app.db).await.unwrap(),
        track::Entity::find().count(&app.db).await.unwrap(),
    ]
}

#[tokio::test]
async fn an_unconfirmed_account_reads_and_listens_like_a_visitor() {
    let app = TestApp::new().await;
    let bob = app.create_user("bob").await;
    let rag = app.publish(&bob, "Maple Leaf Rag").await;
    let t = a_track(&app, &bob, &rag).await;
    let (_, mut client) = newcomer(&app).await;
    let slug = rag.slug();
    for page in [
        "/".to_owned(),
        "/users".to_owned(),
        "/user/bob".to_owned(),
        "/followers/bob".to_owned(),
        format!("/composition/{slug}"),
        format!("/composition/{slug}/likes"),
        "/search?q=maple".to_owned(),
        "/notifications".to_owned(),
        format!("/audio/{}", t.object_key),
    ] {
        let res = client.get(&page).await;
        assert_eq!(
            res.status,
            StatusCode::OK,
            "{page}: {:?}",
            res.header("location")
        );
    }
    let home = client.get("/").await;
    assert!(home.body.contains("Hello, newcomer!"), "logged in");
    assert!(home.body.contains("Maple Leaf Rag"), "the feed is there");
    // The /all and /followed switch is a read too.
    assert_eq!(client.get("/all").await.header("location"), Some("/"));
    assert_eq!(client.get("/followed").await.status, StatusCode::OK);
    assert_eq!(client.get("/trending").await.status, StatusCode::OK);
}

/// Listening is reading: an unconfirmed account's plays count, on the site and in the API,
/// under its account; the API's play routes need credentials all the same.
#[tokio::test]
async fn an_unconfirmed_accounts_plays_count_like_anyones() {
    use ragtime::models::play::{Listener, start_token};
    let app = TestApp::new().await;
    let bob = app.create_user("bob").await;
    let rag = app.publish(&bob, "Maple Leaf Rag").await;
    let t = a_track(&app, &bob, &rag).await;
    let (newcomer, mut client) = newcomer(&app).await;
    let page = client.get(&format!("/composition/{}", rag.slug())).await;
    let marker = r#"data-csrf-token=""#;
    let at = page.body.find(marker).unwrap() + marker.len();
    let csrf = page.body[at..at + page.body[at..].find('"').unwrap()].to_owned();
    let req = client
        .request(Method::POST, &format!("/tracks/{}/play", t.id))
        .header("x-csrftoken", &csrf)
        .body(Body::empty())
        .unwrap();
    assert_eq!(client.send(req).await.status, StatusCode::CREATED);
    let needed = t.duration_ms.min(30_000);
    let ago = chrono::Duration::milliseconds(needed);
    let token = start_token(
        &app.state.signer,
        t.id,
        &Listener::Account(newcomer.id),
        chrono::Utc::now() - ago,
    );
    let body = format!("token={token}&heard_ms={needed}");
    let req = client
        .request(Method::POST, &format!("/tracks/{}/heard", t.id))
        .header("x-csrftoken", &csrf)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap();
    let res = client.send(req).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    // Through the API, with its own token: the same listener, so not twice this hour.
    let start = api(
        &app,
        Method::POST,
        &format!("/api/v1/tracks/{}/listens", t.id),
        &newcomer,
        None,
    )
    .await;
    assert_eq!(start.status, StatusCode::CREATED, "{}", start.body);
    let res = api_json(
        &app,
        Method::POST,
        &format!("/api/v1/tracks/{}/plays", t.id),
        &newcomer,
        json!({"token": token, "heard_ms": needed}),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.json()["reason"], "already_counted");
    let t = track::Entity::find_by_id(t.id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(t.plays_count, 1);
}

#[tokio::test]
async fn the_pages_of_an_unconfirmed_account_offer_the_link_where_their_forms_would_be() {
    let app = TestApp::new().await;
    let bob = app.create_user("bob").await;
    let rag = app.publish(&bob, "Maple Leaf Rag").await;
    let (_, mut client) = newcomer(&app).await;

    let home = client.get("/").await;
    assert!(
        !home.body.contains("Publish a composition"),
        "no publish form"
    );
    assert!(home.body.contains("Confirm your account to publish"));
    assert!(
        home.body.contains(r#"action="/auth/confirm""#),
        "the resend button"
    );
    assert!(!home.body.contains("like-form"), "no like button");

    let permalink = client.get(&format!("/composition/{}", rag.slug())).await;
    assert!(!permalink.body.contains("comment-form"), "no comment form");
    assert!(permalink.body.contains("Confirm your account to comment"));

    let profile = client.get("/user/bob").await;
    assert!(!profile.body.contains(r#"action="/follow/bob""#));
    assert!(profile.body.contains("to follow bob"));

    // Once confirmed, the forms are back and the notes gone.
    let confirmed = app.create_user("ann").await;
    let mut ann = app.logged_in_client(&confirmed).await;
    let home = ann.get("/").await;
    assert!(home.body.contains("Publish a composition"));
    assert!(!home.body.contains("Confirm your account"));
    assert!(
        ann.get("/user/bob")
            .await
            .body
            .contains(r#"action="/follow/bob""#)
    );
}

#[tokio::test]
async fn every_write_of_an_unconfirmed_account_is_refused_with_the_unconfirmed_message() {
    let app = TestApp::new().await;
    let bob = app.create_user("bob").await;
    let rag = app.publish(&bob, "Maple Leaf Rag").await;
    // An account that was confirmed, published, then lost its confirmation (an administrator
    // unticked it, or it came from the Flask site unconfirmed).
    let artist = app.create_user_with_password("newcomer").await;
    let own = app.publish(&artist, "Own Rag").await;
    let own_track = a_track(&app, &artist, &own).await;
    let artist = unconfirm(&app, &artist).await;
    let mut client = app.logged_in_client(&artist).await;
    let before = counts(&app).await;

    let (slug, own_slug) = (rag.slug(), own.slug());
    let writes: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            "/".into(),
            vec![
                ("release_type", "1"),
                ("title", "New"),
                ("description", "d"),
            ],
        ),
        (format!("/composition/{slug}"), vec![("body", "Nice!")]),
        ("/follow/bob".into(), vec![]),
        ("/unfollow/bob".into(), vec![]),
        (format!("/composition/{slug}/like"), vec![]),
        (format!("/composition/{slug}/unlike"), vec![]),
        ("/edit-profile".into(), vec![("name", "Spammer")]),
        (
            format!("/edit/{own_slug}"),
            vec![
                ("release_type", "1"),
                ("title", "Renamed"),
                ("description", "d"),
            ],
        ),
        (format!("/delete/{own_slug}"), vec![]),
        (
            format!("/tracks/{}/rename", own_track.id),
            vec![("title", "Renamed")],
        ),
        (format!("/tracks/{}/delete", own_track.id), vec![]),
    ];
    for (action, fields) in &writes {
        let token = client.get("/").await.csrf_token();
        let mut all = vec![("csrf_token", token.as_str())];
        all.extend_from_slice(fields);
        let res = client.post_form(action, &all).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{action}");
        assert_eq!(
            res.header("location"),
            Some("/auth/unconfirmed"),
            "{action}"
        );
        let page = client.get("/auth/unconfirmed").await;
        assert!(page.body.contains(UNCONFIRMED), "{action}: {}", page.body);
    }
    // The pages of those writes send it there too.
    for page in ["/edit-profile".to_owned(), format!("/edit/{own_slug}")] {
        let res = client.get(&page).await;
        assert_eq!(res.header("location"), Some("/auth/unconfirmed"), "{page}");
    }

    assert_eq!(counts(&app).await, before, "nothing was written");
    let stored = user::find_by_id(&app.db, artist.id).await.unwrap().unwrap();
    assert_eq!(stored.name, None);
    let own_now = composition::Entity::find_by_id(own.id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(own_now.title, "Own Rag");
    let track_now = track::Entity::find_by_id(own_track.id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(track_now.title, own_track.title);

    // Confirmed, the same account may.
    let mut active: user::ActiveModel = stored.into();
    active.confirmed = Set(true);
    active.update(&app.db).await.unwrap();
    let res = crate::helpers::submit(&mut client, "/", "/follow/bob", &[]).await;
    assert_eq!(res.header("location"), Some("/user/bob"));
}

#[tokio::test]
async fn an_unconfirmed_administrator_has_no_powers_until_confirmed() {
    // Whoever registers the admin address first gets the role; the mailbox proves the rest.
    let app = TestApp::with_env(&[("RAGTIME_ADMIN", "boss@example.com")]).await;
    let mut client = app.client();
    crate::helpers::register(&mut client, "boss@example.com", "boss").await;
    let home = client.get("/").await;
    assert!(home.body.contains("Hello, boss!"));
    assert!(!home.body.contains(r#"href="/moderate""#));
    assert!(!home.body.contains(r#"href="/admin/users""#));
    for page in ["/moderate", "/admin/users"] {
        let res = client.get(page).await;
        assert_eq!(res.header("location"), Some("/auth/unconfirmed"), "{page}");
    }

    // The admin address also got the "New User" mail: the link is in the other one.
    let mails: Vec<_> = app
        .deliver_mail()
        .await
        .into_iter()
        .filter(|m| m.subject.contains("Confirm"))
        .collect();
    client
        .get(&crate::helpers::link_path(&mails, "boss@example.com"))
        .await;
    assert_eq!(client.get("/admin/users").await.status, StatusCode::OK);
    assert!(client.get("/").await.body.contains(r#"href="/moderate""#));
}

#[tokio::test]
async fn an_unconfirmed_account_reads_the_api_but_its_writes_get_403() {
    let app = TestApp::new().await;
    let bob = app.create_user("bob").await;
    let rag = app.publish(&bob, "Maple Leaf Rag").await;
    let artist = app.create_user_with_password("newcomer").await;
    let own = app.publish(&artist, "Own Rag").await;
    let own_track = a_track(&app, &artist, &own).await;
    let artist = unconfirm(&app, &artist).await;

    // A token can be had, as the site's login can, and reads work with it.
    let mut client = app.client();
    let basic = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("newcomer@example.com:{PASSWORD}"),
    );
    let req = client
        .request(Method::POST, "/api/v1/tokens/")
        .header(header::AUTHORIZATION, format!("Basic {basic}"));
    let res = client.send(req.body(Body::empty()).unwrap()).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    for path in [
        "/api/v1/compositions/".to_owned(),
        format!("/api/v1/compositions/{}", rag.id),
        format!("/api/v1/users/{}", bob.id),
        format!("/api/v1/compositions/{}/comments/", rag.id),
    ] {
        let res = api(&app, Method::GET, &path, &artist, None).await;
        assert_eq!(res.status, StatusCode::OK, "{path}: {}", res.body);
    }

    let before = counts(&app).await;
    let writes = [
        (
            Method::POST,
            "/api/v1/compositions/".to_owned(),
            json!({"release_type": 1, "title": "New", "description": "d"}),
        ),
        (
            Method::POST,
            format!("/api/v1/compositions/{}/comments/", rag.id),
            json!({"body": "Nice!"}),
        ),
        (
            Method::PUT,
            format!("/api/v1/compositions/{}", own.id),
            json!({"title": "Renamed"}),
        ),
        (
            Method::DELETE,
            format!("/api/v1/compositions/{}", own.id),
            Value::Null,
        ),
        (
            Method::POST,
            format!("/api/v1/compositions/{}/like", rag.id),
            Value::Null,
        ),
        (
            Method::POST,
            format!("/api/v1/users/{}/follow", bob.id),
            Value::Null,
        ),
        (
            Method::PATCH,
            format!("/api/v1/tracks/{}", own_track.id),
            json!({"title": "Renamed"}),
        ),
        (
            Method::DELETE,
            format!("/api/v1/tracks/{}", own_track.id),
            Value::Null,
        ),
    ];
    for (method, path, body) in writes {
        let res = match body {
            Value::Null => api(&app, method.clone(), &path, &artist, None).await,
            body => api_json(&app, method.clone(), &path, &artist, body).await,
        };
        assert_eq!(
            res.status,
            StatusCode::FORBIDDEN,
            "{method} {path}: {}",
            res.body
        );
        let message = res.json()["message"].as_str().unwrap().to_owned();
        assert!(message.contains(UNCONFIRMED), "{method} {path}: {message}");
        assert!(res.header("location").is_none(), "no redirect in the API");
    }
    let upload = api(
        &app,
        Method::POST,
        &format!("/api/v1/compositions/{}/tracks", own.id),
        &artist,
        Some(("audio/wav", b"RIFF".to_vec())),
    )
    .await;
    assert_eq!(upload.status, StatusCode::FORBIDDEN, "{}", upload.body);
    assert_eq!(counts(&app).await, before, "nothing was written");
}
