//! The caller's notifications (`GET /api/v1/notifications`, newest first, all or unread),
//! one of them, and marking them read (`POST /api/v1/notifications/read`).

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::{ApiAccount, ApiUser};
use super::extract::{Id, JsonBody};
use super::{Links, PageParam, iso8601};
use crate::error::{AppError, ErrorBody};
use crate::models::forms::FieldErrors;
use crate::models::notification::{self, Filter, Item};
use crate::state::AppState;

/// Notifications a page holds.
const PER_PAGE: u64 = 30;
/// The most a list's `count` counts: beyond it, counting would cost more than the page.
const COUNT_CAP: u64 = 1000;
/// The most ids one request marks read.
const MARK_MAX: usize = 100;

/// What happened.
#[derive(Serialize, ToSchema)]
pub struct NotificationOut {
    /// This notification in the API.
    #[schema(format = "uri")]
    pub url: String,
    pub id: i32,
    /// `follow`, `comment`, `mention` (in a comment), `like`, `comment_disabled` or
    /// `comment_enabled` (by a moderator).
    #[schema(pattern = "^(follow|comment|mention|like|comment_disabled|comment_enabled)$")]
    pub kind: &'static str,
    pub read: bool,
    #[serde(serialize_with = "iso8601")]
    #[schema(value_type = String, format = DateTime)]
    pub timestamp: DateTime<Utc>,
    /// Who did it; `null` for a moderator's decision.
    #[schema(required = true, format = "uri")]
    pub actor: Option<String>,
    #[schema(required = true)]
    pub actor_username: Option<String>,
    /// The composition it is about, if any.
    #[schema(required = true, format = "uri")]
    pub composition: Option<String>,
    /// The comment it is about, if any.
    #[schema(required = true, format = "uri")]
    pub comment: Option<String>,
    /// Where a person reads it on the site.
    #[schema(format = "uri")]
    pub link: String,
}

/// A page of notifications, newest first.
#[derive(Serialize, ToSchema)]
pub struct NotificationList {
    pub notifications: Vec<NotificationOut>,
    #[schema(required = true, format = "uri")]
    pub prev: Option<String>,
    #[schema(required = true, format = "uri")]
    pub next: Option<String>,
    /// How many the list holds, counted up to 1,000.
    pub count: u64,
    /// How many are unread, counted up to 100.
    pub unread: u64,
}

/// What marking read did.
#[derive(Serialize, ToSchema)]
pub struct MarkedRead {
    /// Notifications that were unread and are read now.
    pub marked: u64,
    /// How many are still unread, counted up to 100.
    pub unread: u64,
}

/// Which to mark read: some (the caller's own; others' ids are ignored), or all. Read field by
/// field by `mark_read` (so each refusal names its field), then matched as this.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum MarkRead {
    Ids {
        #[schema(max_items = 100)]
        ids: Vec<i32>,
    },
    /// `true` marks them all; `false`, none.
    All { all: bool },
}

fn notification_json(links: &Links, item: &Item) -> NotificationOut {
    let n = &item.notification;
    let link = match (n.comment_id, &item.composition) {
        (Some(comment), _) => links.site(&format!("/comment/{comment}")),
        (None, Some((id, title))) => links.site(&format!(
            "/composition/{}",
            crate::models::composition::url_slug(*id, title)
        )),
        (None, None) => match &item.actor {
            Some(actor) => links.site(&format!("/user/{}", actor.username)),
            None => links.site("/notifications"),
        },
    };
    NotificationOut {
        url: links.api(&format!("/notifications/{}", n.id)),
        id: n.id,
        kind: item.kind.name(),
        read: n.read_at.is_some(),
        timestamp: n.timestamp,
        actor: n.actor_id.map(|id| links.user(id)),
        actor_username: item.actor.as_ref().map(|a| a.username.clone()),
        composition: n.composition_id.map(|id| links.composition(id)),
        comment: n.comment_id.map(|id| links.comment(id)),
        link,
    }
}

/// 400 naming `ids`, the body's main field.
fn invalid(message: &str) -> AppError {
    let mut errors = FieldErrors::new();
    errors.insert("ids", message.into());
    AppError::Invalid(errors)
}

/// `unread=true` for the unread ones only; anything but `true` or `false` is refused.
fn filter_of(query: Option<&str>) -> Result<Filter, AppError> {
    let value = form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .find(|(k, _)| k == "unread")
        .map(|(_, v)| v.into_owned());
    match value.as_deref() {
        None | Some("false") => Ok(Filter::All),
        Some("true") => Ok(Filter::Unread),
        Some(_) => Err(AppError::BadRequest(
            "`unread` must be `true` or `false`.".into(),
        )),
    }
}

/// The caller's notifications, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/notifications",
    tag = "notifications",
    params(
        ("unread" = Option<bool>, Query, description = "`true`: only the unread ones."),
        PageParam,
    ),
    responses(
        (status = 200, description = "One page of notifications.", body = NotificationList),
        (status = 400, description = "`unread` is neither `true` nor `false`.", body = ErrorBody),
    )
)]
pub async fn list_notifications(
    caller: ApiAccount,
    State(state): State<AppState>,
    links: Links,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
    page: PageParam,
) -> Result<Json<NotificationList>, AppError> {
    let filter = filter_of(query.as_deref())?;
    let me = caller.account.id;
    let found = notification::page(&state.db, me, filter, page.cursor(), PER_PAGE).await?;
    let keep = if filter == Filter::Unread {
        "unread=true"
    } else {
        ""
    };
    let (prev, next) = page.links_keeping(&links, "/notifications", keep, &found);
    Ok(Json(NotificationList {
        notifications: found.iter().map(|i| notification_json(&links, i)).collect(),
        prev,
        next,
        count: notification::count(&state.db, me, filter, COUNT_CAP).await?,
        unread: notification::unread_count(&state.db, me).await?,
    }))
}

/// One of the caller's notifications.
#[utoipa::path(
    get,
    path = "/api/v1/notifications/{id}",
    tag = "notifications",
    params(("id" = i32, Path, minimum = 1, description = "The notification's id.")),
    responses(
        (status = 200, description = "The notification.", body = NotificationOut),
        (status = 400, description = "The id is not a number.", body = ErrorBody),
        (status = 404, description = "The caller has no notification with this id.", body = ErrorBody),
    )
)]
pub async fn get_notification(
    caller: ApiAccount,
    State(state): State<AppState>,
    links: Links,
    Id(id): Id,
) -> Result<Json<NotificationOut>, AppError> {
    let item = notification::find_for(&state.db, caller.account.id, id)
        .await?
        .ok_or_else(|| AppError::no_such("notification of yours", id))?;
    Ok(Json(notification_json(&links, &item)))
}

/// Mark some or all of the caller's notifications read.
#[utoipa::path(
    post,
    path = "/api/v1/notifications/read",
    tag = "notifications",
    request_body = MarkRead,
    responses(
        (status = 200, description = "Marked.", body = MarkedRead),
        (status = 400, description = "Malformed JSON, or neither (or both) of `ids` (at most 100) and `all`.", body = ErrorBody),
        (status = 415, description = "The body is not JSON.", body = ErrorBody),
    )
)]
pub async fn mark_read(
    caller: ApiUser,
    State(state): State<AppState>,
    body: JsonBody,
) -> Result<Json<MarkedRead>, AppError> {
    let mut fields = body.fields().await?;
    let ids = fields.integers("ids", false);
    let all = fields.boolean("all", false);
    fields.check()?;
    let request = match (ids, all) {
        (Some(ids), None) => MarkRead::Ids {
            ids: ids
                .into_iter()
                .map(i32::try_from)
                .collect::<Result<Vec<i32>, _>>()
                .ok()
                .filter(|ids| ids.len() <= MARK_MAX)
                .ok_or_else(|| invalid("At most 100 ids, each a notification's id."))?,
        },
        (None, Some(all)) => MarkRead::All { all },
        _ => return Err(invalid("Give either `ids` or `all`, not both nor neither.")),
    };
    let me = caller.account.id;
    let marked = match request {
        MarkRead::Ids { ids } => notification::mark_read(&state.db, me, &ids).await?,
        MarkRead::All { all: true } => notification::mark_all_read(&state.db, me).await?,
        MarkRead::All { all: false } => 0,
    };
    Ok(Json(MarkedRead {
        marked,
        unread: notification::unread_count(&state.db, me).await?,
    }))
}
