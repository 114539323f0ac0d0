//! A composition's own pages: the permalink with its comments, editing and deleting (the
//! artist or an administrator only, not like the original where anyone could), liking and
//! who likes it.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::access::extractors::safe_next;
use crate::access::{Can, Confirmed};
use crate::error::AppError;
use crate::models::forms;
use crate::models::keyset::Cursor;
use crate::models::user::Account;
use crate::models::{Permission, comment, composition, flask_import, like, tag, track};
use crate::state::AppState;
use crate::templates::Html;
use crate::templates::compositions::{
    CompositionForm, CompositionTemplate, DeleteCompositionTemplate, EditCompositionTemplate,
    LikesTemplate, Viewing,
};
use crate::templates::head::Head;
use crate::views::main::CompositionFields;
use crate::views::seo;
use crate::web::client::ClientInfo;
use crate::web::extract::{Form, Path};
use crate::web::layout::Layout;
use crate::web::pagination::{PageQuery, Pagination};
use crate::web::session::Session;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/composition/{slug}", get(show).post(add_comment))
        .route("/edit/{slug}", get(edit_page).post(edit))
        .route("/delete/{slug}", get(delete_page).post(delete))
        .route("/composition/{slug}/like", post(like))
        .route("/composition/{slug}/unlike", post(unlike))
        .route("/composition/{slug}/likes", get(likes))
}

/// Other compositions of the artist a permalink shows.
pub const MORE: u64 = 4;

/// How the viewer stands towards a page of cards (which they like), read for this request
/// only: one query on the likes' primary key, none for visitors who cannot like.
pub(super) async fn viewing(
    state: &AppState,
    layout: &Layout,
    cards: &[composition::Card],
    back: String,
) -> Result<Viewing, AppError> {
    let liker = layout.user.as_ref().filter(|u| u.can(Permission::FOLLOW));
    let liked = match liker {
        Some(u) => {
            let ids: Vec<i32> = cards.iter().map(|c| c.composition.id).collect();
            like::liked_among(&state.db, u.id, &ids).await?
        }
        None => Default::default(),
    };
    Ok(Viewing {
        can_like: liker.is_some(),
        liked,
        back,
        whole: false,
    })
}

/// The composition a slug names, or a 404 page.
pub(super) async fn load(state: &AppState, slug: &str) -> Result<composition::Model, AppError> {
    find_by_slug(state, slug)
        .await?
        .ok_or_else(|| AppError::NotFound(None))
}

/// The composition whose id leads `slug`, if there is one.
async fn find_by_slug(
    state: &AppState,
    slug: &str,
) -> Result<Option<composition::Model>, AppError> {
    let Some(id) = composition::id_from_slug(slug) else {
        return Ok(None);
    };
    Ok(composition::find(&state.db, id).await?)
}

/// Old links never break: a title edit changes the slug, and the old one answers 301 to the
/// new one, keeping the query (`?page=3`).
fn canonical(
    prefix: &str,
    c: &composition::Model,
    slug: &str,
    query: Option<&str>,
) -> Option<Response> {
    // 301, as browsers and crawlers have always understood "this moved for good".
    (slug != c.slug()).then(|| {
        let mut location = format!("{prefix}{}", c.url_slug());
        if let Some(query) = query.filter(|q| !q.is_empty()) {
            location = format!("{location}?{query}");
        }
        (
            StatusCode::MOVED_PERMANENTLY,
            [(header::LOCATION, location)],
        )
            .into_response()
    })
}

/// Only the artist or an administrator may change a composition.
pub(super) fn may_change(user: &Account, c: &composition::Model) -> Result<(), AppError> {
    if user.id == c.artist_id || user.is_administrator() {
        Ok(())
    } else {
        Err(AppError::Forbidden(None))
    }
}

async fn show(
    State(state): State<AppState>,
    layout: Layout,
    Path(slug): Path<String>,
    query: PageQuery,
    uri: Uri,
    client: ClientInfo,
) -> Result<Response, AppError> {
    let found = find_by_slug(&state, &slug).await?;
    if found.as_ref().is_none_or(|c| c.slug() != slug) {
        // A composition imported from the Flask site under a new id: its old slug moved.
        if let Some(moved) = flask_import::moved_composition(&state.db, &slug).await? {
            return Ok(canonical("/composition/", &moved, "", uri.query()).unwrap_or_default());
        }
    }
    let c = found.ok_or_else(|| AppError::NotFound(None))?;
    if let Some(redirect) = canonical("/composition/", &c, &slug, uri.query()) {
        return Ok(redirect);
    }
    let mut template = permalink(&state, layout, c, &query, String::new(), None).await?;
    template.head = seo::composition_head(&client.origin(), &state.avatar_base, &template.cards[0]);
    Ok(Html(template).into_response())
}

/// The permalink page with a comment form as typed and what is wrong with it.
async fn render(
    state: &AppState,
    layout: Layout,
    c: composition::Model,
    page_query: &PageQuery,
    body: String,
    error: Option<String>,
) -> Result<Response, AppError> {
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let template = permalink(state, layout, c, page_query, body, error).await?;
    if status == StatusCode::OK {
        Ok(Html(template).into_response())
    } else {
        Ok((status, Html(template)).into_response())
    }
}

/// The permalink page's template: the composition, a page of its comments, the comment form.
async fn permalink(
    state: &AppState,
    layout: Layout,
    c: composition::Model,
    page_query: &PageQuery,
    body: String,
    error: Option<String>,
) -> Result<CompositionTemplate, AppError> {
    let per_page = state.config.comments_per_page;
    let path = format!("/composition/{}", c.slug());
    let cursor = page_query.cursor();
    let page = comment::page(&state.db, comment::Thread::On(c.id), cursor, per_page).await?;
    let pagination = Pagination::new(path, cursor, &page)
        .with_fragment("#comments")
        .numbered(page_query.number());
    let card = composition::card(&state.db, c)
        .await?
        .ok_or_else(|| AppError::NotFound(None))?;
    let back = format!("/composition/{}", card.composition.url_slug());
    let viewing = viewing(state, &layout, std::slice::from_ref(&card), back)
        .await?
        .whole();
    let more = composition::more_by(&state.db, card.artist.id, card.composition.id, MORE).await?;
    Ok(CompositionTemplate {
        more,
        can_comment: layout
            .user
            .as_ref()
            .is_some_and(|u| u.can(Permission::COMMENT)),
        layout,
        cards: vec![card],
        viewing,
        comments: page.items,
        pagination,
        body,
        error,
        head: Head::default(),
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CommentForm {
    body: String,
}

/// COMMENT is checked here, on the server; after posting, the author lands on the last page,
/// where the new comment is.
async fn add_comment(
    State(state): State<AppState>,
    session: Session,
    Can(user): Can<{ Permission::COMMENT.0 }>,
    layout: Layout,
    Path(slug): Path<String>,
    Form(form): Form<CommentForm>,
) -> Result<Response, AppError> {
    let c = load(&state, &slug).await?;
    let body = form.body.trim();
    let problem = if body.is_empty() {
        Some("This field is required.")
    } else {
        forms::markdown_text(body).err()
    };
    if let Some(problem) = problem {
        let typed = body.chars().take(forms::MAX_MARKDOWN_CHARS).collect();
        return render(
            &state,
            layout,
            c,
            &PageQuery::default(),
            typed,
            Some(problem.to_owned()),
        )
        .await;
    }
    comment::create(&state.db, user.id, c.id, body)
        .await?
        .ok_or(AppError::NotFound(None))?; // deleted a moment ago
    session.note_write();
    session.flash("success", "Your comment has been published.");
    Ok(Redirect::to(&format!(
        "/composition/{}?{}#comments",
        c.url_slug(),
        Cursor::Last.query()
    ))
    .into_response())
}

async fn edit_page(
    State(state): State<AppState>,
    Confirmed(user): Confirmed,
    layout: Layout,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    let c = load(&state, &slug).await?;
    may_change(&user, &c)?;
    if let Some(redirect) = canonical("/edit/", &c, &slug, None) {
        return Ok(redirect);
    }
    let form = CompositionForm::of(&c, &tag::of(&state.db, c.id).await?);
    edit_page_with(&state, layout, &c, form, None).await
}

/// The edit page: the composition form and the tracks editor, with what went wrong in either
/// (422 then).
pub(super) async fn edit_page_with(
    state: &AppState,
    layout: Layout,
    c: &composition::Model,
    form: CompositionForm,
    upload_error: Option<String>,
) -> Result<Response, AppError> {
    let status = if form.errors.is_empty() && upload_error.is_none() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let template = EditCompositionTemplate {
        layout,
        title: c.title.clone(),
        slug: c.slug(),
        form,
        tracks: track::of(&state.db, c.id).await?,
        max_tracks: track::max_tracks(c.release_type, &state.media.limits()),
        upload_error,
    };
    Ok((status, Html(template)).into_response())
}

async fn edit(
    State(state): State<AppState>,
    session: Session,
    Confirmed(user): Confirmed,
    layout: Layout,
    Path(slug): Path<String>,
    Form(fields): Form<CompositionFields>,
) -> Result<Response, AppError> {
    let c = load(&state, &slug).await?;
    may_change(&user, &c)?;
    let mut checked = fields.check();
    if let Ok(draft) = &checked {
        let limits = state.media.limits();
        if let Some(problem) = track::fits(&state.db, &c, draft.release_type, &limits).await? {
            checked = Err([("release_type", problem)].into_iter().collect());
        }
    }
    match checked {
        Ok(draft) => {
            if !composition::update(&state.db, c.id, &draft).await? {
                return Err(AppError::NotFound(None)); // deleted a moment ago
            }
            session.note_write();
            session.flash("success", "The composition has been updated.");
            let new_slug = composition::url_slug(c.id, draft.title);
            Ok(Redirect::to(&format!("/composition/{new_slug}")).into_response())
        }
        Err(errors) => {
            let form = CompositionForm::typed(
                &fields.release_type,
                &fields.title,
                &fields.description,
                &fields.tags,
                errors,
            );
            edit_page_with(&state, layout, &c, form, None).await
        }
    }
}

/// The confirmation step before a delete.
async fn delete_page(
    State(state): State<AppState>,
    Confirmed(user): Confirmed,
    layout: Layout,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    let c = load(&state, &slug).await?;
    may_change(&user, &c)?;
    Ok(Html(DeleteCompositionTemplate {
        layout,
        title: c.title.clone(),
        slug: c.slug(),
    })
    .into_response())
}

async fn delete(
    State(state): State<AppState>,
    session: Session,
    Confirmed(user): Confirmed,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    let c = load(&state, &slug).await?;
    may_change(&user, &c)?;
    let keys = composition::delete(&state.db, c.id)
        .await?
        .ok_or(AppError::NotFound(None))?; // deleted a moment ago
    state.media.release(&state.db, keys).await;
    session.note_write();
    session.flash("success", "The composition has been deleted.");
    Ok(Redirect::to("/").into_response())
}

/// Where a like button leads back to: the page it was on (its `back` field), if that is a
/// path on this site; the composition's page otherwise.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Back {
    back: String,
}

impl Back {
    fn or_permalink(&self, c: &composition::Model) -> String {
        safe_next(Some(&self.back))
            // Only what is a valid URI as it stands can go into a `Location` header.
            .filter(|path| path.parse::<Uri>().is_ok())
            .unwrap_or_else(|| format!("/composition/{}", c.url_slug()))
    }
}

async fn like(
    State(state): State<AppState>,
    session: Session,
    Can(me): Can<{ Permission::FOLLOW.0 }>,
    Path(slug): Path<String>,
    Form(back): Form<Back>,
) -> Result<Response, AppError> {
    let c = load(&state, &slug).await?;
    match like::like(&state.db, me.id, c.id).await? {
        like::Outcome::Done => {}
        like::Outcome::Already => session.flash("info", "You already like this composition."),
        // Deleted between the lookup and the like.
        like::Outcome::NoSuchComposition => return Err(AppError::NotFound(None)),
    }
    // The page landed on shows the new count, even where it comes from the feed cache.
    session.note_write();
    Ok(Redirect::to(&back.or_permalink(&c)).into_response())
}

async fn unlike(
    State(state): State<AppState>,
    session: Session,
    Can(me): Can<{ Permission::FOLLOW.0 }>,
    Path(slug): Path<String>,
    Form(back): Form<Back>,
) -> Result<Response, AppError> {
    let c = load(&state, &slug).await?;
    match like::unlike(&state.db, me.id, c.id).await? {
        like::Outcome::Done => {}
        like::Outcome::Already | like::Outcome::NoSuchComposition => {
            session.flash("info", "You do not like this composition.")
        }
    }
    session.note_write();
    Ok(Redirect::to(&back.or_permalink(&c)).into_response())
}

/// Who likes a composition, newest like first, by cursor pages.
async fn likes(
    State(state): State<AppState>,
    layout: Layout,
    Path(slug): Path<String>,
    query: PageQuery,
) -> Result<Response, AppError> {
    let c = load(&state, &slug).await?;
    let cursor = query.cursor();
    let per_page = state.config.followers_per_page;
    let page = like::page(&state.db, c.id, cursor, per_page).await?;
    let pagination = Pagination::new(
        format!("/composition/{}/likes", c.url_slug()),
        cursor,
        &page,
    )
    .numbered(query.number());
    Ok(Html(LikesTemplate {
        layout,
        slug: c.slug(),
        title: c.title,
        entries: page.items,
        pagination,
    })
    .into_response())
}
