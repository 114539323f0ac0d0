//! Notifications: the list (newest first, grouped where several people did the same thing),
//! marking them read (POST), the email settings, the mails' one-click unsubscribe links, and
//! `/comment/<id>`, where a notification about a comment leads.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::access::CurrentUser;
use crate::error::AppError;
use crate::models::keyset::{Cursor, Key};
use crate::models::notification::{self, Delivery, Filter, Settings, Topic};
use crate::models::{comment, composition};
use crate::notices;
use crate::state::AppState;
use crate::templates::Html;
use crate::templates::notifications::{
    NotificationsTemplate, SettingsTemplate, UnsubscribeTemplate,
};
use crate::web::extract::{Form, Path};
use crate::web::layout::Layout;
use crate::web::pagination::{PageQuery, Pagination};
use crate::web::session::Session;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/notifications", get(index))
        .route("/notifications/read", post(read))
        .route("/notifications/read-all", post(read_all))
        .route("/notifications/settings", get(settings_page).post(settings))
        .route(
            "/unsubscribe/{token}",
            get(unsubscribe_page).post(unsubscribe),
        )
        .route("/comment/{id}", get(show_comment))
}

/// Notifications a page reads; likes and follows of one page are grouped from them.
const PER_PAGE: u64 = 30;

fn unread_only(query: Option<&str>) -> bool {
    form_urlencoded::parse(query.unwrap_or("").as_bytes()).any(|(k, v)| k == "unread" && v == "1")
}

async fn index(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    layout: Layout,
    query: PageQuery,
    RawQuery(raw): RawQuery,
) -> Result<Response, AppError> {
    let unread_only = unread_only(raw.as_deref());
    let filter = if unread_only {
        Filter::Unread
    } else {
        Filter::All
    };
    let cursor = query.cursor();
    let page = notification::page(&state.db, me.id, filter, cursor, PER_PAGE).await?;
    let mut pagination = Pagination::new("/notifications", cursor, &page).numbered(query.number());
    if unread_only {
        pagination = pagination.with_query("unread=1");
    }
    Ok(Html(NotificationsTemplate {
        layout,
        groups: notification::group(page.items),
        unread_only,
        pagination,
    })
    .into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ReadForm {
    /// Comma-separated ids: one notification, or a group of them.
    ids: String,
    /// The query string of the page the button was on.
    back: String,
}

/// Back to the page of the list the button was on (its own parameters only).
fn back_to(back: &str) -> Redirect {
    let unread = unread_only(Some(back));
    let here = PageQuery::from_query(Some(back)).cursor();
    let mut pagination = Pagination::new(
        "/notifications",
        here,
        &crate::models::keyset::Page::<()>::empty(),
    );
    if unread {
        pagination = pagination.with_query("unread=1");
    }
    Redirect::to(&pagination.url(&here))
}

async fn read(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    session: Session,
    Form(form): Form<ReadForm>,
) -> Result<Response, AppError> {
    let ids: Vec<i32> = form
        .ids
        .split(',')
        .filter_map(|id| id.trim().parse().ok())
        .take(PER_PAGE as usize)
        .collect();
    notification::mark_read(&state.db, me.id, &ids).await?;
    session.note_write();
    Ok(back_to(&form.back).into_response())
}

async fn read_all(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    session: Session,
) -> Result<Response, AppError> {
    notification::mark_all_read(&state.db, me.id).await?;
    session.note_write();
    session.flash("success", "All your notifications are marked as read.");
    Ok(Redirect::to("/notifications").into_response())
}

async fn settings_page(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    layout: Layout,
) -> Result<Response, AppError> {
    let settings = notification::settings_of(&state.db, me.id).await?;
    Ok(Html(SettingsTemplate { layout, settings }).into_response())
}

/// Each topic's choice by name (`none`, `each`, `digest`); the form always sends all five, so
/// a missing or unknown value is a bad request, never a silent change.
async fn settings(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    session: Session,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let mut chosen = Settings::default();
    for topic in Topic::ALL {
        let value = form
            .iter()
            .find(|(name, _)| name == topic.name())
            .and_then(|(_, value)| Delivery::from_name(value))
            .ok_or_else(|| {
                AppError::BadRequest(format!(
                    "Choose none, each or digest for {}.",
                    topic.label().to_lowercase()
                ))
            })?;
        chosen.0.insert(topic, value);
    }
    notification::save_settings(&state.db, me.id, &chosen).await?;
    session.note_write();
    session.flash("success", "Your email settings have been saved.");
    Ok(Redirect::to("/notifications/settings").into_response())
}

/// The page an unsubscribe link opens: a button, since a GET must change nothing (mail
/// scanners open links).
async fn unsubscribe_page(
    State(state): State<AppState>,
    layout: Layout,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let (_, topics) =
        notices::open_unsubscribe(&state.signer, &token).ok_or(AppError::NotFound(None))?;
    Ok(Html(UnsubscribeTemplate {
        layout,
        topic: notices::describe(&topics),
        done: false,
    })
    .into_response())
}

/// The button, or a mail provider's one-click POST (RFC 8058): no login, no CSRF token, the
/// signed token says who and what.
async fn unsubscribe(
    State(state): State<AppState>,
    layout: Layout,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let (user_id, topics) =
        notices::open_unsubscribe(&state.signer, &token).ok_or(AppError::NotFound(None))?;
    notification::unsubscribe(&state.db, user_id, &topics).await?;
    Ok(Html(UnsubscribeTemplate {
        layout,
        topic: notices::describe(&topics),
        done: true,
    })
    .into_response())
}

/// A comment on the page of its thread where it is, scrolled to: its composition's permalink
/// from just before it.
async fn show_comment(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let id: i32 = id.parse().map_err(|_| AppError::NotFound(None))?;
    let found = comment::find(&state.db, id)
        .await?
        .ok_or(AppError::NotFound(None))?;
    let on = composition::find(&state.db, found.composition_id)
        .await?
        .ok_or(AppError::NotFound(None))?;
    // Comments run oldest first by (timestamp, id): from just before this one, it leads.
    let from = Cursor::After(Key::new(found.timestamp, found.id - 1));
    Ok(Redirect::to(&format!(
        "/composition/{}?{}#comment-{}",
        on.url_slug(),
        from.query(),
        found.id
    ))
    .into_response())
}
