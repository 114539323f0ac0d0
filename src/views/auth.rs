//! The `auth` blueprint. For now: logging out, which ends the server-side session.

use axum::Router;
use axum::response::Redirect;
use axum::routing::post;

use crate::app::AppState;
use crate::web::errors::AppError;
use crate::web::session::Session;

pub fn router() -> Router<AppState> {
    Router::new().route("/auth/logout", post(logout))
}

/// POST only (and CSRF-checked by the layer), so no link or image can log a user out.
async fn logout(session: Session) -> Result<Redirect, AppError> {
    session.logout().await?;
    session.flash("info", "You have been logged out.");
    Ok(Redirect::to("/"))
}
