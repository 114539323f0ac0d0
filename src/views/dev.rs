//! Development only (merged into the router in the development configuration alone): the mail
//! the site sent, newest first, with its links clickable, so that registering on one's own
//! machine needs no reading of the log.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::error::AppError;
use crate::models::mail_queue;
use crate::state::AppState;
use crate::templates::Html;
use crate::templates::dev::{DevMailTemplate, Mail};
use crate::web::layout::Layout;

/// Messages listed.
const SHOWN: u64 = 50;

pub fn router() -> Router<AppState> {
    Router::new().route("/dev/mail", get(mail))
}

async fn mail(State(state): State<AppState>, layout: Layout) -> Result<Response, AppError> {
    let mails = mail_queue::newest(&state.db, SHOWN)
        .await?
        .into_iter()
        .map(Mail::from)
        .collect();
    Ok(Html(DevMailTemplate {
        layout,
        shown: SHOWN,
        mails,
    })
    .into_response())
}
