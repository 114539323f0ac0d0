//! Tags: a tag's page lists the compositions that carry it, newest first, in cursor pages.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::error::AppError;
use crate::models::composition::{self, Feed};
use crate::models::tag;
use crate::state::AppState;
use crate::templates::{Html, TagTemplate};
use crate::web::client::ClientInfo;
use crate::web::layout::Layout;
use crate::web::pagination::{PageQuery, Pagination};

pub fn router() -> Router<AppState> {
    Router::new().route("/tag/{name}", get(show))
}

/// A tag's page as a URL path (its letters percent-encoded).
pub fn tag_path(name: &str) -> String {
    let encoded: String = form_urlencoded::byte_serialize(name.as_bytes()).collect();
    format!("/tag/{encoded}")
}

async fn show(
    State(state): State<AppState>,
    layout: Layout,
    Path(name): Path<String>,
    query: PageQuery,
    client: ClientInfo,
) -> Result<Response, AppError> {
    let canonical = tag::normalise(&name).ok_or(AppError::NotFound(None))?;
    if canonical != name {
        // `/tag/Delta Blues` is `/tag/delta-blues`, for good.
        return Ok(Redirect::permanent(&tag_path(&canonical)).into_response());
    }
    let tag = tag::find_by_name(&state.db, &canonical)
        .await?
        .ok_or(AppError::NotFound(None))?;
    let cursor = query.cursor();
    let per_page = state.config.compositions_per_page;
    let page = composition::page(&state.db, Feed::Tagged(tag.id), cursor, per_page).await?;
    let pagination = Pagination::new(tag_path(&tag.name), cursor, &page).numbered(query.number());
    let viewing =
        super::compositions::viewing(&state, &layout, &page.items, pagination.url(&cursor)).await?;
    Ok(Html(TagTemplate {
        head: super::seo::tag_head(&client.origin(), &tag.name),
        viewing,
        layout,
        count: u64::try_from(tag.compositions_count).unwrap_or(0),
        tag: tag.name,
        cards: page.items,
        pagination,
    })
    .into_response())
}
