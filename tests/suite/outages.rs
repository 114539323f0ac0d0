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

/// Ends every session the app holds on its PostgreSQL database, as a fast shutdown or a
/// restart does ("terminating connection due to administrator command"), and waits until
/// they are gone.
async fn terminate_the_apps_connections(app: &TestApp) {
    use secrecy::ExposeSecret;
    let url = app.state.config.database_url.expose_secret().to_owned();
    let admin = ragtime::db::connect_url(&url, 1).await.unwrap();
    let others =
        "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()";
    admin
        .execute_unprepared(&format!("SELECT pg_terminate_backend(pid) {others}"))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let row = admin
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DatabaseBackend::Postgres,
                format!("SELECT count(*) AS n {others}"),
            ))
            .await
            .unwrap()
            .unwrap();
        if row.try_get::<i64>("", "n").unwrap() == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the sessions did not end");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    admin.close().await.unwrap();
}

#[tokio::test]
async fn a_write_met_by_a_database_shutdown_on_postgres_answers_503_and_the_next_one_succeeds() {
    // One pooled connection, so the one the shutdown broke is the one the next request gets.
    let app = TestApp::with_env(&[("DATABASE_POOL_SIZE", "1")]).await;
    if app.db.get_database_backend() != sea_orm::DatabaseBackend::Postgres {
        eprintln!("PostgreSQL only: SQLite has no server to shut down");
        return;
    }
    let ann = app.create_user("ann").await;
    let token = crate::api::token_of(&app, &ann);
    let mut client = app.client();
    let publish = |client: &Client| {
        client
            .request(Method::POST, "/api/v1/compositions/")
            .header(header::AUTHORIZATION, &token)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                r#"{"release_type": 1, "title": "Shutdown Rag"}"#,
            ))
            .unwrap()
    };
    // The pool's connection was used a moment ago, so it is handed out unchecked.
    let res = client.send(publish(&client)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);

    terminate_the_apps_connections(&app).await;
    let res = client.send(publish(&client)).await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE, "{}", res.body);
    assert_eq!(res.header("retry-after"), Some("5"));
    assert_eq!(res.json()["error"], "service unavailable");

    // The broken connection is replaced: the site is back at once.
    let res = client.send(publish(&client)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
}
