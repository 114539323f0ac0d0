//! `templates/auth/`: logging in, registering, the account forms, the unconfirmed page.

use askama::Template;

use crate::models::forms::FieldErrors;
use crate::web::layout::Layout;

#[derive(Template)]
#[template(path = "auth/login.html")]
pub struct LoginTemplate {
    pub layout: Layout,
    pub email: String,
    pub next: String,
    pub failure: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "auth/register.html")]
pub struct RegisterTemplate {
    pub layout: Layout,
    pub email: String,
    pub username: String,
    pub errors: FieldErrors,
}

/// One input of an account form.
pub struct Field {
    pub name: &'static str,
    pub label: &'static str,
    /// The input type: "email", "password"...
    pub kind: &'static str,
    pub autocomplete: &'static str,
    /// What the user typed (never kept for passwords).
    pub value: String,
}

impl Field {
    pub fn password(name: &'static str, label: &'static str, autocomplete: &'static str) -> Self {
        Field {
            name,
            label,
            kind: "password",
            autocomplete,
            value: String::new(),
        }
    }

    pub fn email(label: &'static str, typed: &str) -> Self {
        Field {
            name: "email",
            label,
            kind: "email",
            autocomplete: "email",
            value: typed.chars().take(64).collect(),
        }
    }
}

/// The small account forms (change password, reset, change email): a title, fields, errors.
#[derive(Template)]
#[template(path = "auth/form.html")]
pub struct AccountFormTemplate {
    pub layout: Layout,
    pub title: &'static str,
    pub action: String,
    /// A sentence above the fields, if the form needs one.
    pub intro: Option<String>,
    pub fields: Vec<Field>,
    pub submit: &'static str,
    pub errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "auth/unconfirmed.html")]
pub struct UnconfirmedTemplate {
    pub layout: Layout,
    pub username: String,
    /// Where the link was sent.
    pub email: String,
}
