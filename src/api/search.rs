//! Search (`GET /api/v1/search?q=&type=compositions|users`): the site's search, as JSON, in
//! cursor pages, best match first.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::ApiReader;
use super::compositions::{CompositionOut, Waveforms, composition_json, liked_by};
use super::users::{UserOut, users_json};
use super::{Links, PageParam};
use crate::error::{AppError, ErrorBody};
use crate::models::search::{self, Scope};
use crate::state::AppState;
use crate::views::search::{SearchParams, search_query};

/// Compositions found, best first.
#[derive(Serialize, ToSchema)]
pub struct CompositionResults {
    pub compositions: Vec<CompositionOut>,
    #[schema(required = true, format = "uri")]
    pub prev: Option<String>,
    #[schema(required = true, format = "uri")]
    pub next: Option<String>,
    /// Matches ranked: all of them, or the newest 1,000 when there are more.
    pub count: u64,
}

/// Users found, best first.
#[derive(Serialize, ToSchema)]
pub struct UserResults {
    pub users: Vec<UserOut>,
    #[schema(required = true, format = "uri")]
    pub prev: Option<String>,
    #[schema(required = true, format = "uri")]
    pub next: Option<String>,
    /// Matches ranked: all of them, or the newest 1,000 when there are more.
    pub count: u64,
}

/// Search compositions or users, best match first (ranked among the newest 1,000 matches).
#[utoipa::path(
    get,
    path = "/api/v1/search",
    tag = "search",
    params(
        ("q" = String, Query, description = "Words to find (all of them); `\"a phrase\"`, \
            `-word` to leave out, `or` between words for either. Anything else is ignored; only \
            the first 200 characters are read. Case and accents do not matter.",
            example = "maple rag"),
        ("type" = Option<String>, Query, description = "`compositions` (title, tags, track \
            titles, description; the default) or `users` (username, name, location, bio).",
            pattern = "^(compositions|users)$"),
        PageParam,
    ),
    security(("bearer" = []), ("basic" = []), ()),
    responses(
        (status = 200, description = "One page of results: `compositions` or `users`.",
            body = SearchResults),
        (status = 400, description = "`q` is missing, or `type` is neither `compositions` nor `users`.", body = ErrorBody),
    )
)]
pub async fn search(
    caller: ApiReader,
    State(state): State<AppState>,
    links: Links,
    params: SearchParams,
    page: PageParam,
) -> Result<Json<SearchResults>, AppError> {
    let scope = match params.kind.as_deref() {
        None | Some("compositions") => Scope::Compositions,
        Some("users") => Scope::People,
        _ => {
            return Err(AppError::BadRequest(
                "`type` must be `compositions` or `users`.".into(),
            ));
        }
    };
    let Some(typed) = params.q else {
        return Err(AppError::BadRequest(
            "`q` is required: the words to search for.".into(),
        ));
    };
    let query = search::Query::parse(&typed);
    let cursor = page.cursor();
    let per_page = state.config.compositions_per_page;
    let kind = if scope == Scope::People {
        "users"
    } else {
        "compositions"
    };
    let q: String = typed.chars().take(search::MAX_QUERY_CHARS).collect();
    let kept = search_query(&q, kind);
    Ok(Json(match scope {
        Scope::Compositions => {
            let found = search::compositions(&state.db, &query, cursor, per_page).await?;
            let (prev, next) = page.links_keeping(&links, "/search", &kept, &found.page);
            let ids: Vec<i32> = found.page.iter().map(|f| f.card.composition.id).collect();
            let liked = liked_by(&state, caller.id(), &ids).await?;
            SearchResults::Compositions(CompositionResults {
                compositions: found
                    .page
                    .iter()
                    .map(|f| {
                        let id = f.card.composition.id;
                        let liked = liked.contains(&id);
                        composition_json(&links, &f.card, liked, Waveforms::LeftOut)
                    })
                    .collect(),
                prev,
                next,
                count: found.count,
            })
        }
        Scope::People => {
            let found = search::people(&state.db, &query, cursor, per_page).await?;
            let (prev, next) = page.links_keeping(&links, "/search", &kept, &found.page);
            let users = found.page.items.into_iter().map(|f| f.user).collect();
            SearchResults::Users(UserResults {
                users: users_json(&state, &links, caller.id(), users).await?,
                prev,
                next,
                count: found.count,
            })
        }
    }))
}

/// The body of a search: one of the two lists.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum SearchResults {
    Compositions(CompositionResults),
    Users(UserResults),
}
