//! Keeps the in-memory feed cache honest: a successful write empties it (see
//! `models::feed_cache`).

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

use crate::state::AppState;

/// Middleware: after any successful POST, PUT, PATCH or DELETE, forget the cached feed. Any
/// write may change what it shows (a title, a comment count, an artist's name), so none is
/// singled out.
pub async fn forget_after_writes(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let writes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let res = next.run(req).await;
    if writes && res.status().as_u16() < 400 {
        state.feeds.clear();
    }
    res
}
