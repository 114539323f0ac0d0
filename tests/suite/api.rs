//! The JSON API through HTTP, as a script or a mobile app uses it: Basic and token auth, the
//! resources of SPEC §4 with their URLs, pagination and permissions, every error as JSON, and
//! the OpenAPI document against the routes the router really serves. Every call made here
//! also checks that the API never sets a cookie.

use std::collections::{BTreeSet, HashSet};

use crate::helpers::{Client, PASSWORD, TestApp, TestResponse};
use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ragtime::models::{comment, composition, follow, role, user};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
};
use serde_json::{Value, json};

const ORIGIN: &str = "http://localhost";

fn basic(username: &str, password: &str) -> String {
    format!(
        "Basic {}",
        STANDARD.encode(format!("{username}:{password}"))
    )
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// A token for `user`, minted as the token endpoint mints them.
pub(crate) fn token_of(app: &TestApp, u: &user::Model) -> String {
    bearer(&ragtime::api::auth::issue(&app.state.signer, u))
}

/// Send one API request (JSON body if any) and check the answer sets no cookie.
pub(crate) async fn call(
    client: &mut Client,
    method: Method,
    path: &str,
    auth: Option<&str>,
    body: Option<&Value>,
) -> TestResponse {
    let mut req = client.request(method.clone(), path);
    if let Some(auth) = auth {
        req = req.header(header::AUTHORIZATION, auth);
    }
    let body = match body {
        Some(v) => {
            req = req.header(header::CONTENT_TYPE, "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    let res = client.send(req.body(body).unwrap()).await;
    assert!(
        res.headers.get(header::SET_COOKIE).is_none(),
        "{method} {path} set a cookie: {:?}",
        res.headers.get_all(header::SET_COOKIE)
    );
    res
}

async fn get(client: &mut Client, path: &str, auth: &str) -> TestResponse {
    call(client, Method::GET, path, Some(auth), None).await
}

/// The path of one of our absolute URLs.
fn path_of(url: &str) -> &str {
    url.strip_prefix(ORIGIN)
        .unwrap_or_else(|| panic!("{url} is not an absolute URL of this site"))
}

/// An error response: this status, JSON `{"error", "message"}`, the message containing
/// `needle`.
#[track_caller]
fn assert_error(res: &TestResponse, status: StatusCode, needle: &str) {
    assert_eq!(res.status, status, "{}", res.body);
    assert!(
        res.header("content-type")
            .is_some_and(|ct| ct.starts_with("application/json")),
        "{status} is not JSON: {:?} {}",
        res.header("content-type"),
        res.body
    );
    let body = res.json();
    let short = status.canonical_reason().unwrap().to_ascii_lowercase();
    assert_eq!(body["error"], short, "{}", res.body);
    let message = body["message"].as_str().expect("a message");
    assert!(
        message.contains(needle),
        "{status}: {message:?} does not contain {needle:?}"
    );
}

#[track_caller]
fn assert_iso8601_utc(value: &Value) {
    let text = value.as_str().expect("a timestamp string");
    assert!(
        text.len() == 20 && text.ends_with('Z'),
        "{text} is not ISO 8601 UTC to the second"
    );
    chrono::DateTime::parse_from_rfc3339(text).expect("an RFC 3339 timestamp");
}

/// A role that may follow and comment but not publish.
async fn reader_role(app: &TestApp) -> role::Model {
    app.create_role("Reader", 1 | 2).await
}

/// `POST /api/v1/tokens/` with `auth`.
async fn ask_for_token(client: &mut Client, auth: &str) -> TestResponse {
    call(client, Method::POST, "/api/v1/tokens/", Some(auth), None).await
}

// ---------------------------------------------------------------------------------------------
// Authentication

/// The challenges of a 401, which must offer both ways to authenticate.
#[track_caller]
fn assert_challenges(res: &TestResponse) {
    let challenges: Vec<&str> = res
        .headers
        .get_all(header::WWW_AUTHENTICATE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert!(
        challenges
            .iter()
            .any(|c| c.starts_with("Basic realm=\"ragtime\"")),
        "{challenges:?}"
    );
    assert!(challenges.iter().any(|c| c.starts_with("Bearer")));
}

#[tokio::test]
async fn private_data_and_writes_without_credentials_get_401_with_www_authenticate() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let mut client = app.client();
    for path in [
        "/api/v1/users/me".to_owned(),
        format!("/api/v1/users/{}/timeline/", ann.id),
        "/api/v1/notifications".to_owned(),
        "/api/v1/notifications/1".to_owned(),
    ] {
        let res = call(&mut client, Method::GET, &path, None, None).await;
        assert_error(&res, StatusCode::UNAUTHORIZED, "Authenticate");
        assert_challenges(&res);
    }
    // Writes too: no credentials, no CSRF token, still a 401 and not a 400 about CSRF.
    let res = call(
        &mut client,
        Method::POST,
        "/api/v1/compositions/",
        None,
        Some(&json!({"release_type": 1, "title": "x"})),
    )
    .await;
    assert_error(&res, StatusCode::UNAUTHORIZED, "Authenticate");
    assert_challenges(&res);
    assert_eq!(composition::Entity::find().count(&app.db).await.unwrap(), 0);
}

#[tokio::test]
async fn credentials_sent_with_a_public_read_must_be_right_and_never_read_as_none() {
    let app = TestApp::new().await;
    let ann = app.create_user_with_password("ann").await;
    let mut client = app.client();
    let mut tampered = token_of(&app, &ann);
    tampered.insert(12, 'x');
    let expired = bearer(&ragtime::api::auth::issue_expiring(
        &app.state.signer,
        &ann,
        chrono::Utc::now().timestamp() - 1,
    ));
    for (auth, needle) in [
        (
            basic("ann@example.com", "wrong"),
            "Invalid email or password.",
        ),
        (
            basic("nobody@example.com", PASSWORD),
            "Invalid email or password.",
        ),
        (tampered, "Invalid or expired token."),
        (expired, "Invalid or expired token."),
        ("Bearer".to_owned(), "Authenticate"),
        ("Digest username=\"ann\"".to_owned(), "Authenticate"),
    ] {
        for path in [
            "/api/v1/compositions/".to_owned(),
            format!("/api/v1/users/{}", ann.id),
            "/api/v1/search?q=rag".to_owned(),
        ] {
            let res = get(&mut client, &path, &auth).await;
            assert_error(&res, StatusCode::UNAUTHORIZED, needle);
            assert_challenges(&res);
        }
    }
}

/// A public read without credentials, which must succeed and show no email address.
async fn read_anonymously(client: &mut Client, path: &str) -> Value {
    let res = call(client, Method::GET, path, None, None).await;
    assert_eq!(res.status, StatusCode::OK, "{path}: {}", res.body);
    assert!(!res.body.contains("@example.com"), "{path}: {}", res.body);
    res.json()
}

#[tokio::test]
async fn public_data_is_read_without_credentials_as_the_site_shows_it() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let bob = app.create_user("bob").await;
    follow::follow(&app.db, bob.id, ann.id).await.unwrap();
    let rag = app.publish(&ann, "Maple Leaf Rag").await;
    ragtime::models::like::like(&app.db, bob.id, rag.id)
        .await
        .unwrap();
    let remark = comment::create(&app.db, bob.id, rag.id, "Lovely")
        .await
        .unwrap()
        .unwrap();
    let mut client = app.client();
    let mut read = async |path: String| read_anonymously(&mut client, &path).await;

    let list = read("/api/v1/compositions/".to_owned()).await;
    assert_eq!(list["count"], 1);
    assert_eq!(list["compositions"][0]["id"], rag.id);
    assert_eq!(list["compositions"][0]["like_count"], 1);
    assert_eq!(list["compositions"][0]["liked"], false, "nobody reads it");
    let one = read(format!("/api/v1/compositions/{}", rag.id)).await;
    assert_eq!(one["title"], "Maple Leaf Rag");
    let profile = read(format!("/api/v1/users/{}", ann.id)).await;
    assert_eq!(profile["username"], "ann");
    assert_eq!(profile["followers_count"], 1);
    assert_eq!(profile["followed_by_you"], false);
    assert_eq!(profile["follows_you"], false);
    let theirs = read(format!("/api/v1/users/{}/compositions/", ann.id)).await;
    assert_eq!(theirs["compositions"][0]["id"], rag.id);
    let found = read(format!("/api/v1/users/by-username/{}", "ANN")).await;
    assert_eq!(found["id"], ann.id);
    let thread = read(format!("/api/v1/compositions/{}/comments/", rag.id)).await;
    assert_eq!(thread["comments"][0]["body"], "Lovely");
    let everyone = read("/api/v1/comments/".to_owned()).await;
    assert_eq!(everyone["comments"][0]["id"], remark.id);
    let single = read(format!("/api/v1/comments/{}", remark.id)).await;
    assert_eq!(single["author_username"], "bob");
    let people = read("/api/v1/search?q=bob&type=users".to_owned()).await;
    assert_eq!(people["users"][0]["id"], bob.id);
    assert_eq!(people["users"][0]["followed_by_you"], false);
}

#[tokio::test]
async fn anonymous_reads_are_limited_per_address_with_a_json_429_and_credentials_lift_it() {
    let app = TestApp::with_env(&[("RAGTIME_API_ANONYMOUS_READS_PER_MINUTE", "3")]).await;
    let ann = app.create_user("ann").await;
    let mut client = app.client();
    for _ in 0..3 {
        let res = call(
            &mut client,
            Method::GET,
            "/api/v1/compositions/",
            None,
            None,
        )
        .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    }
    let path = format!("/api/v1/users/{}", ann.id);
    let res = call(&mut client, Method::GET, &path, None, None).await;
    assert_error(&res, StatusCode::TOO_MANY_REQUESTS, "Please wait");
    let wait: u64 = res.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "Retry-After: {wait}");
    // The same address with credentials is not counted, nor is another address.
    let res = get(&mut client, &path, &token_of(&app, &ann)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let mut elsewhere = app.client();
    elsewhere.peer = "192.0.2.9:40000".parse().unwrap();
    let res = call(&mut elsewhere, Method::GET, &path, None, None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    // Where to start, and the document, cost nothing to serve: they are never refused.
    for path in ["/api/v1/", "/api/v1/openapi.json"] {
        let res = call(&mut client, Method::GET, path, None, None).await;
        assert_eq!(res.status, StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn users_me_is_the_caller_and_a_username_finds_its_user_in_any_case() {
    let app = TestApp::new().await;
    let ann = app.create_user_with_password("ann").await;
    app.create_user("bob").await;
    let mut client = app.client();
    for auth in [token_of(&app, &ann), basic("ann@example.com", PASSWORD)] {
        let res = get(&mut client, "/api/v1/users/me", &auth).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        let me = res.json();
        assert_eq!(me["id"], ann.id);
        assert_eq!(me["username"], "ann");
        assert_eq!(
            me["url"],
            format!("http://localhost/api/v1/users/{}", ann.id)
        );
    }
    for name in ["ann", "Ann", "ANN"] {
        let path = format!("/api/v1/users/by-username/{name}");
        let res = get(&mut client, &path, &token_of(&app, &ann)).await;
        assert_eq!(res.status, StatusCode::OK, "{name}: {}", res.body);
        assert_eq!(res.json()["id"], ann.id, "{name}");
    }
    for name in ["nobody", "%FF", "ann%00", "a%2Fb"] {
        let path = format!("/api/v1/users/by-username/{name}");
        let res = call(&mut client, Method::GET, &path, None, None).await;
        assert_error(&res, StatusCode::NOT_FOUND, "No user has this username.");
    }
}

#[tokio::test]
async fn the_api_index_links_to_its_openapi_document_and_entry_points() {
    let app = TestApp::new().await;
    let mut client = app.client();
    let res = call(&mut client, Method::GET, "/api/v1/", None, None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let index = res.json();
    assert_eq!(index["openapi_url"], "http://localhost/api/v1/openapi.json");
    let doc = call(
        &mut client,
        Method::GET,
        path_of(index["openapi_url"].as_str().unwrap()),
        None,
        None,
    )
    .await;
    assert!(doc.json()["openapi"].as_str().unwrap().starts_with("3."));
    for (name, status) in [
        ("compositions_url", StatusCode::OK),
        ("comments_url", StatusCode::OK),
        ("me_url", StatusCode::UNAUTHORIZED),
    ] {
        let url = index[name].as_str().unwrap();
        let res = call(&mut client, Method::GET, path_of(url), None, None).await;
        assert_eq!(res.status, status, "{name}: {url}");
    }
    let search = index["search_url"].as_str().unwrap();
    let res = call(
        &mut client,
        Method::GET,
        &format!("{}?q=x", path_of(search)),
        None,
        None,
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(index["tokens_url"], "http://localhost/api/v1/tokens/");
}

#[tokio::test]
async fn a_wrong_password_or_an_unknown_email_gets_the_same_401() {
    let app = TestApp::new().await;
    app.create_user_with_password("ann").await;
    let mut client = app.client();
    let right = call(
        &mut client,
        Method::GET,
        "/api/v1/compositions/",
        Some(&basic("ann@example.com", PASSWORD)),
        None,
    )
    .await;
    assert_eq!(right.status, StatusCode::OK, "{}", right.body);
    let wrong = call(
        &mut client,
        Method::GET,
        "/api/v1/compositions/",
        Some(&basic("ann@example.com", "not the password")),
        None,
    )
    .await;
    assert_error(
        &wrong,
        StatusCode::UNAUTHORIZED,
        "Invalid email or password.",
    );
    assert!(wrong.header("www-authenticate").is_some());
    let unknown = call(
        &mut client,
        Method::GET,
        "/api/v1/compositions/",
        Some(&basic("nobody@example.com", PASSWORD)),
        None,
    )
    .await;
    assert_eq!(unknown.status, wrong.status);
    assert_eq!(unknown.body, wrong.body, "no account enumeration");
    let garbled = call(
        &mut client,
        Method::GET,
        "/api/v1/compositions/",
        Some("Basic !!!not-base64"),
        None,
    )
    .await;
    assert_error(&garbled, StatusCode::UNAUTHORIZED, "Malformed");
}

#[tokio::test]
async fn a_token_from_email_and_password_works_as_bearer_and_as_basic_username() {
    let app = TestApp::new().await;
    let ann = app.create_user_with_password("ann").await;
    let mut client = app.client();
    let res = ask_for_token(&mut client, &basic("Ann@Example.com", PASSWORD)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(
        res.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let body = res.json();
    assert_eq!(body["expiration"], 3600);
    // The answer names whose token it is.
    assert_eq!(
        body["user"],
        json!({
            "id": ann.id,
            "username": "ann",
            "url": format!("http://localhost/api/v1/users/{}", ann.id),
        })
    );
    let token = body["token"].as_str().expect("a token").to_owned();
    assert!(!token.contains(PASSWORD) && !token.contains("ann@example.com"));

    let me = format!("/api/v1/users/{}", ann.id);
    let res = get(&mut client, &me, &bearer(&token)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.json()["username"], "ann");
    let res = get(&mut client, &me, &basic(&token, "")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.json()["id"], ann.id);

    let mut tampered = token.clone();
    tampered.insert(5, 'x');
    let res = get(&mut client, &me, &bearer(&tampered)).await;
    assert_error(&res, StatusCode::UNAUTHORIZED, "Invalid or expired token.");
    assert!(res.header("www-authenticate").is_some());
    let res = get(&mut client, &me, &bearer("")).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_expired_token_or_one_signed_for_another_purpose_gets_401() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let mut client = app.client();
    let signer = &app.state.signer;
    let expired =
        ragtime::api::auth::issue_expiring(signer, &ann, chrono::Utc::now().timestamp() - 1);
    let res = get(&mut client, "/api/v1/compositions/", &bearer(&expired)).await;
    assert_error(&res, StatusCode::UNAUTHORIZED, "Invalid or expired token.");
    // A confirmation link's token, signed with the same key, is no API token.
    let confirm = ragtime::access::tokens::issue_for(
        signer,
        ragtime::access::tokens::Purpose::Confirm,
        &ann,
        None,
    );
    let res = get(&mut client, "/api/v1/compositions/", &bearer(&confirm)).await;
    assert_error(&res, StatusCode::UNAUTHORIZED, "Invalid or expired token.");
}

#[tokio::test]
async fn a_token_cannot_mint_a_token() {
    let app = TestApp::new().await;
    let ann = app.create_user_with_password("ann").await;
    let mut client = app.client();
    let token = token_of(&app, &ann);
    let res = ask_for_token(&mut client, &token).await;
    assert_error(&res, StatusCode::UNAUTHORIZED, "A token cannot be used");
    assert!(res.header("www-authenticate").is_some());
    let raw = token.trim_start_matches("Bearer ");
    let res = ask_for_token(&mut client, &basic(raw, "")).await;
    assert_error(&res, StatusCode::UNAUTHORIZED, "A token cannot be used");
}

#[tokio::test]
async fn an_unconfirmed_account_reads_like_anyone_and_gets_403_on_writes() {
    let app = TestApp::new().await;
    let ann = app.create_user_with_password("ann").await;
    let bob = app.create_user("bob").await;
    let rag = app.publish(&bob, "Bob's Rag").await;
    let mut active: user::ActiveModel = ann.clone().into();
    active.confirmed = Set(false);
    let ann = active.update(&app.db).await.unwrap();
    let mut client = app.client();
    // A token, so the password need not travel with every read.
    let res = ask_for_token(&mut client, &basic("ann@example.com", PASSWORD)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let token = bearer(res.json()["token"].as_str().unwrap());
    for auth in [token.clone(), basic("ann@example.com", PASSWORD)] {
        let res = get(&mut client, "/api/v1/compositions/", &auth).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        assert_eq!(res.json()["compositions"][0]["id"], rag.id);
        let res = get(&mut client, "/api/v1/users/me", &auth).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        assert_eq!(res.json()["id"], ann.id);
    }
    let writes = [
        (
            Method::POST,
            "/api/v1/compositions/".to_owned(),
            Some(json!({"release_type": 1, "title": "Mine"})),
        ),
        (
            Method::POST,
            format!("/api/v1/compositions/{}/comments/", rag.id),
            Some(json!({"body": "Hello"})),
        ),
        (
            Method::POST,
            format!("/api/v1/users/{}/follow", bob.id),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/compositions/{}/like", rag.id),
            None,
        ),
    ];
    for (method, path, body) in writes {
        let res = call(&mut client, method, &path, Some(&token), body.as_ref()).await;
        assert_error(&res, StatusCode::FORBIDDEN, "not confirmed");
        // The web's unconfirmed gate never redirects the API.
        assert!(res.header("location").is_none());
    }
    assert_eq!(composition::Entity::find().count(&app.db).await.unwrap(), 1);
    assert_eq!(comment::Entity::find().count(&app.db).await.unwrap(), 0);
    assert!(
        !follow::relationship(&app.db, ann.id, bob.id)
            .await
            .unwrap()
            .following
    );
}

#[tokio::test]
async fn a_token_stops_working_when_the_password_changes() {
    let app = TestApp::new().await;
    let ann = app.create_user_with_password("ann").await;
    let mut client = app.client();
    let res = ask_for_token(&mut client, &basic("ann@example.com", PASSWORD)).await;
    let token = bearer(res.json()["token"].as_str().unwrap());
    assert_eq!(
        get(&mut client, "/api/v1/compositions/", &token)
            .await
            .status,
        StatusCode::OK
    );
    let new_hash = ragtime::access::password::hash("a brand new password".into())
        .await
        .unwrap();
    user::set_password_hash(&app.db, ann.id, &new_hash)
        .await
        .unwrap();
    let res = get(&mut client, "/api/v1/compositions/", &token).await;
    assert_error(&res, StatusCode::UNAUTHORIZED, "Invalid or expired token.");
    let res = get(
        &mut client,
        "/api/v1/compositions/",
        &basic("ann@example.com", PASSWORD),
    )
    .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    let res = get(
        &mut client,
        "/api/v1/compositions/",
        &basic("ann@example.com", "a brand new password"),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
}

#[tokio::test]
async fn basic_auth_failures_hit_the_login_rate_limit_with_a_json_429() {
    let app = TestApp::with_env(&[("RAGTIME_LOGIN_LIMIT_PER_ACCOUNT", "3")]).await;
    app.create_user_with_password("ann").await;
    let mut client = app.client();
    for _ in 0..3 {
        let res = get(
            &mut client,
            "/api/v1/compositions/",
            &basic("ann@example.com", "guess"),
        )
        .await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    }
    let res = get(
        &mut client,
        "/api/v1/compositions/",
        &basic("ann@example.com", "guess"),
    )
    .await;
    assert_error(&res, StatusCode::TOO_MANY_REQUESTS, "Too many attempts");
    let retry: u64 = res.header("retry-after").unwrap().parse().unwrap();
    assert!(retry >= 1);
    // Locked out means locked out, even with the right password, on the API and on the site.
    let res = get(
        &mut client,
        "/api/v1/compositions/",
        &basic("ann@example.com", PASSWORD),
    )
    .await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    let mut browser = app.client();
    let res = crate::helpers::login(&mut browser, "ann@example.com", PASSWORD, "").await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_successful_basic_login_forgives_earlier_failures() {
    let app = TestApp::with_env(&[("RAGTIME_LOGIN_LIMIT_PER_ACCOUNT", "3")]).await;
    app.create_user_with_password("ann").await;
    let mut client = app.client();
    for round in 0..2 {
        for _ in 0..2 {
            let wrong = basic("ann@example.com", "guess");
            let res = get(&mut client, "/api/v1/compositions/", &wrong).await;
            assert_eq!(res.status, StatusCode::UNAUTHORIZED, "round {round}");
        }
        let right = basic("ann@example.com", PASSWORD);
        let res = get(&mut client, "/api/v1/compositions/", &right).await;
        assert_eq!(res.status, StatusCode::OK, "round {round}");
    }
}

#[tokio::test]
async fn a_browser_write_from_another_site_is_refused_even_with_cached_credentials() {
    let app = TestApp::new().await;
    let ann = app.create_user_with_password("ann").await;
    let bob = app.create_user("bob").await;
    let mut client = app.client();
    let follow = format!("/api/v1/users/{}/follow", bob.id);
    // A form on evil.example posting to the API with the Basic credentials the browser keeps.
    let send = |origin: Option<&'static str>| {
        let mut req = client
            .request(Method::POST, &follow)
            .header(header::AUTHORIZATION, basic("ann@example.com", PASSWORD));
        if let Some(origin) = origin {
            req = req.header(header::ORIGIN, origin);
        }
        req.body(Body::empty()).unwrap()
    };
    let (evil, ours, script) = (
        send(Some("https://evil.example")),
        send(Some("http://localhost")),
        send(None),
    );
    let res = client.send(evil).await;
    assert_error(
        &res,
        StatusCode::BAD_REQUEST,
        "Cross-origin request refused",
    );
    assert!(!follow::is_following(&app.db, ann.id, bob.id).await.unwrap());
    // From the site itself, or from a client that is not a browser (no Origin), it works.
    assert_eq!(client.send(ours).await.status, StatusCode::OK);
    let res = client.send(script).await;
    assert_eq!(
        res.status,
        StatusCode::CONFLICT,
        "already following: {}",
        res.body
    );
}

#[tokio::test]
async fn the_api_neither_reads_nor_sets_cookies() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    // A logged-in browser's session cookie is no API credential.
    let mut browser = app.logged_in_client(&ann).await;
    assert_eq!(browser.get("/").await.status, StatusCode::OK);
    let res = call(&mut browser, Method::GET, "/api/v1/users/me", None, None).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    let res = call(
        &mut browser,
        Method::POST,
        "/api/v1/compositions/",
        None,
        Some(&json!({"release_type": 1, "title": "Cookie Rag"})),
    )
    .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    // With a token and a stale flash cookie, still no Set-Cookie (checked by `call`).
    let mut client = app.client();
    client
        .cookies
        .insert(ragtime::web::session::FLASH_COOKIE.into(), "junk".into());
    let token = token_of(&app, &ann);
    let res = call(
        &mut client,
        Method::POST,
        "/api/v1/compositions/",
        Some(&token),
        Some(&json!({"release_type": 1, "title": "No Cookies"})),
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(res.header("cache-control"), Some("no-store"));
}

// ---------------------------------------------------------------------------------------------
// Resources

#[tokio::test]
async fn a_composition_is_created_read_updated_and_deleted_through_its_location() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let token = token_of(&app, &ann);
    let mut client = app.client();
    let res = call(
        &mut client,
        Method::POST,
        "/api/v1/compositions/",
        Some(&token),
        Some(&json!({
            "release_type": 2,
            "title": "  Maple Leaf Rag  ",
            "description": "A *classic*. <script>alert(1)</script>"
        })),
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let created = res.json();
    let location = res.header("location").expect("a Location").to_owned();
    assert_eq!(created["url"], location.as_str());
    assert!(location.starts_with("http://localhost/api/v1/compositions/"));
    assert_eq!(created["title"], "Maple Leaf Rag");
    assert_eq!(created["release_type"], 2);
    assert_eq!(created["release_type_name"], "EP");
    assert_eq!(created["artist_id"], ann.id);
    assert_eq!(created["artist_username"], "ann");
    assert_eq!(
        created["artist_url"],
        format!("http://localhost/api/v1/users/{}", ann.id)
    );
    assert_eq!(created["comment_count"], 0);
    let html = created["description_html"].as_str().unwrap();
    assert!(html.contains("<em>classic</em>") && !html.contains("<script"));
    assert_iso8601_utc(&created["timestamp"]);
    let id = created["id"].as_i64().unwrap();
    assert_eq!(
        created["permalink"],
        format!("http://localhost/composition/{id}-maple-leaf-rag")
    );
    assert_eq!(
        created["comments_url"],
        format!("http://localhost/api/v1/compositions/{id}/comments/")
    );

    let res = get(&mut client, path_of(&location), &token).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json(), created);

    // PUT changes what it is given and keeps the rest.
    let res = call(
        &mut client,
        Method::PUT,
        path_of(&location),
        Some(&token),
        Some(&json!({"title": "Maple Leaf Rag (live)"})),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let updated = res.json();
    assert_eq!(updated["title"], "Maple Leaf Rag (live)");
    assert_eq!(updated["release_type"], 2);
    assert_eq!(updated["description"], created["description"]);
    let res = get(&mut client, path_of(&location), &token).await;
    assert_eq!(res.json()["title"], "Maple Leaf Rag (live)");
    let stored = composition::find(&app.db, id as i32)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.title, "Maple Leaf Rag (live)");

    let res = call(
        &mut client,
        Method::DELETE,
        path_of(&location),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    assert!(res.body.is_empty());
    let res = get(&mut client, path_of(&location), &token).await;
    assert_error(
        &res,
        StatusCode::NOT_FOUND,
        &format!("No composition with id {id}."),
    );
}

#[tokio::test]
async fn only_the_artist_or_an_administrator_may_change_or_delete_a_composition() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let bob = app.create_user("bob").await;
    let admin = app.create_user_with_role("root", "Administrator").await;
    let moderator = app.create_user_with_role("mod", "Moderator").await;
    let c = app.publish(&ann, "Ann's Rag").await;
    let path = format!("/api/v1/compositions/{}", c.id);
    let mut client = app.client();
    for someone in [&bob, &moderator] {
        let token = token_of(&app, someone);
        let res = call(
            &mut client,
            Method::PUT,
            &path,
            Some(&token),
            Some(&json!({"title": "Mine now"})),
        )
        .await;
        assert_error(
            &res,
            StatusCode::FORBIDDEN,
            "Only the artist or an administrator",
        );
        // Refused for who they are, before their body is even read.
        let res = call(
            &mut client,
            Method::PUT,
            &path,
            Some(&token),
            Some(&json!({"title": ""})),
        )
        .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN);
        let res = call(&mut client, Method::DELETE, &path, Some(&token), None).await;
        assert_error(
            &res,
            StatusCode::FORBIDDEN,
            "Only the artist or an administrator",
        );
    }
    assert_eq!(
        composition::find(&app.db, c.id)
            .await
            .unwrap()
            .unwrap()
            .title,
        "Ann's Rag"
    );
    let token = token_of(&app, &admin);
    let res = call(
        &mut client,
        Method::PUT,
        &path,
        Some(&token),
        Some(&json!({"release_type": 3})),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.json()["release_type_name"], "Album");
    assert_eq!(res.json()["artist_id"], ann.id);
    let res = call(&mut client, Method::DELETE, &path, Some(&token), None).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn publishing_and_commenting_need_their_permissions() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let c = app.publish(&ann, "Open Rag").await;
    let reader = reader_role(&app).await;
    let bob = app
        .give_role(&app.create_user("bob").await, reader.id)
        .await;
    let mut client = app.client();
    let token = token_of(&app, &bob);
    let res = call(
        &mut client,
        Method::POST,
        "/api/v1/compositions/",
        Some(&token),
        Some(&json!({"release_type": 1, "title": "Sneaky"})),
    )
    .await;
    assert_error(&res, StatusCode::FORBIDDEN, "permission to publish");
    // Still allowed to comment.
    let comments = format!("/api/v1/compositions/{}/comments/", c.id);
    let body = json!({"body": "Nice."});
    let res = call(
        &mut client,
        Method::POST,
        &comments,
        Some(&token),
        Some(&body),
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    // Without COMMENT, no comment and no follow for a role with nothing.
    let nothing = app.create_role("Nobody", 0).await;
    let cat = app
        .give_role(&app.create_user("cat").await, nothing.id)
        .await;
    let token = token_of(&app, &cat);
    let res = call(
        &mut client,
        Method::POST,
        &comments,
        Some(&token),
        Some(&body),
    )
    .await;
    assert_error(&res, StatusCode::FORBIDDEN, "permission to comment");
    let follow = format!("/api/v1/users/{}/follow", ann.id);
    let res = call(&mut client, Method::POST, &follow, Some(&token), None).await;
    assert_error(&res, StatusCode::FORBIDDEN, "permission to follow");
    // Reading needs no permission bit, only an account.
    assert_eq!(
        get(&mut client, &comments, &token).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn comments_are_created_and_listed_oldest_first_on_a_composition_and_newest_first_overall() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let bob = app.create_user("bob").await;
    let c = app.publish(&ann, "Talkative Rag").await;
    let mut client = app.client();
    let path = format!("/api/v1/compositions/{}/comments/", c.id);
    let mut urls = Vec::new();
    for (who, text) in [
        (&bob, "First!"),
        (&ann, "Thanks, **Bob**."),
        (&bob, "  Again  "),
    ] {
        let res = call(
            &mut client,
            Method::POST,
            &path,
            Some(&token_of(&app, who)),
            Some(&json!({"body": text})),
        )
        .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        let body = res.json();
        assert_eq!(res.header("location"), body["url"].as_str());
        assert_eq!(body["author_id"], who.id);
        assert_eq!(body["composition_id"], c.id);
        assert_eq!(
            body["composition_url"],
            format!("http://localhost/api/v1/compositions/{}", c.id)
        );
        assert_eq!(body["disabled"], false);
        assert_iso8601_utc(&body["timestamp"]);
        urls.push(body["url"].as_str().unwrap().to_owned());
    }
    let token = token_of(&app, &bob);
    let list = get(&mut client, &path, &token).await.json();
    assert_eq!(list["count"], 3);
    assert_eq!(list["prev"], Value::Null);
    assert_eq!(list["next"], Value::Null);
    let bodies: Vec<&str> = list["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["First!", "Thanks, **Bob**.", "Again"]);
    assert!(
        list["comments"][1]["body_html"]
            .as_str()
            .unwrap()
            .contains("<strong>Bob</strong>")
    );
    let all = get(&mut client, "/api/v1/comments/", &token).await.json();
    let all_urls: Vec<&str> = all["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["url"].as_str().unwrap())
        .collect();
    let newest_first: Vec<&str> = urls.iter().rev().map(String::as_str).collect();
    assert_eq!(all_urls, newest_first);
    let one = get(&mut client, path_of(&urls[1]), &token).await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.json()["body"], "Thanks, **Bob**.");
    let composition = get(
        &mut client,
        &format!("/api/v1/compositions/{}", c.id),
        &token,
    )
    .await;
    assert_eq!(composition.json()["comment_count"], 3);
}

#[tokio::test]
async fn a_disabled_comment_shows_its_body_to_confirmed_moderators_only() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let moderator = app.create_user_with_role("mod", "Moderator").await;
    let mut active: user::ActiveModel = app
        .create_user_with_role("newmod", "Moderator")
        .await
        .into();
    active.confirmed = Set(false);
    let unconfirmed_moderator = active.update(&app.db).await.unwrap();
    let c = app.publish(&ann, "Contested Rag").await;
    let rude = comment::create(&app.db, ann.id, c.id, "Something *rude*")
        .await
        .unwrap()
        .expect("the composition");
    comment::create(&app.db, ann.id, c.id, "Something kind")
        .await
        .unwrap();
    comment::set_disabled(&app.db, 0, rude.id, true)
        .await
        .unwrap();
    let mut client = app.client();
    let paths = [
        format!("/api/v1/comments/{}", rude.id),
        format!("/api/v1/compositions/{}/comments/", c.id),
        "/api/v1/comments/".to_owned(),
    ];
    let find = |res: &TestResponse| -> Value {
        let body = res.json();
        match body.get("comments") {
            Some(list) => list
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["id"] == rude.id)
                .cloned()
                .unwrap(),
            None => body,
        }
    };
    for path in &paths {
        // Its author, a reader without credentials, and a moderator whose account is not
        // confirmed (who holds no permission until it is) see only that it was disabled.
        for auth in [
            Some(token_of(&app, &ann)),
            None,
            Some(token_of(&app, &unconfirmed_moderator)),
        ] {
            let res = call(&mut client, Method::GET, path, auth.as_deref(), None).await;
            assert_eq!(res.status, StatusCode::OK);
            assert!(!res.body.contains("rude"), "{path}: {}", res.body);
            let shown = find(&res);
            assert_eq!(shown["disabled"], true);
            assert_eq!(shown["body"], Value::Null);
            assert_eq!(shown["body_html"], Value::Null);
            assert!(res.body.contains("Something kind") || path.contains(&rude.id.to_string()));
        }

        let res = get(&mut client, path, &token_of(&app, &moderator)).await;
        let shown = find(&res);
        assert_eq!(shown["disabled"], true);
        assert_eq!(shown["body"], "Something *rude*");
        assert!(
            shown["body_html"]
                .as_str()
                .unwrap()
                .contains("<em>rude</em>")
        );
    }
}

#[tokio::test]
async fn pagination_links_walk_the_whole_collection_exactly_once_both_ways() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let mut published = Vec::new();
    for n in 0..45 {
        published.push(app.publish(&ann, &format!("Rag {n}")).await.id);
    }
    let token = token_of(&app, &ann);
    let mut client = app.client();

    let mut pages = Vec::new();
    let mut next = Some("http://localhost/api/v1/compositions/".to_owned());
    while let Some(url) = next {
        let res = get(&mut client, path_of(&url), &token).await;
        assert_eq!(res.status, StatusCode::OK);
        let body = res.json();
        assert_eq!(body["count"], 45);
        let ids: Vec<i64> = body["compositions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_i64().unwrap())
            .collect();
        assert!(!ids.is_empty() && ids.len() <= 20);
        pages.push((url, ids, body["prev"].clone()));
        next = body["next"].as_str().map(str::to_owned);
        assert!(pages.len() <= 3, "too many pages");
    }
    assert_eq!(pages.len(), 3);
    assert_eq!(pages[0].2, Value::Null, "the first page has no prev");
    let walked: Vec<i64> = pages.iter().flat_map(|(_, ids, _)| ids.clone()).collect();
    assert_eq!(walked.len(), 45);
    assert_eq!(walked.iter().collect::<HashSet<_>>().len(), 45, "each once");
    let newest_first: Vec<i64> = published.iter().rev().map(|&id| i64::from(id)).collect();
    assert_eq!(walked, newest_first, "ordered, newest first");

    // And back, from the last page by `prev`: the same pages in reverse.
    let mut back = Vec::new();
    let mut prev = Some(pages[2].0.clone());
    while let Some(url) = prev {
        let body = get(&mut client, path_of(&url), &token).await.json();
        let ids: Vec<i64> = body["compositions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_i64().unwrap())
            .collect();
        back.push(ids);
        prev = body["prev"].as_str().map(str::to_owned);
        assert!(back.len() <= 3, "too many pages");
    }
    let forward: Vec<Vec<i64>> = pages.iter().rev().map(|(_, ids, _)| ids.clone()).collect();
    assert_eq!(back, forward);
    // The links carry cursors: where the next page starts, not how many rows to skip.
    assert!(
        pages[1]
            .0
            .starts_with("http://localhost/api/v1/compositions/?after="),
        "{}",
        pages[1].0
    );
    assert!(
        pages[1]
            .2
            .as_str()
            .unwrap()
            .starts_with("http://localhost/api/v1/compositions/?before="),
        "{}",
        pages[1].2
    );

    // A bad page is page 1, never an error; a page past the end is empty.
    for bad in ["abc", "-1", "0", "", "1.5", "99999999999999999999999"] {
        let res = get(
            &mut client,
            &format!("/api/v1/compositions/?page={bad}"),
            &token,
        )
        .await;
        assert_eq!(res.status, StatusCode::OK, "page={bad}");
        assert_eq!(res.json()["compositions"][0]["id"], walked[0], "page={bad}");
    }
    let beyond = get(&mut client, "/api/v1/compositions/?page=11", &token)
        .await
        .json();
    assert_eq!(beyond["compositions"], json!([]));
    assert_eq!(beyond["count"], 45);
    assert_eq!(beyond["next"], Value::Null);
    assert_eq!(beyond["prev"], "http://localhost/api/v1/compositions/");

    // A user's compositions page the same way; an old numbered link still works.
    let mine = get(
        &mut client,
        &format!("/api/v1/users/{}/compositions/?page=3", ann.id),
        &token,
    )
    .await
    .json();
    assert_eq!(mine["count"], 45);
    assert_eq!(mine["compositions"].as_array().unwrap().len(), 5);
    assert_eq!(mine["compositions"][0]["id"], walked[40]);
    let prev = mine["prev"].as_str().unwrap();
    let back = get(&mut client, path_of(prev), &token).await.json();
    assert_eq!(back["compositions"][0]["id"], walked[20]);
}

/// The names of the query parameters an operation documents.
fn documented_parameters(doc: &Value, path: &str) -> BTreeSet<String> {
    doc["paths"][path]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["in"] == "query")
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_openapi_document_names_every_parameter_the_list_links_carry() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    for n in 0..45 {
        app.publish(&ann, &format!("Rag {n}")).await;
    }
    let mut client = app.client();
    let doc = read_anonymously(&mut client, "/api/v1/openapi.json").await;
    let description = doc["info"]["description"].as_str().unwrap();
    assert!(!description.contains("?page=N"), "{description}");
    assert!(description.contains("`n`"), "{description}");

    for (list, start) in [
        ("/api/v1/compositions/", "/api/v1/compositions/".to_owned()),
        ("/api/v1/search", "/api/v1/search?q=rag".to_owned()),
        (
            "/api/v1/users/{id}/compositions/",
            format!("/api/v1/users/{}/compositions/", ann.id),
        ),
    ] {
        let documented = documented_parameters(&doc, list);
        let mut numbers = Vec::new();
        let mut next = Some(format!("{ORIGIN}{start}"));
        while let Some(url) = next {
            let body = read_anonymously(&mut client, path_of(&url)).await;
            for link in [&body["next"], &body["prev"]] {
                let Some(link) = link.as_str() else { continue };
                let link = url::Url::parse(link).unwrap();
                for (name, _) in link.query_pairs() {
                    assert!(
                        documented.contains(name.as_ref()),
                        "{list}: `{name}` of {link}"
                    );
                }
            }
            next = body["next"].as_str().map(str::to_owned);
            if let Some(link) = &next {
                let link = url::Url::parse(link).unwrap();
                numbers.extend(
                    link.query_pairs()
                        .filter(|(k, _)| k == "n")
                        .map(|(_, v)| v.into_owned()),
                );
            }
            assert!(numbers.len() <= 3, "{list}: too many pages");
        }
        // Every `next` counts the page it leads to, not only the first one's.
        assert_eq!(numbers, ["2", "3"], "{list}");
    }
}

#[tokio::test]
async fn a_user_has_their_profile_counts_and_links_but_no_email() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let bob = app.create_user("bob").await;
    follow::add(&app.db, ann.id, ann.id).await.unwrap();
    follow::add(&app.db, bob.id, bob.id).await.unwrap();
    follow::follow(&app.db, bob.id, ann.id).await.unwrap();
    app.publish(&ann, "One").await;
    app.publish(&ann, "Two").await;
    let mut client = app.client();
    let res = get(
        &mut client,
        &format!("/api/v1/users/{}", ann.id),
        &token_of(&app, &bob),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(!res.body.contains("@example.com"), "no email: {}", res.body);
    let body = res.json();
    assert_eq!(
        body["url"],
        format!("http://localhost/api/v1/users/{}", ann.id)
    );
    assert_eq!(body["profile_url"], "http://localhost/user/ann");
    assert_eq!(body["username"], "ann");
    assert_eq!(body["composition_count"], 2);
    assert_eq!(body["followers_count"], 1, "the self-follow is not counted");
    assert_eq!(body["following_count"], 0);
    assert_eq!(body["followed_by_you"], true);
    assert_eq!(body["follows_you"], false);
    assert_eq!(
        body["compositions_url"],
        format!("http://localhost/api/v1/users/{}/compositions/", ann.id)
    );
    assert_eq!(
        body["timeline_url"],
        format!("http://localhost/api/v1/users/{}/timeline/", ann.id)
    );
    assert_iso8601_utc(&body["member_since"]);
    assert_iso8601_utc(&body["last_seen"]);
    let avatar = body["avatar_url"].as_str().unwrap();
    assert_eq!(
        avatar,
        format!("http://localhost/avatar/{}.svg", ann.avatar_hash)
    );
    assert!(avatar.contains(&ann.avatar_hash), "{avatar}");
    let md5 = format!("{:x}", md5::compute(&ann.email));
    assert!(
        !avatar.contains(&md5),
        "the address can be checked against {avatar}"
    );
}

#[tokio::test]
async fn a_timeline_is_for_its_owner_and_administrators_only() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let bob = app.create_user("bob").await;
    let cat = app.create_user("cat").await;
    let admin = app.create_user_with_role("root", "Administrator").await;
    for u in [&ann, &bob, &cat] {
        follow::add(&app.db, u.id, u.id).await.unwrap();
    }
    follow::follow(&app.db, ann.id, bob.id).await.unwrap();
    let own = app.publish(&ann, "Ann's").await;
    let followed = app.publish(&bob, "Bob's").await;
    app.publish(&cat, "Cat's").await;
    let path = format!("/api/v1/users/{}/timeline/", ann.id);
    let mut client = app.client();
    for reader in [&ann, &admin] {
        let res = get(&mut client, &path, &token_of(&app, reader)).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        let ids: Vec<i64> = res.json()["compositions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, [i64::from(followed.id), i64::from(own.id)]);
    }
    let res = get(&mut client, &path, &token_of(&app, &bob)).await;
    assert_error(&res, StatusCode::FORBIDDEN, "Only the user themself");
    // Nor without credentials; nor for an administrator whose account is not confirmed.
    let res = call(&mut client, Method::GET, &path, None, None).await;
    assert_error(&res, StatusCode::UNAUTHORIZED, "Authenticate");
    let mut active: user::ActiveModel = admin.clone().into();
    active.confirmed = Set(false);
    let unconfirmed = active.update(&app.db).await.unwrap();
    let res = get(&mut client, &path, &token_of(&app, &unconfirmed)).await;
    assert_error(&res, StatusCode::FORBIDDEN, "Only the user themself");
    let mut active: user::ActiveModel = unconfirmed.into();
    active.confirmed = Set(true);
    let admin = active.update(&app.db).await.unwrap();
    let res = get(
        &mut client,
        "/api/v1/users/999999/timeline/",
        &token_of(&app, &admin),
    )
    .await;
    assert_error(&res, StatusCode::NOT_FOUND, "No user with id 999999.");
}

#[tokio::test]
async fn following_twice_or_unfollowing_oneself_is_a_409() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let bob = app.create_user("bob").await;
    follow::add(&app.db, ann.id, ann.id).await.unwrap();
    let token = token_of(&app, &ann);
    let mut client = app.client();
    let path = format!("/api/v1/users/{}/follow", bob.id);
    let res = call(&mut client, Method::POST, &path, Some(&token), None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.json()["id"], bob.id);
    assert_eq!(res.json()["followed_by_you"], true);
    assert_eq!(res.json()["followers_count"], 1);
    assert!(follow::is_following(&app.db, ann.id, bob.id).await.unwrap());
    let res = call(&mut client, Method::POST, &path, Some(&token), None).await;
    assert_error(&res, StatusCode::CONFLICT, "You are already following bob.");

    let res = call(&mut client, Method::DELETE, &path, Some(&token), None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.json()["followed_by_you"], false);
    assert!(!follow::is_following(&app.db, ann.id, bob.id).await.unwrap());
    let res = call(&mut client, Method::DELETE, &path, Some(&token), None).await;
    assert_error(&res, StatusCode::CONFLICT, "You are not following bob.");

    let me = format!("/api/v1/users/{}/follow", ann.id);
    let res = call(&mut client, Method::DELETE, &me, Some(&token), None).await;
    assert_error(&res, StatusCode::CONFLICT, "You cannot unfollow yourself.");
    let res = call(&mut client, Method::POST, &me, Some(&token), None).await;
    assert_error(&res, StatusCode::CONFLICT, "already following");
    assert!(follow::is_following(&app.db, ann.id, ann.id).await.unwrap());

    let res = call(
        &mut client,
        Method::POST,
        "/api/v1/users/999999/follow",
        Some(&token),
        None,
    )
    .await;
    assert_error(&res, StatusCode::NOT_FOUND, "No user with id 999999.");
}

#[tokio::test]
async fn urls_are_absolute_on_the_trusted_scheme_and_configured_host() {
    let app = TestApp::with_env(&[
        ("RAGTIME_PROXY_HOPS", "1"),
        ("RAGTIME_SERVER_NAME", "ragtime.example"),
    ])
    .await;
    let ann = app.create_user("ann").await;
    app.publish(&ann, "Far Away Rag").await;
    let mut client = app.client();
    let req = client
        .request(Method::GET, "/api/v1/compositions/")
        .header(header::AUTHORIZATION, token_of(&app, &ann))
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", "evil.example")
        .header(header::HOST, "evil.example")
        .body(Body::empty())
        .unwrap();
    let body = client.send(req).await.json();
    let c = &body["compositions"][0];
    for field in ["url", "permalink", "artist_url", "comments_url"] {
        assert!(
            c[field]
                .as_str()
                .unwrap()
                .starts_with("https://ragtime.example/"),
            "{field}: {}",
            c[field]
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

#[tokio::test]
async fn malformed_or_invalid_bodies_get_400_naming_the_field() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let token = token_of(&app, &ann);
    let mut client = app.client();
    let c = app.publish(&ann, "Target").await;
    let post = |body: &'static str| {
        axum::http::Request::post("/api/v1/compositions/")
            .header(header::AUTHORIZATION, &token)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap()
    };
    let cases: [(&str, &str); 7] = [
        ("{\"release_type\": 1, \"title\": ", "not valid JSON"),
        ("", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        (
            "{\"title\": \"No type\"}",
            "Invalid `release_type`: This field is required.",
        ),
        (
            "{\"release_type\": 1}",
            "Invalid `title`: This field is required.",
        ),
        (
            "{\"release_type\": \"1\", \"title\": 5}",
            "Invalid `release_type`: It must be a whole number, not a string.",
        ),
        (
            "{\"release_type\": 1, \"title\": \"Typo\", \"descripton\": \"x\"}",
            "Unknown field `descripton`",
        ),
    ];
    for (body, needle) in cases {
        let res = client.send(post(body)).await;
        assert_error(&res, StatusCode::BAD_REQUEST, needle);
    }
    let res = client
        .send(post("{\"release_type\": \"1\", \"title\": 5}"))
        .await;
    assert_error(
        &res,
        StatusCode::BAD_REQUEST,
        "Invalid `title`: It must be a string, not a number.",
    );

    let long_title = "x".repeat(65);
    let invalid = [
        (
            json!({"release_type": 4, "title": "Four"}),
            "Invalid `release_type`: It must be 1 (single), 2 (EP) or 3 (album).",
        ),
        (
            json!({"release_type": 0, "title": "Zero"}),
            "Invalid `release_type`",
        ),
        (
            json!({"release_type": 1.5, "title": "Half"}),
            "Invalid `release_type`: It must be a whole number.",
        ),
        (
            json!({"release_type": 1, "title": long_title}),
            "Invalid `title`: The title can be at most 64 characters long.",
        ),
        (
            json!({"release_type": 1, "title": format!(" {}", "x".repeat(64))}),
            "Invalid `title`",
        ),
        (
            json!({"release_type": 1, "title": "   "}),
            "Invalid `title`",
        ),
        (
            json!({"release_type": 1, "title": "Bell\u{7}"}),
            "Invalid `title`: The title cannot contain control characters.",
        ),
        (
            json!({"release_type": 1, "title": "\u{b}Tab"}),
            "Invalid `title`",
        ),
        (
            json!({"release_type": 1, "title": "Long", "description": "x".repeat(20_001)}),
            "Invalid `description`",
        ),
        (
            json!({"release_type": 1, "title": null}),
            "Invalid `title`: It must be a string, not null.",
        ),
    ];
    for (body, needle) in &invalid {
        let res = call(
            &mut client,
            Method::POST,
            "/api/v1/compositions/",
            Some(&token),
            Some(body),
        )
        .await;
        assert_error(&res, StatusCode::BAD_REQUEST, needle);
    }
    // Both wrong: both named.
    let res = call(
        &mut client,
        Method::POST,
        "/api/v1/compositions/",
        Some(&token),
        Some(&json!({"release_type": 9, "title": ""})),
    )
    .await;
    assert_error(&res, StatusCode::BAD_REQUEST, "`release_type`");
    assert!(res.json()["message"].as_str().unwrap().contains("`title`"));

    // The same rules on PUT, and nothing half-saved.
    let path = format!("/api/v1/compositions/{}", c.id);
    let res = call(
        &mut client,
        Method::PUT,
        &path,
        Some(&token),
        Some(&json!({"title": "Fine", "release_type": 7})),
    )
    .await;
    assert_error(&res, StatusCode::BAD_REQUEST, "Invalid `release_type`");
    let res = call(
        &mut client,
        Method::PUT,
        &path,
        Some(&token),
        Some(&json!({"title": "Fine", "artist_id": 99})),
    )
    .await;
    assert_error(&res, StatusCode::BAD_REQUEST, "Unknown field `artist_id`");
    assert_eq!(
        composition::find(&app.db, c.id)
            .await
            .unwrap()
            .unwrap()
            .title,
        "Target"
    );
    let comments = format!("/api/v1/compositions/{}/comments/", c.id);
    for (body, needle) in [
        (json!({}), "Invalid `body`: This field is required."),
        (
            json!({"body": "  \n "}),
            "Invalid `body`: This field is required.",
        ),
        (
            json!({"body": 12}),
            "Invalid `body`: It must be a string, not a number.",
        ),
        (
            json!({"body": "x".repeat(20_001)}),
            "Invalid `body`: The text is too long",
        ),
        (
            json!({"body": "nul\u{0}"}),
            "Invalid `body`: The text cannot contain control characters.",
        ),
        (
            json!({"body": "Nice", "disabled": false}),
            "Unknown field `disabled`",
        ),
    ] {
        let res = call(
            &mut client,
            Method::POST,
            &comments,
            Some(&token),
            Some(&body),
        )
        .await;
        assert_error(&res, StatusCode::BAD_REQUEST, needle);
    }
    assert_eq!(
        comment::Entity::find()
            .filter(comment::Column::CompositionId.eq(c.id))
            .count(&app.db)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn a_body_that_is_not_declared_json_gets_415() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let token = token_of(&app, &ann);
    let mut client = app.client();
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut req = client
            .request(Method::POST, "/api/v1/compositions/")
            .header(header::AUTHORIZATION, &token);
        if let Some(ct) = content_type {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        let req = req
            .body(Body::from("{\"release_type\": 1, \"title\": \"Typed\"}"))
            .unwrap();
        let res = client.send(req).await;
        assert_error(
            &res,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type: application/json",
        );
    }
    // A JSON media type with parameters, or a +json one, is JSON.
    for content_type in [
        "application/json; charset=utf-8",
        "application/vnd.ragtime+json",
    ] {
        let req = client
            .request(Method::POST, "/api/v1/compositions/")
            .header(header::AUTHORIZATION, &token)
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from("{\"release_type\": 1, \"title\": \"Typed\"}"))
            .unwrap();
        assert_eq!(client.send(req).await.status, StatusCode::CREATED);
    }
}

#[tokio::test]
async fn an_oversized_body_gets_413() {
    let app = TestApp::with_env(&[("RAGTIME_MAX_BODY_BYTES", "4096")]).await;
    let ann = app.create_user("ann").await;
    let mut client = app.client();
    let body = json!({"release_type": 1, "title": "Big", "description": "x".repeat(8192)});
    let res = call(
        &mut client,
        Method::POST,
        "/api/v1/compositions/",
        Some(&token_of(&app, &ann)),
        Some(&body),
    )
    .await;
    assert_error(&res, StatusCode::PAYLOAD_TOO_LARGE, "too large");
    // Streamed without a length, the limit still holds.
    let chunks: Vec<Result<String, std::io::Error>> = vec![
        Ok(body.to_string()[..3000].to_owned()),
        Ok(body.to_string()[3000..].to_owned()),
    ];
    let req = client
        .request(Method::POST, "/api/v1/compositions/")
        .header(header::AUTHORIZATION, token_of(&app, &ann))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .unwrap();
    let res = client.send(req).await;
    assert_error(&res, StatusCode::PAYLOAD_TOO_LARGE, "too large");
}

#[tokio::test]
async fn unknown_ids_get_404_and_ids_that_are_not_numbers_get_400() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let token = token_of(&app, &ann);
    let mut client = app.client();
    for (path, what) in [
        ("/api/v1/users/999999", "user"),
        ("/api/v1/users/999999/compositions/", "user"),
        ("/api/v1/compositions/999999", "composition"),
        ("/api/v1/compositions/999999/comments/", "composition"),
        ("/api/v1/comments/999999", "comment"),
    ] {
        let res = get(&mut client, path, &token).await;
        assert_error(
            &res,
            StatusCode::NOT_FOUND,
            &format!("No {what} with id 999999."),
        );
    }
    for (method, path) in [
        (Method::PUT, "/api/v1/compositions/999999"),
        (Method::DELETE, "/api/v1/compositions/999999"),
        (Method::POST, "/api/v1/compositions/999999/comments/"),
        (Method::DELETE, "/api/v1/users/999999/follow"),
    ] {
        let res = call(
            &mut client,
            method,
            path,
            Some(&token),
            Some(&json!({"body": "x"})),
        )
        .await;
        assert_error(&res, StatusCode::NOT_FOUND, "with id 999999.");
    }
    for path in [
        "/api/v1/users/abc",
        "/api/v1/compositions/1.5",
        "/api/v1/comments/99999999999",
    ] {
        let res = get(&mut client, path, &token).await;
        assert_error(&res, StatusCode::BAD_REQUEST, "Invalid `id`");
    }
    // Paths the API does not have are JSON 404s too.
    let res = get(&mut client, "/api/v1/nothing/", &token).await;
    assert_error(&res, StatusCode::NOT_FOUND, "does not exist");
}

#[tokio::test]
async fn a_wrong_method_gets_405_with_allow() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let c = app.publish(&ann, "Fixed").await;
    let token = token_of(&app, &ann);
    let mut client = app.client();
    for (method, path, allow) in [
        (
            Method::PATCH,
            format!("/api/v1/compositions/{}", c.id),
            "PUT",
        ),
        (Method::DELETE, "/api/v1/compositions/".to_owned(), "POST"),
        (Method::GET, "/api/v1/tokens/".to_owned(), "POST"),
        (Method::PUT, "/api/v1/comments/".to_owned(), "GET"),
    ] {
        let res = call(&mut client, method.clone(), &path, Some(&token), None).await;
        assert_error(&res, StatusCode::METHOD_NOT_ALLOWED, "not allowed");
        assert!(
            res.header("allow").unwrap().contains(allow),
            "{method} {path}: {:?}",
            res.header("allow")
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The OpenAPI document

/// Every operation of API v1, as a reader of SPEC §4 expects to find it.
const OPERATIONS: [(&str, &str); 32] = [
    ("GET", "/api/v1/"),
    ("POST", "/api/v1/tokens/"),
    ("GET", "/api/v1/compositions/trending"),
    ("POST", "/api/v1/tracks/{id}/listens"),
    ("POST", "/api/v1/tracks/{id}/plays"),
    ("GET", "/api/v1/users/me"),
    ("GET", "/api/v1/users/by-username/{username}"),
    ("GET", "/api/v1/users/{id}"),
    ("GET", "/api/v1/users/{id}/compositions/"),
    ("GET", "/api/v1/users/{id}/timeline/"),
    ("POST", "/api/v1/users/{id}/follow"),
    ("DELETE", "/api/v1/users/{id}/follow"),
    ("GET", "/api/v1/compositions/"),
    ("POST", "/api/v1/compositions/"),
    ("GET", "/api/v1/compositions/{id}"),
    ("PUT", "/api/v1/compositions/{id}"),
    ("DELETE", "/api/v1/compositions/{id}"),
    ("GET", "/api/v1/compositions/{id}/comments/"),
    ("POST", "/api/v1/compositions/{id}/comments/"),
    ("GET", "/api/v1/comments/"),
    ("GET", "/api/v1/comments/{id}"),
    ("GET", "/api/v1/openapi.json"),
    ("POST", "/api/v1/compositions/{id}/tracks"),
    ("GET", "/api/v1/tracks/{id}"),
    ("PATCH", "/api/v1/tracks/{id}"),
    ("DELETE", "/api/v1/tracks/{id}"),
    ("POST", "/api/v1/compositions/{id}/like"),
    ("DELETE", "/api/v1/compositions/{id}/like"),
    ("GET", "/api/v1/search"),
    ("GET", "/api/v1/notifications"),
    ("GET", "/api/v1/notifications/{id}"),
    ("POST", "/api/v1/notifications/read"),
];

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "DELETE", "PATCH"];

#[tokio::test]
async fn the_openapi_document_describes_exactly_the_routes_the_router_serves() {
    let app = TestApp::new().await;
    let ann = app.create_user_with_password("ann").await;
    let admin = app.create_user_with_role("root", "Administrator").await;
    let c = app.publish(&ann, "Probe").await;
    let remark = comment::create(&app.db, ann.id, c.id, "Probe")
        .await
        .unwrap()
        .expect("the composition");
    let mut client = app.client();

    // Served without credentials, and it parses.
    let res = call(&mut client, Method::GET, "/api/v1/openapi.json", None, None).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(
        res.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let doc = res.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert!(doc.get("servers").is_none(), "no extra servers");
    assert_eq!(
        doc,
        serde_json::to_value(ragtime::api::openapi::document()).unwrap()
    );
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["basic"]["scheme"], "basic");
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert!(doc["security"].as_array().unwrap().len() == 2);

    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let method = method.to_ascii_uppercase();
            assert!(METHODS.contains(&method.as_str()), "{method} {path}");
            documented.insert((method.clone(), path.clone()));
            let responses = op["responses"].as_object().unwrap();
            assert!(
                responses.keys().any(|s| s.starts_with('2')),
                "{method} {path}"
            );
            for (status, response) in responses {
                if status.starts_with('4') {
                    assert_eq!(
                        response["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/Error",
                        "{method} {path} {status}"
                    );
                }
            }
            if path != "/api/v1/openapi.json" && path != "/api/v1/" {
                assert!(responses.contains_key("401") && responses.contains_key("429"));
            }
            if path.contains("{id}") {
                assert_eq!(op["parameters"][0]["name"], "id", "{method} {path}");
                assert!(responses.contains_key("404"), "{method} {path}");
            }
            if op.get("requestBody").is_some() {
                for status in ["400", "413", "415"] {
                    assert!(responses.contains_key(status), "{method} {path} {status}");
                }
            }
        }
    }
    let expected: BTreeSet<(String, String)> = OPERATIONS
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(documented, expected);
    for schema in [
        "Error",
        "Composition",
        "CompositionList",
        "Comment",
        "CommentList",
        "User",
        "Token",
        "NewComposition",
        "UpdateComposition",
        "NewComment",
    ] {
        assert!(
            doc["components"]["schemas"].get(schema).is_some(),
            "{schema}"
        );
    }
    // Bodies say what the server enforces: no field beyond the documented ones.
    for body in ["NewComposition", "UpdateComposition", "NewComment"] {
        assert_eq!(
            doc["components"]["schemas"][body]["additionalProperties"], false,
            "{body}"
        );
    }

    // The router serves each documented method of each documented path, and answers 405
    // with the documented methods in `Allow` to every other one.
    let token = token_of(&app, &admin);
    let paths: BTreeSet<&String> = documented.iter().map(|(_, p)| p).collect();
    for path in paths {
        let id = if path.starts_with("/api/v1/users/") {
            ann.id
        } else if path.starts_with("/api/v1/comments/") {
            remark.id
        } else {
            c.id
        };
        let mut concrete = path
            .replace("{id}", &id.to_string())
            .replace("{username}", "ann");
        if path == "/api/v1/search" {
            concrete.push_str("?q=probe"); // its one required parameter
        }
        let auth = if path == "/api/v1/tokens/" {
            basic("ann@example.com", PASSWORD)
        } else {
            token.clone()
        };
        for method in METHODS {
            let is_documented = documented.contains(&(method.to_owned(), path.clone()));
            // A valid body for the operations that take one (unknown fields are refused).
            let body = if path.ends_with("/comments/") {
                json!({"body": "probe"})
            } else if path.ends_with("/notifications/read") {
                json!({"all": true})
            } else if path.ends_with("/plays") {
                // A start of this caller's, 31 s ago.
                let listener = ragtime::models::play::Listener::Account(admin.id);
                let at = chrono::Utc::now() - chrono::Duration::seconds(31);
                let token =
                    ragtime::models::play::start_token(&app.state.signer, id, &listener, at);
                json!({"token": token, "heard_ms": 31000})
            } else {
                json!({"release_type": 1, "title": "Probe"})
            };
            let res = call(
                &mut client,
                Method::from_bytes(method.as_bytes()).unwrap(),
                &concrete,
                Some(&auth),
                (method != "GET" && method != "DELETE").then_some(&body),
            )
            .await;
            if is_documented {
                assert_ne!(
                    res.status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path}"
                );
                // An upload's body is the audio itself: a JSON body is refused by its type.
                let json_refused =
                    path.ends_with("/tracks") && res.status == StatusCode::UNSUPPORTED_MEDIA_TYPE;
                assert!(
                    res.status.is_success()
                        || json_refused
                        || res.status == StatusCode::CONFLICT
                        || (res.status == StatusCode::NOT_FOUND
                            && res.json()["message"].as_str().unwrap().starts_with("No ")),
                    "{method} {path}: {} {}",
                    res.status,
                    res.body
                );
            } else {
                assert_eq!(
                    res.status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path}"
                );
                let allow: BTreeSet<String> = res
                    .header("allow")
                    .unwrap()
                    .split(',')
                    .map(|m| m.trim().to_owned())
                    .filter(|m| m != "HEAD")
                    .collect();
                let want: BTreeSet<String> = documented
                    .iter()
                    .filter(|(_, p)| p == path)
                    .map(|(m, _)| m.clone())
                    .collect();
                assert_eq!(allow, want, "Allow of {path}");
            }
        }
    }
    // Near misses are not routes.
    for path in [
        "/api/v1",
        "/api/v1/tokens",
        "/api/v1/users/",
        "/api/v1/compositions",
        &format!("/api/v1/users/{}/followers/", ann.id),
        &format!("/api/v1/comments/{}/", remark.id),
    ] {
        let res = get(&mut client, path, &token).await;
        assert_error(&res, StatusCode::NOT_FOUND, "does not exist");
    }
}

#[tokio::test]
async fn a_field_given_twice_is_refused_naming_it_and_nothing_is_created() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let mut client = app.client();
    let req = client
        .request(Method::POST, "/api/v1/compositions/")
        .header(header::AUTHORIZATION, token_of(&app, &ann))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            r#"{"release_type": 1, "title": "a", "title": "b"}"#,
        ))
        .unwrap();
    let res = client.send(req).await;
    assert_error(
        &res,
        StatusCode::BAD_REQUEST,
        "the field `title` is given twice",
    );
    assert_eq!(
        composition::count(&app.db, composition::Feed::All)
            .await
            .unwrap(),
        0
    );
}
