//! `templates/users/`: profiles, the profile forms and the lists of follows.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::Html;
use crate::models::forms::{self, FieldErrors};
use crate::models::{composition, follow, role, user};
use crate::web::layout::Layout;
use crate::web::pagination::Pagination;

#[derive(Template)]
#[template(path = "users/user.html")]
pub struct UserTemplate {
    pub layout: Layout,
    pub user: user::Model,
    /// How many compositions the user has published.
    pub compositions: u64,
    pub counts: follow::Counts,
    pub relationship: follow::Relationship,
    pub is_self: bool,
    pub can_follow: bool,
    pub is_admin: bool,
    pub cards: Vec<composition::Card>,
    pub viewing: super::compositions::Viewing,
    /// Who the viewer might follow (never this profile's user).
    pub suggestions: Vec<user::Model>,
    pub pagination: Pagination,
    pub head: super::head::Head,
}

impl UserTemplate {
    fn location_url(&self, location: &str) -> String {
        let query: String = form_urlencoded::byte_serialize(location.as_bytes()).collect();
        format!("https://www.openstreetmap.org/search?query={query}")
    }
}

/// The profile form as shown: stored values, or what was typed.
#[derive(Default)]
pub struct ProfileForm {
    pub name: String,
    pub location: String,
    pub about_me: String,
}

impl ProfileForm {
    pub fn of(user: &user::Model) -> Self {
        ProfileForm {
            name: user.name.clone().unwrap_or_default(),
            location: user.location.clone().unwrap_or_default(),
            about_me: user.about_me.clone().unwrap_or_default(),
        }
    }
}

/// The account fields only administrators see.
pub struct AccountFields {
    pub email: String,
    pub username: String,
    pub confirmed: bool,
    pub role_id: i32,
    pub roles: Vec<role::Model>,
}

#[derive(Template)]
#[template(path = "users/edit_profile.html")]
pub struct EditProfileTemplate {
    layout: Layout,
    title: &'static str,
    action: String,
    account: Option<AccountFields>,
    form: ProfileForm,
    errors: FieldErrors,
    max_about_me: usize,
}

impl EditProfileTemplate {
    /// One's own profile form, or with `account` an administrator's form for anyone's.
    pub fn new(
        layout: Layout,
        action: String,
        account: Option<AccountFields>,
        form: ProfileForm,
        errors: FieldErrors,
    ) -> Self {
        EditProfileTemplate {
            layout,
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
}

/// 200 for a fresh form, 422 when it comes back with errors.
impl IntoResponse for EditProfileTemplate {
    fn into_response(self) -> Response {
        if self.errors.is_empty() {
            Html(self).into_response()
        } else {
            (StatusCode::UNPROCESSABLE_ENTITY, Html(self)).into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "users/follows.html")]
pub struct FollowsTemplate {
    pub layout: Layout,
    pub user: user::Model,
    /// "Followers of" or "Followed by", before the username.
    pub title: &'static str,
    /// The user's followers (else the users they follow).
    pub followers: bool,
    pub entries: Vec<follow::Entry>,
    pub pagination: Pagination,
}

impl FollowsTemplate {
    /// The viewer's own list.
    pub fn is_own(&self) -> bool {
        self.layout
            .user
            .as_ref()
            .is_some_and(|me| me.id == self.user.id)
    }
}

/// The people directory: everyone, newest members or most followed first.
#[derive(Template)]
#[template(path = "users/people.html")]
pub struct PeopleTemplate {
    pub layout: Layout,
    /// Most followed first (else newest members first).
    pub by_followers: bool,
    pub people: Vec<user::Model>,
    pub pagination: Pagination,
}

/// `/admin/users`: accounts with their roles, for administrators.
#[derive(Template)]
#[template(path = "admin/users.html")]
pub struct AdminUsersTemplate {
    pub layout: Layout,
    /// The search, as typed (bounded).
    pub q: String,
    pub accounts: Vec<user::Model>,
    pub roles: Vec<role::Model>,
    pub role_names: std::collections::HashMap<i32, String>,
    pub pagination: Pagination,
}

impl AdminUsersTemplate {
    pub fn role_of(&self, account: &user::Model) -> &str {
        self.role_names
            .get(&account.role_id)
            .map_or("(none)", String::as_str)
    }

    /// The page's own query string, for the forms that come back to it.
    pub fn back(&self) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        if !self.q.is_empty() {
            query.append_pair("q", &self.q);
        }
        let here = self.pagination.here_query();
        let mut back = query.finish();
        if !here.is_empty() {
            if !back.is_empty() {
                back.push('&');
            }
            back.push_str(&here);
        }
        back
    }
}
