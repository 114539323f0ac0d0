//! How big a request body may be. Forms and JSON are read whole, so they get the small limit
//! (`RAGTIME_MAX_BODY_BYTES`); audio uploads (multipart forms, raw `audio/*` or
//! `application/octet-stream` bodies) are
//! streamed to disk file by file, each file held to `RAGTIME_MAX_TRACK_BYTES` as it arrives,
//! so their whole body may hold a full album.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::Limited;

use crate::error::AppError;
use crate::state::AppState;

pub async fn limit_bodies(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let media = &state.config.media;
    let limit = if is_upload(req.headers()) {
        media
            .max_track_bytes
            .saturating_mul(media.max_tracks)
            .saturating_add(state.config.max_body_bytes as u64)
    } else {
        state.config.max_body_bytes as u64
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return AppError::TooLarge.into_response();
    }
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    next.run(req.map(|body| Body::new(Limited::new(body, limit))))
        .await
}

/// A body we stream rather than read whole.
pub fn is_upload(headers: &HeaderMap) -> bool {
    let Some(kind) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let kind = kind.trim_start().to_ascii_lowercase();
    kind.starts_with("multipart/form-data")
        || kind.starts_with("audio/")
        || kind.starts_with("application/octet-stream")
}
