//! Askama templates (compile-time checked); the files live in `templates/`.

use askama::Template;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::web::errors::AppError;
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
