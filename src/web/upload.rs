//! A form that may carry audio files (`multipart/form-data`): its text fields read as a normal
//! form, each file streamed to a temporary file as it arrives (see `media::upload`). A plain
//! URL-encoded form is taken too, with no files, so the same handler serves both.
//!
//! Extracting only looks at the headers; the handler checks who may upload where first, then
//! [`UploadForm::read`]s the body against the room left, so nobody's files are received (let
//! alone decoded) for a release that cannot take them.

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{HeaderMap, Method, header};
use serde::de::DeserializeOwned;

use super::extract::Form;
use crate::error::AppError;
use crate::media::upload::{Received, UploadError};
use crate::models::track::Room;
use crate::state::AppState;

/// The name of the file inputs.
pub const FILES: &str = "audio";
/// A form has a few text fields and at most a release's worth of files.
const MAX_PARTS: usize = 64;

pub enum UploadForm<T> {
    /// A URL-encoded form, read already (it is small).
    Plain(T),
    /// A multipart body, not read yet.
    Multipart(Multipart),
}

pub struct Uploaded<T> {
    pub fields: T,
    pub files: Vec<Received>,
    /// The first file refused while it arrived (over a limit, cut short), by name; nothing
    /// after it was read.
    pub refused: Option<(String, UploadError)>,
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for UploadForm<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, AppError> {
        if !is_multipart(req.headers()) {
            let Form(fields) = Form::<T>::from_request(req, state).await?;
            return Ok(UploadForm::Plain(fields));
        }
        let multipart = Multipart::from_request(req, state)
            .await
            .map_err(|r| AppError::BadRequest(r.body_text()))?;
        Ok(UploadForm::Multipart(multipart))
    }
}

fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| {
            t.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        })
}

impl<T: DeserializeOwned + Send> UploadForm<T> {
    /// Reads the body: text fields up to the form limit, files while `room` admits them.
    pub async fn read(self, state: &AppState, room: Room) -> Result<Uploaded<T>, AppError> {
        let mut multipart = match self {
            UploadForm::Plain(fields) => {
                return Ok(Uploaded {
                    fields,
                    files: Vec::new(),
                    refused: None,
                });
            }
            UploadForm::Multipart(m) => m,
        };
        let text_limit = state.config.max_body_bytes;
        let mut text: Vec<(String, String)> = Vec::new();
        let mut text_bytes = 0;
        let mut files: Vec<Received> = Vec::new();
        let mut file_bytes = 0;
        let mut refused = None;
        let mut parts = 0;
        while let Some(mut field) = multipart.next_field().await.map_err(bad_part)? {
            parts += 1;
            if parts > MAX_PARTS {
                return Err(AppError::BadRequest("The form has too many parts.".into()));
            }
            let name = field.name().unwrap_or_default().to_owned();
            if name != FILES {
                // Read piece by piece, so a huge "text" field stops at the form limit.
                let mut value = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(bad_part)? {
                    text_bytes += chunk.len();
                    if text_bytes > text_limit {
                        return Err(AppError::TooLarge);
                    }
                    value.extend_from_slice(&chunk);
                }
                let value = String::from_utf8(value).map_err(|_| {
                    AppError::BadRequest("The form's text is not valid UTF-8.".into())
                })?;
                text.push((name, value));
                continue;
            }
            let filename = field.file_name().unwrap_or_default().to_owned();
            let next = files.len() as u64 + 1;
            if let Err(no_room) = room.admits(next, file_bytes) {
                refused = Some((filename, no_room.into()));
                break;
            }
            match state.media.receive(field, Some(filename.clone())).await {
                // An empty file input sends an empty, nameless part.
                Ok(r) if r.size == 0 && filename.is_empty() => {}
                Ok(r) => {
                    file_bytes += r.size;
                    if let Err(no_room) = room.admits(next, file_bytes) {
                        refused = Some((filename, no_room.into()));
                        break;
                    }
                    files.push(r);
                }
                Err(e) => {
                    refused = Some((filename, e));
                    break;
                }
            }
        }
        // The text fields through the ordinary form reader: same rules, same errors.
        let encoded = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(text)
            .finish();
        // A POST: a GET's form would be read from its (empty) query string.
        let request = Request::builder()
            .method(Method::POST)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(encoded))
            .map_err(anyhow::Error::from)?;
        let Form(fields) = Form::<T>::from_request(request, state).await?;
        Ok(Uploaded {
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
