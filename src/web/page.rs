//! What every page of the layout needs: who is logged in, the flash messages, a CSRF token for
//! its forms and the asset URLs. Handlers take a `Page` as an extractor and hand it to their
//! template.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::models::user;
use crate::web::assets;
use crate::web::errors::AppError;
use crate::web::session::{Flash, Session};

pub struct Page {
    pub user: Option<user::Account>,
    session: Option<Session>,
}

impl Page {
    pub async fn for_session(session: Session) -> Page {
        // A failing database must not stop an error page from rendering.
        let user = session.account().await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot load the current user for a page");
            None
        });
        Page {
            user,
            session: Some(session),
        }
    }

    /// For the rare page rendered outside the session middleware.
    pub fn anonymous() -> Page {
        Page {
            user: None,
            session: None,
        }
    }

    /// A CSRF token for a form on this page.
    pub fn csrf_token(&self) -> String {
        self.session
            .as_ref()
            .map(Session::csrf_token)
            .unwrap_or_default()
    }

    /// Whether this request follows a write (it brings the flash message the write set): it
    /// must show the database as it is now, not the feed cache's copy.
    pub fn follows_a_write(&self) -> bool {
        self.session.as_ref().is_some_and(Session::follows_a_write)
    }

    /// One-time messages, shown once and then gone.
    pub fn flashes(&self) -> Vec<Flash> {
        self.session
            .as_ref()
            .map(Session::take_flashes)
            .unwrap_or_default()
    }

    /// The avatar image for an email hash, `size` pixels square.
    pub fn avatar(&self, hash: &str, size: u32) -> String {
        let base = self
            .session
            .as_ref()
            .map_or(crate::config::DEFAULT_AVATAR_URL, Session::avatar_base);
        user::avatar_url(base, hash, size)
    }

    pub fn asset(&self, name: &str) -> &'static str {
        assets::url(name)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Page {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let session = Session::from_request_parts(parts, state).await?;
        let user = session.account().await?;
        Ok(Page {
            user,
            session: Some(session),
        })
    }
}
