//! A form that may carry audio files (`multipart/form-data`): its text fields read as a normal
//! form, each file streamed to a temporary file as it arrives (see `media::upload`). A plain
//! URL-encoded form is taken too, with no files, so the same handler serves both.

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header;
use serde::de::DeserializeOwned;

use super::body_limit::is_upload;
use super::extract::Form;
use crate::error::AppError;
use crate::media::upload::{Received, UploadError};
use crate::state::AppState;

/// The name of the file inputs.
pub const FILES: &str = "audio";
/// A text field longer than this is refused (a form's fields are small; files are not text).
const MAX_TEXT_BYTES: usize = 256 * 1024;

pub struct UploadForm<T> {
    pub fields: T,
    pub files: Vec<Received>,
    /// The first file refused while it arrived (over the size limit, cut short), by name.
    pub refused: Option<(String, UploadError)>,
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for UploadForm<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, AppError> {
        if !is_upload(req.headers()) {
            let Form(fields) = Form::<T>::from_request(req, state).await?;
            return Ok(UploadForm {
                fields,
                files: Vec::new(),
                refused: None,
            });
        }
        let mut multipart = Multipart::from_request(req, state)
            .await
            .map_err(|r| AppError::BadRequest(r.body_text()))?;
        let mut text: Vec<(String, String)> = Vec::new();
        let mut files = Vec::new();
        let mut refused = None;
        while let Some(field) = multipart.next_field().await.map_err(bad_part)? {
            let name = field.name().unwrap_or_default().to_owned();
            if name == FILES {
                let filename = field.file_name().unwrap_or_default().to_owned();
                match state.media.receive(field, Some(filename.clone())).await {
                    // An empty file input sends an empty, nameless part.
                    Ok(r) if r.size == 0 && filename.is_empty() => {}
                    Ok(r) => files.push(r),
                    Err(e) => {
                        refused = Some((filename, e));
                        break;
                    }
                }
            } else {
                let value = field.text().await.map_err(bad_part)?;
                if value.len() > MAX_TEXT_BYTES {
                    return Err(AppError::TooLarge);
                }
                text.push((name, value));
            }
        }
        // The text fields through the ordinary form reader: same rules, same errors.
        let encoded = Request::builder()
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(
                form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(text)
                    .finish(),
            ))
            .map_err(anyhow::Error::from)?;
        let Form(fields) = Form::<T>::from_request(encoded, state).await?;
        Ok(UploadForm {
            fields,
            files,
            refused,
        })
    }
}

fn bad_part(e: axum::extract::multipart::MultipartError) -> AppError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        AppError::TooLarge
    } else {
        AppError::BadRequest(format!("The form could not be read: {}", e.body_text()))
    }
}
