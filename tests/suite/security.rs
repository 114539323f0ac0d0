//! The security layer of the deployment lesson: headers, HTTPS enforcement behind a trusted
//! proxy, CSRF, body limits, timeouts, request ids.

use base64::Engine;

use crate::helpers::{PASSWORD, TestApp, TestResponse};
use axum::body::Body;
use axum::http::{Method, StatusCode, header};

const SECURITY_HEADERS: [(&str, &str); 4] = [
    ("x-frame-options", "SAMEORIGIN"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "strict-origin-when-cross-origin"),
    ("permissions-policy", "camera=()"),
];

fn assert_security_headers(res: &TestResponse) {
    let csp = res
        .header("content-security-policy")
        .expect("a Content-Security-Policy");
    assert!(csp.contains("default-src 'self'"), "{csp}");
    // Our own avatars: images from nowhere else.
    assert!(csp.contains("img-src 'self' data:;"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    for (name, expected) in SECURITY_HEADERS {
        let value = res
            .header(name)
            .unwrap_or_else(|| panic!("missing {name} on a {} response", res.status));
        assert!(value.contains(expected), "{name}: {value}");
    }
}

#[tokio::test]
async fn every_security_header_is_on_an_html_page_a_json_error_and_a_404() {
    let app = TestApp::new().await;
    let mut client = app.client();

    let page = client.get("/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert_security_headers(&page);

    let req = client
        .request(Method::GET, "/no-such-page")
        .header(header::ACCEPT, "application/json")
        .body(Body::empty())
        .unwrap();
    let json_error = client.send(req).await;
    assert_eq!(json_error.status, StatusCode::NOT_FOUND);
    assert_eq!(json_error.header("content-type"), Some("application/json"));
    assert_security_headers(&json_error);

    let html_404 = client.get("/no-such-page").await;
    assert_eq!(html_404.status, StatusCode::NOT_FOUND);
    assert_security_headers(&html_404);

    let asset = client.get(ragtime::web::assets::url("style.css")).await;
    assert_eq!(asset.status, StatusCode::OK);
    assert_security_headers(&asset);
}

#[tokio::test]
async fn no_hsts_and_no_redirect_when_https_is_not_enforced() {
    let app = TestApp::with_env(&[("RAGTIME_PROXY_HOPS", "1")]).await;
    let mut client = app.client();
    let req = client
        .request(Method::GET, "/")
        .header("x-forwarded-proto", "http")
        .body(Body::empty())
        .unwrap();
    let res = client.send(req).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.header("strict-transport-security"), None);
}

fn enforced() -> [(&'static str, &'static str); 3] {
    [
        ("HTTPS_REDIRECT", "true"),
        ("RAGTIME_PROXY_HOPS", "1"),
        ("RAGTIME_SERVER_NAME", "ragtime.example"),
    ]
}

async fn get_via_proxy(app: &TestApp, method: Method, path: &str, proto: &str) -> TestResponse {
    let mut client = app.client();
    let req = client
        .request(method, path)
        .header(header::HOST, "ragtime.example")
        .header("x-forwarded-proto", proto)
        .header("x-forwarded-for", "203.0.113.7")
        .body(Body::empty())
        .unwrap();
    client.send(req).await
}

#[tokio::test]
async fn plain_http_is_redirected_to_https_when_enforced() {
    let app = TestApp::with_env(&enforced()).await;

    let res = get_via_proxy(&app, Method::GET, "/user/ann?page=2", "http").await;
    assert_eq!(res.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(
        res.header("location"),
        Some("https://ragtime.example/user/ann?page=2")
    );
    assert_security_headers(&res);

    // Other methods keep their method and body: 308, not 301.
    let res = get_via_proxy(&app, Method::POST, "/auth/logout", "http").await;
    assert_eq!(res.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(
        res.header("location"),
        Some("https://ragtime.example/auth/logout")
    );
}

#[tokio::test]
async fn the_https_redirect_goes_to_the_configured_host_whatever_the_request_says() {
    let app = TestApp::with_env(&enforced()).await;
    let mut client = app.client();
    let req = client
        .request(Method::GET, "/x?y=1")
        .header(header::HOST, "evil.example")
        .header("x-forwarded-proto", "http")
        .header("x-forwarded-host", "evil.example")
        .body(Body::empty())
        .unwrap();
    let res = client.send(req).await;
    assert_eq!(res.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(
        res.header("location"),
        Some("https://ragtime.example/x?y=1")
    );
}

#[tokio::test]
async fn https_responses_carry_hsts_when_enforced() {
    let app = TestApp::with_env(&enforced()).await;
    let res = get_via_proxy(&app, Method::GET, "/", "https").await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(
        res.header("strict-transport-security"),
        Some("max-age=31556926; includeSubDomains")
    );
}

#[tokio::test]
async fn a_forged_forwarded_proto_before_the_trusted_hop_does_not_count() {
    let app = TestApp::with_env(&enforced()).await;
    // The client claimed https; the one trusted proxy appended what it saw: http.
    let res = get_via_proxy(&app, Method::GET, "/", "https, http").await;
    assert_eq!(res.status, StatusCode::MOVED_PERMANENTLY);
}

#[tokio::test]
async fn forwarded_proto_is_not_believed_without_a_trusted_hop() {
    let app = TestApp::with_env(&[
        ("HTTPS_REDIRECT", "true"),
        ("RAGTIME_SERVER_NAME", "ragtime.example"),
    ])
    .await;
    let res = get_via_proxy(&app, Method::GET, "/", "https").await;
    assert_eq!(res.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(res.header("location"), Some("https://ragtime.example/"));
}

#[tokio::test]
async fn session_cookies_are_secure_httponly_and_lax_under_https() {
    let app = TestApp::with_env(&enforced()).await;
    let user = app.create_user("ann").await;
    let mut client = app.logged_in_client(&user).await;
    let req = client
        .request(Method::GET, "/")
        .header(header::HOST, "ragtime.example")
        .header("x-forwarded-proto", "https")
        .body(Body::empty())
        .unwrap();
    let token = client.send(req).await.csrf_token();
    let req = client
        .request(Method::POST, "/auth/logout")
        .header(header::HOST, "ragtime.example")
        .header("x-forwarded-proto", "https")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("csrf_token={token}")))
        .unwrap();
    let res = client.send(req).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let cookies: Vec<&str> = res
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert!(!cookies.is_empty());
    for c in cookies {
        assert!(c.contains("Secure"), "{c}");
        assert!(c.contains("HttpOnly"), "{c}");
        assert!(c.contains("SameSite=Lax"), "{c}");
    }
}

/// The production configuration, behind one proxy (or none): its absolute URLs say https.
fn production(hops: &'static str) -> [(&'static str, &'static str); 3] {
    [
        ("RAGTIME_CONFIG", "production"),
        ("RAGTIME_PROXY_HOPS", hops),
        ("RAGTIME_SERVER_NAME", "ragtime.example"),
    ]
}

fn set_cookies(res: &TestResponse) -> Vec<String> {
    res.headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn production_cookies_are_secure_whatever_scheme_the_request_arrived_by() {
    // No trusted proxy says https (a TLS terminator that sends no X-Forwarded-Proto): the
    // request looks like plain HTTP, but the site's URLs are https, and so are its cookies.
    let app = TestApp::with_env(&production("0")).await;
    let user = app.create_user("ann").await;
    let mut client = app.logged_in_client(&user).await;
    let res = client.get("/followed").await;
    assert_eq!(res.status, StatusCode::OK);
    let tab = set_cookies(&res);
    assert!(
        tab.iter().any(|c| c.starts_with("show_followed=")),
        "{tab:?}"
    );
    let token = client.get("/").await.csrf_token();
    let res = client
        .post_form("/auth/logout", &[("csrf_token", &token)])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let session = set_cookies(&res);
    assert!(
        session
            .iter()
            .any(|c| c.starts_with(ragtime::web::session::SESSION_COOKIE)),
        "{session:?}"
    );
    for c in tab.iter().chain(&session) {
        assert!(c.contains("; Secure"), "{c}");
        assert!(c.contains("HttpOnly"), "{c}");
    }
}

#[tokio::test]
async fn production_sends_hsts_over_https_without_https_redirect_and_never_over_http() {
    let app = TestApp::with_env(&production("1")).await;
    let res = get_via_proxy(&app, Method::GET, "/", "https").await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(
        res.header("strict-transport-security"),
        Some(ragtime::web::headers::HSTS)
    );
    // RFC 6797: not on an answer that travelled over plain HTTP.
    let res = get_via_proxy(&app, Method::GET, "/", "http").await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.header("strict-transport-security"), None);
}

// --- CSRF -------------------------------------------------------------------------------

#[tokio::test]
async fn post_without_a_csrf_token_is_refused_with_a_400_page() {
    let app = TestApp::new().await;
    let user = app.create_user("ann").await;
    let mut client = app.logged_in_client(&user).await;
    let res = client.post_form("/auth/logout", &[]).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(
        res.body.contains("The CSRF token is missing."),
        "{}",
        res.body
    );
    assert!(res.body.contains("<html"), "an HTML page in the layout");
    // The session survived the forged request.
    assert!(client.get("/").await.body.contains("Hello, ann!"));
}

#[tokio::test]
async fn post_with_a_wrong_csrf_token_is_refused() {
    let app = TestApp::new().await;
    let user = app.create_user("ann").await;
    let mut client = app.logged_in_client(&user).await;
    for wrong in ["nonsense", "", &"A".repeat(86)] {
        let res = client
            .post_form("/auth/logout", &[("csrf_token", wrong)])
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "token {wrong:?}");
        assert!(res.body.contains("CSRF token is invalid"), "{}", res.body);
    }
    assert!(client.get("/").await.body.contains("Hello, ann!"));
}

#[tokio::test]
async fn a_csrf_token_from_another_session_is_refused() {
    let app = TestApp::new().await;
    let ann = app.create_user("ann").await;
    let bob = app.create_user("bob").await;
    let mut ann_client = app.logged_in_client(&ann).await;
    let mut bob_client = app.logged_in_client(&bob).await;
    let bobs_token = bob_client.get("/").await.csrf_token();
    let res = ann_client
        .post_form("/auth/logout", &[("csrf_token", &bobs_token)])
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(ann_client.get("/").await.body.contains("Hello, ann!"));
}

#[tokio::test]
async fn post_with_the_right_token_goes_through_in_a_field_or_a_header() {
    let app = TestApp::new().await;
    let user = app.create_user("ann").await;

    let mut client = app.logged_in_client(&user).await;
    let token = client.get("/").await.csrf_token();
    let res = client
        .post_form("/auth/logout", &[("csrf_token", &token)])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.header("location"), Some("/"));
    let home = client.get("/").await;
    assert!(home.body.contains("Welcome to Ragtime"));
    assert!(
        home.body.contains("You have been logged out."),
        "flash shown once"
    );
    assert!(
        !client
            .get("/")
            .await
            .body
            .contains("You have been logged out.")
    );

    let mut client = app.logged_in_client(&user).await;
    let token = client.get("/").await.csrf_token();
    let req = client
        .request(Method::POST, "/auth/logout")
        .header("X-CSRFToken", token)
        .body(Body::empty())
        .unwrap();
    assert_eq!(client.send(req).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_cross_origin_post_is_refused_even_with_a_valid_token() {
    let app = TestApp::new().await;
    let user = app.create_user("ann").await;
    let mut client = app.logged_in_client(&user).await;
    let token = client.get("/").await.csrf_token();
    let req = client
        .request(Method::POST, "/auth/logout")
        .header(header::HOST, "localhost:5000")
        .header(header::ORIGIN, "https://evil.example")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("csrf_token={token}")))
        .unwrap();
    let res = client.send(req).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.body.contains("Cross-origin request refused"));

    // The same request from our own origin is fine.
    let req = client
        .request(Method::POST, "/auth/logout")
        .header(header::HOST, "localhost:5000")
        .header(header::ORIGIN, "http://localhost:5000")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("csrf_token={token}")))
        .unwrap();
    assert_eq!(client.send(req).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_post_without_any_session_cookie_is_refused() {
    let app = TestApp::new().await;
    let mut client = app.client();
    let res = client
        .post_form("/auth/logout", &[("csrf_token", "whatever")])
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.body.contains("CSRF session token is missing"));
}

#[tokio::test]
async fn csrf_failures_come_out_as_json_for_json_clients() {
    let app = TestApp::new().await;
    let mut client = app.client();
    let req = client
        .request(Method::DELETE, "/anything")
        .header(header::ACCEPT, "application/json")
        .body(Body::empty())
        .unwrap();
    let res = client.send(req).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let json = res.json();
    assert_eq!(json["error"], "bad request");
    assert!(json["message"].as_str().unwrap().contains("CSRF"));
}

#[tokio::test]
async fn the_api_is_exempt_from_csrf() {
    let app = TestApp::new().await;
    let mut client = app.client();
    let req = client
        .request(Method::POST, "/api/v1/nothing-here-yet")
        .body(Body::empty())
        .unwrap();
    let res = client.send(req).await;
    // Not refused for CSRF: it reaches the router, which has no such route.
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(res.header("content-type"), Some("application/json"));
}

// --- Limits -----------------------------------------------------------------------------

#[tokio::test]
async fn an_oversized_body_gets_413() {
    let app = TestApp::with_env(&[("RAGTIME_MAX_BODY_BYTES", "2048")]).await;
    let user = app.create_user("ann").await;
    let mut client = app.logged_in_client(&user).await;
    let token = client.get("/").await.csrf_token();
    let big = format!("csrf_token={token}&bio={}", "x".repeat(10_000));

    // Announced by Content-Length: refused before reading.
    let req = client
        .request(Method::POST, "/auth/logout")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::CONTENT_LENGTH, big.len())
        .body(Body::from(big.clone()))
        .unwrap();
    let res = client.send(req).await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(res.body.contains("too large"));

    // Streamed without a length: refused once the limit is crossed.
    let chunks: Vec<Result<String, std::io::Error>> = vec![Ok(big.clone())];
    let req = client
        .request(Method::POST, "/auth/logout")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from_stream(futures_stream(chunks)))
        .unwrap();
    let res = client.send(req).await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn a_json_body_declared_as_bytes_is_held_to_the_form_limit_as_it_arrives() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures_util::StreamExt;
    let app = TestApp::with_env(&[("RAGTIME_MAX_BODY_BYTES", "2048")]).await;
    let ann = app.create_user("ann").await;
    let token = ragtime::api::auth::issue(&app.state.signer, &ann);
    // 4 MiB in 16 KiB chunks, without a length, counted as the server takes them.
    let taken = Arc::new(AtomicUsize::new(0));
    let counter = taken.clone();
    let chunks = futures_util::stream::iter(0..256).map(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
        Ok::<_, std::io::Error>(vec![b' '; 16 * 1024])
    });
    let mut client = app.client();
    let req = client
        .request(Method::POST, "/api/v1/compositions/")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        // JSON to the JSON reader (any application/*+json), bytes to a check of the type alone.
        .header(header::CONTENT_TYPE, "application/octet-stream+json")
        .body(Body::from_stream(chunks))
        .unwrap();
    let res = client.send(req).await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", res.body);
    assert_eq!(res.json()["error"], "payload too large");
    // Refused at the first chunk over the limit, not after reading the rest.
    let taken = taken.load(Ordering::SeqCst);
    assert!(taken <= 2, "{taken} chunks read");
}

fn futures_stream(
    chunks: Vec<Result<String, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<String, std::io::Error>> {
    futures_util::stream::iter(chunks)
}

#[tokio::test]
async fn a_request_that_takes_too_long_gets_an_error_page() {
    let app = TestApp::with_env(&[("RAGTIME_REQUEST_TIMEOUT", "1")]).await;
    let user = app.create_user("ann").await;
    let mut client = app.logged_in_client(&user).await;
    // A body that never finishes arriving keeps the request busy past the timeout.
    let never = futures_util::stream::pending::<Result<String, std::io::Error>>();
    let req = client
        .request(Method::POST, "/auth/logout")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from_stream(never))
        .unwrap();
    let res = client.send(req).await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.body.contains("took too long"));
    assert_security_headers(&res);
}

// --- Request ids ------------------------------------------------------------------------

#[tokio::test]
async fn a_request_id_is_generated_when_absent() {
    let app = TestApp::new().await;
    let mut client = app.client();
    let a = client.get("/").await;
    let b = client.get("/").await;
    let id_a = a.header("x-request-id").expect("an id");
    assert!(id_a.len() >= 20);
    assert_ne!(Some(id_a), b.header("x-request-id"));
}

#[tokio::test]
async fn herokus_request_id_is_propagated_and_a_malformed_one_replaced() {
    let app = TestApp::new().await;
    let mut client = app.client();
    let heroku_id = "3e1c1b9a-6f7d-4b8a-9c2d-0e5f6a7b8c9d";
    let req = client
        .request(Method::GET, "/")
        .header("x-request-id", heroku_id)
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        client.send(req).await.header("x-request-id"),
        Some(heroku_id)
    );

    let req = client
        .request(Method::GET, "/")
        .header("x-request-id", "bad id")
        .body(Body::empty())
        .unwrap();
    let res = client.send(req).await;
    assert_ne!(res.header("x-request-id"), Some("bad id"));
}

#[tokio::test]
async fn a_nul_byte_anywhere_is_a_clear_refusal_never_a_500() {
    let app = TestApp::new().await;
    let ann = app.create_user_with_password("ann").await;
    let mut visitor = app.client();
    for path in [
        "/user/%00",
        "/user/a%00b",
        "/followers/%00",
        "/following/%00",
    ] {
        assert_eq!(
            visitor.get(path).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let mut ann_client = app.logged_in_client(&ann).await;
    let token = ann_client.get("/").await.csrf_token();
    for path in ["/follow/%00", "/unfollow/a%00b"] {
        let res = ann_client.post_form(path, &[("csrf_token", &token)]).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{path}");
    }
    let res = crate::helpers::login(&mut visitor, "ann\0@example.com", PASSWORD, "").await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.body.contains("Invalid email or password."));
    let res = crate::helpers::register(&mut visitor, "bob\0@example.com", "bob\0").await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);

    for credentials in ["ann\0@example.com:x", "ann@example.com:x\0y", "\0:"] {
        let basic = base64::engine::general_purpose::STANDARD.encode(credentials);
        let req = visitor
            .request(Method::GET, "/api/v1/compositions/")
            .header(header::AUTHORIZATION, format!("Basic {basic}"))
            .body(Body::empty())
            .unwrap();
        let res = visitor.send(req).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{credentials:?}");
    }
}
