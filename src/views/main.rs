//! The `main` blueprint: the home page with its feed and composition form, the Followed feed
//! at its own URL (`/followed`), the All/Followed switch, the colour scheme toggle, and the
//! health check.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum_extra::extract::cookie::{Cookie, CookieJar};
use sea_orm::ConnectionTrait;
use serde::Deserialize;
use serde_json::json;

use crate::access::Can;
use crate::access::extractors::safe_next;
use crate::error::AppError;
use crate::models::forms;
use crate::models::keyset::Cursor;
use crate::models::{Permission, composition, release, suggestion, track, trending};
use crate::state::AppState;
use crate::templates::compositions::CompositionForm;
use crate::templates::head::Head;
use crate::templates::{Html, IndexTemplate};
use crate::views::tracks;
use crate::web::client::ClientInfo;
use crate::web::extract::Query;
use crate::web::layout::Layout;
use crate::web::pagination::{PageQuery, Pagination};
use crate::web::scheme::Scheme;
use crate::web::session::{Session, secure_cookies};
use crate::web::upload::{FILES, UploadForm};

/// People suggested at a time.
pub(crate) const SUGGESTIONS: u32 = 5;

/// The cookie that remembers the chosen feed tab.
const SHOW_FOLLOWED: &str = "show_followed";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(index).post(publish))
        .route("/all", get(show_all))
        .route("/followed", get(show_followed))
        .route("/trending", get(show_trending))
        .route("/scheme", get(choose_scheme))
        .route("/healthz", get(healthz))
}

async fn index(
    State(state): State<AppState>,
    layout: Layout,
    jar: CookieJar,
    query: PageQuery,
    client: ClientInfo,
) -> Result<Response, AppError> {
    // The tab chosen before the Followed feed had its own URL still holds.
    let show_followed = jar.get(SHOW_FOLLOWED).is_some_and(|c| c.value() == "1");
    render_index(
        &state,
        layout,
        "/",
        if show_followed {
            Tab::Followed
        } else {
            Tab::All
        },
        &query,
        CompositionForm::default(),
        super::seo::home_head(&client.origin()),
    )
    .await
}

/// Which list the home page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tab {
    All,
    Followed,
    Trending,
}

/// The Trending tab: the home page with the week's most played and liked compositions.
async fn show_trending(
    State(state): State<AppState>,
    layout: Layout,
    query: PageQuery,
    client: ClientInfo,
) -> Result<Response, AppError> {
    let mut head = super::seo::home_head(&client.origin());
    head.canonical = Some(format!("{}/trending", client.origin()));
    render_index(
        &state,
        layout,
        "/trending",
        Tab::Trending,
        &query,
        CompositionForm::default(),
        head,
    )
    .await
}

/// The home page (`at` "/"), the Followed feed's own page (`at` "/followed") or Trending's
/// (`at` "/trending"), whose pages link there; a form with errors comes back as a 422 with the
/// feed under it.
async fn render_index(
    state: &AppState,
    layout: Layout,
    at: &'static str,
    tab: Tab,
    page_query: &PageQuery,
    form: CompositionForm,
    head: Head,
) -> Result<Response, AppError> {
    let show_followed = tab == Tab::Followed;
    let feed = match (&layout.user, show_followed) {
        (Some(user), true) => composition::Feed::FollowedBy(user.id),
        _ => composition::Feed::All,
    };
    let cursor = page_query.cursor();
    let per_page = state.config.compositions_per_page;
    let page = match (tab, feed) {
        (Tab::Trending, _) => Arc::new(trending::page(&state.db, cursor, per_page).await?),
        (_, composition::Feed::All) => {
            let fresh = layout.follows_a_write();
            state.feeds.all(&state.db, cursor, per_page, fresh).await?
        }
        _ => Arc::new(composition::page(&state.db, feed, cursor, per_page).await?),
    };
    let pagination = Pagination::new(at, cursor, &page).numbered(page_query.number());
    // Per viewer, beside the cards: these may be everyone's, from the feed cache.
    let viewing =
        super::compositions::viewing(state, &layout, &page.items, pagination.url(&cursor)).await?;
    // A followed feed that does not fill its first page: here are people to follow.
    let suggestions = match (&layout.user, feed) {
        (Some(u), composition::Feed::FollowedBy(_))
            if u.can(Permission::FOLLOW)
                && cursor == Cursor::First
                && (page.items.len() as u64) < per_page =>
        {
            suggestion::who_to_follow(&state.db, u.id, SUGGESTIONS).await?
        }
        _ => Vec::new(),
    };
    let status = if form.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let template = IndexTemplate {
        can_publish: layout
            .user
            .as_ref()
            .is_some_and(|u| u.can(Permission::PUBLISH)),
        show_followed: show_followed && layout.user.is_some(),
        trending: tab == Tab::Trending,
        layout,
        form,
        cards: page,
        viewing,
        suggestions,
        pagination,
        top_tags: state.feeds.top_tags(&state.db).await?,
        head,
    };
    if status == StatusCode::OK {
        Ok(Html(template).into_response())
    } else {
        Ok((status, Html(template)).into_response())
    }
}

/// The composition form's fields (home page and edit page).
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct CompositionFields {
    pub release_type: String,
    pub title: String,
    pub description: String,
    /// Comma-separated.
    pub tags: String,
}

impl CompositionFields {
    /// The composition these fields describe, or what is wrong with them.
    pub fn check(&self) -> Result<composition::Draft<'_>, forms::FieldErrors> {
        // Blank pieces (`ragtime, , stride,`) are no tags.
        let tags: Vec<&str> = self
            .tags
            .split(',')
            .filter(|t| !t.trim().is_empty())
            .collect();
        forms::composition(&self.release_type, &self.title, &self.description, &tags)
    }
}

/// Publishing, with the composition's audio if files were chosen: the files are checked
/// first, and nothing is kept unless the composition and all its tracks are.
async fn publish(
    State(state): State<AppState>,
    session: Session,
    Can(user): Can<{ Permission::PUBLISH.0 }>,
    layout: Layout,
    jar: CookieJar,
    form: UploadForm<CompositionFields>,
) -> Result<Response, AppError> {
    let limits = state.media.limits();
    let room = track::room_for_new(&state.db, user.id, &limits).await?;
    let form = form.read(&state, room).await?;
    let fields = form.fields;
    let draft = match fields.check() {
        Ok(draft) => draft,
        // The files are not decoded for a form that comes back anyway.
        Err(errors) => return form_again(&state, layout, &jar, &fields, errors).await,
    };
    // The release type's own limit (a single holds one), before any file is decoded.
    let typed = track::Room {
        kind: release::type_name(draft.release_type),
        max: track::max_tracks(draft.release_type, &limits),
        ..room
    };
    let refused = form.refused.or_else(|| {
        let too_many = typed.admits(form.files.len() as u64, 0).err()?;
        Some((String::new(), too_many.into()))
    });
    let files = match tracks::check_files(&state, form.files, refused).await? {
        Ok(files) => files,
        Err(problem) => {
            let errors = [(FILES, problem)].into_iter().collect();
            return form_again(&state, layout, &jar, &fields, errors).await;
        }
    };
    let created = composition::create(&state.db, user.id, &draft).await?;
    let added = match files.is_empty() {
        true => Ok(Ok(0)),
        false => tracks::add_checked(&state, &created, files).await,
    };
    if !matches!(added, Ok(Ok(_))) {
        // Its tracks were refused, or the store failed: the composition goes too, so nothing
        // is half-saved.
        if let Some(keys) = composition::delete(&state.db, created.id).await? {
            state.media.release(&state.db, keys).await;
        }
    }
    if let Err(problem) = added? {
        let errors = [(FILES, problem)].into_iter().collect();
        return form_again(&state, layout, &jar, &fields, errors).await;
    }
    session.note_write();
    session.flash("success", "Your composition has been published.");
    Ok(Redirect::to("/").into_response())
}

/// The home page with the composition form as typed and what is wrong with it.
async fn form_again(
    state: &AppState,
    layout: Layout,
    jar: &CookieJar,
    fields: &CompositionFields,
    errors: forms::FieldErrors,
) -> Result<Response, AppError> {
    let form = CompositionForm::typed(
        &fields.release_type,
        &fields.title,
        &fields.description,
        &fields.tags,
        errors,
    );
    let show_followed = jar.get(SHOW_FOLLOWED).is_some_and(|c| c.value() == "1");
    let tab = if show_followed {
        Tab::Followed
    } else {
        Tab::All
    };
    render_index(
        state,
        layout,
        "/",
        tab,
        &PageQuery::default(),
        form,
        Head::default(),
    )
    .await
}

/// The cookie that remembers the tab for `/`, as the Flask original's did.
fn remember_tab(jar: CookieJar, followed: bool, secure: bool) -> CookieJar {
    let cookie = Cookie::build((SHOW_FOLLOWED, if followed { "1" } else { "" }))
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(cookie::SameSite::Lax)
        .max_age(cookie::time::Duration::days(30));
    jar.add(cookie)
}

async fn show_all(
    _user: crate::access::CurrentUser,
    State(state): State<AppState>,
    client: ClientInfo,
    jar: CookieJar,
) -> impl IntoResponse {
    let jar = remember_tab(jar, false, secure_cookies(&state, Some(&client)));
    (jar, Redirect::to("/"))
}

/// The Followed feed at its own URL, so it can be bookmarked, shared and paged; it is also
/// remembered for `/`.
async fn show_followed(
    _user: crate::access::CurrentUser,
    State(state): State<AppState>,
    layout: Layout,
    client: ClientInfo,
    jar: CookieJar,
    query: PageQuery,
) -> Result<Response, AppError> {
    let jar = remember_tab(jar, true, secure_cookies(&state, Some(&client)));
    let page = render_index(
        &state,
        layout,
        "/followed",
        Tab::Followed,
        &query,
        CompositionForm::default(),
        Head::default(),
    )
    .await?;
    Ok((jar, page).into_response())
}

/// What the scheme toggle sends: the scheme chosen and the page it was on.
#[derive(Deserialize, Default)]
#[serde(default)]
struct SchemeChoice {
    to: String,
    back: String,
}

/// The colour scheme toggle (a GET form, like the All/Followed switch: a display preference,
/// so every page can carry it without a session or a CSRF token). Back to the page it was on.
async fn choose_scheme(
    State(state): State<AppState>,
    client: ClientInfo,
    jar: CookieJar,
    Query(choice): Query<SchemeChoice>,
) -> Result<Response, AppError> {
    let scheme = Scheme::parse(&choice.to).ok_or_else(|| {
        AppError::BadRequest("The colour scheme must be light, dark or system.".into())
    })?;
    let back = safe_next(Some(&choice.back))
        // Only what is a valid URI as it stands can go into a `Location` header.
        .filter(|path| path.parse::<Uri>().is_ok())
        .unwrap_or_else(|| "/".to_owned());
    let jar = jar.add(scheme.cookie(secure_cookies(&state, Some(&client))));
    Ok((jar, Redirect::to(&back)).into_response())
}

/// For the platform's and operators' health checks: is the database reachable?
async fn healthz(State(state): State<AppState>) -> Result<Response, AppError> {
    // Within a bound, whatever the pool's state: a check that hangs tells a monitor nothing.
    let wait = state.config.database_acquire_timeout;
    // One statement the server itself must answer: a ping (the protocol's bare Sync) can be
    // answered by a pooler or proxy in between while no statement gets through.
    let check = state.db.execute_unprepared("SELECT 1");
    match tokio::time::timeout(wait, check).await {
        Ok(Ok(_)) => Ok(axum::Json(json!({ "status": "ok" })).into_response()),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "health check: database unreachable");
            Err(AppError::Unavailable("The database is unreachable.".into()))
        }
        Err(_) => {
            tracing::error!("health check: the database did not answer within {wait:?}");
            Err(AppError::Unavailable("The database is unreachable.".into()))
        }
    }
}
