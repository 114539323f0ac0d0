//! The `main` blueprint: the home page and the health check.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::app::AppState;
use crate::templates::{IndexTemplate, html};
use crate::web::errors::{AppError, Rendered};
use crate::web::page::Page;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/healthz", get(healthz))
}

async fn index(page: Page) -> Result<Response, AppError> {
    html(&IndexTemplate { page })
}

/// For the platform's and operators' health checks: is the database reachable?
async fn healthz(State(state): State<AppState>) -> Response {
    match state.db.ping().await {
        Ok(()) => (StatusCode::OK, axum::Json(json!({ "status": "ok" }))).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            let mut res = (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(json!({
                    "error": "service unavailable",
                    "message": "The database is unreachable."
                })),
            )
                .into_response();
            res.extensions_mut().insert(Rendered);
            res
        }
    }
}
