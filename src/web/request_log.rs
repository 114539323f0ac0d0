//! One log line per request — method, route, status, latency, client, user and request id —
//! and the request id itself: Heroku's `X-Request-Id` when it has the router's shape, a new one
//! otherwise, returned in the response and attached to every log line of the request.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::crypto::random_token;
use crate::web::client::ClientInfo;
use crate::web::session::LoggedUser;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// The shape Heroku's router lets through: 20–200 characters of `[A-Za-z0-9+/=-]`. Anything
/// else (a client's free text) is replaced, so it cannot forge or garble log lines.
fn acceptable(id: &str) -> bool {
    (20..=200).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-'))
}

pub async fn log_requests(mut req: Request, next: Next) -> Response {
    let start = Instant::now();
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map(str::to_owned)
        .unwrap_or_else(|| random_token(18).replace('_', "-"));
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().clone();
    // The route pattern, never the raw path: paths can carry tokens (confirmation links).
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let client = req
        .extensions()
        .get::<ClientInfo>()
        .map(|c| c.ip.to_string())
        .unwrap_or_default();

    let span = tracing::info_span!("request", request_id = %id);
    let mut res = next.run(req).instrument(span.clone()).await;

    let route = route
        .or_else(|| {
            res.extensions()
                .get::<MatchedPath>()
                .map(|p| p.as_str().to_owned())
        })
        .unwrap_or_else(|| "-".to_owned());
    let user = res
        .extensions()
        .get::<LoggedUser>()
        .map(|u| u.0.to_string())
        .unwrap_or_else(|| "-".to_owned());
    let status = res.status().as_u16();
    let latency_ms = start.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| {
        tracing::info!(
            target: "ragtime::request",
            %method, route, status, latency_ms = format_args!("{latency_ms:.2}"), client, user,
            "request"
        )
    });
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, v);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::acceptable;

    #[test]
    fn request_ids_of_the_routers_shape_are_kept_and_others_are_not() {
        assert!(acceptable("f9ed4675-f4c6-4b4b-8b1f-2b2b3b4b5b6b"));
        assert!(!acceptable("short"));
        assert!(!acceptable("has spaces in it, which the router drops"));
        assert!(!acceptable(&"a".repeat(201)));
    }
}
