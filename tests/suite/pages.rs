//! Layout, error pages, static assets, the health check and sessions as a browser sees them.

use crate::helpers::TestApp;
use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use ragtime::models::session;
use sea_orm::EntityTrait;

#[tokio::test]
async fn the_home_page_renders_in_the_layout() {
    let app = TestApp::new().await;
    let res = app.client().get("/").await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(
        res.body
            .contains(r#"<a class="brand" href="/">Ragtime</a>"#)
    );
    assert!(res.body.contains(r#"href="/auth/login">Log In</a>"#));
    assert!(res.body.contains(r#"href="/auth/register">Register</a>"#));
    assert!(res.body.contains(ragtime::web::assets::url("style.css")));
    assert!(res.body.contains(ragtime::web::assets::url("app.js")));
    // Nothing inline for the CSP to block.
    assert!(!res.body.contains("<script>"));
    assert!(!res.body.contains("style="));
    // An anonymous page with no form sets no cookie.
    assert!(res.header("set-cookie").is_none());
}

#[tokio::test]
async fn a_404_is_an_html_page_for_browsers_and_json_for_json_clients() {
    let app = TestApp::new().await;
    let mut client = app.client();
    let req = client
        .request(Method::GET, "/missing")
        .header(header::ACCEPT, "text/html,application/xhtml+xml,*/*;q=0.8")
        .body(Body::empty())
        .unwrap();
    let html = client.send(req).await;
    assert_eq!(html.status, StatusCode::NOT_FOUND);
    assert!(
        html.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(html.body.contains("Not Found"));
    assert!(html.body.contains(r#"<a class="brand""#), "in the layout");

    let req = client
        .request(Method::GET, "/missing")
        .header(header::ACCEPT, "application/json")
        .body(Body::empty())
        .unwrap();
    let json = client.send(req).await;
    assert_eq!(json.status, StatusCode::NOT_FOUND);
    assert_eq!(
        json.json(),
        serde_json::json!({
            "error": "not found",
            "message": "The page you asked for does not exist."
        })
    );
}

#[tokio::test]
async fn a_wrong_method_gets_a_405_page_with_allow() {
    let app = TestApp::new().await;
    let mut client = app.client();
    let res = client.get("/auth/logout").await;
    assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(res.header("allow").unwrap().contains("POST"));
    assert!(res.body.contains("Method Not Allowed"));
}

#[tokio::test]
async fn assets_are_served_with_immutable_caching_under_hashed_names() {
    let app = TestApp::new().await;
    let mut client = app.client();
    let url = ragtime::web::assets::url("style.css");
    let res = client.get(url).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.header("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(
        res.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert!(res.body.contains("--brand"));
    // An old or made-up hash is a 404, never a stale file cached for a year.
    assert_eq!(
        client
            .get("/static/style.0000000000000000.css")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn responses_are_compressed_for_clients_that_ask() {
    let app = TestApp::new().await;
    let mut client = app.client();
    let req = client
        .request(Method::GET, ragtime::web::assets::url("style.css"))
        .header(header::ACCEPT_ENCODING, "gzip")
        .body(Body::empty())
        .unwrap();
    let res = client.send(req).await;
    assert_eq!(res.header("content-encoding"), Some("gzip"));
}

#[tokio::test]
async fn healthz_checks_the_database() {
    let app = TestApp::new().await;
    let res = app.client().get("/healthz").await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json()["status"], "ok");

    app.db.clone().close().await.unwrap();
    let mut client = app.client();
    let res = client.get("/healthz").await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.json()["error"], "service unavailable");
    assert_eq!(res.json()["message"], "The database is unreachable.");
    // A machine's endpoint: JSON whatever the client prefers.
    let req = client
        .request(Method::GET, "/healthz")
        .header(header::ACCEPT, "text/html")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        client.send(req).await.json()["error"],
        "service unavailable"
    );
}

#[tokio::test]
async fn logout_ends_the_session_on_the_server() {
    let app = TestApp::new().await;
    let user = app.create_user("ann").await;
    let mut client = app.logged_in_client(&user).await;
    let stolen_cookie = client.cookies.clone();
    let token = client.get("/").await.csrf_token();
    let res = client
        .post_form("/auth/logout", &[("csrf_token", &token)])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(session::Entity::find().all(&app.db).await.unwrap().len(), 0);

    // A copy of the old cookie is worthless now.
    let mut replay = app.client();
    replay.cookies = stolen_cookie;
    assert!(replay.get("/").await.body.contains("Welcome to Ragtime"));
}

#[tokio::test]
async fn an_expired_session_is_not_honoured() {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, IntoActiveModel};
    let app = TestApp::new().await;
    let user = app.create_user("ann").await;
    let mut client = app.logged_in_client(&user).await;
    assert!(client.get("/").await.body.contains("Hello, ann!"));
    let row = session::Entity::find().one(&app.db).await.unwrap().unwrap();
    let mut row = row.into_active_model();
    row.expires_at = Set(chrono::Utc::now() - chrono::Duration::seconds(1));
    row.update(&app.db).await.unwrap();
    assert!(client.get("/").await.body.contains("Welcome to Ragtime"));
    assert_eq!(session::purge_expired(&app.db).await.unwrap(), 1);
}

#[tokio::test]
async fn logged_in_pages_are_not_shared_by_caches() {
    let app = TestApp::new().await;
    let user = app.create_user("ann").await;
    let mut client = app.logged_in_client(&user).await;
    let res = client.get("/").await;
    assert_eq!(res.header("cache-control"), Some("private, no-cache"));
}

#[tokio::test]
async fn hostile_paths_and_queries_never_cause_a_500() {
    let app = TestApp::new().await;
    let mut client = app.client();
    for path in [
        "/%00",
        "/static/..%2f..%2fCargo.toml",
        "/static/%ff%fe",
        "/?page=%27%3B%20DROP%20TABLE%20users%3B--",
        "/%3Cscript%3Ealert(1)%3C/script%3E",
        &format!("/{}", "a".repeat(5000)),
    ] {
        let res = client.get(path).await;
        assert!(
            res.status.is_success() || res.status.is_client_error(),
            "{path}: {}",
            res.status
        );
        assert!(
            !res.body.contains("<script>alert(1)</script>"),
            "{path} reflected unescaped"
        );
    }
}

#[tokio::test]
async fn a_form_the_server_cannot_read_is_refused_with_the_reason() {
    let app = TestApp::new().await;
    let mut client = app.client();
    let token = client.get("/auth/login").await.csrf_token();
    let req = client
        .request(Method::POST, "/auth/login")
        .header(header::ACCEPT, "application/json")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!(
            "csrf_token={token}&email=a%40b.io&email=c%40d.io&password=x"
        )))
        .unwrap();
    let res = client.send(req).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let message = res.json()["message"].as_str().unwrap().to_owned();
    assert!(message.contains("duplicate field `email`"), "{message}");
}
