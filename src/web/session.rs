//! Browser sessions and flash messages.
//!
//! The `ragtime_session` cookie holds a random token. A logged-in token has a row in the
//! `sessions` table (see `models::session`), so logout and password changes revoke it on every
//! process; an anonymous token has no row and only anchors the CSRF token of login and register
//! forms. Nothing lives in process memory. Flash messages ride in a signed cookie until shown,
//! and so does the marker a handler sets when it wrote ([`Session::note_write`]).
//!
//! The middleware puts a [`Session`] handle into each request; handlers and pages use it, and
//! the middleware writes the cookies that changed onto the response.

use std::sync::{Arc, Mutex, MutexGuard};

use chrono::Utc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use axum_extra::extract::cookie::{Cookie, SameSite};
use sea_orm::{DatabaseConnection, DbErr};
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

use crate::crypto::{Signer, random_token};
use crate::error::AppError;
use crate::models::{session, user};
use crate::state::AppState;
use crate::web::client::ClientInfo;

pub const SESSION_COOKIE: &str = "ragtime_session";
pub const FLASH_COOKIE: &str = "ragtime_flash";
const FLASH_PURPOSE: &str = "flash";
/// Marks the browser's next request as following a write: a signed expiry, so a marker
/// cannot be made up, and one taken from a real write skips the feed cache for 30 s at most.
pub const WROTE_COOKIE: &str = "ragtime_wrote";
const WROTE_PURPOSE: &str = "wrote";
const WROTE_SECONDS: i64 = 30;
/// Keeps the flash cookie well under browsers' 4 KiB limit.
const MAX_FLASHES: usize = 5;
const MAX_FLASH_CHARS: usize = 300;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flash {
    /// "info", "success", "warning" or "danger".
    pub category: String,
    pub message: String,
}

#[derive(Default)]
struct SessionState {
    /// The cookie value this request carries or will carry.
    token: Option<String>,
    /// The token was made during this request and must be sent if it gets used.
    token_is_new: bool,
    /// A CSRF token derived from the token was put into the page.
    token_used: bool,
    /// Login or logout replaced the token: always send it.
    token_replaced: bool,
    remember: bool,
    incoming_flashes: Vec<Flash>,
    outgoing_flashes: Vec<Flash>,
    flashes_taken: bool,
    flash_cookie_present: bool,
    /// This request wrote (see [`Session::note_write`]).
    wrote: bool,
    /// The request came with a valid, unexpired write marker.
    follows_a_write: bool,
    wrote_cookie_present: bool,
}

struct Inner {
    state: Mutex<SessionState>,
    account: OnceCell<Option<user::Account>>,
}

/// The per-request handle on the browser session.
#[derive(Clone)]
pub struct Session(Arc<Inner>);

impl Session {
    fn new(signer: &Signer, headers: &HeaderMap) -> Self {
        let mut state = SessionState::default();
        for cookie in cookies(headers) {
            match cookie.name() {
                SESSION_COOKIE if is_token(cookie.value()) => {
                    state.token = Some(cookie.value().to_owned())
                }
                FLASH_COOKIE => {
                    state.flash_cookie_present = true;
                    state.incoming_flashes = signer
                        .unseal(FLASH_PURPOSE, cookie.value())
                        .and_then(|json| serde_json::from_str(&json).ok())
                        .unwrap_or_default()
                }
                WROTE_COOKIE => {
                    state.wrote_cookie_present = true;
                    state.follows_a_write = signer
                        .unseal(WROTE_PURPOSE, cookie.value())
                        .and_then(|until| until.parse::<i64>().ok())
                        .is_some_and(|until| Utc::now().timestamp() <= until);
                }
                _ => {}
            }
        }
        Session(Arc::new(Inner {
            state: Mutex::new(state),
            account: OnceCell::new(),
        }))
    }

    fn state(&self) -> MutexGuard<'_, SessionState> {
        // A panic elsewhere cannot leave this state half-updated in a harmful way.
        self.0.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The session token, made (anonymous) if the browser has none yet, and marked to be
    /// sent because something derived from it went into the page.
    pub(crate) fn token_for_page(&self) -> String {
        let mut state = self.state();
        state.token_used = true;
        if state.token.is_none() {
            state.token = Some(random_token(32));
            state.token_is_new = true;
        }
        state.token.clone().unwrap_or_default()
    }

    /// The token the browser sent, if any.
    pub(crate) fn token(&self) -> Option<String> {
        self.state().token.clone()
    }

    /// The logged-in account, loaded at most once per request.
    pub async fn account(&self, db: &DatabaseConnection) -> Result<Option<user::Account>, DbErr> {
        let token = self.token();
        self.0
            .account
            .get_or_try_init(|| async {
                match token {
                    Some(t) => session::find_account(db, &t).await,
                    None => Ok(None),
                }
            })
            .await
            .cloned()
    }

    /// Start a logged-in session under a fresh token (so a token planted before login is
    /// worthless after it), ending the previous one.
    pub async fn login(
        &self,
        db: &DatabaseConnection,
        user_id: i32,
        remember: bool,
    ) -> Result<(), DbErr> {
        if let Some(old) = self.token() {
            session::delete(db, &old).await?;
        }
        let token = random_token(32);
        session::create(db, &token, user_id, remember).await?;
        let mut state = self.state();
        state.token = Some(token);
        state.token_replaced = true;
        state.remember = remember;
        Ok(())
    }

    /// End the session on the server and give the browser a new anonymous token.
    pub async fn logout(&self, db: &DatabaseConnection) -> Result<(), DbErr> {
        if let Some(old) = self.token() {
            session::delete(db, &old).await?;
        }
        let mut state = self.state();
        state.token = Some(random_token(32));
        state.token_replaced = true;
        state.remember = false;
        Ok(())
    }

    /// Say that this request changed what pages show: the page the browser goes to next,
    /// whichever process serves it, is read from the database, not from a cache (see
    /// `models::feed_cache`).
    pub fn note_write(&self) {
        self.state().wrote = true;
    }

    /// Whether the browser comes here from a write noted by [`Session::note_write`] (on this
    /// process or another) within the last moments.
    pub fn follows_a_write(&self) -> bool {
        self.state().follows_a_write
    }

    /// Queue a one-time message for the next page shown.
    pub fn flash(&self, category: &str, message: impl Into<String>) {
        let mut message: String = message.into();
        if message.chars().count() > MAX_FLASH_CHARS {
            message = message.chars().take(MAX_FLASH_CHARS).collect();
        }
        let mut state = self.state();
        if state.outgoing_flashes.len() < MAX_FLASHES {
            state.outgoing_flashes.push(Flash {
                category: category.to_owned(),
                message,
            });
        }
    }

    /// The messages to show now; they will not be shown again.
    pub fn take_flashes(&self) -> Vec<Flash> {
        let mut state = self.state();
        state.flashes_taken = true;
        let mut shown = std::mem::take(&mut state.incoming_flashes);
        shown.append(&mut state.outgoing_flashes);
        shown
    }

    /// The cookies this response must set.
    fn cookies_to_set(&self, signer: &Signer, secure: bool) -> Vec<Cookie<'static>> {
        let state = self.state();
        let mut out = Vec::new();
        let send_token = state.token_replaced || (state.token_is_new && state.token_used);
        if let (true, Some(token)) = (send_token, &state.token) {
            let mut c = base_cookie(SESSION_COOKIE, token.clone(), secure);
            if state.remember {
                let lifetime = session::lifetime(true).num_seconds();
                c.set_max_age(time_duration(lifetime));
            }
            out.push(c);
        }
        if !state.outgoing_flashes.is_empty() {
            let mut all = state.incoming_flashes.clone();
            if state.flashes_taken {
                all.clear();
            }
            all.extend(state.outgoing_flashes.iter().cloned());
            all.truncate(MAX_FLASHES);
            let json = serde_json::to_string(&all).unwrap_or_default();
            let sealed = signer.seal(FLASH_PURPOSE, &json);
            out.push(base_cookie(FLASH_COOKIE, sealed, secure));
        } else if state.flashes_taken && state.flash_cookie_present {
            let mut c = base_cookie(FLASH_COOKIE, String::new(), secure);
            c.set_max_age(time_duration(0));
            out.push(c);
        }
        if state.wrote {
            let until = Utc::now().timestamp() + WROTE_SECONDS;
            let sealed = signer.seal(WROTE_PURPOSE, &until.to_string());
            let mut c = base_cookie(WROTE_COOKIE, sealed, secure);
            c.set_max_age(time_duration(WROTE_SECONDS));
            out.push(c);
        } else if state.wrote_cookie_present {
            // Spent: only the first page after the write needs to be read fresh.
            let mut c = base_cookie(WROTE_COOKIE, String::new(), secure);
            c.set_max_age(time_duration(0));
            out.push(c);
        }
        out
    }
}

fn time_duration(seconds: i64) -> cookie::time::Duration {
    cookie::time::Duration::seconds(seconds)
}

fn base_cookie(name: &'static str, value: String, secure: bool) -> Cookie<'static> {
    let mut c = Cookie::new(name, value);
    c.set_path("/");
    c.set_http_only(true);
    c.set_same_site(SameSite::Lax);
    c.set_secure(secure);
    c
}

fn is_token(value: &str) -> bool {
    (20..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn cookies(headers: &HeaderMap) -> impl Iterator<Item = Cookie<'static>> + '_ {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| Cookie::split_parse(v.to_owned()))
        .filter_map(Result::ok)
}

/// Whether cookies carry `Secure`: when the public site is https — the setting that makes
/// every absolute URL https (production, or HTTPS enforced on a dyno) — whatever scheme this
/// request reached us by, and for any request that came over https.
pub fn secure_cookies(state: &AppState, client: Option<&ClientInfo>) -> bool {
    state.config.proxies.https || client.is_some_and(ClientInfo::is_https)
}

/// The user id of the request, for the request log.
#[derive(Clone, Copy, Debug)]
pub struct LoggedUser(pub i32);

/// Middleware: attach a [`Session`] to the request; write changed cookies on the response.
pub async fn sessions(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let session = Session::new(&state.signer, req.headers());
    let secure = secure_cookies(&state, req.extensions().get::<ClientInfo>());
    req.extensions_mut().insert(session.clone());
    let mut res = next.run(req).await;
    for cookie in session.cookies_to_set(&state.signer, secure) {
        if let Ok(v) = HeaderValue::from_str(&cookie.to_string()) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    if let Some(Some(user)) = session.0.account.get() {
        res.extensions_mut().insert(LoggedUser(user.id));
        // Pages that depend on who is logged in must not be shared by caches.
        res.headers_mut()
            .entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("private, no-cache"));
    }
    res
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Session>().cloned().ok_or_else(|| {
            AppError::Internal(anyhow::anyhow!("the session middleware is not installed"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_marker(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let cookie = format!("{WROTE_COOKIE}={value}");
        headers.insert(header::COOKIE, HeaderValue::from_str(&cookie).unwrap());
        headers
    }

    #[test]
    fn a_write_marker_counts_only_when_signed_and_unexpired() {
        let signer = Signer::new(b"key");
        let now = Utc::now().timestamp();
        let fresh = signer.seal(WROTE_PURPOSE, &(now + 10).to_string());
        let stale = signer.seal(WROTE_PURPOSE, &(now - 1).to_string());
        let forged = Signer::new(b"other").seal(WROTE_PURPOSE, &(now + 10).to_string());
        assert!(Session::new(&signer, &with_marker(&fresh)).follows_a_write());
        assert!(!Session::new(&signer, &with_marker(&stale)).follows_a_write());
        assert!(!Session::new(&signer, &with_marker(&forged)).follows_a_write());
        assert!(!Session::new(&signer, &HeaderMap::new()).follows_a_write());
    }

    #[test]
    fn a_noted_write_sets_the_marker_and_the_next_response_spends_it() {
        let signer = Signer::new(b"key");
        let writing = Session::new(&signer, &HeaderMap::new());
        writing.note_write();
        let cookies = writing.cookies_to_set(&signer, true);
        let marker = cookies.iter().find(|c| c.name() == WROTE_COOKIE).unwrap();
        let next = Session::new(&signer, &with_marker(marker.value()));
        assert!(next.follows_a_write());
        let spent = next.cookies_to_set(&signer, true);
        let cleared = spent.iter().find(|c| c.name() == WROTE_COOKIE).unwrap();
        assert_eq!(cleared.value(), "");
    }
}
