//! The user pages of the Flask original's `main` blueprint: profiles (`user`), editing one's
//! own (`edit_profile`) or anyone's as an administrator (`edit_profile_admin`), `follow` /
//! `unfollow`, the `followers` / `following` lists, and the people directory (`users`).

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::access::{Can, Confirmed};
use crate::error::AppError;
use crate::models::follow::{Outcome, Side};
use crate::models::forms::{self, FieldErrors};
use crate::models::{Permission, composition, flask_import, follow, role, suggestion, user};
use crate::state::AppState;
use crate::templates::Html;
use crate::templates::users::{
    AccountFields, EditProfileTemplate, FollowsTemplate, PeopleTemplate, ProfileForm, UserTemplate,
};
use crate::web::client::ClientInfo;
use crate::web::extract::{Form, Path};
use crate::web::layout::Layout;
use crate::web::pagination::{PageQuery, Pagination};
use crate::web::session::Session;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/user/{username}", get(profile))
        .route("/edit-profile", get(edit_profile_page).post(edit_profile))
        .route(
            "/edit-profile/{id}",
            get(edit_profile_admin_page).post(edit_profile_admin),
        )
        .route("/follow/{username}", post(follow))
        .route("/unfollow/{username}", post(unfollow))
        .route("/followers/{username}", get(followers))
        .route("/following/{username}", get(following))
        .route("/users", get(people))
}

fn profile_path(username: &str) -> String {
    format!("/user/{username}")
}

async fn find_user(state: &AppState, username: &str) -> Result<user::Model, AppError> {
    user::find_by_username(&state.db, username)
        .await?
        .ok_or_else(|| AppError::NotFound(None))
}

/// A fixed number of queries at any page size: the user, the compositions page (count, page,
/// comment counts), both follow counts, and how the viewer and the user stand.
async fn profile(
    State(state): State<AppState>,
    layout: Layout,
    Path(username): Path<String>,
    query: PageQuery,
    client: ClientInfo,
) -> Result<Response, AppError> {
    let user = match user::find_by_username(&state.db, &username).await? {
        Some(user) if user.username == username => user,
        found => {
            // An account the Flask import renamed: its old URL (exact, as Flask compared) moved.
            if let Some(current) = flask_import::renamed_user(&state.db, &username).await? {
                let location = profile_path(&current);
                return Ok((
                    StatusCode::MOVED_PERMANENTLY,
                    [(header::LOCATION, location)],
                )
                    .into_response());
            }
            found.ok_or(AppError::NotFound(None))?
        }
    };
    let per_page = state.config.compositions_per_page;
    let cursor = query.cursor();
    let page =
        composition::page(&state.db, composition::Feed::By(user.id), cursor, per_page).await?;
    let pagination =
        Pagination::new(profile_path(&user.username), cursor, &page).numbered(query.number());
    let viewing =
        super::compositions::viewing(&state, &layout, &page.items, pagination.url(&cursor)).await?;
    let counts = follow::Counts::of(&user);
    let viewer = layout.user.as_ref();
    let is_self = viewer.is_some_and(|v| v.id == user.id);
    let relationship = match viewer {
        Some(v) if !is_self => follow::relationship(&state.db, v.id, user.id).await?,
        _ => follow::Relationship::default(),
    };
    // Who else the viewer might follow; this profile's user has their own button above.
    let suggestions = match viewer {
        Some(v) if v.can(Permission::FOLLOW) => {
            let mut people =
                suggestion::who_to_follow(&state.db, v.id, super::main::SUGGESTIONS + 1).await?;
            people.retain(|p| p.id != user.id);
            people.truncate(super::main::SUGGESTIONS as usize);
            people
        }
        _ => Vec::new(),
    };
    let template = UserTemplate {
        head: super::seo::profile_head(&client.origin(), &state.avatar_base, &user),
        can_follow: !is_self && viewer.is_some_and(|v| v.can(Permission::FOLLOW)),
        is_admin: viewer.is_some_and(|v| v.is_administrator()),
        is_self,
        layout,
        user,
        compositions: counts.compositions,
        counts,
        relationship,
        cards: page.items,
        viewing,
        suggestions,
        pagination,
    };
    Ok(Html(template).into_response())
}

/// Typed text shown back in a form: bounded, and without the control characters that were
/// refused.
fn echo(text: &str, max: usize) -> String {
    text.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'))
        .take(max)
        .collect()
}

/// The profile form as typed, shown back with what is wrong with it.
fn typed_profile(fields: &ProfileFields) -> ProfileForm {
    ProfileForm {
        name: echo(&fields.name, forms::MAX_SHORT_CHARS * 2),
        location: echo(&fields.location, forms::MAX_SHORT_CHARS * 2),
        about_me: echo(&fields.about_me, forms::MAX_ABOUT_ME_CHARS * 2),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ProfileFields {
    name: String,
    location: String,
    about_me: String,
}

/// The profile as typed, or its messages added to `errors`.
fn validate_profile(fields: &ProfileFields, errors: &mut FieldErrors) -> Option<user::Profile> {
    let name = forms::short_text(&fields.name).map_err(|e| errors.insert("name", e.into()));
    let location =
        forms::short_text(&fields.location).map_err(|e| errors.insert("location", e.into()));
    let about_me =
        forms::about_me(&fields.about_me).map_err(|e| errors.insert("about_me", e.into()));
    Some(user::Profile {
        name: name.ok()?,
        location: location.ok()?,
        about_me: about_me.ok()?,
    })
}

async fn edit_profile_page(
    Confirmed(account): Confirmed,
    layout: Layout,
) -> Result<Response, AppError> {
    let form = ProfileForm::of(&account);
    Ok(EditProfileTemplate::new(
        layout,
        "/edit-profile".into(),
        None,
        form,
        FieldErrors::new(),
    )
    .into_response())
}

async fn edit_profile(
    State(state): State<AppState>,
    session: Session,
    Confirmed(account): Confirmed,
    layout: Layout,
    Form(fields): Form<ProfileFields>,
) -> Result<Response, AppError> {
    let mut errors = FieldErrors::new();
    let (Some(profile), true) = (validate_profile(&fields, &mut errors), errors.is_empty()) else {
        let form = typed_profile(&fields);
        return Ok(
            EditProfileTemplate::new(layout, "/edit-profile".into(), None, form, errors)
                .into_response(),
        );
    };
    user::update_profile(&state.db, account.id, &profile).await?;
    session.flash("success", "Your profile has been updated.");
    Ok(Redirect::to(&profile_path(&account.username)).into_response())
}

/// The account an administrator edits; a malformed or unknown id is a 404.
async fn find_by_id(state: &AppState, id: &str) -> Result<user::Model, AppError> {
    let id: i32 = id.parse().map_err(|_| AppError::NotFound(None))?;
    user::find_by_id(&state.db, id)
        .await?
        .ok_or_else(|| AppError::NotFound(None))
}

async fn edit_profile_admin_page(
    State(state): State<AppState>,
    _admin: Can<{ Permission::ADMIN.0 }>,
    layout: Layout,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let user = find_by_id(&state, &id).await?;
    let account = AccountFields {
        email: user.email.clone(),
        username: user.username.clone(),
        confirmed: user.confirmed,
        role_id: user.role_id,
        roles: role::all(&state.db).await?,
    };
    let action = format!("/edit-profile/{}", user.id);
    let form = ProfileForm::of(&user);
    Ok(
        EditProfileTemplate::new(layout, action, Some(account), form, FieldErrors::new())
            .into_response(),
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AdminFields {
    email: String,
    username: String,
    /// A checkbox: present when ticked.
    confirmed: Option<String>,
    role: String,
    #[serde(flatten)]
    profile: ProfileFields,
}

async fn edit_profile_admin(
    State(state): State<AppState>,
    session: Session,
    _admin: Can<{ Permission::ADMIN.0 }>,
    layout: Layout,
    Path(id): Path<String>,
    Form(fields): Form<AdminFields>,
) -> Result<Response, AppError> {
    let user = find_by_id(&state, &id).await?;
    let roles = role::all(&state.db).await?;
    let mut errors = FieldErrors::new();
    let email = forms::email(&fields.email).map_err(|e| errors.insert("email", e.into()));
    let username =
        forms::username(&fields.username).map_err(|e| errors.insert("username", e.into()));
    let role_id = fields
        .role
        .trim()
        .parse::<i32>()
        .ok()
        .filter(|id| roles.iter().any(|r| r.id == *id));
    if role_id.is_none() {
        errors.insert("role", "Choose one of the roles.".into());
    }
    let profile = validate_profile(&fields.profile, &mut errors);
    let action = format!("/edit-profile/{}", user.id);
    let rerender = |layout, errors, roles| {
        let account = AccountFields {
            email: echo(&fields.email, forms::MAX_SHORT_CHARS),
            username: echo(&fields.username, forms::MAX_SHORT_CHARS),
            confirmed: fields.confirmed.is_some(),
            role_id: fields.role.trim().parse().unwrap_or(0),
            roles,
        };
        let form = typed_profile(&fields.profile);
        Ok(
            EditProfileTemplate::new(layout, action.clone(), Some(account), form, errors)
                .into_response(),
        )
    };
    let (Ok(email), Ok(username), Some(role_id), Some(profile), true) =
        (email, username, role_id, profile, errors.is_empty())
    else {
        return rerender(layout, errors, roles);
    };
    let edit = user::AdminEdit {
        email,
        username,
        confirmed: fields.confirmed.is_some(),
        role_id,
        profile,
    };
    match user::admin_update(&state.db, user.id, &edit).await {
        Ok(()) => {}
        Err(user::AccountError::Db(e)) => return Err(e.into()),
        Err(taken) => {
            let field = match taken {
                user::AccountError::UsernameTaken => "username",
                _ => "email",
            };
            errors.insert(field, taken.to_string());
            return rerender(layout, errors, roles);
        }
    }
    // The cards of the feeds show the username.
    session.note_write();
    session.flash("success", "The profile has been updated.");
    Ok(Redirect::to(&profile_path(&edit.username)).into_response())
}

async fn follow(
    State(state): State<AppState>,
    session: Session,
    Can(me): Can<{ Permission::FOLLOW.0 }>,
    Path(username): Path<String>,
) -> Result<Redirect, AppError> {
    let user = find_user(&state, &username).await?;
    match follow::follow(&state.db, me.id, user.id).await? {
        Outcome::Done => session.flash(
            "success",
            format!("You are now following {}.", user.username),
        ),
        Outcome::Already => session.flash("info", "You are already following this user."),
        Outcome::Yourself => session.flash("info", "You cannot follow yourself."),
    }
    Ok(Redirect::to(&profile_path(&user.username)))
}

async fn unfollow(
    State(state): State<AppState>,
    session: Session,
    Can(me): Can<{ Permission::FOLLOW.0 }>,
    Path(username): Path<String>,
) -> Result<Redirect, AppError> {
    let user = find_user(&state, &username).await?;
    match follow::unfollow(&state.db, me.id, user.id).await? {
        Outcome::Done => session.flash(
            "success",
            format!("You are not following {} anymore.", user.username),
        ),
        Outcome::Already => session.flash("info", "You are not following this user."),
        Outcome::Yourself => session.flash("danger", "You cannot unfollow yourself."),
    }
    Ok(Redirect::to(&profile_path(&user.username)))
}

/// Three queries at any page size: the user, the count, and the page joined with the users.
async fn follows_page(
    state: &AppState,
    layout: Layout,
    username: &str,
    page_query: &PageQuery,
    side: Side,
) -> Result<Response, AppError> {
    let cursor = page_query.cursor();
    let user = find_user(state, username).await?;
    let per_page = state.config.followers_per_page;
    let (title, path) = match side {
        Side::Followers => ("Followers of", format!("/followers/{}", user.username)),
        Side::Following => ("Followed by", format!("/following/{}", user.username)),
    };
    let page = follow::page(&state.db, user.id, side, cursor, per_page).await?;
    let pagination = Pagination::new(path, cursor, &page).numbered(page_query.number());
    Ok(Html(FollowsTemplate {
        layout,
        user,
        title,
        followers: side == Side::Followers,
        entries: page.items,
        pagination,
    })
    .into_response())
}

async fn followers(
    State(state): State<AppState>,
    layout: Layout,
    Path(username): Path<String>,
    query: PageQuery,
) -> Result<Response, AppError> {
    follows_page(&state, layout, &username, &query, Side::Followers).await
}

async fn following(
    State(state): State<AppState>,
    layout: Layout,
    Path(username): Path<String>,
    query: PageQuery,
) -> Result<Response, AppError> {
    follows_page(&state, layout, &username, &query, Side::Following).await
}

/// People in the directory per page.
const PEOPLE_PER_PAGE: u64 = 20;

/// The people directory: `?sort=followers` for the most followed first, anything else for the
/// newest members first (a bad value is no reason for an error).
async fn people(
    State(state): State<AppState>,
    layout: Layout,
    query: PageQuery,
    uri: Uri,
) -> Result<Response, AppError> {
    let by_followers = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .find(|(name, _)| name == "sort")
        .is_some_and(|(_, value)| value == "followers");
    let (order, sort) = if by_followers {
        (user::Directory::MostFollowed, "sort=followers")
    } else {
        (user::Directory::Newest, "")
    };
    let cursor = query.cursor();
    let page = user::directory(&state.db, order, cursor, PEOPLE_PER_PAGE).await?;
    let pagination = Pagination::new("/users", cursor, &page)
        .with_query(sort)
        .numbered(query.number());
    Ok(Html(PeopleTemplate {
        layout,
        by_followers,
        people: page.items,
        pagination,
    })
    .into_response())
}
