//! Plays reported by an API client's player, under the same rules as the site's (see
//! `models::play`): `POST /tracks/{id}/listens` when playback starts gives a signed start
//! token; `POST /tracks/{id}/plays` with it once 30 s are heard (or all of a shorter track)
//! counts the play, at most once an hour per account and track. The listener is the
//! authenticated account (the API keeps no cookie for an anonymous one); an account whose
//! address is not confirmed listens like anyone.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::ApiAccount;
use super::extract::{Id, JsonBody};
use crate::error::{AppError, ErrorBody};
use crate::models::play::{self, Listener, Outcome};
use crate::state::AppState;

/// A start token, to hand back with the report.
#[derive(Serialize, ToSchema)]
pub struct PlayStart {
    /// Signed: names the track, the listener and when they started. Good for six hours.
    pub token: String,
    /// How much must be heard before the report counts: 30,000 ms, or the whole of a shorter
    /// track.
    pub needed_ms: i64,
}

/// What a report says.
#[derive(ToSchema)]
pub struct NewPlay {
    /// The token of the start.
    #[schema(max_length = 512)]
    pub token: String,
    /// How much of the track the player has played since the start, in milliseconds.
    #[schema(minimum = 0)]
    pub heard_ms: i64,
}

/// What a report came to.
#[derive(Serialize, ToSchema)]
pub struct PlayReport {
    /// Whether this report counted a play.
    pub counted: bool,
    /// `counted`, `already_counted` (this account's play of this track was counted less than
    /// an hour ago) or `bot` (the User-Agent says it is a robot).
    #[schema(example = "counted")]
    pub reason: &'static str,
}

/// Start listening to a track: its start token.
#[utoipa::path(
    post,
    path = "/api/v1/tracks/{id}/listens",
    tag = "tracks",
    params(("id" = i32, Path, minimum = 1, description = "The track's id.")),
    responses(
        (status = 201, description = "Started: hand the token back with the report.", body = PlayStart),
        (status = 404, description = "No track has this id.", body = ErrorBody),
    )
)]
pub async fn start_listening(
    caller: ApiAccount,
    State(state): State<AppState>,
    Id(id): Id,
) -> Result<Response, AppError> {
    let Some(track) = play::playable(&state.db, id).await? else {
        return Err(AppError::no_such("track", id));
    };
    let listener = Listener::Account(caller.account.id);
    let body = PlayStart {
        token: play::start_token(&state.signer, id, &listener, Utc::now()),
        needed_ms: play::needed_ms(track.duration_ms),
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// Report a play: counted if the token is this account's start of this track, and both the
/// time since the start and `heard_ms` reach 30 s (or the whole of a shorter track, by its
/// real length); once an hour per account and track; never for a robot's User-Agent.
#[utoipa::path(
    post,
    path = "/api/v1/tracks/{id}/plays",
    tag = "tracks",
    params(("id" = i32, Path, minimum = 1, description = "The track's id.")),
    request_body = NewPlay,
    responses(
        (status = 201, description = "The play was counted.", body = PlayReport),
        (status = 200, description = "Not counted: already this hour, or a robot.", body = PlayReport),
        (status = 400, description = "Malformed body, or a token that is not this account's start of this track (or is too old).", body = ErrorBody),
        (status = 404, description = "No track has this id.", body = ErrorBody),
        (status = 422, description = "Reported too early: less than 30 s (or the whole track) heard or elapsed since the start.", body = ErrorBody),
    )
)]
pub async fn report_play(
    caller: ApiAccount,
    State(state): State<AppState>,
    headers: HeaderMap,
    Id(id): Id,
    body: JsonBody,
) -> Result<Response, AppError> {
    // A track that is not there is a 404 whatever the body says.
    if play::playable(&state.db, id).await?.is_none() {
        return Err(AppError::no_such("track", id));
    }
    let mut fields = body.fields().await?;
    let token = fields.string("token", true);
    let heard_ms = fields.integer("heard_ms", true);
    fields.check()?;
    let (Some(token), Some(heard_ms)) = (token, heard_ms) else {
        return Err(AppError::Invalid(fields.errors));
    };
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let outcome = play::report(
        &state.db,
        &state.signer,
        id,
        &Listener::Account(caller.account.id),
        &token,
        heard_ms,
        play::is_bot(agent),
        Utc::now(),
    )
    .await?;
    let (status, counted, reason) = match outcome {
        Outcome::Counted => (StatusCode::CREATED, true, "counted"),
        Outcome::AlreadyCounted => (StatusCode::OK, false, "already_counted"),
        Outcome::Bot => (StatusCode::OK, false, "bot"),
        Outcome::TooEarly => {
            return Err(AppError::Unprocessable(
                "Reported too early: a play counts after 30 seconds heard, or the whole of a shorter track.".into(),
            ));
        }
        Outcome::BadToken => {
            return Err(AppError::BadRequest(
                "Invalid `token`: it is not your start of this track, or it is too old.".into(),
            ));
        }
        Outcome::NoSuchTrack => return Err(AppError::no_such("track", id)),
    };
    Ok((status, Json(PlayReport { counted, reason })).into_response())
}
