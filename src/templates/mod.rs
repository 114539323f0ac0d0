//! The site's pages and mails as askama templates (compile-time checked). The files live in
//! `templates/` at the top of the repository; each module here holds the structs of one folder
//! there, and this one those of the pages at its top.
//!
//! A template becomes a response through [`Html`] (axum's templates example), so neither the
//! views nor the error layer need anything from each other to render a page.

pub mod auth;
pub mod compositions;
pub mod dev;
pub mod head;
pub mod mail;
pub mod notifications;
pub mod users;

use askama::Template;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::error::{AppError, Rendered};
use crate::models::{comment, composition};
use crate::web::layout::Layout;
use crate::web::pagination::Pagination;

/// A template as an HTML response. With a status of its own (`(StatusCode, Html(t))`, a form
/// with errors is a 422), it is final: the error-page layer leaves it alone.
pub struct Html<T>(pub T);

impl<T: Template> IntoResponse for Html<T> {
    fn into_response(self) -> Response {
        match self.0.render() {
            Ok(body) => {
                let mut res = (
                    [(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("text/html; charset=utf-8"),
                    )],
                    body,
                )
                    .into_response();
                res.extensions_mut().insert(Rendered);
                res
            }
            Err(e) => AppError::from(e).into_response(),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorTemplate<'a> {
    pub layout: &'a Layout,
    pub code: u16,
    pub title: &'a str,
    pub message: &'a str,
}

#[derive(Template)]
#[template(path = "index.html")]
pub struct IndexTemplate {
    pub layout: Layout,
    pub can_publish: bool,
    pub show_followed: bool,
    /// The Trending tab (`/trending`) rather than a feed.
    pub trending: bool,
    pub form: compositions::CompositionForm,
    /// Shared with the feed cache when the page came from there.
    pub cards: std::sync::Arc<crate::models::keyset::Page<composition::Card>>,
    pub viewing: compositions::Viewing,
    /// Who to follow, under a short followed feed.
    pub suggestions: Vec<crate::models::user::Model>,
    pub pagination: Pagination,
    /// The most used tags, most used first.
    pub top_tags: std::sync::Arc<Vec<crate::models::tag::Model>>,
    pub head: head::Head,
}

/// Search results: compositions or people.
#[derive(Template)]
#[template(path = "search.html")]
pub struct SearchTemplate {
    pub layout: Layout,
    /// As typed (bounded).
    pub q: String,
    /// Whether the query held any word to look for.
    pub searched: bool,
    /// The people tab is shown (else the compositions tab).
    pub people: bool,
    pub compositions_url: String,
    pub people_url: String,
    /// Matches ranked, at most `search::WINDOW`.
    pub count: u64,
    pub compositions: Vec<crate::models::search::FoundComposition>,
    pub found_people: Vec<crate::models::search::FoundPerson>,
    pub pagination: Pagination,
}

/// A tag's compositions.
#[derive(Template)]
#[template(path = "tags/show.html")]
pub struct TagTemplate {
    pub layout: Layout,
    pub tag: String,
    /// Compositions carrying it, as kept with the tag.
    pub count: u64,
    pub cards: Vec<composition::Card>,
    pub pagination: Pagination,
    /// What the viewer likes among the cards.
    pub viewing: compositions::Viewing,
    pub head: head::Head,
}

#[derive(Template)]
#[template(path = "moderate.html")]
pub struct ModerateTemplate {
    pub layout: Layout,
    pub comments: Vec<comment::WithAuthor>,
    pub pagination: Pagination,
}
