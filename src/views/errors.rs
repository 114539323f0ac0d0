//! The one place that turns any 4xx/5xx response without a body of its own — an
//! [`AppError`](crate::error::AppError), axum's 405, tower-http's 413 and timeouts — into the
//! site's error page, or into `{"error": ..., "message": ...}` when the client prefers JSON or
//! calls the API.

use askama::Template;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::error::{ErrorBody, ErrorMessage, Rendered};
use crate::state::AppState;
use crate::templates::ErrorTemplate;
use crate::web::layout::Layout;
use crate::web::scheme::Scheme;
use crate::web::session::Session;

/// The default message for a status without one of its own.
pub fn default_message(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "The request could not be understood.",
        401 => "You need to authenticate to see this.",
        403 => "You do not have permission to do that.",
        404 => "The page you asked for does not exist.",
        405 => "That method is not allowed here.",
        408 => "The request took too long to arrive.",
        413 => "The request is too large.",
        415 => "That content type is not supported here.",
        422 => "The request could not be processed.",
        429 => "Too many requests. Please wait a little and try again.",
        503 => "The server took too long to answer. Please try again.",
        _ if status.is_server_error() => "Something went wrong on our side. It has been logged.",
        _ => "The request could not be completed.",
    }
}

/// The short name in JSON errors: "not found", "payload too large"...
pub fn short_name(status: StatusCode) -> String {
    status
        .canonical_reason()
        .unwrap_or("error")
        .to_ascii_lowercase()
}

/// JSON for everything under `/api/`, for the health check, and for clients that prefer JSON
/// to HTML.
pub fn wants_json(headers: &HeaderMap, path: &str) -> bool {
    if path == "/api" || path.starts_with("/api/") || path == "/healthz" {
        return true;
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let (mut json, mut html) = (0.0f32, 0.0f32);
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        match media.as_str() {
            "application/json" | "application/*" => json = json.max(q),
            "text/html" | "text/*" => html = html.max(q),
            _ => {}
        }
    }
    json > html
}

/// Middleware: render every error response that has no body of its own.
pub async fn error_pages(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let json = wants_json(req.headers(), req.uri().path());
    let session = req.extensions().get::<Session>().cloned();
    let scheme = Scheme::of(req.headers());
    let res = next.run(req).await;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    if parts.extensions.get::<Rendered>().is_some() {
        return Response::from_parts(parts, body);
    }
    drop(body);
    let message = match parts.extensions.remove::<ErrorMessage>() {
        Some(ErrorMessage(m)) => m,
        None => default_message(status).to_owned(),
    };
    let (content_type, body) = if json {
        let body = ErrorBody {
            error: short_name(status),
            message,
        };
        (
            "application/json",
            serde_json::to_string(&body).unwrap_or_default(),
        )
    } else {
        let layout = Layout::for_error(&state, session, status.is_server_error(), scheme).await;
        let template = ErrorTemplate {
            layout: &layout,
            code: status.as_u16(),
            title: status.canonical_reason().unwrap_or("Error"),
            message: &message,
        };
        match template.render() {
            Ok(html) => ("text/html; charset=utf-8", html),
            Err(e) => {
                tracing::error!(error = %e, "cannot render the error page");
                ("text/plain; charset=utf-8", message)
            }
        }
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts
        .headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // A 500 page must never be cached by a proxy as if it were the content.
    parts
        .headers
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // The body depends on Accept; shared caches must keep the variants apart.
    parts
        .headers
        .append(header::VARY, HeaderValue::from_static("accept"));
    parts.extensions.insert(Rendered);
    Response::from_parts(parts, Body::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn browsers_get_html_and_json_clients_get_json() {
        let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
        assert!(!wants_json(&accept(browser), "/x"));
        assert!(wants_json(&accept("application/json"), "/x"));
        assert!(!wants_json(&accept("*/*"), "/x"));
        assert!(!wants_json(&HeaderMap::new(), "/x"));
        assert!(wants_json(
            &accept("text/html;q=0.5, application/json"),
            "/x"
        ));
        assert!(!wants_json(&accept("application/json, text/html"), "/x"));
    }

    #[test]
    fn the_api_always_gets_json() {
        assert!(wants_json(&accept("text/html"), "/api/v1/users/1"));
        assert!(!wants_json(&accept("text/html"), "/apiary"));
    }
}
