//! The user pages of the Flask original's `main` blueprint: profiles (`user`), editing one's
//! own (`edit_profile`) or anyone's as an administrator (`edit_profile_admin`), `follow` /
//! `unfollow`, and the `followers` / `following` lists.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::app::AppState;
use crate::auth::{Can, CurrentUser};
use crate::forms::{self, FieldErrors};
use crate::models::{Permission, composition, follow, role, user};
use crate::pagination::{PageQuery, Pagination};
use crate::templates::{html, html_status};
use crate::web::errors::AppError;
use crate::web::page::Page;
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
}

fn profile_path(username: &str) -> String {
    format!("/user/{username}")
}

async fn find_user(state: &AppState, username: &str) -> Result<user::Model, AppError> {
    user::find_by_username(&state.db, username)
        .await?
        .ok_or_else(AppError::not_found)
}

#[derive(Template)]
#[template(path = "users/user.html")]
struct UserTemplate {
    page: Page,
    user: user::Model,
    /// How many compositions the user has published.
    compositions: u64,
    counts: follow::Counts,
    relationship: follow::Relationship,
    is_self: bool,
    can_follow: bool,
    is_admin: bool,
    cards: Vec<composition::Card>,
    pagination: Pagination,
}

impl UserTemplate {
    fn location_url(&self, location: &str) -> String {
        let query: String = form_urlencoded::byte_serialize(location.as_bytes()).collect();
        format!("https://www.openstreetmap.org/search?query={query}")
    }
}

/// A fixed number of queries at any page size: the user, the compositions page (count, page,
/// comment counts), both follow counts, and how the viewer and the user stand.
async fn profile(
    State(state): State<AppState>,
    page: Page,
    Path(username): Path<String>,
    query: PageQuery,
) -> Result<Response, AppError> {
    let user = find_user(&state, &username).await?;
    let per_page = state.config.compositions_per_page;
    let mut pagination = Pagination::new(query.number(), per_page, 0, profile_path(&user.username));
    let (cards, total) = composition::page(
        &state.db,
        composition::Feed::By(user.id),
        pagination.offset(),
        per_page,
    )
    .await?;
    pagination.total = total;
    let counts = follow::counts(&state.db, user.id).await?;
    let viewer = page.user.as_ref();
    let is_self = viewer.is_some_and(|v| v.id == user.id);
    let relationship = match viewer {
        Some(v) if !is_self => follow::relationship(&state.db, v.id, user.id).await?,
        _ => follow::Relationship::default(),
    };
    let template = UserTemplate {
        can_follow: !is_self && viewer.is_some_and(|v| v.can(Permission::FOLLOW)),
        is_admin: viewer.is_some_and(|v| v.is_administrator()),
        is_self,
        page,
        user,
        compositions: total,
        counts,
        relationship,
        cards,
        pagination,
    };
    html(&template)
}

/// The profile form as shown: stored values, or what was typed with what is wrong with it.
#[derive(Default)]
struct ProfileForm {
    name: String,
    location: String,
    about_me: String,
}

impl ProfileForm {
    fn of(user: &user::Model) -> Self {
        ProfileForm {
            name: user.name.clone().unwrap_or_default(),
            location: user.location.clone().unwrap_or_default(),
            about_me: user.about_me.clone().unwrap_or_default(),
        }
    }

    fn typed(fields: &ProfileFields) -> Self {
        ProfileForm {
            name: echo(&fields.name, forms::MAX_SHORT_CHARS * 2),
            location: echo(&fields.location, forms::MAX_SHORT_CHARS * 2),
            about_me: echo(&fields.about_me, forms::MAX_ABOUT_ME_CHARS * 2),
        }
    }
}

/// Typed text shown back in a form: bounded, and without the control characters that were
/// refused.
fn echo(text: &str, max: usize) -> String {
    text.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'))
        .take(max)
        .collect()
}

/// The account fields only administrators see.
struct AccountFields {
    email: String,
    username: String,
    confirmed: bool,
    role_id: i32,
    roles: Vec<role::Model>,
}

#[derive(Template)]
#[template(path = "users/edit_profile.html")]
struct EditProfileTemplate {
    page: Page,
    title: &'static str,
    action: String,
    account: Option<AccountFields>,
    form: ProfileForm,
    errors: FieldErrors,
    max_about_me: usize,
}

impl EditProfileTemplate {
    fn new(
        page: Page,
        action: String,
        account: Option<AccountFields>,
        form: ProfileForm,
        errors: FieldErrors,
    ) -> Self {
        EditProfileTemplate {
            page,
            title: if account.is_some() {
                "Edit Profile [Admin]"
            } else {
                "Edit Profile"
            },
            action,
            account,
            form,
            errors,
            max_about_me: forms::MAX_ABOUT_ME_CHARS,
        }
    }

    /// 200 for a fresh form, 422 when it comes back with errors.
    fn render(self) -> Result<Response, AppError> {
        if self.errors.is_empty() {
            html(&self)
        } else {
            html_status(StatusCode::UNPROCESSABLE_ENTITY, &self)
        }
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
    CurrentUser(account): CurrentUser,
    page: Page,
) -> Result<Response, AppError> {
    let form = ProfileForm::of(&account);
    EditProfileTemplate::new(page, "/edit-profile".into(), None, form, FieldErrors::new()).render()
}

async fn edit_profile(
    State(state): State<AppState>,
    session: Session,
    CurrentUser(account): CurrentUser,
    page: Page,
    axum::Form(fields): axum::Form<ProfileFields>,
) -> Result<Response, AppError> {
    let mut errors = FieldErrors::new();
    let (Some(profile), true) = (validate_profile(&fields, &mut errors), errors.is_empty()) else {
        let form = ProfileForm::typed(&fields);
        return EditProfileTemplate::new(page, "/edit-profile".into(), None, form, errors).render();
    };
    user::update_profile(&state.db, account.id, &profile).await?;
    session.flash("success", "Your profile has been updated.");
    Ok(Redirect::to(&profile_path(&account.username)).into_response())
}

/// The account an administrator edits; a malformed or unknown id is a 404.
async fn find_by_id(state: &AppState, id: &str) -> Result<user::Model, AppError> {
    let id: i32 = id.parse().map_err(|_| AppError::not_found())?;
    user::find_by_id(&state.db, id)
        .await?
        .ok_or_else(AppError::not_found)
}

async fn edit_profile_admin_page(
    State(state): State<AppState>,
    _admin: Can<{ Permission::ADMIN.0 }>,
    page: Page,
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
    EditProfileTemplate::new(page, action, Some(account), form, FieldErrors::new()).render()
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
    page: Page,
    Path(id): Path<String>,
    axum::Form(fields): axum::Form<AdminFields>,
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
    let rerender = |page, errors, roles| {
        let account = AccountFields {
            email: echo(&fields.email, forms::MAX_SHORT_CHARS),
            username: echo(&fields.username, forms::MAX_SHORT_CHARS),
            confirmed: fields.confirmed.is_some(),
            role_id: fields.role.trim().parse().unwrap_or(0),
            roles,
        };
        let form = ProfileForm::typed(&fields.profile);
        EditProfileTemplate::new(page, action.clone(), Some(account), form, errors).render()
    };
    let (Ok(email), Ok(username), Some(role_id), Some(profile), true) =
        (email, username, role_id, profile, errors.is_empty())
    else {
        return rerender(page, errors, roles);
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
            return rerender(page, errors, roles);
        }
    }
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
    if user.id == me.id {
        session.flash("info", "You cannot follow yourself.");
    } else if follow::follow(&state.db, me.id, user.id).await? {
        session.flash(
            "success",
            format!("You are now following {}.", user.username),
        );
    } else {
        session.flash("info", "You are already following this user.");
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
    if user.id == me.id {
        session.flash("danger", "You cannot unfollow yourself.");
    } else if follow::unfollow(&state.db, me.id, user.id).await? {
        session.flash(
            "success",
            format!("You are not following {} anymore.", user.username),
        );
    } else {
        session.flash("info", "You are not following this user.");
    }
    Ok(Redirect::to(&profile_path(&user.username)))
}

#[derive(Template)]
#[template(path = "users/follows.html")]
struct FollowsTemplate {
    page: Page,
    user: user::Model,
    /// "Followers of" or "Followed by", before the username.
    title: &'static str,
    entries: Vec<follow::Entry>,
    pagination: Pagination,
}

/// Which list of follows a page shows.
#[derive(Clone, Copy)]
enum Side {
    Followers,
    Following,
}

/// Three queries at any page size: the user, the count, and the page joined with the users.
async fn follows_page(
    state: &AppState,
    page: Page,
    username: &str,
    number: u64,
    side: Side,
) -> Result<Response, AppError> {
    let user = find_user(state, username).await?;
    let per_page = state.config.followers_per_page;
    let (title, path) = match side {
        Side::Followers => ("Followers of", format!("/followers/{}", user.username)),
        Side::Following => ("Followed by", format!("/following/{}", user.username)),
    };
    let mut pagination = Pagination::new(number, per_page, 0, path);
    let (entries, total) = match side {
        Side::Followers => {
            follow::followers(&state.db, user.id, pagination.offset(), per_page).await?
        }
        Side::Following => {
            follow::following(&state.db, user.id, pagination.offset(), per_page).await?
        }
    };
    pagination.total = total;
    html(&FollowsTemplate {
        page,
        user,
        title,
        entries,
        pagination,
    })
}

async fn followers(
    State(state): State<AppState>,
    page: Page,
    Path(username): Path<String>,
    query: PageQuery,
) -> Result<Response, AppError> {
    follows_page(&state, page, &username, query.number(), Side::Followers).await
}

async fn following(
    State(state): State<AppState>,
    page: Page,
    Path(username): Path<String>,
    query: PageQuery,
) -> Result<Response, AppError> {
    follows_page(&state, page, &username, query.number(), Side::Following).await
}
