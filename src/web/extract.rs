//! axum's form, path and query extractors, rejecting with our own error type: a malformed
//! request becomes an [`AppError`] where it is found, with axum's explanation as its message.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::AppError;

/// The error for a rejection with this status and explanation.
fn rejected(status: StatusCode, explanation: String) -> AppError {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => AppError::TooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => AppError::UnsupportedMediaType(explanation),
        StatusCode::UNPROCESSABLE_ENTITY => AppError::Unprocessable(explanation),
        s if s.is_server_error() => AppError::Internal(anyhow::anyhow!(explanation)),
        _ => AppError::BadRequest(explanation),
    }
}

/// A URL-encoded form body.
pub struct Form<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Form<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        let axum::Form(value) = axum::Form::from_request(req, state)
            .await
            .map_err(|r| rejected(r.status(), r.body_text()))?;
        Ok(Form(value))
    }
}

/// The parameters of the route's path.
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let axum::extract::Path(value) = axum::extract::Path::from_request_parts(parts, state)
            .await
            .map_err(|r| rejected(r.status(), r.body_text()))?;
        Ok(Path(value))
    }
}

/// The query string.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let axum::extract::Query(value) = axum::extract::Query::from_request_parts(parts, state)
            .await
            .map_err(|r| rejected(r.status(), r.body_text()))?;
        Ok(Query(value))
    }
}
