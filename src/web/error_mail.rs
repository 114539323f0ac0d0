//! In production, unexpected errors (500s) are mailed to the administrator (`RAGTIME_ADMIN`),
//! at most one mail per kind of error per few minutes. The throttle is a rate-limit counter in
//! the database, so a burst of failures on several dynos still sends one mail.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use chrono::Duration;

use crate::app::AppState;
use crate::crypto::sha256_hex;
use crate::mail;
use crate::models::rate_limit;
use crate::templates::{ErrorMailHtml, ErrorMailText};
use crate::web::request_log::RequestId;

/// At most one mail per error kind in this time.
pub const THROTTLE_MINUTES: i64 = 5;

/// Attached to a 500 response by whatever produced it (an `AppError`, a caught panic).
#[derive(Clone, Debug)]
pub struct InternalError {
    /// What kind of failure this is: errors of one kind share a throttle.
    pub kind: String,
    /// The whole cause chain, for the administrator.
    pub detail: String,
}

impl InternalError {
    pub fn new(kind: &str, detail: String) -> Self {
        InternalError {
            kind: error_kind(kind),
            detail,
        }
    }
}

/// The failure's message with numbers masked and length bounded, so "timeout after 5001 ms"
/// and "timeout after 5002 ms" are one kind.
fn error_kind(message: &str) -> String {
    let mut masked = String::new();
    let mut in_number = false;
    for c in message.chars().filter(|c| !c.is_control()) {
        let digit = c.is_ascii_digit();
        if !(digit && in_number) {
            masked.push(if digit { '#' } else { c });
        }
        in_number = digit;
        if masked.chars().count() >= 120 {
            break;
        }
    }
    if masked.is_empty() {
        "unknown error".to_owned()
    } else {
        masked
    }
}

/// Middleware: report the 500s that carry an [`InternalError`].
pub async fn mail_errors(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let admin = match &state.config.admin_email {
        Some(admin) if state.config.name.is_production_like() => admin.clone(),
        _ => return next.run(req).await,
    };
    let method = req.method().to_string();
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let res = next.run(req).await;
    if let Some(error) = res.extensions().get::<InternalError>() {
        // The route pattern, not the path: paths can carry tokens.
        let route = res
            .extensions()
            .get::<MatchedPath>()
            .map_or("-", |p| p.as_str());
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

#[cfg(test)]
mod tests {
    use super::error_kind;

    #[test]
    fn errors_that_differ_only_in_numbers_are_one_kind() {
        assert_eq!(
            error_kind("pool timed out after 5001 ms"),
            error_kind("pool timed out after 30000 ms")
        );
        assert_ne!(error_kind("pool timed out"), error_kind("disk full"));
        assert_eq!(error_kind("a\nb").len(), 2);
        assert_eq!(error_kind(&"x".repeat(500)).len(), 120);
    }
}
