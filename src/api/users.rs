//! Users: a profile (by id, by username, or the caller's own), its compositions, its timeline
//! (the followed feed), follow and unfollow.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::{ApiAccount, ApiReader, ApiUser};
use super::compositions::{CompositionList, composition_list};
use super::extract::Id;
use super::{Links, PageParam, iso8601};
use crate::error::{AppError, ErrorBody};
use crate::models::composition::Feed;
use crate::models::follow::Outcome;
use crate::models::{Permission, composition, follow, user};
use crate::state::AppState;

/// A user, as the API shows one. The email address is never shown.
#[derive(Serialize, ToSchema)]
#[schema(as = User)]
pub struct UserOut {
    pub id: i32,
    /// This user in the API.
    #[schema(format = "uri")]
    pub url: String,
    /// The profile page on the site.
    #[schema(format = "uri")]
    pub profile_url: String,
    pub username: String,
    pub name: Option<String>,
    pub location: Option<String>,
    pub about_me: Option<String>,
    #[serde(serialize_with = "iso8601")]
    pub member_since: DateTime<Utc>,
    #[serde(serialize_with = "iso8601")]
    pub last_seen: DateTime<Utc>,
    #[schema(format = "uri")]
    pub avatar_url: String,
    /// Their compositions, newest first.
    #[schema(format = "uri")]
    pub compositions_url: String,
    /// Compositions of everyone they follow, themself included (visible to them and to
    /// administrators only).
    #[schema(format = "uri")]
    pub timeline_url: String,
    pub composition_count: u64,
    /// Followers, not counting the user themself.
    pub followers_count: u64,
    /// Users they follow, not counting themself.
    pub following_count: u64,
    /// Whether the caller follows this user (everyone follows themself); false without
    /// credentials.
    pub followed_by_you: bool,
    /// Whether this user follows the caller; false without credentials.
    pub follows_you: bool,
}

/// The API's view of `user`, for the caller `viewer` (if any).
async fn user_json(
    state: &AppState,
    links: &Links,
    viewer: Option<i32>,
    u: user::Model,
) -> Result<UserOut, AppError> {
    let relationship = match viewer {
        Some(viewer) => follow::relationship(&state.db, viewer, u.id).await?,
        None => follow::Relationship::default(),
    };
    Ok(user_out(state, links, relationship, u))
}

/// The API's view of many users for the caller `viewer` (if any), in their order: two queries
/// in all.
pub async fn users_json(
    state: &AppState,
    links: &Links,
    viewer: Option<i32>,
    users: Vec<user::Model>,
) -> Result<Vec<UserOut>, AppError> {
    let ids: Vec<i32> = users.iter().map(|u| u.id).collect();
    let mut relationships = match viewer {
        Some(viewer) => follow::relationships(&state.db, viewer, &ids).await?,
        None => Default::default(),
    };
    Ok(users
        .into_iter()
        .map(|u| {
            let relationship = relationships.remove(&u.id).unwrap_or_default();
            user_out(state, links, relationship, u)
        })
        .collect())
}

fn user_out(
    state: &AppState,
    links: &Links,
    relationship: follow::Relationship,
    u: user::Model,
) -> UserOut {
    let counts = follow::Counts::of(&u);
    UserOut {
        id: u.id,
        url: links.user(u.id),
        profile_url: links.site(&format!("/user/{}", u.username)),
        avatar_url: user::absolute_avatar_url(
            &links.site(""),
            &state.avatar_base,
            &u.avatar_hash,
            256,
        ),
        compositions_url: links.api(&format!("/users/{}/compositions/", u.id)),
        timeline_url: links.api(&format!("/users/{}/timeline/", u.id)),
        composition_count: counts.compositions,
        followers_count: counts.followers,
        following_count: counts.following,
        followed_by_you: relationship.following,
        follows_you: relationship.followed_by,
        username: u.username,
        name: u.name,
        location: u.location,
        about_me: u.about_me,
        member_since: u.member_since,
        last_seen: u.last_seen,
    }
}

async fn load(state: &AppState, id: i32) -> Result<user::Model, AppError> {
    user::find_by_id(&state.db, id)
        .await?
        .ok_or_else(|| AppError::no_such("user", id))
}

/// One user.
#[utoipa::path(
    get,
    path = "/api/v1/users/{id}",
    tag = "users",
    params(("id" = i32, Path, minimum = 1, description = "The user's id.")),
    security(("bearer" = []), ("basic" = []), ()),
    responses(
        (status = 200, description = "The user.", body = UserOut),
        (status = 404, description = "No user has this id.", body = ErrorBody),
    )
)]
pub async fn get_user(
    caller: ApiReader,
    State(state): State<AppState>,
    links: Links,
    Id(id): Id,
) -> Result<Json<UserOut>, AppError> {
    let u = load(&state, id).await?;
    Ok(Json(user_json(&state, &links, caller.id(), u).await?))
}

/// One user, found by username (in any case, as profile pages are).
#[utoipa::path(
    get,
    path = "/api/v1/users/by-username/{username}",
    tag = "users",
    params(("username" = String, Path, description = "The username, in any case.", example = "ann")),
    security(("bearer" = []), ("basic" = []), ()),
    responses(
        (status = 200, description = "The user.", body = UserOut),
        (status = 404, description = "No user has this username.", body = ErrorBody),
    )
)]
pub async fn get_user_by_username(
    caller: ApiReader,
    State(state): State<AppState>,
    links: Links,
    username: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Result<Json<UserOut>, AppError> {
    // A path that does not decode (not UTF-8) names nobody either.
    let Ok(Path(username)) = username else {
        return Err(AppError::NotFound(Some(
            "No user has this username.".into(),
        )));
    };
    let u = user::find_by_username(&state.db, &username)
        .await?
        .ok_or_else(|| AppError::NotFound(Some("No user has this username.".into())))?;
    Ok(Json(user_json(&state, &links, caller.id(), u).await?))
}

/// The caller: the account whose credentials the request carries (confirmed or not).
#[utoipa::path(
    get,
    path = "/api/v1/users/me",
    tag = "users",
    responses((status = 200, description = "The caller.", body = UserOut))
)]
pub async fn get_me(
    caller: ApiAccount,
    State(state): State<AppState>,
    links: Links,
) -> Result<Json<UserOut>, AppError> {
    let me = caller.account.user;
    Ok(Json(user_json(&state, &links, Some(me.id), me).await?))
}

/// A user's compositions, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/users/{id}/compositions/",
    tag = "users",
    params(("id" = i32, Path, minimum = 1, description = "The user's id."), PageParam),
    security(("bearer" = []), ("basic" = []), ()),
    responses(
        (status = 200, description = "One page of the user's compositions.", body = CompositionList),
        (status = 404, description = "No user has this id.", body = ErrorBody),
    )
)]
pub async fn list_user_compositions(
    caller: ApiReader,
    State(state): State<AppState>,
    links: Links,
    Id(id): Id,
    page: PageParam,
) -> Result<Json<CompositionList>, AppError> {
    let u = load(&state, id).await?;
    let path = format!("/users/{id}/compositions/");
    let count = follow::Counts::of(&u).compositions;
    Ok(Json(
        composition_list(
            &state,
            caller.id(),
            &links,
            &page,
            Feed::By(id),
            &path,
            count,
        )
        .await?,
    ))
}

/// The compositions of everyone a user follows, themself included, newest first. Only the
/// user themself and administrators may read it: it says whom they follow.
#[utoipa::path(
    get,
    path = "/api/v1/users/{id}/timeline/",
    tag = "users",
    params(("id" = i32, Path, minimum = 1, description = "The user's id."), PageParam),
    responses(
        (status = 200, description = "One page of the user's timeline.", body = CompositionList),
        (status = 403, description = "Someone else's timeline, and the caller is not an administrator.", body = ErrorBody),
        (status = 404, description = "No user has this id.", body = ErrorBody),
    )
)]
pub async fn get_timeline(
    caller: ApiAccount,
    State(state): State<AppState>,
    links: Links,
    Id(id): Id,
    page: PageParam,
) -> Result<Json<CompositionList>, AppError> {
    if caller.account.id != id && !caller.can(Permission::ADMIN) {
        return Err(AppError::forbidden(
            "Only the user themself and administrators may read a timeline.",
        ));
    }
    load(&state, id).await?;
    let path = format!("/users/{id}/timeline/");
    let count = composition::count(&state.db, Feed::FollowedBy(id)).await?;
    Ok(Json(
        composition_list(
            &state,
            Some(caller.account.id),
            &links,
            &page,
            Feed::FollowedBy(id),
            &path,
            count,
        )
        .await?,
    ))
}

/// Follow a user (needs the FOLLOW permission).
#[utoipa::path(
    post,
    path = "/api/v1/users/{id}/follow",
    tag = "users",
    params(("id" = i32, Path, minimum = 1, description = "The id of the user to follow.")),
    responses(
        (status = 200, description = "Now following; the followed user.", body = UserOut),
        (status = 403, description = "The caller may not follow users.", body = ErrorBody),
        (status = 404, description = "No user has this id.", body = ErrorBody),
        (status = 409, description = "Already following this user (everyone follows themself).", body = ErrorBody),
    )
)]
pub async fn follow_user(
    caller: ApiUser,
    State(state): State<AppState>,
    links: Links,
    Id(id): Id,
) -> Result<Json<UserOut>, AppError> {
    caller.require(
        Permission::FOLLOW,
        "You do not have permission to follow users.",
    )?;
    let other = load(&state, id).await?;
    match follow::follow(&state.db, caller.account.id, id).await? {
        Outcome::Done => {}
        Outcome::Already => {
            return Err(AppError::Conflict(format!(
                "You are already following {}.",
                other.username
            )));
        }
        Outcome::Yourself => {
            return Err(AppError::Conflict(
                "You are already following yourself, as everyone does.".into(),
            ));
        }
    }
    // Read again: its counts have changed with the follow.
    let other = load(&state, id).await?;
    Ok(Json(
        user_json(&state, &links, Some(caller.account.id), other).await?,
    ))
}

/// Stop following a user (needs the FOLLOW permission).
#[utoipa::path(
    delete,
    path = "/api/v1/users/{id}/follow",
    tag = "users",
    params(("id" = i32, Path, minimum = 1, description = "The id of the user to stop following.")),
    responses(
        (status = 200, description = "No longer following; the user.", body = UserOut),
        (status = 403, description = "The caller may not follow users.", body = ErrorBody),
        (status = 404, description = "No user has this id.", body = ErrorBody),
        (status = 409, description = "Not following this user, or it is the caller (nobody unfollows themself).", body = ErrorBody),
    )
)]
pub async fn unfollow_user(
    caller: ApiUser,
    State(state): State<AppState>,
    links: Links,
    Id(id): Id,
) -> Result<Json<UserOut>, AppError> {
    caller.require(
        Permission::FOLLOW,
        "You do not have permission to follow users.",
    )?;
    let other = load(&state, id).await?;
    match follow::unfollow(&state.db, caller.account.id, id).await? {
        Outcome::Done => {}
        Outcome::Already => {
            return Err(AppError::Conflict(format!(
                "You are not following {}.",
                other.username
            )));
        }
        Outcome::Yourself => {
            return Err(AppError::Conflict("You cannot unfollow yourself.".into()));
        }
    }
    // Read again: its counts have changed with the follow.
    let other = load(&state, id).await?;
    Ok(Json(
        user_json(&state, &links, Some(caller.account.id), other).await?,
    ))
}
