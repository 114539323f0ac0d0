//! `/moderate`: every comment, newest first, with enable/disable buttons (MODERATE only).

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::app::AppState;
use crate::auth::Can;
use crate::models::{Permission, comment};
use crate::pagination::{PageQuery, Pagination};
use crate::templates::{ModerateTemplate, html};
use crate::web::errors::AppError;
use crate::web::page::Page;

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
    page: Page,
    query: PageQuery,
) -> Result<Response, AppError> {
    let per_page = state.config.comments_per_page;
    let mut pagination = Pagination::new(query.number(), per_page, 0, "/moderate");
    let (comments, total) = comment::page(
        &state.db,
        comment::Thread::All,
        pagination.offset(),
        per_page,
    )
    .await?;
    pagination.total = total;
    html(&ModerateTemplate {
        page,
        comments,
        pagination,
    })
}

/// Enable or disable, then back to the moderation page the button was on (its `page` field).
async fn set(
    state: &AppState,
    id: &str,
    back: PageQuery,
    disabled: bool,
) -> Result<Response, AppError> {
    let id: i32 = id.parse().map_err(|_| AppError::not_found())?;
    if !comment::set_disabled(&state.db, id, disabled).await? {
        return Err(AppError::not_found());
    }
    let back = format!("/moderate?page={}", back.number());
    Ok(Redirect::to(&back).into_response())
}

async fn enable(
    State(state): State<AppState>,
    _moderator: Moderator,
    Path(id): Path<String>,
    axum::Form(back): axum::Form<PageQuery>,
) -> Result<Response, AppError> {
    set(&state, &id, back, false).await
}

async fn disable(
    State(state): State<AppState>,
    _moderator: Moderator,
    Path(id): Path<String>,
    axum::Form(back): axum::Form<PageQuery>,
) -> Result<Response, AppError> {
    set(&state, &id, back, true).await
}
