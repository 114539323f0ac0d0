//! One log line per request, with the client address resolved through the trusted proxies and
//! the request id — and nothing secret.

use std::cell::RefCell;
use std::io::Write;
use std::sync::Once;

use crate::helpers::TestApp;
use axum::body::Body;
use axum::http::Method;

thread_local! {
    /// What the logs said on this thread while a test listened.
    static CAPTURED: RefCell<Option<Vec<u8>>> = const { RefCell::new(None) };
}

/// Writes a log line to the listening test of the thread it was logged on, if any.
struct ThisThread;

impl Write for ThisThread {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURED.with(|c| {
            if let Some(out) = c.borrow_mut().as_mut() {
                out.extend_from_slice(buf);
            }
        });
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One subscriber for the whole test binary, installed once. (A subscriber per test, set as
/// the thread's default, sometimes heard nothing: tracing caches per call site whether anyone
/// listens, and other threads installing and dropping theirs at the same moment could leave a
/// thread's own out of that cache.) Each test's thread runs its app, so its lines land in its
/// own buffer.
fn listen() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_writer(|| ThisThread)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
    });
    CAPTURED.with(|c| *c.borrow_mut() = Some(Vec::new()));
}

/// The request log line for one request through an app trusting `hops` proxies.
async fn log_line(hops: &str, forwarded_for: &str, path: &str) -> String {
    listen();
    let app = TestApp::with_env(&[("RAGTIME_PROXY_HOPS", hops)]).await;
    let mut client = app.client();
    client.peer = "10.9.8.7:4321".parse().unwrap();
    let req = client
        .request(Method::GET, path)
        .header("x-forwarded-for", forwarded_for)
        .header("x-request-id", "abcdefghij0123456789-req")
        .body(Body::empty())
        .unwrap();
    client.send(req).await;

    let out = CAPTURED.with(|c| c.borrow_mut().take()).unwrap_or_default();
    let out = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("ragtime::request"))
        .collect();
    assert_eq!(lines.len(), 1, "exactly one line per request: {out}");
    lines[0].to_owned()
}

#[tokio::test]
async fn the_request_line_has_method_route_status_latency_and_request_id() {
    let line = log_line("0", "", "/?secret=hunter2").await;
    assert!(line.contains("method=GET"), "{line}");
    assert!(line.contains(r#"route="/""#), "{line}");
    assert!(line.contains("status=200"), "{line}");
    assert!(line.contains("latency_ms="), "{line}");
    assert!(
        line.contains("request_id=abcdefghij0123456789-req"),
        "{line}"
    );
    assert!(
        !line.contains("hunter2"),
        "query strings stay out of logs: {line}"
    );
}

#[tokio::test]
async fn with_no_trusted_proxy_the_client_is_the_peer() {
    let line = log_line("0", "6.6.6.6", "/").await;
    assert!(line.contains(r#"client="10.9.8.7""#), "{line}");
}

#[tokio::test]
async fn with_one_trusted_proxy_the_client_is_the_last_forwarded_address() {
    let line = log_line("1", "6.6.6.6, 203.0.113.7", "/").await;
    assert!(line.contains(r#"client="203.0.113.7""#), "{line}");
}

#[tokio::test]
async fn with_two_trusted_proxies_the_client_is_the_second_to_last() {
    let line = log_line("2", "6.6.6.6, 198.51.100.4, 10.0.0.1", "/").await;
    assert!(line.contains(r#"client="198.51.100.4""#), "{line}");
}

#[tokio::test]
async fn unmatched_routes_are_logged_without_their_path() {
    let line = log_line("0", "", "/confirm/secret-token-value").await;
    assert!(line.contains("status=404"), "{line}");
    assert!(!line.contains("secret-token-value"), "{line}");
}
