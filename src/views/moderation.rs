//! `/moderate`: every comment, newest first, with enable/disable buttons (MODERATE only).

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::access::Can;
use crate::error::AppError;
use serde::Deserialize;

use crate::models::keyset::Page;
use crate::models::user::Account;
use crate::models::{Permission, comment};
use crate::state::AppState;
use crate::templates::{Html, ModerateTemplate};
use crate::web::extract::{Form, Path};
use crate::web::layout::Layout;
use crate::web::pagination::{PageQuery, Pagination};
use crate::web::session::Session;

type Moderator = Can<{ Permission::MODERATE.0 }>;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/moderate", get(moderate))
        .route("/moderate/enable/{id}", post(enable))
        .route("/moderate/disable/{id}", post(disable))
}

async fn moderate(
    State(state): State<AppState>,
    _moderator: Moderator,
    layout: Layout,
    query: PageQuery,
) -> Result<Response, AppError> {
    let per_page = state.config.comments_per_page;
    let cursor = query.cursor();
    let page = comment::page(&state.db, comment::Thread::All, cursor, per_page).await?;
    let pagination = Pagination::new("/moderate", cursor, &page).numbered(query.number());
    Ok(Html(ModerateTemplate {
        layout,
        comments: page.items,
        pagination,
    })
    .into_response())
}

/// Where a moderation button leads back to: the page it was on (its `back` field, the page's
/// query string).
#[derive(Deserialize, Default)]
#[serde(default)]
struct Back {
    back: String,
}

/// Enable or disable, then back to the moderation page the button was on.
async fn set(
    state: &AppState,
    session: &Session,
    moderator: &Account,
    id: &str,
    back: Back,
    disabled: bool,
) -> Result<Response, AppError> {
    let id: i32 = id.parse().map_err(|_| AppError::NotFound(None))?;
    let author = comment::set_disabled(&state.db, moderator.id, id, disabled)
        .await?
        .ok_or(AppError::NotFound(None))?;
    let done = if disabled { "disabled" } else { "enabled" };
    session.flash("success", format!("Comment by {} {done}.", author.username));
    // Read and written again: only a page's own parameters make it into the redirect.
    let here = PageQuery::from_query(Some(&back.back)).cursor();
    let pagination = Pagination::new("/moderate", here, &Page::<()>::empty());
    Ok(Redirect::to(&pagination.url(&here)).into_response())
}

async fn enable(
    State(state): State<AppState>,
    session: Session,
    Can(moderator): Moderator,
    Path(id): Path<String>,
    Form(back): Form<Back>,
) -> Result<Response, AppError> {
    set(&state, &session, &moderator, &id, back, false).await
}

async fn disable(
    State(state): State<AppState>,
    session: Session,
    Can(moderator): Moderator,
    Path(id): Path<String>,
    Form(back): Form<Back>,
) -> Result<Response, AppError> {
    set(&state, &session, &moderator, &id, back, true).await
}
