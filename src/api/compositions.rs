//! Compositions: the collection (everyone's, newest first), publishing (PUBLISH), and one
//! composition, which only its artist or an administrator may change or delete.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::{ApiReader, ApiUser};
use super::extract::{Fields, Id, JsonBody};
use super::{Links, PageParam, iso8601};
use crate::error::{AppError, ErrorBody};
use crate::models::composition::{self, Card, Draft, Feed};
use crate::models::forms::{self, FieldErrors};
use crate::models::{Permission, like, tag, track, trending};
use crate::state::AppState;

/// Longest title, in characters (as sent: surrounding spaces count).
const MAX_TITLE_CHARS: usize = 64;

/// A composition, as the API shows one.
#[derive(Serialize, ToSchema)]
#[schema(as = Composition)]
pub struct CompositionOut {
    pub id: i32,
    /// This composition in the API.
    #[schema(format = "uri")]
    pub url: String,
    /// Its page on the site.
    #[schema(format = "uri")]
    pub permalink: String,
    /// 1 single, 2 EP, 3 album.
    #[schema(minimum = 1, maximum = 3)]
    pub release_type: i16,
    #[schema(example = "EP")]
    pub release_type_name: &'static str,
    pub title: String,
    /// Markdown, as written.
    pub description: String,
    /// The description rendered and sanitised.
    pub description_html: String,
    #[serde(serialize_with = "iso8601")]
    pub timestamp: DateTime<Utc>,
    pub artist_id: i32,
    pub artist_username: String,
    #[schema(format = "uri")]
    pub artist_url: String,
    /// Its comments, oldest first.
    #[schema(format = "uri")]
    pub comments_url: String,
    pub comment_count: u64,
    /// How many people like it, as kept with the data.
    pub like_count: u64,
    /// How often its tracks were played (a play counts after 30 s heard, once an hour per
    /// listener), as kept with the data.
    pub play_count: u64,
    /// Whether the caller likes it.
    pub liked: bool,
    /// Its tags (genres and moods), in order: lower case, letters, digits and dashes.
    #[schema(example = json!(["ragtime", "stride"]))]
    pub tags: Vec<String>,
    /// Its audio, in order. In lists, without their waveforms (read the composition or the
    /// track for those).
    pub tracks: Vec<super::tracks::TrackOut>,
}

/// Whether the tracks of a composition carry their waveforms: one composition does, a list
/// leaves them out (hundreds of numbers a track, which a list of twenty would multiply).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Waveforms {
    Included,
    LeftOut,
}

/// Which compositions of `ids` the caller likes; nothing for an anonymous one.
pub async fn liked_by(
    state: &AppState,
    viewer: Option<i32>,
    ids: &[i32],
) -> Result<std::collections::HashSet<i32>, AppError> {
    Ok(match viewer {
        Some(viewer) => like::liked_among(&state.db, viewer, ids).await?,
        None => Default::default(),
    })
}

/// The API's view of `card`; `liked` says whether the caller likes it.
pub fn composition_json(
    links: &Links,
    card: &Card,
    liked: bool,
    waveforms: Waveforms,
) -> CompositionOut {
    let c = &card.composition;
    CompositionOut {
        id: c.id,
        url: links.composition(c.id),
        permalink: links.site(&format!("/composition/{}", c.url_slug())),
        release_type: c.release_type,
        release_type_name: c.release_type_name(),
        title: c.title.clone(),
        description: c.description.clone(),
        description_html: c.description_html.clone(),
        timestamp: c.timestamp,
        artist_id: card.artist.id,
        artist_username: card.artist.username.clone(),
        artist_url: links.user(card.artist.id),
        comments_url: links.api(&format!("/compositions/{}/comments/", c.id)),
        comment_count: card.comments,
        like_count: card.likes,
        play_count: u64::try_from(c.plays_count).unwrap_or(0),
        liked,
        tags: card.tags.clone(),
        tracks: card
            .tracks
            .iter()
            .map(|t| {
                let mut json = super::tracks::track_json(links, t);
                if waveforms == Waveforms::LeftOut {
                    json.waveform = None;
                }
                json
            })
            .collect(),
    }
}

/// One page of compositions.
#[derive(Serialize, ToSchema)]
pub struct CompositionList {
    pub compositions: Vec<CompositionOut>,
    /// The previous page, or null on the first.
    #[schema(required = true, format = "uri")]
    pub prev: Option<String>,
    /// The next page, or null on the last.
    #[schema(required = true, format = "uri")]
    pub next: Option<String>,
    /// How many there are in all the pages, as kept with the data (nothing is counted).
    pub count: u64,
}

/// One page of `feed`, whose list lives at `path` under the API's prefix, as the caller
/// `viewer` (if any) sees it.
pub async fn composition_list(
    state: &AppState,
    viewer: Option<i32>,
    links: &Links,
    page: &PageParam,
    feed: Feed,
    path: &str,
    count: u64,
) -> Result<CompositionList, AppError> {
    let per_page = state.config.compositions_per_page;
    let cursor = page.cursor();
    let cards = match feed {
        // Everyone's list is what most clients poll: served from the feed cache.
        Feed::All => state.feeds.all(&state.db, cursor, per_page, false).await?,
        _ => std::sync::Arc::new(composition::page(&state.db, feed, cursor, per_page).await?),
    };
    let (prev, next) = page.links(links, path, &cards);
    // Whether the caller likes them: one query for the page, never kept in the shared cards.
    let ids: Vec<i32> = cards.iter().map(|c| c.composition.id).collect();
    let liked = liked_by(state, viewer, &ids).await?;
    Ok(CompositionList {
        compositions: cards
            .iter()
            .map(|c| {
                let liked = liked.contains(&c.composition.id);
                composition_json(links, c, liked, Waveforms::LeftOut)
            })
            .collect(),
        prev,
        next,
        count,
    })
}

/// A tag as sent, before it is normalised: a string of at most 32 characters. (Only its
/// schema is used: the handlers read tags as strings.)
pub struct TagIn;

impl utoipa::PartialSchema for TagIn {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .max_length(Some(tag::MAX_LEN))
            .examples([serde_json::json!("delta blues")])
            .into()
    }
}

impl ToSchema for TagIn {}

/// What publishing takes.
#[derive(ToSchema)]
pub struct NewComposition {
    /// 1 single, 2 EP, 3 album.
    #[schema(minimum = 1, maximum = 3)]
    pub release_type: i64,
    /// At most 64 characters as sent, at least one of them not a space, no control
    /// characters; surrounding spaces are trimmed.
    #[schema(
        max_length = 64,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f\ufffd]*[^\s\u0000-\u001f\u007f-\u009f\ufffd][^\u0000-\u001f\u007f-\u009f\ufffd]*$",
        example = "Maple Leaf Rag"
    )]
    pub title: String,
    /// Markdown, at most 20,000 characters, no control characters but tabs and line breaks;
    /// empty if left out.
    #[schema(
        required = false,
        max_length = 20000,
        pattern = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\ufffd]*$"
    )]
    pub description: String,
    /// Up to 5 tags of at most 32 characters each, normalised: lower-cased, letters and digits
    /// kept, runs of spaces, `-` and `_` become one `-`, anything else is dropped; a tag left
    /// with no letter or digit, and repeats, are left out. None if left out.
    #[schema(required = false, max_items = 5, inline, value_type = Vec<TagIn>, example = json!(["ragtime", "stride"]))]
    pub tags: Vec<String>,
}

/// What a change takes: any of the fields, the others are left as they are.
#[derive(ToSchema)]
pub struct UpdateComposition {
    /// 1 single, 2 EP, 3 album.
    #[schema(minimum = 1, maximum = 3, nullable = false)]
    pub release_type: Option<i64>,
    /// At most 64 characters as sent, at least one of them not a space, no control
    /// characters; surrounding spaces are trimmed.
    #[schema(
        max_length = 64,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f\ufffd]*[^\s\u0000-\u001f\u007f-\u009f\ufffd][^\u0000-\u001f\u007f-\u009f\ufffd]*$",
        nullable = false
    )]
    pub title: Option<String>,
    /// Markdown, at most 20,000 characters, no control characters but tabs and line breaks.
    #[schema(
        max_length = 20000,
        pattern = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\ufffd]*$",
        nullable = false
    )]
    pub description: Option<String>,
    /// Replaces the tags (see `NewComposition`); `[]` removes them all.
    #[schema(max_items = 5, nullable = false, inline, value_type = Option<Vec<TagIn>>)]
    pub tags: Option<Vec<String>>,
}

impl NewComposition {
    fn read(fields: &mut Fields) -> Result<Self, AppError> {
        let release_type = fields.integer("release_type", true);
        let title = fields.string("title", true);
        let description = fields.string("description", false).unwrap_or_default();
        let tags = fields.strings("tags", false).unwrap_or_default();
        fields.check()?;
        match (release_type, title) {
            (Some(release_type), Some(title)) => Ok(NewComposition {
                release_type,
                title,
                description,
                tags,
            }),
            _ => Err(AppError::BadRequest("Invalid composition.".into())),
        }
    }

    /// The checks of the site's composition form, plus the length of the title as sent.
    fn draft(&self) -> Result<Draft<'_>, AppError> {
        let mut errors = FieldErrors::new();
        // The form trims first; the API also refuses what trimming would hide.
        if self.title.chars().count() > MAX_TITLE_CHARS {
            errors.insert(
                "title",
                "The title can be at most 64 characters long.".into(),
            );
        } else if self.title.chars().any(char::is_control) {
            errors.insert(
                "title",
                "The title cannot contain control characters.".into(),
            );
        }
        match forms::composition(
            &self.release_type.to_string(),
            &self.title,
            &self.description,
            &self.tags,
        ) {
            Ok(draft) if errors.is_empty() => return Ok(draft),
            Ok(_) => {}
            Err(form_errors) => {
                for (field, problem) in form_errors {
                    let problem = if field == "release_type" {
                        "It must be 1 (single), 2 (EP) or 3 (album).".to_owned()
                    } else {
                        problem
                    };
                    errors.entry(field).or_insert(problem);
                }
            }
        }
        Err(AppError::Invalid(errors.clone()))
    }
}

impl UpdateComposition {
    fn read(fields: &mut Fields) -> Result<Self, AppError> {
        let update = UpdateComposition {
            release_type: fields.integer("release_type", false),
            title: fields.string("title", false),
            description: fields.string("description", false),
            tags: fields.strings("tags", false),
        };
        fields.check()?;
        Ok(update)
    }

    /// `c` (whose tags are `tags`) with these changes.
    fn apply(self, c: &composition::Model, tags: Vec<String>) -> NewComposition {
        NewComposition {
            release_type: self.release_type.unwrap_or(i64::from(c.release_type)),
            title: self.title.unwrap_or_else(|| c.title.clone()),
            description: self.description.unwrap_or_else(|| c.description.clone()),
            tags: self.tags.unwrap_or(tags),
        }
    }
}

async fn load(state: &AppState, id: i32) -> Result<composition::Model, AppError> {
    composition::find(&state.db, id)
        .await?
        .ok_or_else(|| AppError::no_such("composition", id))
}

/// A composition with its artist, comment count and tracks.
async fn card(state: &AppState, c: composition::Model) -> Result<Card, AppError> {
    let artist_id = c.artist_id;
    composition::card(&state.db, c)
        .await?
        .ok_or_else(|| AppError::no_such("user", artist_id))
}

/// One composition as the caller `viewer` (if any) sees it (whether they like it).
async fn as_seen_by(
    state: &AppState,
    viewer: Option<i32>,
    links: &Links,
    c: composition::Model,
) -> Result<CompositionOut, AppError> {
    let liked = liked_by(state, viewer, &[c.id]).await?.contains(&c.id);
    let card = card(state, c).await?;
    Ok(composition_json(links, &card, liked, Waveforms::Included))
}

/// Everyone's compositions, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/compositions/",
    tag = "compositions",
    params(PageParam),
    security(("bearer" = []), ("basic" = []), ()),
    responses((status = 200, description = "One page of compositions.", body = CompositionList))
)]
pub async fn list_compositions(
    caller: ApiReader,
    State(state): State<AppState>,
    links: Links,
    page: PageParam,
) -> Result<Json<CompositionList>, AppError> {
    Ok(Json(
        composition_list(
            &state,
            caller.id(),
            &links,
            &page,
            Feed::All,
            "/compositions/",
            composition::count(&state.db, Feed::All).await?,
        )
        .await?,
    ))
}

/// What is trending: the compositions played and liked most in the last seven days, each play
/// and like counting half as much for every day of its age; highest first.
#[utoipa::path(
    get,
    path = "/api/v1/compositions/trending",
    tag = "compositions",
    params(PageParam),
    security(("bearer" = []), ("basic" = []), ()),
    responses((status = 200, description = "One page of the trending compositions.", body = CompositionList))
)]
pub async fn list_trending(
    caller: ApiReader,
    State(state): State<AppState>,
    links: Links,
    page: PageParam,
) -> Result<Json<CompositionList>, AppError> {
    let per_page = state.config.compositions_per_page;
    let cards = trending::page(&state.db, page.cursor(), per_page).await?;
    let (prev, next) = page.links(&links, "/compositions/trending", &cards);
    let ids: Vec<i32> = cards.iter().map(|c| c.composition.id).collect();
    let liked = liked_by(&state, caller.id(), &ids).await?;
    Ok(Json(CompositionList {
        compositions: cards
            .iter()
            .map(|c| {
                let liked = liked.contains(&c.composition.id);
                composition_json(&links, c, liked, Waveforms::LeftOut)
            })
            .collect(),
        prev,
        next,
        count: trending::count(&state.db).await?,
    }))
}

/// Publish a composition (needs the PUBLISH permission).
#[utoipa::path(
    post,
    path = "/api/v1/compositions/",
    tag = "compositions",
    request_body = NewComposition,
    responses(
        (status = 201, description = "Published.", body = CompositionOut,
            headers(("Location" = String, description = "The new composition's URL."))),
        (status = 400, description = "Malformed JSON, or a field missing or invalid (the message names it).", body = ErrorBody),
        (status = 403, description = "The caller may not publish.", body = ErrorBody),
    )
)]
pub async fn create_composition(
    caller: ApiUser,
    State(state): State<AppState>,
    links: Links,
    body: JsonBody,
) -> Result<Response, AppError> {
    caller.require(
        Permission::PUBLISH,
        "You do not have permission to publish compositions.",
    )?;
    let new = NewComposition::read(&mut body.fields().await?)?;
    let draft = new.draft()?;
    let created = composition::create(&state.db, caller.account.id, &draft).await?;
    let card = card(&state, created).await?;
    let json = composition_json(&links, &card, false, Waveforms::Included);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, json.url.clone())],
        Json(json),
    )
        .into_response())
}

/// One composition.
#[utoipa::path(
    get,
    path = "/api/v1/compositions/{id}",
    tag = "compositions",
    params(("id" = i32, Path, minimum = 1, description = "The composition's id.")),
    security(("bearer" = []), ("basic" = []), ()),
    responses(
        (status = 200, description = "The composition.", body = CompositionOut),
        (status = 404, description = "No composition has this id.", body = ErrorBody),
    )
)]
pub async fn get_composition(
    caller: ApiReader,
    State(state): State<AppState>,
    links: Links,
    Id(id): Id,
) -> Result<Json<CompositionOut>, AppError> {
    let c = load(&state, id).await?;
    Ok(Json(as_seen_by(&state, caller.id(), &links, c).await?))
}

/// Change a composition (its artist or an administrator). Fields left out keep their value.
#[utoipa::path(
    put,
    path = "/api/v1/compositions/{id}",
    tag = "compositions",
    params(("id" = i32, Path, minimum = 1, description = "The composition's id.")),
    request_body = UpdateComposition,
    responses(
        (status = 200, description = "Changed; the composition as it is now.", body = CompositionOut),
        (status = 400, description = "Malformed JSON, or a field invalid (the message names it).", body = ErrorBody),
        (status = 403, description = "The caller is neither the artist nor an administrator.", body = ErrorBody),
        (status = 404, description = "No composition has this id.", body = ErrorBody),
    )
)]
pub async fn update_composition(
    caller: ApiUser,
    State(state): State<AppState>,
    links: Links,
    Id(id): Id,
    body: JsonBody,
) -> Result<Json<CompositionOut>, AppError> {
    let c = load(&state, id).await?;
    caller.may_change(&c)?;
    let update = UpdateComposition::read(&mut body.fields().await?)?;
    let changed = update.apply(&c, tag::of(&state.db, c.id).await?);
    let draft = changed.draft()?;
    if let Some(problem) =
        track::fits(&state.db, &c, draft.release_type, &state.media.limits()).await?
    {
        return Err(AppError::Conflict(problem));
    }
    if !composition::update(&state.db, id, &draft).await? {
        return Err(AppError::no_such("composition", id)); // deleted a moment ago
    }
    let c = load(&state, id).await?;
    Ok(Json(
        as_seen_by(&state, Some(caller.account.id), &links, c).await?,
    ))
}

/// Delete a composition with its comments and tracks (its artist or an administrator).
#[utoipa::path(
    delete,
    path = "/api/v1/compositions/{id}",
    tag = "compositions",
    params(("id" = i32, Path, minimum = 1, description = "The composition's id.")),
    responses(
        (status = 204, description = "Deleted, with its comments."),
        (status = 403, description = "The caller is neither the artist nor an administrator.", body = ErrorBody),
        (status = 404, description = "No composition has this id.", body = ErrorBody),
    )
)]
pub async fn delete_composition(
    caller: ApiUser,
    State(state): State<AppState>,
    Id(id): Id,
) -> Result<StatusCode, AppError> {
    let c = load(&state, id).await?;
    caller.may_change(&c)?;
    let keys = composition::delete(&state.db, c.id)
        .await?
        .ok_or_else(|| AppError::no_such("composition", id))?; // deleted a moment ago
    state.media.release(&state.db, keys).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Like a composition (needs the FOLLOW permission). Liking twice is one like: the second
/// answers 200 instead of 201 and changes nothing.
#[utoipa::path(
    post,
    path = "/api/v1/compositions/{id}/like",
    tag = "compositions",
    params(("id" = i32, Path, minimum = 1, description = "The id of the composition to like.")),
    responses(
        (status = 201, description = "Liked; the composition as it is now.", body = CompositionOut,
            headers(("Location" = String, description = "This like's URL (DELETE it to unlike)."))),
        (status = 200, description = "Already liked; the composition, unchanged.", body = CompositionOut),
        (status = 403, description = "The caller may not like compositions.", body = ErrorBody),
        (status = 404, description = "No composition has this id.", body = ErrorBody),
    )
)]
pub async fn like_composition(
    caller: ApiUser,
    State(state): State<AppState>,
    links: Links,
    Id(id): Id,
) -> Result<Response, AppError> {
    caller.require(
        Permission::FOLLOW,
        "You do not have permission to like compositions.",
    )?;
    let status = match like::like(&state.db, caller.account.id, id).await? {
        like::Outcome::Done => StatusCode::CREATED,
        like::Outcome::Already => StatusCode::OK,
        like::Outcome::NoSuchComposition => return Err(AppError::no_such("composition", id)),
    };
    // Read after the like: its count has changed with it.
    let c = load(&state, id).await?;
    let card = card(&state, c).await?;
    let json = composition_json(&links, &card, true, Waveforms::Included);
    let location = links.api(&format!("/compositions/{id}/like"));
    Ok((status, [(header::LOCATION, location)], Json(json)).into_response())
}

/// Take back one's like of a composition (needs the FOLLOW permission); 204 whether or not
/// the caller liked it.
#[utoipa::path(
    delete,
    path = "/api/v1/compositions/{id}/like",
    tag = "compositions",
    params(("id" = i32, Path, minimum = 1, description = "The id of the composition to unlike.")),
    responses(
        (status = 204, description = "The caller does not like it (any more)."),
        (status = 403, description = "The caller may not like compositions.", body = ErrorBody),
        (status = 404, description = "No composition has this id.", body = ErrorBody),
    )
)]
pub async fn unlike_composition(
    caller: ApiUser,
    State(state): State<AppState>,
    Id(id): Id,
) -> Result<StatusCode, AppError> {
    caller.require(
        Permission::FOLLOW,
        "You do not have permission to like compositions.",
    )?;
    load(&state, id).await?;
    like::unlike(&state.db, caller.account.id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
