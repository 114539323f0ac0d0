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
#[ignore = "needs PostgreSQL: TEST_DATABASE_URL=… cargo test -- --include-ignored (.ci/run does)"]
async fn a_write_met_by_a_database_shutdown_on_postgres_answers_503_and_the_next_one_succeeds() {
    // One pooled connection, so the one the shutdown broke is the one the next request gets.
    let app = TestApp::with_env(&[("DATABASE_POOL_SIZE", "1")]).await;
    app.require_postgres();
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

/// A TCP proxy in front of PostgreSQL whose link to the server can be cut. From then on no
/// statement reaches the server and nothing is closed, but the proxy still answers the
/// protocol's bare `Sync` with `ReadyForQuery` itself, as a pooler does for a client it has
/// not linked to a server: a check that only sends `Sync` (sqlx's ping) passes, one statement
/// does not. New connections are accepted and never answered.
struct Proxy {
    port: u16,
    cut: tokio::sync::watch::Sender<bool>,
}

impl Proxy {
    async fn to(upstream: String) -> Proxy {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (cut, _) = tokio::sync::watch::channel(false);
        let cut_rx = cut.subscribe();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let mut cut = cut_rx.clone();
                tokio::spawn(async move {
                    let already_cut = *cut.borrow();
                    if already_cut {
                        let _held = client;
                        return std::future::pending::<()>().await;
                    }
                    let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (mut client_read, mut client_write) = client.into_split();
                    let (mut server_read, mut server_write) = server.into_split();
                    let forward = async {
                        let up = tokio::io::copy(&mut client_read, &mut server_write);
                        let down = tokio::io::copy(&mut server_read, &mut client_write);
                        let _ = tokio::join!(up, down);
                    };
                    tokio::select! {
                        () = forward => return,
                        () = async { drop(cut.wait_for(|cut| *cut).await) } => {}
                    }
                    // Cut: read the client's messages (a type byte, then a length that counts
                    // itself), answer each Sync, pass nothing on. The server's half stays open.
                    let _server = (server_read, server_write);
                    let mut pending: Vec<u8> = Vec::new();
                    let mut buf = [0u8; 8192];
                    while let Ok(n) = client_read.read(&mut buf).await {
                        if n == 0 {
                            return;
                        }
                        pending.extend_from_slice(&buf[..n]);
                        while pending.len() >= 5 {
                            let len = u32::from_be_bytes(pending[1..5].try_into().unwrap());
                            let whole = 1 + len as usize;
                            if pending.len() < whole {
                                break;
                            }
                            if pending[0] == b'S' {
                                let ready = [b'Z', 0, 0, 0, 5, b'I'];
                                if client_write.write_all(&ready).await.is_err() {
                                    return;
                                }
                            }
                            pending.drain(..whole);
                        }
                    }
                });
            }
        });
        Proxy { port, cut }
    }

    fn cut(&self) {
        let _ = self.cut.send(true);
    }
}

#[tokio::test]
#[ignore = "needs PostgreSQL: TEST_DATABASE_URL=… cargo test -- --include-ignored (.ci/run does)"]
async fn healthz_answers_503_once_statements_no_longer_reach_postgres() {
    use secrecy::ExposeSecret;
    let app = TestApp::new().await;
    app.require_postgres();
    let mut url = url::Url::parse(app.state.config.database_url.expose_secret()).unwrap();
    let upstream = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
    let proxy = Proxy::to(upstream).await;
    url.set_port(Some(proxy.port)).unwrap();
    // In the clear, so the proxy reads the protocol.
    url.query_pairs_mut().append_pair("sslmode", "disable");
    let mut config = (*app.state.config).clone();
    config.database_url = url.to_string().into();
    let db = ragtime::db::connect(&config).await.unwrap();
    let state = AppState::new(config, db, ragtime::mail::Transport::memory()).unwrap();
    let mut client = Client {
        router: ragtime::app::router(state),
        cookies: HashMap::new(),
        peer: "127.0.0.1:40000".parse().unwrap(),
    };
    let (res, _) = timed(&mut client, "/healthz", "*/*").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    // Its connection goes back to the pool (a task of its own), idle: the one used next.
    tokio::time::sleep(Duration::from_millis(100)).await;

    proxy.cut();
    for _ in 0..3 {
        let (res, took) = timed(&mut client, "/healthz", "*/*").await;
        assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE, "{}", res.body);
        assert_eq!(res.header("retry-after"), Some("5"));
        assert!(took < FAST, "took {took:?}");
    }
    let (res, took) = timed(&mut client, "/user/ann", "text/html").await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE, "{}", res.body);
    assert!(took < FAST, "took {took:?}");
}
