//! The router: every blueprint and every layer, assembled the same way for production and for
//! tests. Nothing imports this module but the commands and the tests.

use std::any::Any;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::IntoResponse;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{DefaultPredicate, NotForContentType, Predicate};
use tower_http::timeout::TimeoutLayer;

use crate::config::ConfigName;
use crate::error::{AppError, InternalError};
use crate::state::AppState;
use crate::views::{error_mail, errors};
use crate::web::{assets, avatars, body_limit, cache, client, csrf, headers, request_log, session};
use crate::{api, views};

async fn not_found() -> AppError {
    AppError::NotFound(None)
}

/// Every route and every layer. Each `.layer` wraps everything above it, so read the layers
/// bottom-up for the order a request meets them: the client is resolved first, CSRF is checked
/// last, just before the handler.
pub fn router(state: AppState) -> Router {
    let config = state.config.clone();
    // Pages for a developer at their own machine, never served elsewhere.
    let development = match config.name {
        ConfigName::Development => views::dev::router(),
        _ => Router::new(),
    };
    Router::new()
        .merge(development)
        .merge(views::main::router())
        .merge(views::audio::router())
        .merge(views::auth::router())
        .merge(views::account::router())
        .merge(views::users::router())
        .merge(views::compositions::router())
        .merge(views::tracks::router())
        .merge(views::plays::router())
        .merge(views::moderation::router())
        .merge(views::admin::router())
        .merge(views::notifications::router())
        .merge(views::tags::router())
        .merge(views::search::router())
        .merge(views::feeds::router().merge(views::seo::router()))
        .merge(api::router())
        .merge(assets::router())
        .merge(avatars::router())
        .fallback(not_found)
        .layer(DefaultBodyLimit::disable())
        .layer(from_fn_with_state(state.clone(), views::auth::last_seen))
        .layer(from_fn_with_state(state.clone(), csrf::csrf_protect))
        .layer(from_fn_with_state(state.clone(), body_limit::limit_bodies))
        // Heroku's router gives up after 30 s, but never cancels our work: bound it ourselves.
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            config.request_timeout,
        ))
        .layer(CatchPanicLayer::custom(|panic: Box<dyn Any + Send>| {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("a request handler panicked");
            tracing::error!(panic = message, "a request handler panicked");
            let mut res = StatusCode::INTERNAL_SERVER_ERROR.into_response();
            let kind = format!("panic: {message}");
            res.extensions_mut()
                .insert(InternalError::new(&kind, message.to_owned()));
            res
        }))
        .layer(from_fn_with_state(state.clone(), errors::error_pages))
        .layer(from_fn_with_state(state.clone(), error_mail::mail_errors))
        .layer(from_fn_with_state(
            state.clone(),
            cache::forget_after_writes,
        ))
        .layer(from_fn_with_state(state.clone(), session::sessions))
        // Audio is compressed already, and a gzipped 206 would break seeking.
        .layer(
            CompressionLayer::new()
                .compress_when(DefaultPredicate::new().and(NotForContentType::const_new("audio/"))),
        )
        .layer(from_fn_with_state(state.clone(), headers::https_redirect))
        .layer(from_fn_with_state(state.clone(), headers::security_headers))
        .layer(from_fn(request_log::log_requests))
        .layer(from_fn_with_state(state.clone(), client::resolve_client))
        .with_state(state)
}
