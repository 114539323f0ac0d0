//! The application: shared state and the router with every layer, built the same way for
//! production and for tests.

use std::any::Any;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::IntoResponse;
use sea_orm::DatabaseConnection;
use secrecy::ExposeSecret;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::map_request_body::MapRequestBodyLayer;
use tower_http::timeout::TimeoutLayer;

use crate::config::{Config, ConfigError};
use crate::crypto::Signer;
use crate::models::feed_cache::FeedCache;
use crate::web::error_mail::{self, InternalError};
use crate::web::errors::AppError;
use crate::web::{assets, cache, client, csrf, errors, headers, request_log, session};
use crate::{api, mail, views};

/// What every request shares, behind one `Arc`: the router clones the state for every layer
/// and extractor of every request, so a clone must be one counter increment.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub config: Arc<Config>,
    pub db: DatabaseConnection,
    pub signer: Signer,
    pub csp: HeaderValue,
    pub mail: mail::Transport,
    pub avatar_base: Arc<str>,
    /// Everyone's newest compositions, read in the last moments (see `models::feed_cache`).
    pub feeds: Arc<FeedCache>,
}

impl AppState {
    pub fn new(
        config: Config,
        db: DatabaseConnection,
        mail: mail::Transport,
    ) -> Result<Self, ConfigError> {
        let csp =
            HeaderValue::from_str(&config.content_security_policy).map_err(|_| ConfigError {
                variable: "RAGTIME_CSP",
                message: "contains characters not allowed in an HTTP header".into(),
            })?;
        Ok(AppState(Arc::new(Shared {
            feeds: Arc::new(FeedCache::default()),
            avatar_base: Arc::from(config.avatar_base_url.as_str()),
            signer: Signer::new(config.secret_key.expose_secret().as_bytes()),
            config: Arc::new(config),
            db,
            csp,
            mail,
        })))
    }
}

async fn not_found() -> AppError {
    AppError::not_found()
}

/// Every route and every layer. Each `.layer` wraps everything above it, so read the layers
/// bottom-up for the order a request meets them: the client is resolved first, CSRF is checked
/// last, just before the handler.
pub fn router(state: AppState) -> Router {
    let config = state.config.clone();
    Router::new()
        .merge(views::main::router())
        .merge(views::auth::router())
        .merge(views::account::router())
        .merge(views::users::router())
        .merge(views::compositions::router())
        .merge(views::moderation::router())
        .merge(api::router())
        .merge(assets::router())
        .fallback(not_found)
        .layer(DefaultBodyLimit::disable())
        .layer(from_fn(views::auth::gate))
        .layer(from_fn(csrf::csrf_protect))
        .layer(MapRequestBodyLayer::new(Body::new))
        .layer(RequestBodyLimitLayer::new(config.max_body_bytes))
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
        .layer(from_fn(errors::error_pages))
        .layer(from_fn_with_state(state.clone(), error_mail::mail_errors))
        .layer(from_fn_with_state(
            state.clone(),
            cache::forget_after_writes,
        ))
        .layer(from_fn_with_state(state.clone(), session::sessions))
        .layer(CompressionLayer::new())
        .layer(from_fn_with_state(state.clone(), headers::https_redirect))
        .layer(from_fn_with_state(state.clone(), headers::security_headers))
        .layer(from_fn(request_log::log_requests))
        .layer(from_fn_with_state(state.clone(), client::resolve_client))
        .with_state(state)
}
