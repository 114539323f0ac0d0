//! Askama templates (compile-time checked); the files live in `templates/`.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::forms::{self, FieldErrors};
use crate::mail;
use crate::models::{comment, composition};
use crate::pagination::Pagination;
use crate::web::errors::{AppError, Rendered};
use crate::web::page::Page;

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorTemplate<'a> {
    pub page: &'a Page,
    pub code: u16,
    pub title: &'a str,
    pub message: &'a str,
}

/// The composition form (home page, edit page): what was typed and what is wrong with it.
#[derive(Default)]
pub struct CompositionForm {
    pub release_type: i16,
    pub title: String,
    pub description: String,
    pub errors: FieldErrors,
}

impl CompositionForm {
    pub fn release_types(&self) -> &'static [(i16, &'static str)] {
        &composition::RELEASE_TYPES
    }

    /// The form filled with a stored composition.
    pub fn of(c: &composition::Model) -> Self {
        CompositionForm {
            release_type: c.release_type,
            title: c.title.clone(),
            description: c.description.clone(),
            errors: FieldErrors::new(),
        }
    }

    /// The form as typed, with its errors (input bounded so nothing huge is echoed back).
    pub fn typed(release_type: &str, title: &str, description: &str, errors: FieldErrors) -> Self {
        CompositionForm {
            release_type: release_type.trim().parse().unwrap_or(1),
            title: title.chars().take(64).collect(),
            description: description
                .chars()
                .take(forms::MAX_MARKDOWN_CHARS)
                .collect(),
            errors,
        }
    }
}

#[derive(Template)]
#[template(path = "index.html")]
pub struct IndexTemplate {
    pub page: Page,
    pub can_publish: bool,
    pub show_followed: bool,
    pub form: CompositionForm,
    /// Shared with the feed cache when the page came from there.
    pub cards: std::sync::Arc<Vec<composition::Card>>,
    pub pagination: Pagination,
}

/// Render a template as an HTML response.
pub fn html<T: Template>(template: &T) -> Result<Response, AppError> {
    let body = template.render()?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        body,
    )
        .into_response())
}

/// Render a template with a status of its own (a form with errors is a 422); the error-page
/// layer leaves it alone.
pub fn html_status<T: Template>(status: StatusCode, template: &T) -> Result<Response, AppError> {
    let mut res = html(template)?;
    *res.status_mut() = status;
    res.extensions_mut().insert(Rendered);
    Ok(res)
}

#[derive(Template)]
#[template(path = "auth/login.html")]
pub struct LoginTemplate {
    pub page: Page,
    pub email: String,
    pub next: String,
    pub failure: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "auth/register.html")]
pub struct RegisterTemplate {
    pub page: Page,
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
    pub page: Page,
    pub title: &'static str,
    pub action: String,
    pub fields: Vec<Field>,
    pub submit: &'static str,
    pub errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "auth/unconfirmed.html")]
pub struct UnconfirmedTemplate {
    pub page: Page,
    pub username: String,
}

/// The mails that greet a user and carry one link (text and HTML parts of each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkMail {
    Confirm,
    ResetPassword,
    ChangeEmail,
    Welcome,
}

macro_rules! link_mail_templates {
    ($($text:ident $html:ident $text_path:literal $html_path:literal;)*) => {$(
        #[derive(Template)]
        #[template(path = $text_path)]
        struct $text<'a> {
            username: &'a str,
            link: &'a str,
        }

        #[derive(Template)]
        #[template(path = $html_path)]
        struct $html<'a> {
            username: &'a str,
            link: &'a str,
        }
    )*};
}

link_mail_templates! {
    ConfirmText ConfirmHtml "mail/confirm.txt" "mail/confirm.html";
    ResetText ResetHtml "mail/reset_password.txt" "mail/reset_password.html";
    ChangeEmailText ChangeEmailHtml "mail/change_email.txt" "mail/change_email.html";
    WelcomeText WelcomeHtml "mail/welcome.txt" "mail/welcome.html";
}

impl LinkMail {
    pub fn subject(self) -> &'static str {
        match self {
            LinkMail::Confirm => "Confirm Your Account",
            LinkMail::ResetPassword => "Reset Your Password",
            LinkMail::ChangeEmail => "Confirm your email address",
            LinkMail::Welcome => "Welcome to Ragtime",
        }
    }

    pub fn render(self, username: &str, link: &str) -> Result<mail::Rendered, askama::Error> {
        match self {
            LinkMail::Confirm => mail::render(
                &ConfirmText { username, link },
                &ConfirmHtml { username, link },
            ),
            LinkMail::ResetPassword => {
                mail::render(&ResetText { username, link }, &ResetHtml { username, link })
            }
            LinkMail::ChangeEmail => mail::render(
                &ChangeEmailText { username, link },
                &ChangeEmailHtml { username, link },
            ),
            LinkMail::Welcome => mail::render(
                &WelcomeText { username, link },
                &WelcomeHtml { username, link },
            ),
        }
    }
}

#[derive(Template)]
#[template(path = "mail/new_user.txt")]
pub struct NewUserText<'a> {
    pub username: &'a str,
    pub email: &'a str,
}

#[derive(Template)]
#[template(path = "mail/new_user.html")]
pub struct NewUserHtml<'a> {
    pub username: &'a str,
    pub email: &'a str,
}

#[derive(Template)]
#[template(path = "mail/error.txt")]
pub struct ErrorMailText<'a> {
    pub context: &'a str,
    pub detail: &'a str,
}

#[derive(Template)]
#[template(path = "mail/error.html")]
pub struct ErrorMailHtml<'a> {
    pub context: &'a str,
    pub detail: &'a str,
}

/// A composition's permalink page: the composition, its comments and the comment form.
#[derive(Template)]
#[template(path = "compositions/show.html")]
pub struct CompositionTemplate {
    pub page: Page,
    /// The composition as a one-item list, so it renders like in the feeds.
    pub cards: Vec<composition::Card>,
    pub comments: Vec<comment::WithAuthor>,
    pub pagination: Pagination,
    pub can_comment: bool,
    /// What was typed in the comment form, and what is wrong with it.
    pub body: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "compositions/edit.html")]
pub struct EditCompositionTemplate {
    pub page: Page,
    pub title: String,
    pub slug: String,
    pub form: CompositionForm,
}

#[derive(Template)]
#[template(path = "compositions/delete.html")]
pub struct DeleteCompositionTemplate {
    pub page: Page,
    pub title: String,
    pub slug: String,
}

#[derive(Template)]
#[template(path = "moderate.html")]
pub struct ModerateTemplate {
    pub page: Page,
    pub comments: Vec<comment::WithAuthor>,
    pub pagination: Pagination,
}
