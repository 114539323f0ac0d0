//! The tracks editor on a composition's edit page: adding audio files (one or more, streamed
//! as they arrive), renaming, moving and removing tracks. The artist or an administrator only,
//! as for editing; every refusal re-renders the edit page saying why, with nothing stored.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use serde::Deserialize;

use super::compositions::{edit_page_with, load, may_change};
use crate::access::Confirmed;
use crate::error::AppError;
use crate::media::upload::{Checked, Received, UploadError};
use crate::models::forms;
use crate::models::{composition, tag, track};
use crate::state::AppState;
use crate::templates::compositions::CompositionForm;
use crate::web::extract::{Form, Path};
use crate::web::layout::Layout;
use crate::web::session::Session;
use crate::web::upload::UploadForm;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/edit/{slug}/tracks", post(add))
        .route("/tracks/{id}/rename", post(rename))
        .route("/tracks/{id}/move", post(move_to))
        .route("/tracks/{id}/delete", post(remove))
}

/// Checks every file of a form by its content. `Err` holds what to show by the file input.
pub(super) async fn check_files(
    state: &AppState,
    files: Vec<Received>,
    refused: Option<(String, UploadError)>,
) -> Result<Result<Vec<Checked>, String>, AppError> {
    let problem = |name: &str, e: UploadError| match e {
        UploadError::Internal(e) => Err(AppError::Internal(e)),
        e if name.is_empty() => Ok(Err(e.to_string())),
        e => Ok(Err(format!("{name}: {e}"))),
    };
    if let Some((name, e)) = refused {
        return problem(&name, e);
    }
    let mut checked = Vec::with_capacity(files.len());
    for file in files {
        let name = file.filename.clone().unwrap_or_default();
        match state.media.check(file, None).await {
            Ok(c) => checked.push(c),
            Err(e) => return problem(&name, e),
        }
    }
    Ok(Ok(checked))
}

/// Adds checked files to a composition; `Err` holds why they were refused.
pub(super) async fn add_checked(
    state: &AppState,
    c: &composition::Model,
    checked: Vec<Checked>,
) -> Result<Result<usize, String>, AppError> {
    match state.media.add(&state.db, c, checked).await {
        Ok(added) => Ok(Ok(added.len())),
        Err(UploadError::Refused(track::Refused::Db(e))) => Err(e.into()),
        // Deleted while the files arrived: as if it had never been there.
        Err(UploadError::Refused(track::Refused::Gone)) => Err(AppError::NotFound(None)),
        Err(UploadError::Internal(e)) => Err(AppError::Internal(e)),
        Err(e) => Ok(Err(e.to_string())),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NoFields {}

async fn add(
    State(state): State<AppState>,
    session: Session,
    Confirmed(user): Confirmed,
    layout: Layout,
    Path(slug): Path<String>,
    form: UploadForm<NoFields>,
) -> Result<Response, AppError> {
    let c = load(&state, &slug).await?;
    may_change(&user, &c)?;
    let room = track::room(&state.db, &c, &state.media.limits()).await?;
    let form = form.read(&state, room).await?;
    let outcome = match check_files(&state, form.files, form.refused).await? {
        Ok(checked) if checked.is_empty() => Err("Choose one or more audio files.".to_owned()),
        Ok(checked) => add_checked(&state, &c, checked).await?,
        Err(problem) => Err(problem),
    };
    match outcome {
        Ok(n) => {
            session.note_write();
            session.flash(
                "success",
                if n == 1 {
                    "The track has been added.".to_owned()
                } else {
                    format!("{n} tracks have been added.")
                },
            );
            Ok(Redirect::to(&format!("/edit/{}#tracks", c.url_slug())).into_response())
        }
        Err(problem) => {
            edit_page_with(
                &state,
                layout,
                &c,
                CompositionForm::of(&c, &tag::of(&state.db, c.id).await?),
                Some(problem),
            )
            .await
        }
    }
}

/// The track an id names, with its composition, if this user may change it.
async fn load_track(
    state: &AppState,
    user: &crate::models::user::Account,
    id: i32,
) -> Result<(track::Model, composition::Model), AppError> {
    let t = track::find(&state.db, id)
        .await?
        .ok_or(AppError::NotFound(None))?;
    let c = composition::find(&state.db, t.composition_id)
        .await?
        .ok_or(AppError::NotFound(None))?;
    may_change(user, &c)?;
    Ok((t, c))
}

fn back_to_editor(session: &Session, c: &composition::Model, message: &str) -> Response {
    session.note_write();
    session.flash("success", message);
    Redirect::to(&format!("/edit/{}#tracks", c.url_slug())).into_response()
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RenameForm {
    title: String,
}

async fn rename(
    State(state): State<AppState>,
    session: Session,
    Confirmed(user): Confirmed,
    layout: Layout,
    Path(id): Path<i32>,
    Form(form): Form<RenameForm>,
) -> Result<Response, AppError> {
    let (t, c) = load_track(&state, &user, id).await?;
    match forms::track_title(&form.title) {
        Ok(title) => {
            track::rename(&state.db, t.id, &title).await?;
            Ok(back_to_editor(&session, &c, "The track has been renamed."))
        }
        Err(problem) => {
            let message = format!("Track {}: {problem}", t.position);
            edit_page_with(
                &state,
                layout,
                &c,
                CompositionForm::of(&c, &tag::of(&state.db, c.id).await?),
                Some(message),
            )
            .await
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct MoveForm {
    position: String,
}

async fn move_to(
    State(state): State<AppState>,
    session: Session,
    Confirmed(user): Confirmed,
    Path(id): Path<i32>,
    Form(form): Form<MoveForm>,
) -> Result<Response, AppError> {
    let (t, c) = load_track(&state, &user, id).await?;
    let position = form
        .position
        .trim()
        .parse::<i32>()
        .map_err(|_| AppError::BadRequest("The position must be a whole number.".into()))?;
    if !track::move_to(&state.db, &t, position).await? {
        return Err(AppError::NotFound(None)); // deleted a moment ago
    }
    Ok(back_to_editor(&session, &c, "The track has been moved."))
}

async fn remove(
    State(state): State<AppState>,
    session: Session,
    Confirmed(user): Confirmed,
    Path(id): Path<i32>,
) -> Result<Response, AppError> {
    let (t, c) = load_track(&state, &user, id).await?;
    let key = track::delete(&state.db, &t)
        .await?
        .ok_or(AppError::NotFound(None))?; // deleted a moment ago
    state.media.release(&state.db, vec![key]).await;
    Ok(back_to_editor(&session, &c, "The track has been removed."))
}
