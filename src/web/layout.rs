//! What every page of the layout needs: who is logged in, the flash messages, a CSRF token for
//! its forms, the asset URLs and where avatars come from. Handlers take a [`Layout`] as an
//! extractor and hand it to their template.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::config::ConfigName;
use crate::error::AppError;
use crate::models::{notification, user};
use crate::state::AppState;
use crate::web::assets;
use crate::web::csrf::Csrf;
use crate::web::scheme::Scheme;
use crate::web::session::{Flash, Session};

pub struct Layout {
    pub user: Option<user::Account>,
    /// The user's unread notifications, counted up to one more than the navbar shows.
    unread: u64,
    /// `None` for a page rendered outside the session layer (an early error).
    session: Option<(Session, Csrf)>,
    avatar_base: Arc<str>,
    /// The development configuration: the footer links to the mail the site sent.
    pub development: bool,
    /// The colour scheme the visitor chose (the system's by default).
    pub scheme: Scheme,
    /// This page's path and query: where the scheme toggle leads back to.
    here: String,
    /// The query of the search being shown, kept in the navbar's box (the search page sets it).
    pub search: String,
}

impl Layout {
    /// The layout of an error page: a failing database must not stop it from rendering. After
    /// a server error the visitor is not looked up again (the database may be what failed, and
    /// a second wait for it would double the time to answer).
    pub async fn for_error(
        state: &AppState,
        session: Option<Session>,
        server_error: bool,
        scheme: Scheme,
    ) -> Layout {
        let user = match &session {
            Some(_) if server_error => None,
            Some(s) => s.account(&state.db).await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cannot load the current user for a page");
                None
            }),
            None => None,
        };
        Layout {
            user,
            // An error page does not count them: one query fewer on a failing database.
            unread: 0,
            session: session.map(|s| (s.clone(), Csrf::new(&state.signer, &s))),
            avatar_base: state.avatar_base.clone(),
            development: state.config.name == ConfigName::Development,
            scheme,
            // An error page's own address may be what is wrong: the toggle leads home.
            here: "/".to_owned(),
            search: String::new(),
        }
    }

    /// A user is logged in whose address is not confirmed yet: the page offers the link again
    /// where its forms would be.
    pub fn unconfirmed(&self) -> bool {
        self.user.as_ref().is_some_and(|u| !u.confirmed)
    }

    /// A CSRF token for a form on this page.
    pub fn csrf_token(&self) -> String {
        self.session
            .as_ref()
            .map(|(_, csrf)| csrf.token())
            .unwrap_or_default()
    }

    /// Whether this request follows a write (see [`Session::note_write`]): it must show the
    /// database as it is now, not a cached copy.
    pub fn follows_a_write(&self) -> bool {
        self.session
            .as_ref()
            .is_some_and(|(s, _)| s.follows_a_write())
    }

    /// One-time messages, shown once and then gone.
    pub fn flashes(&self) -> Vec<Flash> {
        self.session
            .as_ref()
            .map(|(s, _)| s.take_flashes())
            .unwrap_or_default()
    }

    /// The avatar image for an email hash, `size` pixels square.
    pub fn avatar(&self, hash: &str, size: u32) -> String {
        user::avatar_url(&self.avatar_base, hash, size)
    }

    /// The navbar's count of unread notifications: none, a number, or "99+".
    pub fn unread(&self) -> Option<String> {
        match self.unread {
            0 => None,
            n if n > notification::UNREAD_SHOWN => Some(format!("{}+", notification::UNREAD_SHOWN)),
            n => Some(n.to_string()),
        }
    }

    /// Where the scheme toggle returns to: this page.
    pub fn here(&self) -> &str {
        &self.here
    }

    /// The scheme toggle's button: the scheme it switches to and its label. `pressed` says
    /// whether dark is on; under the system's scheme the server cannot know, so the button
    /// offers dark and the script corrects it where the system is dark.
    pub fn scheme_toggle_pressed(&self) -> bool {
        self.scheme == Scheme::Dark
    }

    pub fn asset(&self, name: &str) -> &'static str {
        assets::url(name)
    }
}

impl FromRequestParts<AppState> for Layout {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let session = Session::from_request_parts(parts, state).await?;
        let user = session.account(&state.db).await?;
        let unread = match &user {
            Some(account) => notification::unread_count(&state.db, account.id).await?,
            None => 0,
        };
        Ok(Layout {
            user,
            unread,
            session: Some((session.clone(), Csrf::new(&state.signer, &session))),
            avatar_base: state.avatar_base.clone(),
            development: state.config.name == ConfigName::Development,
            scheme: Scheme::of(&parts.headers),
            here: parts
                .uri
                .path_and_query()
                .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned()),
            search: String::new(),
        })
    }
}
