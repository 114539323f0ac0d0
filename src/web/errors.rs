//! One error type for every handler, and one place that turns any 4xx/5xx response — ours,
//! axum's (405, rejected extractors), tower-http's (413, timeouts) — into the site's error page,
//! or into `{"error": ..., "message": ...}` when the client prefers JSON or calls the API.

use askama::Template;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::templates::ErrorTemplate;
use crate::web::error_mail::InternalError;
use crate::web::page::Page;
use crate::web::session::Session;

/// An error a handler returns. User errors carry a message for the user; internal errors are
/// logged once, with their whole cause chain, and shown as a generic 500.
#[derive(Debug)]
pub struct AppError {
    pub status: StatusCode,
    pub message: Option<String>,
    /// Seconds for a `Retry-After` header (429s).
    pub retry_after: Option<u64>,
    internal: Option<anyhow::Error>,
}

impl AppError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        AppError {
            status,
            message: Some(message.into()),
            retry_after: None,
            internal: None,
        }
    }

    /// 429: the client should wait `retry_after` seconds.
    pub fn too_many_requests(retry_after: u64) -> Self {
        AppError {
            retry_after: Some(retry_after.max(1)),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "Too many attempts. Please wait {} and try again.",
                    wait_words(retry_after)
                ),
            )
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn forbidden() -> Self {
        Self::status(StatusCode::FORBIDDEN)
    }

    pub fn not_found() -> Self {
        Self::status(StatusCode::NOT_FOUND)
    }

    pub fn status(status: StatusCode) -> Self {
        AppError {
            status,
            message: None,
            retry_after: None,
            internal: None,
        }
    }
}

fn wait_words(seconds: u64) -> String {
    match seconds {
        0..=60 => "a minute".to_owned(),
        61..=3599 => format!("{} minutes", seconds.div_ceil(60)),
        _ => format!("{} hours", seconds.div_ceil(3600)),
    }
}

/// Any other error is an internal one: `?` on a database call yields a 500.
impl<E: Into<anyhow::Error>> From<E> for AppError {
    fn from(err: E) -> Self {
        AppError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: None,
            retry_after: None,
            internal: Some(err.into()),
        }
    }
}

/// The user-facing message of an error response, read by [`error_pages`].
#[derive(Clone, Debug)]
pub struct ErrorMessage(pub String);

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let mut res = self.status.into_response();
        if let Some(err) = &self.internal {
            let detail = format!("{err:#}");
            tracing::error!(error = detail, "unexpected error");
            res.extensions_mut()
                .insert(InternalError::new(&err.root_cause().to_string(), detail));
        }
        if let Some(seconds) = self.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(message) = self.message {
            res.extensions_mut().insert(ErrorMessage(message));
        }
        res
    }
}

/// A request body that could not be read: too large for the body-limit layer (413), or
/// broken off by the client (400).
pub fn body_error(err: &axum::Error) -> AppError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return AppError::status(StatusCode::PAYLOAD_TOO_LARGE);
        }
        source = e.source();
    }
    AppError::bad_request("The request body could not be read.")
}

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

/// JSON for everything under `/api/`, and for clients that prefer JSON to HTML.
pub fn wants_json(headers: &HeaderMap, path: &str) -> bool {
    if path == "/api" || path.starts_with("/api/") {
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
pub async fn error_pages(req: Request, next: Next) -> Response {
    let json = wants_json(req.headers(), req.uri().path());
    let session = req.extensions().get::<Session>().cloned();
    let res = next.run(req).await;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    if parts.extensions.get::<Rendered>().is_some() {
        return Response::from_parts(parts, body);
    }
    let message = match parts.extensions.remove::<ErrorMessage>() {
        Some(ErrorMessage(m)) => m,
        None if matches!(status.as_u16(), 400 | 415 | 422) => {
            plain_text_message(&parts.headers, body)
                .await
                .unwrap_or_else(|| default_message(status).to_owned())
        }
        None => default_message(status).to_owned(),
    };
    let (content_type, body) = if json {
        let body = serde_json::json!({ "error": short_name(status), "message": message });
        ("application/json", body.to_string())
    } else {
        let page = match session {
            Some(s) => Page::for_session(s).await,
            None => Page::anonymous(),
        };
        let template = ErrorTemplate {
            page: &page,
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

/// Marks a response whose body is already the final error page (or a deliberate error body).
#[derive(Clone, Copy, Debug)]
pub struct Rendered;

/// axum's own rejections explain themselves in a short plain-text body ("Failed to parse the
/// request body as JSON: ..."); keep that explanation instead of a generic one.
async fn plain_text_message(headers: &HeaderMap, body: Body) -> Option<String> {
    let is_text = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/plain"));
    if !is_text {
        return None;
    }
    let bytes = axum::body::to_bytes(body, 2048).await.ok()?;
    let text = String::from_utf8(bytes.to_vec()).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
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
