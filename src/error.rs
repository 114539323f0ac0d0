//! What can go wrong while answering a request: one type that every handler and extractor
//! returns, for the site and the API alike.
//!
//! An [`AppError`] renders no page itself. It becomes a bare status carrying its message (and,
//! for an internal error, the details for the administrator's mail) as response extensions;
//! the error-page layer (`views::errors`) turns that into the site's page or into JSON.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use serde::Serialize;
use utoipa::ToSchema;

use crate::models::forms::FieldErrors;

/// The challenges of a 401: Basic (email and password, or a token with an empty password)
/// and Bearer (a token).
pub const CHALLENGES: [&str; 2] = [
    "Basic realm=\"ragtime\", charset=\"UTF-8\"",
    "Bearer realm=\"ragtime\"",
];

#[derive(Debug)]
pub enum AppError {
    /// 400: the request itself is malformed (a broken form or body, a missing CSRF token).
    BadRequest(String),
    /// 400 naming every field at fault (forms on the site re-render instead).
    Invalid(FieldErrors),
    /// 401, with the ways to authenticate in `WWW-Authenticate`.
    Unauthorized(String),
    /// 403, with a reason when there is one worth giving.
    Forbidden(Option<String>),
    /// 404, with what was missing when the caller named it.
    NotFound(Option<String>),
    /// 409: the request contradicts the current state.
    Conflict(String),
    /// 413: the body is over the configured limit.
    TooLarge,
    /// 415: the body is not in a type this route takes.
    UnsupportedMediaType(String),
    /// 422: well-formed, but not what this route takes.
    Unprocessable(String),
    /// 429: the client should wait this many seconds.
    TooMany { retry_after: u64 },
    /// 503: a service we depend on is not answering.
    Unavailable(String),
    /// 500: logged once with its whole cause chain, shown as a generic message.
    Internal(anyhow::Error),
}

/// Any other error is an internal one: `?` on a database call yields a 500.
impl<E: Into<anyhow::Error>> From<E> for AppError {
    fn from(err: E) -> Self {
        AppError::Internal(err.into())
    }
}

impl AppError {
    /// 404 for an id that names nothing: "No composition with id 7."
    pub fn no_such(what: &str, id: i32) -> Self {
        AppError::NotFound(Some(format!("No {what} with id {id}.")))
    }

    pub fn forbidden(message: &str) -> Self {
        AppError::Forbidden(Some(message.to_owned()))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) | AppError::Invalid(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::TooMany { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the user is told; `None` leaves the status's default message.
    fn message(&self) -> Option<String> {
        match self {
            AppError::BadRequest(m)
            | AppError::Unauthorized(m)
            | AppError::Conflict(m)
            | AppError::UnsupportedMediaType(m)
            | AppError::Unprocessable(m)
            | AppError::Unavailable(m) => Some(m.clone()),
            AppError::Forbidden(m) | AppError::NotFound(m) => m.clone(),
            AppError::Invalid(fields) => Some(
                fields
                    .iter()
                    .map(|(field, problem)| format!("Invalid `{field}`: {problem}"))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            AppError::TooMany { retry_after } => Some(format!(
                "Too many attempts. Please wait {} and try again.",
                wait_words(*retry_after)
            )),
            AppError::TooLarge | AppError::Internal(_) => None,
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

/// The body of an error in JSON: under `/api/`, and for clients that prefer JSON.
#[derive(Serialize, ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    /// The status in words, lower-cased: "bad request", "not found", "too many requests"...
    #[schema(example = "bad request")]
    pub error: String,
    /// What went wrong, for a person. When a field of the request is at fault, it is named.
    #[schema(example = "Invalid `title`: The title can be at most 64 characters long.")]
    pub message: String,
}

/// The user-facing message of an error response, read by the error-page layer.
#[derive(Clone, Debug)]
pub struct ErrorMessage(pub String);

/// Marks a response whose body is already final (a page, a form with its errors, a
/// deliberate JSON body): the error-page layer leaves it alone.
#[derive(Clone, Copy, Debug)]
pub struct Rendered;

/// Attached to a 500 response by whatever produced it (an [`AppError::Internal`], a caught
/// panic), for the administrator's mail.
#[derive(Clone, Debug)]
pub struct InternalError {
    /// What kind of failure this is: errors of one kind share a mail throttle.
    pub kind: String,
    /// The whole cause chain, for the administrator.
    pub detail: String,
}

impl InternalError {
    pub fn new(kind: &str, detail: String) -> Self {
        InternalError {
            kind: error_kind(kind),
            detail,
        }
    }
}

/// The failure's message with numbers masked and length bounded, so "timeout after 5001 ms"
/// and "timeout after 5002 ms" are one kind.
fn error_kind(message: &str) -> String {
    let mut masked = String::new();
    let mut in_number = false;
    for c in message.chars().filter(|c| !c.is_control()) {
        let digit = c.is_ascii_digit();
        if !(digit && in_number) {
            masked.push(if digit { '#' } else { c });
        }
        in_number = digit;
        if masked.chars().count() >= 120 {
            break;
        }
    }
    if masked.is_empty() {
        "unknown error".to_owned()
    } else {
        masked
    }
}

/// Seconds a client is asked to wait when a service we depend on is not answering.
const UNAVAILABLE_RETRY_SECONDS: u32 = 5;

impl AppError {
    /// An internal error that only says the database cannot be reached right now is a 503,
    /// not a fault of ours to mail about; wherever in the cause chain the database's error is
    /// (a transaction's error wraps it).
    fn or_unavailable(self) -> Self {
        match self {
            AppError::Internal(err)
                if err
                    .chain()
                    .filter_map(|e| e.downcast_ref::<sea_orm::DbErr>())
                    .any(crate::db::is_unreachable) =>
            {
                tracing::warn!(error = %err, "the database is unreachable");
                AppError::Unavailable(
                    "The database is not answering. Please try again in a moment.".into(),
                )
            }
            other => other,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let this = self.or_unavailable();
        let mut res = this.status().into_response();
        let message = this.message();
        match this {
            AppError::Internal(err) => {
                let detail = format!("{err:#}");
                tracing::error!(error = detail, "unexpected error");
                res.extensions_mut()
                    .insert(InternalError::new(&err.root_cause().to_string(), detail));
            }
            AppError::TooMany { retry_after } => {
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after.max(1)));
            }
            AppError::Unavailable(_) => {
                res.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(UNAVAILABLE_RETRY_SECONDS),
                );
            }
            AppError::Unauthorized(_) => {
                for challenge in CHALLENGES {
                    res.headers_mut().append(
                        header::WWW_AUTHENTICATE,
                        HeaderValue::from_static(challenge),
                    );
                }
            }
            _ => {}
        }
        if let Some(message) = message {
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
            return AppError::TooLarge;
        }
        source = e.source();
    }
    AppError::BadRequest("The request body could not be read.".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_that_differ_only_in_numbers_are_one_kind() {
        assert_eq!(
            error_kind("pool timed out after 5001 ms"),
            error_kind("pool timed out after 30000 ms")
        );
        assert_ne!(error_kind("pool timed out"), error_kind("disk full"));
        assert_eq!(error_kind("a\nb").len(), 2);
        assert_eq!(error_kind(&"x".repeat(500)).len(), 120);
    }

    #[test]
    fn invalid_fields_are_named_in_a_stable_order() {
        let fields = FieldErrors::from([("title", "Too long.".into()), ("body", "Empty.".into())]);
        assert_eq!(
            AppError::Invalid(fields).message().as_deref(),
            Some("Invalid `body`: Empty. Invalid `title`: Too long.")
        );
    }

    #[test]
    fn a_wait_is_said_in_words() {
        assert_eq!(wait_words(30), "a minute");
        assert_eq!(wait_words(61), "2 minutes");
        assert_eq!(wait_words(7200), "2 hours");
    }
}
