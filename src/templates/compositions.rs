//! `templates/compositions/`: a composition's permalink, edit and delete pages, and the
//! composition form they share with the home page.

use std::collections::HashSet;

use askama::Template;

use crate::models::forms::{self, FieldErrors};
use crate::models::{comment, composition, like, release, track};
use crate::web::layout::Layout;
use crate::web::pagination::Pagination;

/// The composition form (home page, edit page): what was typed and what is wrong with it.
#[derive(Default)]
pub struct CompositionForm {
    pub release_type: i16,
    pub title: String,
    pub description: String,
    /// Comma-separated, as typed.
    pub tags: String,
    pub errors: FieldErrors,
}

impl CompositionForm {
    pub fn release_types(&self) -> &'static [(i16, &'static str)] {
        &release::TYPES
    }

    /// The form filled with a stored composition.
    pub fn of(c: &composition::Model, tags: &[String]) -> Self {
        CompositionForm {
            release_type: c.release_type,
            title: c.title.clone(),
            description: c.description.clone(),
            tags: tags.join(", "),
            errors: FieldErrors::new(),
        }
    }

    /// The form as typed, with its errors (input bounded so nothing huge is echoed back).
    pub fn typed(
        release_type: &str,
        title: &str,
        description: &str,
        tags: &str,
        errors: FieldErrors,
    ) -> Self {
        CompositionForm {
            release_type: release_type.trim().parse().unwrap_or(1),
            title: title.chars().take(64).collect(),
            description: description
                .chars()
                .take(forms::MAX_MARKDOWN_CHARS)
                .collect(),
            tags: tags.chars().take(256).collect(),
            errors,
        }
    }
}

/// How the viewer of a page of cards stands towards them. Computed for every request and
/// handed to the template beside the cards, never stored in them: the home page's cards come
/// from a cache that every visitor shares.
#[derive(Debug, Default, Clone)]
pub struct Viewing {
    /// Logged in with the FOLLOW permission: a like button on each card; others see the count.
    pub can_like: bool,
    /// The compositions of the page the viewer likes.
    pub liked: HashSet<i32>,
    /// This page (a local path and query), where a like button leads back to.
    pub back: String,
}

impl Viewing {
    pub fn likes(&self, composition_id: &i32) -> bool {
        self.liked.contains(composition_id)
    }
}

/// A composition's permalink page: the composition, its comments and the comment form.
#[derive(Template)]
#[template(path = "compositions/show.html")]
pub struct CompositionTemplate {
    pub layout: Layout,
    /// The composition as a one-item list, so it renders like in the feeds.
    pub cards: Vec<composition::Card>,
    /// "More from this artist": a few of their other compositions.
    pub more: Vec<composition::Model>,
    pub viewing: Viewing,
    pub comments: Vec<comment::WithAuthor>,
    pub pagination: Pagination,
    pub can_comment: bool,
    /// What was typed in the comment form, and what is wrong with it.
    pub body: String,
    pub error: Option<String>,
    pub head: super::head::Head,
}

#[derive(Template)]
#[template(path = "compositions/edit.html")]
pub struct EditCompositionTemplate {
    pub layout: Layout,
    pub title: String,
    pub slug: String,
    pub form: CompositionForm,
    /// The tracks editor: the list, how many it may hold, and why an upload was refused.
    pub tracks: Vec<track::Model>,
    pub max_tracks: u64,
    pub upload_error: Option<String>,
}

#[derive(Template)]
#[template(path = "compositions/delete.html")]
pub struct DeleteCompositionTemplate {
    pub layout: Layout,
    pub title: String,
    pub slug: String,
}

/// The people who like a composition, newest like first.
#[derive(Template)]
#[template(path = "compositions/likes.html")]
pub struct LikesTemplate {
    pub layout: Layout,
    pub title: String,
    /// The composition's slug, for the link back to it.
    pub slug: String,
    pub entries: Vec<like::Entry>,
    pub pagination: Pagination,
}
