//! When the database is down or every pooled connection is busy, pages fail fast with a 503
//! that says when to come back, instead of hanging; a slow statement is cut short.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use ragtime::config::Config;
use ragtime::state::AppState;
use sea_orm::{ConnectionTrait, TransactionTrait};

use crate::helpers::{Client, SECRET_KEY, TestApp, TestResponse};

/// Well within what a load balancer or an uptime check waits.
const FAST: Duration = Duration::from_millis(1800);

/// The app of a process whose database refuses connections (down for maintenance, say).
async fn app_whose_database_is_down() -> Client {
    let vars = HashMap::from([
        ("RAGTIME_CONFIG", "testing"),
        ("SECRET_KEY", SECRET_KEY),
        ("DATABASE_URL", "postgres://postgres@127.0.0.1:1/gone"),
    ]);
    let config = Config::from_source(&|k: &str| vars.get(k).map(|v| (*v).to_owned())).unwrap();
    // The process started while the database was away, as the pool allows.
    let db = ragtime::db::connect(&config).await.unwrap();
    let state = AppState::new(config, db, ragtime::mail::Transport::memory()).unwrap();
    Client {
        router: ragtime::app::router(state),
        cookies: HashMap::new(),
        peer: "127.0.0.1:40000".parse().unwrap(),
    }
}

async fn timed(client: &mut Client, path: &str, accept: &str) -> (TestResponse, Duration) {
    let req = client
        .request(Method::GET, path)
        .header(header::ACCEPT, accept)
        .header(
            header::AUTHORIZATION,
            "Basic YW5uQGV4YW1wbGUuY29tOnNlY3JldA==",
        )
        .body(Body::empty())
        .unwrap();
    let start = Instant::now();
    let res = client.send(req).await;
    (res, start.elapsed())
}

#[tokio::test]
async fn while_the_database_is_down_pages_answer_503_at_once_and_say_when_to_retry() {
    let mut client = app_whose_database_is_down().await;
    for (path, accept) in [
        ("/user/ann", "text/html"),
        ("/", "text/html"),
        ("/api/v1/compositions/", "application/json"),
        ("/healthz", "*/*"),
    ] {
        let (res, took) = timed(&mut client, path, accept).await;
        assert_eq!(
            res.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{path}: {}",
            res.body
        );
        assert!(took < FAST, "{path} took {took:?}");
        assert_eq!(res.header("retry-after"), Some("5"), "{path}");
    }
    let (res, _) = timed(&mut client, "/user/ann", "text/html").await;
    assert!(
        res.body.contains("The database is not answering"),
        "{}",
        res.body
    );
    let (res, _) = timed(&mut client, "/api/v1/compositions/", "application/json").await;
    assert_eq!(res.json()["error"], "service unavailable");
}

#[tokio::test]
async fn requests_held_up_by_a_busy_pool_fail_fast_and_the_site_recovers() {
    let app = TestApp::with_env(&[("DATABASE_POOL_SIZE", "2")]).await;
    let ann = app.create_user("ann").await;
    let mut logged_in = app.logged_in_client(&ann).await;
    // Two slow requests hold every pooled connection.
    let first = app.state.db.begin().await.unwrap();
    let second = app.state.db.begin().await.unwrap();
    let mut client = app.client();
    let (res, took) = timed(&mut client, "/user/ann", "text/html").await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(took < FAST, "took {took:?}");
    // A logged-in visitor too: the error page does not wait for the database a second time.
    let (res, took) = timed(&mut logged_in, "/", "text/html").await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(took < FAST, "took {took:?}");
    drop((first, second));
    let (res, _) = timed(&mut client, "/user/ann", "text/html").await;
    assert_eq!(res.status, StatusCode::OK);
}

#[tokio::test]
#[ignore = "needs PostgreSQL: TEST_DATABASE_URL=… cargo test -- --include-ignored (.ci/run does)"]
async fn a_statement_that_runs_too_long_is_cut_short_on_postgres() {
    let app = TestApp::with_env(&[("DATABASE_STATEMENT_TIMEOUT_MS", "200")]).await;
    app.require_postgres();
    let start = Instant::now();
    let err = app
        .state
        .db
        .execute_unprepared("SELECT pg_sleep(5)")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("statement timeout"), "{err}");
    assert!(start.elapsed() < Duration::from_secs(2));
}
