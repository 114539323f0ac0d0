//! Tracks: uploading audio to a composition (the raw file as the body), reading, renaming,
//! moving and deleting one. Changing is for the composition's artist or an administrator.

use axum::Json;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::Links;
use super::auth::{ApiReader, ApiUser};
use super::extract::{Id, JsonBody};
use crate::error::{AppError, ErrorBody};
use crate::media::probe::Refusal;
use crate::media::upload::UploadError;
use crate::models::{composition, track};
use crate::state::AppState;

/// A track, as the API shows one.
#[derive(Serialize, ToSchema)]
#[schema(as = Track)]
pub struct TrackOut {
    pub id: i32,
    /// This track in the API.
    #[schema(format = "uri")]
    pub url: String,
    /// The audio itself: Range requests, cached for ever (or a redirect to the bucket).
    #[schema(format = "uri")]
    pub audio_url: String,
    pub composition_id: i32,
    pub title: String,
    /// 1 for the first track.
    pub position: i32,
    pub duration_ms: i64,
    #[schema(example = "mp3")]
    pub container: String,
    #[schema(example = "mp3")]
    pub codec: String,
    #[schema(example = "audio/mpeg")]
    pub mime: String,
    pub sample_rate: i32,
    pub channels: i32,
    /// Average bits per second.
    pub bit_rate: i32,
    pub size_bytes: i64,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// Peak levels (0–255) across the track, for drawing its waveform; empty if unknown.
    /// Left out of lists: a composition or a track read alone carries it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub waveform: Option<Vec<u8>>,
}

pub fn track_json(links: &Links, t: &track::Model) -> TrackOut {
    TrackOut {
        id: t.id,
        url: links.api(&format!("/tracks/{}", t.id)),
        audio_url: links.site(&format!("/audio/{}", t.object_key)),
        composition_id: t.composition_id,
        title: t.title.clone(),
        position: t.position,
        duration_ms: t.duration_ms,
        container: t.container.clone(),
        codec: t.codec.clone(),
        mime: t.mime.clone(),
        sample_rate: t.sample_rate,
        channels: t.channels,
        bit_rate: t.bit_rate,
        size_bytes: t.size_bytes,
        sha256: t.sha256.clone(),
        waveform: Some(t.peaks()),
    }
}

/// What an upload refusal means to an API client.
pub fn refused(e: UploadError) -> AppError {
    match e {
        UploadError::TooLarge { .. } => AppError::TooLarge,
        UploadError::NotAudio(r @ (Refusal::NotAudio | Refusal::Unsupported(_))) => {
            AppError::UnsupportedMediaType(r.to_string())
        }
        UploadError::NotAudio(r) => AppError::Unprocessable(r.to_string()),
        UploadError::Interrupted => AppError::BadRequest(e.to_string()),
        UploadError::Refused(track::Refused::Db(e)) => e.into(),
        // Deleted while the file arrived: as if it had never been there.
        UploadError::Refused(track::Refused::Gone) => AppError::NotFound(None),
        UploadError::Refused(r) => AppError::Conflict(r.to_string()),
        UploadError::Internal(e) => AppError::Internal(e),
    }
}

async fn load(state: &AppState, id: i32) -> Result<(track::Model, composition::Model), AppError> {
    let t = track::find(&state.db, id)
        .await?
        .ok_or_else(|| AppError::no_such("track", id))?;
    let c = composition::find(&state.db, t.composition_id)
        .await?
        .ok_or_else(|| AppError::no_such("track", id))?;
    Ok((t, c))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadParams {
    /// The track's title (1 to 200 characters, no control characters); else the file's own
    /// title tag; else its name. A blank title is no title.
    #[param(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$"
    )]
    title: Option<String>,
}

/// Add a track: the audio file itself is the body. It is checked by its content (MP3, AAC/M4A,
/// Ogg Vorbis or Opus, FLAC, WAV), never by its name or type, and appended to the track list.
#[utoipa::path(
    post,
    path = "/api/v1/compositions/{id}/tracks",
    tag = "tracks",
    params(("id" = i32, Path, minimum = 1, description = "The composition's id."), UploadParams),
    request_body(description = "The audio file's bytes; its content decides what it is.",
        content((String = "audio/*"), (String = "application/octet-stream"))),
    responses(
        (status = 201, description = "Added.", body = TrackOut,
            headers(("Location" = String, description = "The new track's URL."))),
        (status = 400, description = "The body ended before the file was complete.", body = ErrorBody),
        (status = 403, description = "The caller is neither the artist nor an administrator.", body = ErrorBody),
        (status = 404, description = "No composition has this id.", body = ErrorBody),
        (status = 409, description = "The release holds no more tracks, or the artist's quota is used up.", body = ErrorBody),
        (status = 413, description = "The file is over the size limit.", body = ErrorBody),
        (status = 415, description = "Not `audio/...` or `application/octet-stream`, or the content is not audio we take.", body = ErrorBody),
        (status = 422, description = "Audio, but damaged, incomplete or absurd.", body = ErrorBody),
    )
)]
pub async fn upload_track(
    caller: ApiUser,
    State(state): State<AppState>,
    links: Links,
    Id(id): Id,
    Query(params): Query<UploadParams>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    // Raw bytes, declared as audio or as plain bytes: the content decides what they are.
    let is_raw = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|t| t.trim_start().to_ascii_lowercase())
        .is_some_and(|t| t.starts_with("audio/") || t.starts_with("application/octet-stream"));
    if !is_raw {
        return Err(AppError::UnsupportedMediaType(
            "Send the audio file itself as the body, with Content-Type: audio/... or \
             application/octet-stream (its content decides what it is)."
                .into(),
        ));
    }
    let c = composition::find(&state.db, id)
        .await?
        .ok_or_else(|| AppError::no_such("composition", id))?;
    caller.may_change(&c)?;
    // A blank `?title=` is no title: the file's own is used.
    let given = params.title.as_deref().filter(|t| !t.trim().is_empty());
    let title = match given.map(crate::models::forms::track_title) {
        None => None,
        Some(Ok(title)) => Some(title),
        Some(Err(problem)) => {
            return Err(AppError::Invalid([("title", problem.to_owned())].into()));
        }
    };
    let media = &state.media;
    // Refuse before reading a byte what would be refused after.
    track::room(&state.db, &c, &media.limits())
        .await?
        .admits(1, 0)
        .map_err(|e| refused(e.into()))?;
    let received = media
        .receive(body.into_data_stream(), None)
        .await
        .map_err(refused)?;
    let checked = media
        .check(received, title.as_deref())
        .await
        .map_err(refused)?;
    let added = media
        .add(&state.db, &c, vec![checked])
        .await
        .map_err(refused)?;
    let json = track_json(&links, &added[0]);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, json.url.clone())],
        Json(json),
    )
        .into_response())
}

/// One track.
#[utoipa::path(
    get,
    path = "/api/v1/tracks/{id}",
    tag = "tracks",
    params(("id" = i32, Path, minimum = 1, description = "The track's id.")),
    security(("bearer" = []), ("basic" = []), ()),
    responses(
        (status = 200, description = "The track.", body = TrackOut),
        (status = 404, description = "No track has this id.", body = ErrorBody),
    )
)]
pub async fn get_track(
    _caller: ApiReader,
    State(state): State<AppState>,
    links: Links,
    Id(id): Id,
) -> Result<Json<TrackOut>, AppError> {
    let (t, _) = load(&state, id).await?;
    Ok(Json(track_json(&links, &t)))
}

/// What a change takes: either field or both.
#[derive(ToSchema)]
pub struct UpdateTrack {
    /// 1 to 200 characters, at least one of them not a space, no control characters;
    /// surrounding spaces are trimmed.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$",
        nullable = false
    )]
    pub title: Option<String>,
    /// The new place in the list, from 1; past the end means last.
    #[schema(minimum = 1, nullable = false)]
    pub position: Option<i64>,
}

/// Rename a track or move it in the list (the artist or an administrator).
#[utoipa::path(
    patch,
    path = "/api/v1/tracks/{id}",
    tag = "tracks",
    params(("id" = i32, Path, minimum = 1, description = "The track's id.")),
    request_body = UpdateTrack,
    responses(
        (status = 200, description = "Changed; the track as it is now.", body = TrackOut),
        (status = 400, description = "Malformed JSON, or a field invalid (the message names it).", body = ErrorBody),
        (status = 403, description = "The caller is neither the artist nor an administrator.", body = ErrorBody),
        (status = 404, description = "No track has this id.", body = ErrorBody),
        (status = 413, description = "The body is over the size limit.", body = ErrorBody),
        (status = 415, description = "The body is not JSON.", body = ErrorBody),
    )
)]
pub async fn update_track(
    caller: ApiUser,
    State(state): State<AppState>,
    links: Links,
    Id(id): Id,
    body: JsonBody,
) -> Result<Json<TrackOut>, AppError> {
    let (t, c) = load(&state, id).await?;
    caller.may_change(&c)?;
    let mut fields = body.fields().await?;
    let title = fields.string("title", false);
    let position = fields.integer("position", false);
    let mut errors = crate::models::forms::FieldErrors::new();
    let title = match title.map(|t| crate::models::forms::track_title(&t)) {
        Some(Err(problem)) => {
            errors.insert("title", problem.into());
            None
        }
        Some(Ok(t)) => Some(t),
        None => None,
    };
    if position.is_some_and(|p| !(1..=i64::from(i32::MAX)).contains(&p)) {
        errors.insert("position", "It must be 1 or more.".into());
    }
    fields.check()?;
    if !errors.is_empty() {
        return Err(AppError::Invalid(errors));
    }
    if let Some(title) = title {
        track::rename(&state.db, t.id, &title).await?;
    }
    if let Some(position) = position
        && !track::move_to(&state.db, &t, position as i32).await?
    {
        return Err(AppError::no_such("track", id)); // deleted a moment ago
    }
    let (t, _) = load(&state, id).await?;
    Ok(Json(track_json(&links, &t)))
}

/// Remove a track (the artist or an administrator); the others close the gap.
#[utoipa::path(
    delete,
    path = "/api/v1/tracks/{id}",
    tag = "tracks",
    params(("id" = i32, Path, minimum = 1, description = "The track's id.")),
    responses(
        (status = 204, description = "Removed."),
        (status = 403, description = "The caller is neither the artist nor an administrator.", body = ErrorBody),
        (status = 404, description = "No track has this id.", body = ErrorBody),
    )
)]
pub async fn delete_track(
    caller: ApiUser,
    State(state): State<AppState>,
    Id(id): Id,
) -> Result<StatusCode, AppError> {
    let (t, c) = load(&state, id).await?;
    caller.may_change(&c)?;
    let key = track::delete(&state.db, &t)
        .await?
        .ok_or_else(|| AppError::no_such("track", id))?; // deleted a moment ago
    state.media.release(&state.db, vec![key]).await;
    Ok(StatusCode::NO_CONTENT)
}
