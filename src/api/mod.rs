//! The JSON API, version 1 (SPEC §4): the Flask original's `api` blueprint, made correct and
//! described. Public data may be read without credentials; private data and writes need them
//! on every request (see [`auth`]). The API never reads or sets a cookie and needs no CSRF
//! token.
//!
//! Each operation is registered once, through utoipa-axum's `OpenApiRouter` in [`routes`]: the
//! router that serves `/api/v1/` and the OpenAPI document at `/api/v1/openapi.json` both come
//! from that one list, so the description cannot drift from what the server does.

pub mod auth;
pub mod comments;
pub mod compositions;
pub mod extract;
pub mod index;
pub mod notifications;
pub mod openapi;
pub mod plays;
pub mod search;
pub mod tracks;
pub mod users;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::middleware::from_fn;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serializer;
use utoipa::{IntoParams, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::AppError;
use crate::models::keyset::{Cursor, Page};
use crate::state::AppState;
use crate::web::client::ClientInfo;
use crate::web::pagination::{PageQuery, Pagination};

/// Where the API lives.
pub const PREFIX: &str = "/api/v1";

/// The API's routes, ready to merge into the app's router.
pub fn router() -> Router<AppState> {
    let (router, _) = routes().split_for_parts();
    router.layer(from_fn(auth::api_responses))
}

/// Every operation of the API. The served router and the OpenAPI document are both split from
/// this; add an operation here and it is routed and described at once.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(index::get_index))
        .routes(routes!(auth::new_token))
        .routes(routes!(users::get_me))
        .routes(routes!(users::get_user_by_username))
        .routes(routes!(users::get_user))
        .routes(routes!(users::list_user_compositions))
        .routes(routes!(users::get_timeline))
        .routes(routes!(users::follow_user, users::unfollow_user))
        .routes(routes!(
            compositions::list_compositions,
            compositions::create_composition
        ))
        .routes(routes!(compositions::list_trending))
        .routes(routes!(
            compositions::get_composition,
            compositions::update_composition,
            compositions::delete_composition
        ))
        .routes(routes!(
            compositions::like_composition,
            compositions::unlike_composition
        ))
        .routes(routes!(
            comments::list_comments_on,
            comments::create_comment
        ))
        .routes(routes!(tracks::upload_track))
        .routes(routes!(plays::start_listening))
        .routes(routes!(plays::report_play))
        .routes(routes!(
            tracks::get_track,
            tracks::update_track,
            tracks::delete_track
        ))
        .routes(routes!(comments::list_comments))
        .routes(routes!(comments::get_comment))
        .routes(routes!(search::search))
        .routes(routes!(notifications::list_notifications))
        .routes(routes!(notifications::get_notification))
        .routes(routes!(notifications::mark_read))
        .routes(routes!(openapi::get_openapi))
}

/// Absolute URLs of the API's objects, built from the trusted scheme and host of the request.
pub struct Links {
    origin: String,
}

impl Links {
    pub fn new(client: &ClientInfo) -> Self {
        Links {
            origin: client.origin(),
        }
    }

    /// `path` (starting with `/`) on this site.
    pub fn site(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    /// `path` (starting with `/`) under the API's prefix.
    pub fn api(&self, path: &str) -> String {
        format!("{}{PREFIX}{path}", self.origin)
    }

    pub fn user(&self, id: i32) -> String {
        self.api(&format!("/users/{id}"))
    }

    pub fn composition(&self, id: i32) -> String {
        self.api(&format!("/compositions/{id}"))
    }

    pub fn comment(&self, id: i32) -> String {
        self.api(&format!("/comments/{id}"))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Links {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let client = ClientInfo::from_request_parts(parts, state).await?;
        Ok(Links::new(&client))
    }
}

/// Which page of a list: `after` or `before` an item (the cursors of the `next` and `prev`
/// links, with the page number `n` they count), or an old numbered `page`. Read leniently,
/// like the site's pages: anything that does not parse means the first page, never an error.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParam {
    /// The page after this item: the cursor a list's `next` link carries. Opaque to clients;
    /// a cursor that does not parse means the first page.
    #[param(required = false, nullable = false, example = "1764583200123456000_42")]
    after: Option<String>,
    /// The page before this item: the cursor a list's `prev` link carries.
    #[param(required = false, nullable = false, example = "1764583200123456000_42")]
    before: Option<String>,
    /// An old numbered page: 1 to 10 are served, deeper numbers are empty; `last` is the end
    /// of the list. Follow `next` and `prev` instead; they reach every page at the same cost.
    #[param(required = false, nullable = false, example = "2")]
    page: Option<String>,
    /// The number of the page a cursor leads to, as counted by the link that carries it
    /// (`next` from page 2 says `n=3`), so the links beside that page carry theirs. It only
    /// counts: it never changes which items a page holds, and a value that does not parse is
    /// ignored.
    #[param(required = false, nullable = false, example = "3")]
    n: Option<String>,
}

impl PageParam {
    fn query(&self) -> PageQuery {
        PageQuery {
            after: self.after.clone(),
            before: self.before.clone(),
            page: self.page.clone(),
            n: self.n.clone(),
        }
    }

    pub fn cursor(&self) -> Cursor {
        self.query().cursor()
    }

    /// The `prev` and `next` links of `page`, a page of the list at `path` under the API's
    /// prefix.
    pub fn links<T>(
        &self,
        links: &Links,
        path: &str,
        page: &Page<T>,
    ) -> (Option<String>, Option<String>) {
        self.links_keeping(links, path, "", page)
    }

    /// The same, for a list whose links keep these query parameters (`q=rag&type=users`).
    pub fn links_keeping<T>(
        &self,
        links: &Links,
        path: &str,
        query: &str,
        page: &Page<T>,
    ) -> (Option<String>, Option<String>) {
        let pagination = Pagination::new(links.api(path), self.cursor(), page)
            .numbered(self.query().number())
            .with_query(query.to_owned());
        (pagination.prev_url(), pagination.next_url())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PageParam {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = PageQuery::from_query(parts.uri.query());
        Ok(PageParam {
            after: query.after,
            before: query.before,
            page: query.page,
            n: query.n,
        })
    }
}

/// Timestamps as ISO 8601 in UTC, to the second: `2026-11-25T10:00:00Z`.
pub fn iso8601<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Secs, true))
}
