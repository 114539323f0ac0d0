//! How big a request body may be. Forms and JSON are read whole, so every body gets the small
//! limit (`RAGTIME_MAX_BODY_BYTES`), counted as it arrives; only the routes that stream audio
//! uploads to disk file by file ([`UPLOAD_ROUTES`]), each file held to
//! `RAGTIME_MAX_TRACK_BYTES` as it arrives, may take a body that holds a full album. The route
//! decides, never the body's declared type, which the client chooses.

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::Limited;

use crate::error::AppError;
use crate::state::AppState;

/// The routes whose handlers stream what they receive: the home page's publish form and the
/// track form (multipart, with files), and the API's raw track upload.
pub const UPLOAD_ROUTES: [(Method, &str); 3] = [
    (Method::POST, "/"),
    (Method::POST, "/edit/{slug}/tracks"),
    (Method::POST, "/api/v1/compositions/{id}/tracks"),
];

/// Middleware (inside the router, so the matched route is known).
pub async fn limit_bodies(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let media = &state.config.media;
    let limit = if takes_uploads(&req) {
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

fn takes_uploads(req: &Request) -> bool {
    let Some(route) = req.extensions().get::<MatchedPath>() else {
        return false;
    };
    UPLOAD_ROUTES
        .iter()
        .any(|(method, path)| req.method() == method && route.as_str() == *path)
}
