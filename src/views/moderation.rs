//! `/moderate`: every comment, newest first, with enable/disable buttons (MODERATE only).

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::access::Can;
use crate::error::AppError;
use crate::models::{Permission, comment};
use crate::state::AppState;
use crate::templates::{Html, ModerateTemplate};
use crate::web::extract::{Form, Path};
use crate::web::layout::Layout;
use crate::web::pagination::{PageQuery, Pagination};

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
    let mut pagination = Pagination::new(query.number(), per_page, 0, "/moderate");
    let (comments, total) = comment::page(
        &state.db,
        comment::Thread::All,
        pagination.offset(),
        per_page,
    )
    .await?;
    pagination.total = total;
    Ok(Html(ModerateTemplate {
        layout,
        comments,
        pagination,
    })
    .into_response())
}

/// Enable or disable, then back to the moderation page the button was on (its `page` field).
async fn set(
    state: &AppState,
    id: &str,
    back: PageQuery,
    disabled: bool,
) -> Result<Response, AppError> {
    let id: i32 = id.parse().map_err(|_| AppError::NotFound(None))?;
    if !comment::set_disabled(&state.db, id, disabled).await? {
        return Err(AppError::NotFound(None));
    }
    let back = format!("/moderate?page={}", back.number());
    Ok(Redirect::to(&back).into_response())
}

async fn enable(
    State(state): State<AppState>,
    _moderator: Moderator,
    Path(id): Path<String>,
    Form(back): Form<PageQuery>,
) -> Result<Response, AppError> {
    set(&state, &id, back, false).await
}

async fn disable(
    State(state): State<AppState>,
    _moderator: Moderator,
    Path(id): Path<String>,
    Form(back): Form<PageQuery>,
) -> Result<Response, AppError> {
    set(&state, &id, back, true).await
}
