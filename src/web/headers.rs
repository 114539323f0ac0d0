//! Security headers on every response, in every configuration (Flask-Talisman's job), and the
//! redirect to HTTPS when it is enforced.

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::state::AppState;
use crate::web::client::ClientInfo;

pub const HSTS: &str = "max-age=31556926; includeSubDomains";
pub const PERMISSIONS_POLICY: &str = "accelerometer=(), autoplay=(), camera=(), \
    display-capture=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), \
    midi=(), payment=(), usb=(), interest-cohort=()";

/// Middleware: add the headers unless a handler chose its own.
pub async fn security_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let https = req
        .extensions()
        .get::<ClientInfo>()
        .is_some_and(ClientInfo::is_https);
    let mut res = next.run(req).await;
    let headers = res.headers_mut();
    let mut set = |name: HeaderName, value: HeaderValue| {
        headers.entry(name).or_insert(value);
    };
    set(header::CONTENT_SECURITY_POLICY, state.csp.clone());
    set(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
    set(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    set(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    set(
        HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static(PERMISSIONS_POLICY),
    );
    set(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    // Wherever the public site is https (as for `Secure` cookies), but only on answers that
    // travel over https: RFC 6797 forbids the header on plain HTTP.
    if https && state.config.proxies.https {
        set(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    res
}

/// Middleware: when HTTPS is enforced, send plain-HTTP requests to the same URL on https —
/// 301 for GET and HEAD, 308 otherwise so the method and body are kept.
pub async fn https_redirect(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let client = req.extensions().get::<ClientInfo>();
    let Some(client) = client.filter(|c| state.config.https_redirect && !c.is_https()) else {
        return next.run(req).await;
    };
    // The configured host, never the request's: a redirect must not lead elsewhere.
    let host = &client.host;
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let status = if matches!(*req.method(), Method::GET | Method::HEAD) {
        StatusCode::MOVED_PERMANENTLY
    } else {
        StatusCode::PERMANENT_REDIRECT
    };
    match HeaderValue::from_str(&format!("https://{host}{path}")) {
        Ok(location) => (status, [(header::LOCATION, location)]).into_response(),
        Err(_) => StatusCode::BAD_REQUEST.into_response(),
    }
}
