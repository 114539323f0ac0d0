//! What every request shares: configuration, the database pool, the signing key, the mail
//! transport and the feed cache. Layers and handlers take it with `State<AppState>`; it knows
//! nothing of the router, so anything may import it.

use std::sync::Arc;

use axum::http::HeaderValue;
use sea_orm::DatabaseConnection;
use secrecy::ExposeSecret;
use tokio_util::task::TaskTracker;

use crate::config::{Config, ConfigError};
use crate::crypto::Signer;
use crate::mail;
use crate::media::Media;
use crate::models::feed_cache::FeedCache;

/// Behind one `Arc`: the router clones the state for every layer and extractor of every
/// request, so a clone must be one counter increment.
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
    /// Work a handler left to do after answering; a stopping server waits for it.
    pub background: TaskTracker,
    /// Where tracks' audio is kept, and the limits on uploads.
    pub media: Media,
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
        let media = Media::new(&config.media).map_err(|e| ConfigError {
            variable: "RAGTIME_MEDIA_URL",
            message: format!("the media store cannot be opened: {e:#}"),
        })?;
        Ok(AppState(Arc::new(Shared {
            media,
            feeds: Arc::new(FeedCache::default()),
            avatar_base: Arc::from(config.avatar_base_url.as_str()),
            signer: Signer::new(config.secret_key.expose_secret().as_bytes()),
            config: Arc::new(config),
            db,
            csp,
            mail,
            background: TaskTracker::new(),
        })))
    }
}
