//! Search: `/search?q=` finds compositions (`type=compositions`, the default) or people
//! (`type=people`), best match first, in cursor pages. Any text is a valid query: what is not
//! a word is ignored (see `models::search`).

use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::error::AppError;
use crate::models::keyset::Page;
use crate::models::search::{self, Scope};
use crate::state::AppState;
use crate::templates::{Html, SearchTemplate};
use crate::web::layout::Layout;
use crate::web::pagination::{PageQuery, Pagination};

pub fn router() -> Router<AppState> {
    Router::new().route("/search", get(show))
}

/// The query string of a search, taken as text so that nothing in it can be refused: the
/// first of each name wins, and a malformed one is an empty search.
#[derive(Debug, Default)]
pub struct SearchParams {
    /// `None` when the query string has no `q` at all.
    pub q: Option<String>,
    /// `type`, if given.
    pub kind: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for SearchParams {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(SearchParams::from_query(parts.uri.query()))
    }
}

impl SearchParams {
    pub fn from_query(query: Option<&str>) -> Self {
        let mut q = None;
        let mut kind = None;
        for (name, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            let slot = match name.as_ref() {
                "q" => &mut q,
                "type" => &mut kind,
                _ => continue,
            };
            slot.get_or_insert_with(|| value.into_owned());
        }
        SearchParams { q, kind }
    }

    pub fn scope(&self) -> Scope {
        match self.kind.as_deref() {
            Some("people" | "users") => Scope::People,
            _ => Scope::Compositions,
        }
    }
}

/// `q=<q>&type=<kind>`: what every page of a search keeps in its links.
pub fn search_query(q: &str, kind: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("q", q)
        .append_pair("type", kind)
        .finish()
}

fn kind(scope: Scope) -> &'static str {
    match scope {
        Scope::Compositions => "compositions",
        Scope::People => "people",
    }
}

async fn show(
    State(state): State<AppState>,
    mut layout: Layout,
    params: SearchParams,
    page: PageQuery,
) -> Result<Response, AppError> {
    let scope = params.scope();
    // What is shown back in the box, bounded like what is searched.
    let q: String = params
        .q
        .unwrap_or_default()
        .chars()
        .take(search::MAX_QUERY_CHARS)
        .filter(|c| !c.is_control())
        .collect();
    // The navbar's box keeps the query too, so it can be refined from either.
    layout.search = q.clone();
    let query = search::Query::parse(&q);
    let cursor = page.cursor();
    let per_page = state.config.compositions_per_page;
    let kept = search_query(&q, kind(scope));
    let mut template = SearchTemplate {
        layout,
        compositions_url: format!("/search?{}", search_query(&q, kind(Scope::Compositions))),
        people_url: format!("/search?{}", search_query(&q, kind(Scope::People))),
        people: scope == Scope::People,
        searched: !query.is_empty(),
        q,
        count: 0,
        compositions: Vec::new(),
        found_people: Vec::new(),
        pagination: Pagination::new("/search", cursor, &Page::<()>::empty()),
    };
    match scope {
        Scope::Compositions => {
            let found = search::compositions(&state.db, &query, cursor, per_page).await?;
            template.pagination = Pagination::new("/search", cursor, &found.page)
                .with_query(kept.clone())
                .numbered(page.number());
            template.count = found.count;
            template.compositions = found.page.items;
        }
        Scope::People => {
            let found = search::people(&state.db, &query, cursor, per_page).await?;
            template.pagination = Pagination::new("/search", cursor, &found.page)
                .with_query(kept)
                .numbered(page.number());
            template.count = found.count;
            template.found_people = found.page.items;
        }
    }
    Ok(Html(template).into_response())
}
