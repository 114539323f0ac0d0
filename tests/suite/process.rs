//! The real binary, as Heroku runs it: refusals at start-up, `deploy` in the release phase, and
//! a graceful stop on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{SECRET_KEY, TestDb, ragtime};

fn run(vars: &[(&str, &str)], args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    ragtime(dir.path(), vars).args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn help_describes_serve_and_deploy() {
    let out = run(&[], &["--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    assert!(
        help.contains("serve") && help.contains("web server"),
        "{help}"
    );
    assert!(
        help.contains("deploy") && help.contains("migrations"),
        "{help}"
    );
}

#[test]
fn serve_in_the_heroku_config_without_secret_key_exits_non_zero_naming_it() {
    let out = run(
        &[
            ("RAGTIME_CONFIG", "heroku"),
            ("RAGTIME_SERVER_NAME", "ragtime.example"),
            ("DATABASE_URL", "postgres://u:p@127.0.0.1:1/db"),
            ("PORT", "0"),
        ],
        &["serve"],
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("SECRET_KEY"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one clear line: {err}");
}

#[test]
fn the_heroku_config_refuses_sqlite() {
    let out = run(
        &[
            ("RAGTIME_CONFIG", "heroku"),
            ("RAGTIME_SERVER_NAME", "ragtime.example"),
            ("SECRET_KEY", SECRET_KEY),
            ("DATABASE_URL", "sqlite://data.sqlite?mode=rwc"),
        ],
        &["serve"],
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("DATABASE_URL"));
}

#[test]
fn deploy_prints_what_it_did_and_a_second_run_changes_nothing() {
    let db = TestDb::new();
    let vars = [
        ("RAGTIME_CONFIG", "production"),
        ("RAGTIME_MEDIA_URL", "file:///tmp/ragtime-test-media"),
        ("RAGTIME_SERVER_NAME", "ragtime.example"),
        ("SECRET_KEY", SECRET_KEY),
        ("DATABASE_URL", db.url.as_str()),
    ];
    let first = run(&vars, &["deploy"]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let out = text(&first.stdout);
    assert!(
        out.contains("migrations: applied m20261125_000001_initial"),
        "{out}"
    );
    assert!(
        out.contains("roles: inserted User, Moderator, Administrator"),
        "{out}"
    );

    let second = run(&vars, &["deploy"]);
    assert!(second.status.success());
    let out = text(&second.stdout);
    assert!(out.contains("migrations: none pending"), "{out}");
    assert!(out.contains("roles: inserted none; updated none"), "{out}");
    assert!(out.contains("self-follows: added 0"), "{out}");
}

#[test]
fn deploy_help_names_every_task_it_runs() {
    let out = run(&[], &["deploy", "--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout).replace('\n', " ");
    // The four lines of its report.
    for task in ["migrations", "roles", "self-follows", "avatar keys"] {
        assert!(help.contains(task), "{task}: {help}");
    }
}

#[test]
fn deploy_needs_only_the_database_and_the_configuration_name() {
    // A release phase without the web process's settings: no secret key, server name or
    // media store.
    let db = TestDb::new();
    let out = run(
        &[
            ("RAGTIME_CONFIG", "production"),
            ("DATABASE_URL", db.url.as_str()),
            ("DYNO", "release.1234"),
        ],
        &["deploy"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    assert!(report.contains("deploy: done"), "{report}");
}

#[test]
#[ignore = "needs PostgreSQL: TEST_DATABASE_URL=… cargo test -- --include-ignored (.ci/run does)"]
fn deploy_runs_in_the_release_phase_with_exactly_the_variables_of_the_readme_heroku_steps() {
    let db = TestDb::new();
    // The heroku configuration refuses SQLite.
    db.require_postgres();
    // As Heroku Postgres gives it: no sslmode, so the heroku configuration asks for TLS.
    let env = crate::platform_files::heroku_steps_env(&db.url);
    let mut vars: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    vars.push(("DYNO", "release.1"));
    let out = run(&vars, &["deploy"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    assert!(
        report.contains("roles: inserted User, Moderator, Administrator"),
        "{report}"
    );
}

#[test]
fn development_keeps_its_generated_key_beside_the_database_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let db_file = dir.path().join("dev.sqlite");
    let db_url = format!("sqlite://{}?mode=rwc", db_file.display());
    // Development (the default configuration), without SECRET_KEY.
    let vars = [("DATABASE_URL", db_url.as_str())];

    let server = start_server_with(dir.path(), &vars);
    let page = http_get(server.port, "/auth/login", "");
    let cookie = page
        .lines()
        .filter_map(|l| l.strip_prefix("set-cookie: "))
        .filter_map(|c| c.split(';').next())
        .find(|c| c.starts_with(ragtime::web::session::SESSION_COOKIE))
        .expect("a session cookie")
        .to_owned();
    let marker = r#"name="csrf_token" value=""#;
    let start = page.find(marker).expect("a login form") + marker.len();
    let csrf = page[start..start + page[start..].find('"').unwrap()].to_owned();
    drop(server);

    let key_file = dir.path().join("dev.sqlite.secret-key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "owner only: {mode:o}");
    }

    // The form shown before the restart still goes through after it: its CSRF token is
    // good, and the login is judged on its merits.
    let server = start_server_with(dir.path(), &vars);
    let body = format!("csrf_token={csrf}&email=nobody%40example.com&password=wrong&next=");
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    write!(
        stream,
        "POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nCookie: {cookie}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        server.port,
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 422"), "{response}");
    assert!(
        response.contains("Invalid email or password."),
        "{response}"
    );
}

#[test]
fn deploy_with_an_unreachable_database_fails_clearly_without_leaking_the_password() {
    let start = Instant::now();
    let out = run(
        &[
            ("RAGTIME_CONFIG", "production"),
            ("RAGTIME_MEDIA_URL", "file:///tmp/ragtime-test-media"),
            ("RAGTIME_SERVER_NAME", "ragtime.example"),
            ("SECRET_KEY", SECRET_KEY),
            (
                "DATABASE_URL",
                "postgres://ragtime:s3cret-pw@127.0.0.1:1/ragtime",
            ),
        ],
        &["deploy"],
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("ragtime deploy: failed"), "{err}");
    // The cause, as the person reading the release log needs it.
    assert!(err.contains("cannot connect to the database"), "{err}");
    assert!(err.to_lowercase().contains("connection refused"), "{err}");
    let all = format!("{err}{}", text(&out.stdout));
    assert!(!all.contains("s3cret-pw"), "{all}");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "a refusal is known at once"
    );
}

#[test]
#[ignore = "needs PostgreSQL: TEST_DATABASE_URL=… cargo test -- --include-ignored (.ci/run does)"]
fn deploy_with_an_unknown_host_or_wrong_password_says_so() {
    // A server on 127.0.0.1:5432 to refuse the unknown role.
    TestDb::new().require_postgres();
    for (url, cause) in [
        (
            "postgres://ragtime:pw@no-such-host.invalid:5432/db",
            "no-such-host.invalid",
        ),
        (
            "postgres://no_such_role@127.0.0.1:5432/test",
            "no_such_role",
        ),
    ] {
        let out = run(
            &[
                ("RAGTIME_CONFIG", "production"),
                ("RAGTIME_MEDIA_URL", "file:///tmp/ragtime-test-media"),
                ("RAGTIME_SERVER_NAME", "ragtime.example"),
                ("SECRET_KEY", SECRET_KEY),
                ("DATABASE_URL", url),
            ],
            &["deploy"],
        );
        assert!(!out.status.success());
        let err = text(&out.stderr);
        assert!(err.contains("cannot connect to the database"), "{err}");
        assert!(
            err.contains(cause) || err.to_lowercase().contains("lookup"),
            "{url}: {err}"
        );
    }
}

#[test]
fn deploy_with_a_bad_database_url_fails_naming_it() {
    let out = run(
        &[
            ("RAGTIME_CONFIG", "production"),
            ("RAGTIME_MEDIA_URL", "file:///tmp/ragtime-test-media"),
            ("RAGTIME_SERVER_NAME", "ragtime.example"),
            ("SECRET_KEY", SECRET_KEY),
            ("DATABASE_URL", "postgres//missing-colon"),
        ],
        &["deploy"],
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("DATABASE_URL"));
}

#[test]
fn deploy_stops_the_release_when_a_migration_fails() {
    let test_db = TestDb::new();
    // A table in the way makes the first migration fail.
    let url = test_db.url.clone();
    std::thread::spawn(move || {
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            use sea_orm::ConnectionTrait;
            let db = ragtime::db::connect_url(&url, 1).await.unwrap();
            db.execute_unprepared("CREATE TABLE compositions (x INTEGER)")
                .await
                .unwrap();
        })
    })
    .join()
    .unwrap();
    let out = run(
        &[
            ("RAGTIME_CONFIG", "production"),
            ("RAGTIME_MEDIA_URL", "file:///tmp/ragtime-test-media"),
            ("RAGTIME_SERVER_NAME", "ragtime.example"),
            ("SECRET_KEY", SECRET_KEY),
            ("DATABASE_URL", test_db.url.as_str()),
        ],
        &["deploy"],
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("ragtime deploy: failed"), "{err}");
    assert!(err.to_lowercase().contains("compositions"), "{err}");
}

struct Server {
    child: Child,
    port: u16,
    log: std::sync::mpsc::Receiver<String>,
}

/// Never leave a server behind when a test fails.
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `ragtime serve` on an ephemeral port; returns once it says where it listens.
fn start_server(dir: &std::path::Path, db_url: &str) -> Server {
    start_server_with(
        dir,
        &[
            ("RAGTIME_CONFIG", "testing"),
            ("SECRET_KEY", SECRET_KEY),
            ("DATABASE_URL", db_url),
        ],
    )
}

/// [`start_server`] with more variables.
fn start_server_and(dir: &std::path::Path, db_url: &str, more: &[(&str, &str)]) -> Server {
    let mut vars = vec![
        ("RAGTIME_CONFIG", "testing"),
        ("SECRET_KEY", SECRET_KEY),
        ("DATABASE_URL", db_url),
    ];
    vars.extend_from_slice(more);
    start_server_with(dir, &vars)
}

/// `ragtime serve` with exactly `vars` (and `PORT=0`).
fn start_server_with(dir: &std::path::Path, vars: &[(&str, &str)]) -> Server {
    let mut vars = vars.to_vec();
    vars.push(("PORT", "0"));
    let mut child = ragtime(dir, &vars)
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // Owned by the guard from here on, so a failure below still stops the process.
    let mut server = Server {
        child,
        port: 0,
        log: rx,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.port == 0 {
        let line = server
            .log
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("the server says where it listens");
        if let Some(addr) = line.split("listening on ").nth(1) {
            let port = addr
                .split_whitespace()
                .next()
                .unwrap()
                .rsplit(':')
                .next()
                .unwrap();
            server.port = port.parse().unwrap();
        }
    }
    server
}

fn http_get(port: u16, path: &str, cookie: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn sigterm_lets_an_in_flight_request_finish_then_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let test_db = TestDb::new();
    let mut server = start_server(dir.path(), &test_db.url);
    let port = server.port;

    // A logged-in browser: a user and a session made directly in the database.
    let token = ragtime::crypto::random_token(32);
    let (url, t) = (test_db.url.clone(), token.clone());
    std::thread::spawn(move || {
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            use sea_orm::{ActiveModelTrait, ActiveValue::Set};
            let db = ragtime::db::connect_url(&url, 1).await.unwrap();
            let role = ragtime::models::role::default_role(&db)
                .await
                .unwrap()
                .unwrap();
            let user = ragtime::models::user::ActiveModel {
                email: Set("ann@example.com".into()),
                username: Set("ann".into()),
                role_id: Set(role.id),
                password_hash: Set("x".into()),
                confirmed: Set(true),
                member_since: Set(chrono::Utc::now()),
                last_seen: Set(chrono::Utc::now()),
                avatar_hash: Set("0".repeat(32)),
                ..Default::default()
            }
            .insert(&db)
            .await
            .unwrap();
            ragtime::models::session::create(&db, &t, user.id, false)
                .await
                .unwrap();
        })
    })
    .join()
    .unwrap();
    let cookie = format!("{}={token}", ragtime::web::session::SESSION_COOKIE);
    let page = http_get(port, "/", &cookie);
    assert!(page.contains("Hello, ann!"), "{page}");
    let marker = r#"name="csrf_token" value=""#;
    let start = page.find(marker).unwrap() + marker.len();
    let csrf = &page[start..start + page[start..].find('"').unwrap()];

    // Start a POST and send only half of its body. `Expect: 100-continue` makes the server say
    // when the handler starts reading the body: from then on the request is in flight.
    let body = format!("csrf_token={csrf}");
    let (first, rest) = body.split_at(body.len() / 2);
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "POST /auth/logout HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         Expect: 100-continue\r\n\r\n",
        body.len()
    )
    .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut interim = [0u8; 25];
    stream.read_exact(&mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    stream.write_all(first.as_bytes()).unwrap();
    stream.flush().unwrap();

    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let line = server
            .log
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("the server announces its shutdown");
        if line.contains("shutting down") {
            break;
        }
    }
    // No new connections once shutdown has begun: the listener closes.
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(Instant::now() < deadline, "still accepting connections");
        std::thread::sleep(Duration::from_millis(10));
    }

    // The rest of the body arrives late; the request still completes normally.
    stream.write_all(rest.as_bytes()).unwrap();
    let mut response = String::new();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 303"), "{response}");
    assert!(
        response.to_lowercase().contains("location: /\r\n"),
        "{response}"
    );

    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the server did not exit");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
}

/// One request on an open keep-alive connection; the response's head and body.
fn ask_on(stream: &mut TcpStream, port: u16) -> std::io::Result<(String, String)> {
    write!(
        stream,
        "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"
    )?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line == "\r\n" {
            break;
        }
        head.push_str(&line.to_lowercase());
    }
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok((head, String::from_utf8_lossy(&body).into_owned()))
}

#[test]
fn a_request_on_a_kept_alive_connection_during_shutdown_is_answered_and_told_to_close() {
    let dir = tempfile::tempdir().unwrap();
    let test_db = TestDb::new();
    let mut server = start_server(dir.path(), &test_db.url);
    let port = server.port;
    let mut busy = TcpStream::connect(("127.0.0.1", port)).unwrap();
    busy.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let (head, _) = ask_on(&mut busy, port).unwrap();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(!head.contains("connection: close"), "kept alive: {head}");
    // A client that opened a connection and has not used it yet.
    let mut quiet = TcpStream::connect(("127.0.0.1", port)).unwrap();

    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let stopping = Instant::now();
    let deadline = stopping + Duration::from_secs(10);
    loop {
        let line = server
            .log
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("the server announces its shutdown");
        if line.contains("shutting down") {
            break;
        }
    }
    // The next request on the kept-alive connection is answered, and (once the connection has
    // heard of the shutdown, which follows the announcement closely) told to close.
    let (head, body) = loop {
        let (head, body) = ask_on(&mut busy, port).expect("answered, not cut off");
        assert!(head.starts_with("http/1.1 200"), "{head}");
        if head.contains("connection: close") || stopping.elapsed() > Duration::from_secs(2) {
            break (head, body);
        }
    };
    assert!(head.contains("connection: close"), "{head}");
    assert!(body.contains("ok"), "{body}");
    let mut rest = Vec::new();
    assert_eq!(busy.read_to_end(&mut rest).unwrap(), 0, "then closed");

    // The quiet connection is closed after the drain, and the server exits 0.
    let exit = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            stopping.elapsed() < ragtime::commands::serve::DRAIN + Duration::from_secs(4),
            "the server did not exit"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "{exit:?}");
    quiet
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let mut buf = [0u8; 16];
    let closed = quiet.read(&mut buf);
    assert!(
        matches!(&closed, Ok(0))
            || matches!(&closed, Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset),
        "the quiet connection is closed: {closed:?}"
    );
}

/// Waits for the server to close `stream` (end of stream or a reset), and says how long that
/// took; panics if it is still open after `within`.
fn closed_within(stream: &mut TcpStream, within: Duration) -> Duration {
    let start = Instant::now();
    stream.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 256];
    match stream.read(&mut buf) {
        Ok(0) => start.elapsed(),
        Ok(n) => panic!("an answer: {}", String::from_utf8_lossy(&buf[..n])),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => start.elapsed(),
        Err(e) => panic!("still open after {:?}: {e}", start.elapsed()),
    }
}

#[test]
fn connections_that_keep_the_server_waiting_for_a_request_are_closed_after_the_header_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let test_db = TestDb::new();
    let server = start_server_and(dir.path(), &test_db.url, &[("RAGTIME_HEADER_TIMEOUT", "1")]);
    let port = server.port;
    let connect = || TcpStream::connect(("127.0.0.1", port)).unwrap();

    let mut silent = connect();
    let mut half_a_line = connect();
    half_a_line.write_all(b"GET /heal").unwrap();
    // One header line every 300 ms: each is progress, but the head never ends.
    let mut dripping = connect();
    let mut drip = dripping.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = drip.write_all(b"GET /healthz HTTP/1.1\r\n");
        for i in 0..40 {
            std::thread::sleep(Duration::from_millis(300));
            if drip
                .write_all(format!("X-Drip-{i}: 1\r\n").as_bytes())
                .is_err()
            {
                return;
            }
        }
    });
    for (name, stream) in [
        ("silent", &mut silent),
        ("half a request line", &mut half_a_line),
        ("a header line now and then", &mut dripping),
    ] {
        let open = closed_within(stream, Duration::from_secs(6));
        assert!(open < Duration::from_secs(4), "{name}: open for {open:?}");
    }
    writer.join().unwrap();

    // A kept-alive connection may stay idle far longer between requests (Heroku's router
    // keeps them): it is still served after twice the header timeout.
    let mut kept = connect();
    kept.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let (head, _) = ask_on(&mut kept, port).unwrap();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    std::thread::sleep(Duration::from_secs(2));
    let (head, body) = ask_on(&mut kept, port).expect("still open");
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(body.contains("ok"), "{body}");
}

#[test]
fn connections_beyond_the_cap_wait_until_one_closes() {
    let dir = tempfile::tempdir().unwrap();
    let test_db = TestDb::new();
    let server = start_server_and(
        dir.path(),
        &test_db.url,
        &[
            ("RAGTIME_MAX_CONNECTIONS", "2"),
            ("RAGTIME_HEADER_TIMEOUT", "60"),
        ],
    );
    let port = server.port;
    // Two connections, each answered once: both are held by the server now.
    let mut first = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut second = TcpStream::connect(("127.0.0.1", port)).unwrap();
    for held in [&mut first, &mut second] {
        held.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let (head, _) = ask_on(held, port).unwrap();
        assert!(head.starts_with("http/1.1 200"), "{head}");
    }

    // The third is queued by the kernel, not served: its request gets no answer.
    let mut third = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        third,
        "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    third
        .set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    let mut buf = [0u8; 64];
    let waited = third.read(&mut buf).unwrap_err();
    assert!(
        matches!(
            waited.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
        "{waited}"
    );

    // One of the two goes: the third is served.
    drop(first);
    third
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut response = String::new();
    third.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
}
