//! In production, unexpected errors (500s) are mailed to the administrator (`RAGTIME_ADMIN`),
//! at most one mail per kind of error per few minutes. The throttle is a rate-limit counter in
//! the database, so a burst of failures on several dynos still sends one mail.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use chrono::Duration;

use crate::crypto::sha256_hex;
use crate::error::InternalError;
use crate::mail;
use crate::models::rate_limit;
use crate::state::AppState;
use crate::templates::mail::{ErrorMailHtml, ErrorMailText};
use crate::web::request_log::RequestId;

/// At most one mail per error kind in this time.
pub const THROTTLE_MINUTES: i64 = 5;

/// Middleware: report the 500s that carry an [`InternalError`].
pub async fn mail_errors(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let admin = match &state.config.admin_email {
        Some(admin) if state.config.name.is_production_like() => admin.clone(),
        _ => return next.run(req).await,
    };
    let method = req.method().to_string();
    // The route pattern, not the path: paths can carry tokens. The router puts it on the
    // request (this layer wraps each route); a request that matched none has none.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "-".to_owned(), |p| p.as_str().to_owned());
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let res = next.run(req).await;
    if let Some(error) = res.extensions().get::<InternalError>() {
        let context = format!("{method} {route} (request id {request_id})");
        if let Err(e) = report(&state, &admin, error, &context).await {
            tracing::warn!(error = %e, "cannot queue the error mail");
        }
    }
    res
}

async fn report(
    state: &AppState,
    admin: &str,
    error: &InternalError,
    context: &str,
) -> anyhow::Result<()> {
    let key = format!("error_mail:{}", &sha256_hex(&error.kind)[..32]);
    let window = rate_limit::hit(&state.db, &key, Duration::minutes(THROTTLE_MINUTES)).await?;
    if window.count > 1 {
        return Ok(());
    }
    let body = mail::render(
        &ErrorMailText {
            context,
            detail: &error.detail,
        },
        &ErrorMailHtml {
            context,
            detail: &error.detail,
        },
    )?;
    let subject = format!("Error: {}", error.kind);
    mail::queue(&state.db, &state.config.mail, admin, &subject, &body).await?;
    Ok(())
}
