//! Plays reported by the site's player (`static/plays.js`): a POST when a track starts gives a
//! signed start token, a POST once 30 s are heard (or the whole of a shorter track) hands it
//! back to be counted (see `models::play` for the rules). Both are CSRF-protected like every
//! other POST of the site: the script sends the page's token in `X-CSRFToken`. A visitor who is
//! not logged in is known by a random id in the `listener` cookie, set by the first start.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;

use crate::crypto::random_token;
use crate::error::AppError;
use crate::models::play::{self, Listener, Outcome};
use crate::state::AppState;
use crate::web::client::ClientInfo;
use crate::web::extract::{Form, Path};
use crate::web::session::{Session, secure_cookies};

/// The cookie that keeps an anonymous listener's id.
pub const LISTENER_COOKIE: &str = "listener";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tracks/{id}/play", post(start))
        .route("/tracks/{id}/heard", post(heard))
}

/// The id in a track's URL; anything else names no track.
fn track_id(raw: &str) -> Result<i32, AppError> {
    raw.parse::<i32>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or(AppError::NotFound(None))
}

/// Who is listening: the logged-in account, else the browser's anonymous id, if it has one.
async fn listener(
    state: &AppState,
    session: &Session,
    jar: &CookieJar,
) -> Result<Option<Listener>, AppError> {
    if let Some(account) = session.account(&state.db).await? {
        return Ok(Some(Listener::Account(account.id)));
    }
    Ok(jar
        .get(LISTENER_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|id| play::is_anonymous_id(id))
        .map(Listener::Anonymous))
}

/// A track starts: its start token (and, for a new anonymous listener, their cookie).
async fn start(
    State(state): State<AppState>,
    session: Session,
    client: ClientInfo,
    jar: CookieJar,
    Path(raw): Path<String>,
) -> Result<Response, AppError> {
    let id = track_id(&raw)?;
    let Some(track) = play::playable(&state.db, id).await? else {
        return Err(AppError::NotFound(None));
    };
    let (who, jar) = match listener(&state, &session, &jar).await? {
        Some(who) => (who, jar),
        None => {
            let anonymous = random_token(24);
            let cookie = Cookie::build((LISTENER_COOKIE, anonymous.clone()))
                .path("/")
                .http_only(true)
                .same_site(SameSite::Lax)
                .secure(secure_cookies(&state, Some(&client)))
                .max_age(cookie::time::Duration::days(365))
                .build();
            (Listener::Anonymous(anonymous), jar.add(cookie))
        }
    };
    let token = play::start_token(&state.signer, id, &who, Utc::now());
    let body = json!({
        "token": token,
        "needed_ms": play::needed_ms(track.duration_ms),
    });
    Ok((
        StatusCode::CREATED,
        jar,
        [(header::CACHE_CONTROL, "no-store")],
        Json(body),
    )
        .into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct HeardForm {
    token: String,
    heard_ms: String,
}

/// The player heard enough: count the play if the rules say so.
async fn heard(
    State(state): State<AppState>,
    session: Session,
    jar: CookieJar,
    headers: HeaderMap,
    Path(raw): Path<String>,
    Form(form): Form<HeardForm>,
) -> Result<Response, AppError> {
    let id = track_id(&raw)?;
    let heard_ms: i64 = form.heard_ms.trim().parse().map_err(|_| {
        AppError::BadRequest("`heard_ms` must be a whole number of milliseconds.".into())
    })?;
    let Some(who) = listener(&state, &session, &jar).await? else {
        return Err(AppError::BadRequest(
            "This play was not started here: start it again.".into(),
        ));
    };
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let outcome = play::report(
        &state.db,
        &state.signer,
        id,
        &who,
        &form.token,
        heard_ms,
        play::is_bot(agent),
        Utc::now(),
    )
    .await?;
    answer(outcome)
}

/// How the site says what a report came to.
fn answer(outcome: Outcome) -> Result<Response, AppError> {
    let counted = |counted: bool, reason: &str| {
        Ok((
            if counted {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            },
            [(header::CACHE_CONTROL, "no-store")],
            Json(json!({ "counted": counted, "reason": reason })),
        )
            .into_response())
    };
    match outcome {
        Outcome::Counted => counted(true, "counted"),
        Outcome::AlreadyCounted => counted(false, "already_counted"),
        Outcome::Bot => counted(false, "bot"),
        Outcome::TooEarly => Err(AppError::Unprocessable(
            "Not heard long enough yet: a play counts after 30 seconds, or the whole of a shorter track.".into(),
        )),
        Outcome::BadToken => Err(AppError::BadRequest(
            "This play was not started here, or too long ago: start it again.".into(),
        )),
        Outcome::NoSuchTrack => Err(AppError::NotFound(None)),
    }
}
