//! Askama templates (compile-time checked); the files live in `templates/`.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::forms::FieldErrors;
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

#[derive(Template)]
#[template(path = "index.html")]
pub struct IndexTemplate {
    pub page: Page,
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

#[derive(Template)]
#[template(path = "auth/unconfirmed.html")]
pub struct UnconfirmedTemplate {
    pub page: Page,
    pub username: String,
}

#[derive(Template)]
#[template(path = "mail/confirm.txt")]
pub struct ConfirmText<'a> {
    pub username: &'a str,
    pub link: &'a str,
}

#[derive(Template)]
#[template(path = "mail/confirm.html")]
pub struct ConfirmHtml<'a> {
    pub username: &'a str,
    pub link: &'a str,
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
