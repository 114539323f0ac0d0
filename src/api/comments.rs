//! Comments: a composition's (oldest first; writing one needs COMMENT), everyone's (newest
//! first), one comment. A comment a moderator disabled keeps its place in every list, but its
//! body is shown to moderators only: everyone else gets `null`.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::{ApiReader, ApiUser};
use super::extract::{Id, JsonBody};
use super::{Links, PageParam, iso8601};
use crate::error::{AppError, ErrorBody};
use crate::models::comment::{self, Thread};
use crate::models::forms::{self, FieldErrors};
use crate::models::{Permission, composition, user};
use crate::state::AppState;

/// A comment, as the API shows one.
#[derive(Serialize, ToSchema)]
#[schema(as = Comment)]
pub struct CommentOut {
    pub id: i32,
    /// This comment in the API.
    #[schema(format = "uri")]
    pub url: String,
    /// Markdown, as written; `null` when the comment is disabled and the caller is not a
    /// moderator.
    #[schema(required = true)]
    pub body: Option<String>,
    /// The body rendered and sanitised; `null` when `body` is.
    #[schema(required = true)]
    pub body_html: Option<String>,
    /// Disabled by a moderator.
    pub disabled: bool,
    #[serde(serialize_with = "iso8601")]
    pub timestamp: DateTime<Utc>,
    pub author_id: i32,
    pub author_username: String,
    #[schema(format = "uri")]
    pub author_url: String,
    pub composition_id: i32,
    #[schema(format = "uri")]
    pub composition_url: String,
}

/// The API's view of a comment; `moderator` says whether the caller may read disabled ones.
pub fn comment_json(
    links: &Links,
    c: &comment::Model,
    author: &user::Model,
    moderator: bool,
) -> CommentOut {
    let shown = !c.disabled || moderator;
    CommentOut {
        id: c.id,
        url: links.comment(c.id),
        body: shown.then(|| c.body.clone()),
        body_html: shown.then(|| c.body_html.clone()),
        disabled: c.disabled,
        timestamp: c.timestamp,
        author_id: author.id,
        author_username: author.username.clone(),
        author_url: links.user(author.id),
        composition_id: c.composition_id,
        composition_url: links.composition(c.composition_id),
    }
}

/// One page of comments.
#[derive(Serialize, ToSchema)]
pub struct CommentList {
    pub comments: Vec<CommentOut>,
    /// The previous page, or null on the first.
    #[schema(required = true, format = "uri")]
    pub prev: Option<String>,
    /// The next page, or null on the last.
    #[schema(required = true, format = "uri")]
    pub next: Option<String>,
    /// How many there are in all the pages, as kept with the data (nothing is counted).
    pub count: u64,
}

async fn comment_list(
    state: &AppState,
    links: &Links,
    caller: &ApiReader,
    page: &PageParam,
    thread: Thread,
    path: &str,
    count: u64,
) -> Result<CommentList, AppError> {
    let per_page = state.config.comments_per_page;
    let rows = comment::page(&state.db, thread, page.cursor(), per_page).await?;
    let (prev, next) = page.links(links, path, &rows);
    let moderator = caller.can(Permission::MODERATE);
    Ok(CommentList {
        comments: rows
            .iter()
            .map(|(c, author)| comment_json(links, c, author, moderator))
            .collect(),
        prev,
        next,
        count,
    })
}

/// What commenting takes.
#[derive(ToSchema)]
pub struct NewComment {
    /// Markdown (links, emphasis and code): at most 20,000 characters as sent, at least one
    /// of them not a space, no control characters but tabs and line breaks; surrounding
    /// spaces are trimmed.
    #[schema(
        max_length = 20000,
        pattern = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\ufffd]*[^\s\u0000-\u001f\u007f-\u009f\ufffd][^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\ufffd]*$",
        example = "Lovely *syncopation*."
    )]
    pub body: String,
}

impl NewComment {
    /// The checks of the site's comment form, plus the length of the body as sent.
    fn read(body: Option<String>, mut errors: FieldErrors) -> Result<Self, AppError> {
        if let Some(body) = &body {
            // Checked as sent, not only once trimmed, so what trimming hides is refused too.
            let problem = if body.trim().is_empty() {
                Some("This field is required.")
            } else {
                forms::markdown_text(body).err()
            };
            if let Some(problem) = problem {
                errors.insert("body", problem.into());
            }
        }
        match body {
            Some(body) if errors.is_empty() => Ok(NewComment {
                body: body.trim().to_owned(),
            }),
            _ => Err(AppError::Invalid(errors.clone())),
        }
    }
}

async fn load_composition(state: &AppState, id: i32) -> Result<composition::Model, AppError> {
    composition::find(&state.db, id)
        .await?
        .ok_or_else(|| AppError::no_such("composition", id))
}

/// A composition's comments, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/compositions/{id}/comments/",
    tag = "comments",
    params(("id" = i32, Path, minimum = 1, description = "The composition's id."), PageParam),
    security(("bearer" = []), ("basic" = []), ()),
    responses(
        (status = 200, description = "One page of the composition's comments.", body = CommentList),
        (status = 404, description = "No composition has this id.", body = ErrorBody),
    )
)]
pub async fn list_comments_on(
    caller: ApiReader,
    State(state): State<AppState>,
    links: Links,
    Id(id): Id,
    page: PageParam,
) -> Result<Json<CommentList>, AppError> {
    let c = load_composition(&state, id).await?;
    let path = format!("/compositions/{id}/comments/");
    let count = u64::try_from(c.comments_count).unwrap_or(0);
    Ok(Json(
        comment_list(&state, &links, &caller, &page, Thread::On(id), &path, count).await?,
    ))
}

/// Comment on a composition (needs the COMMENT permission).
#[utoipa::path(
    post,
    path = "/api/v1/compositions/{id}/comments/",
    tag = "comments",
    params(("id" = i32, Path, minimum = 1, description = "The composition's id.")),
    request_body = NewComment,
    responses(
        (status = 201, description = "Published.", body = CommentOut,
            headers(("Location" = String, description = "The new comment's URL."))),
        (status = 400, description = "Malformed JSON, or `body` missing or invalid.", body = ErrorBody),
        (status = 403, description = "The caller may not comment.", body = ErrorBody),
        (status = 404, description = "No composition has this id.", body = ErrorBody),
    )
)]
pub async fn create_comment(
    caller: ApiUser,
    State(state): State<AppState>,
    links: Links,
    Id(id): Id,
    body: JsonBody,
) -> Result<Response, AppError> {
    caller.require(
        Permission::COMMENT,
        "You do not have permission to comment.",
    )?;
    let c = load_composition(&state, id).await?;
    let mut fields = body.fields().await?;
    let text = fields.string("body", true);
    fields.reject_unknown()?;
    let new = NewComment::read(text, fields.errors)?;
    let created = comment::create(&state.db, caller.account.id, c.id, &new.body)
        .await?
        .ok_or_else(|| AppError::no_such("composition", id))?; // deleted a moment ago
    let json = comment_json(&links, &created, &caller.account.user, true);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, json.url.clone())],
        Json(json),
    )
        .into_response())
}

/// Everyone's comments, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/comments/",
    tag = "comments",
    params(PageParam),
    security(("bearer" = []), ("basic" = []), ()),
    responses((status = 200, description = "One page of comments.", body = CommentList))
)]
pub async fn list_comments(
    caller: ApiReader,
    State(state): State<AppState>,
    links: Links,
    page: PageParam,
) -> Result<Json<CommentList>, AppError> {
    let count = comment::total(&state.db).await?;
    Ok(Json(
        comment_list(
            &state,
            &links,
            &caller,
            &page,
            Thread::All,
            "/comments/",
            count,
        )
        .await?,
    ))
}

/// One comment.
#[utoipa::path(
    get,
    path = "/api/v1/comments/{id}",
    tag = "comments",
    params(("id" = i32, Path, minimum = 1, description = "The comment's id.")),
    security(("bearer" = []), ("basic" = []), ()),
    responses(
        (status = 200, description = "The comment.", body = CommentOut),
        (status = 404, description = "No comment has this id.", body = ErrorBody),
    )
)]
pub async fn get_comment(
    caller: ApiReader,
    State(state): State<AppState>,
    links: Links,
    Id(id): Id,
) -> Result<Json<CommentOut>, AppError> {
    let c = comment::find(&state.db, id)
        .await?
        .ok_or_else(|| AppError::no_such("comment", id))?;
    let author = user::find_by_id(&state.db, c.author_id)
        .await?
        .ok_or_else(|| AppError::no_such("user", c.author_id))?;
    let moderator = caller.can(Permission::MODERATE);
    Ok(Json(comment_json(&links, &c, &author, moderator)))
}
