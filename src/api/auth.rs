//! Who is calling the API. Public data — what the site shows an anonymous visitor — may be
//! read without credentials ([`ApiReader`]), rate-limited per client address; private data
//! (a timeline, notifications: [`ApiAccount`]) and every write ([`ApiUser`]) need them. The
//! credentials are HTTP Basic with email and password, or a token from `POST /api/v1/tokens/`,
//! sent as `Authorization: Bearer <token>` or as Basic with the token as the username and an
//! empty password. Credentials that are sent must be right: a wrong one is a 401 everywhere,
//! never a silent fall back to anonymous. An account whose email is not confirmed reads like
//! anyone and gets 403 on writes. No cookie is read or set.
//!
//! A token is sealed JSON claims — the user, an expiry, a fingerprint of the password hash —
//! signed with the app's key under a purpose of its own, so no other signed value passes for
//! one; it stops working after an hour or as soon as the password changes, and needs no table.
//! Password failures count against the login rate limits, exactly like the login form's.

use std::sync::{Arc, OnceLock};

use axum::Json;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Links;
use crate::access::extractors::UNCONFIRMED;
use crate::access::{limits, login};
use crate::crypto::{Signer, sha256_hex};
use crate::error::{AppError, ErrorBody};
use crate::models::user::{self, Account};
use crate::models::{Permission, composition};
use crate::state::AppState;
use crate::web::client::ClientInfo;
use crate::web::session::LoggedUser;

/// How long a token works.
pub const TOKEN_SECONDS: i64 = 3600;
const PURPOSE: &str = "api_token";

#[derive(Serialize, Deserialize)]
struct Claims {
    user_id: i32,
    /// Unix seconds.
    expires: i64,
    /// [`password_fingerprint`] of the hash the user had when the token was issued.
    password: String,
}

fn password_fingerprint(password_hash: &str) -> String {
    sha256_hex(&format!("{PURPOSE}:{password_hash}"))[..16].to_owned()
}

/// A token for `user`, valid for [`TOKEN_SECONDS`] or until their password changes.
pub fn issue(signer: &Signer, user: &user::Model) -> String {
    issue_expiring(signer, user, Utc::now().timestamp() + TOKEN_SECONDS)
}

/// A token for `user` that expires at `expires` (Unix seconds).
pub fn issue_expiring(signer: &Signer, user: &user::Model, expires: i64) -> String {
    let claims = Claims {
        user_id: user.id,
        expires,
        password: password_fingerprint(&user.password_hash),
    };
    signer.seal(PURPOSE, &serde_json::to_string(&claims).unwrap_or_default())
}

/// How the caller proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credentials {
    Password,
    Token,
}

/// An authenticated caller, confirmed or not: enough to read one's own private data. Missing
/// or wrong credentials are a 401 with `WWW-Authenticate`; too many password failures a 429.
pub struct ApiAccount {
    pub account: Account,
    pub credentials: Credentials,
}

impl ApiAccount {
    /// Whether the caller holds `permission`: an account not yet confirmed holds none.
    pub fn can(&self, permission: Permission) -> bool {
        self.account.confirmed && self.account.can(permission)
    }
}

/// An authenticated, confirmed caller: what every write needs. An unconfirmed account is a
/// 403 saying so, on top of [`ApiAccount`]'s refusals.
pub struct ApiUser {
    pub account: Account,
    pub credentials: Credentials,
}

impl ApiUser {
    /// Only the artist or an administrator may change a composition (or its tracks).
    pub fn may_change(&self, c: &composition::Model) -> Result<(), AppError> {
        if self.account.id == c.artist_id || self.account.is_administrator() {
            Ok(())
        } else {
            Err(AppError::forbidden(
                "Only the artist or an administrator may change this composition.",
            ))
        }
    }

    /// 403 with `message` unless the caller holds `permission`.
    pub fn require(&self, permission: Permission, message: &str) -> Result<(), AppError> {
        if self.account.can(permission) {
            Ok(())
        } else {
            Err(AppError::forbidden(message))
        }
    }
}

/// Whoever reads public data: an account that sent its credentials, or an anonymous client,
/// whose reads count against `RAGTIME_API_ANONYMOUS_READS_PER_MINUTE` for its address (a 429
/// with `Retry-After` past it). Credentials that are sent are checked as everywhere else.
pub struct ApiReader {
    pub account: Option<Account>,
}

impl ApiReader {
    /// The caller's id, for what depends on who reads (whether they like or follow it).
    pub fn id(&self) -> Option<i32> {
        self.account.as_ref().map(|a| a.id)
    }

    /// Whether the caller holds `permission`: anonymous and unconfirmed callers hold none.
    pub fn can(&self, permission: Permission) -> bool {
        self.account
            .as_ref()
            .is_some_and(|a| a.confirmed && a.can(permission))
    }
}

/// What the `Authorization` header presents.
enum Presented {
    Password { email: String, password: String },
    Token(String),
}

const HOW: &str = "Authenticate with HTTP Basic (your email and password), or with a token \
from POST /api/v1/tokens/ as `Authorization: Bearer <token>`.";

/// What the `Authorization` header holds, or why it holds nothing usable.
fn presented(parts: &Parts) -> Result<Presented, &'static str> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or(HOW)?
        .to_str()
        .map_err(|_| HOW)?
        .trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") && !rest.is_empty() {
        return Ok(Presented::Token(rest.to_owned()));
    }
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(HOW);
    }
    let malformed = "Malformed Basic credentials.";
    let decoded = STANDARD
        .decode(rest)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or(malformed)?;
    let (username, password) = decoded.split_once(':').ok_or(malformed)?;
    Ok(if password.is_empty() {
        Presented::Token(username.to_owned())
    } else {
        Presented::Password {
            email: username.to_owned(),
            password: password.to_owned(),
        }
    })
}

async fn by_token(state: &AppState, token: &str) -> Result<Account, AppError> {
    let invalid = || AppError::Unauthorized("Invalid or expired token.".into());
    let claims: Claims = state
        .signer
        .unseal(PURPOSE, token)
        .and_then(|json| serde_json::from_str(&json).ok())
        .ok_or_else(invalid)?;
    if claims.expires <= Utc::now().timestamp() {
        return Err(invalid());
    }
    let account = user::account_by_id(&state.db, claims.user_id)
        .await?
        .ok_or_else(invalid)?;
    // A password change (or reset) retires every token issued before it.
    if password_fingerprint(&account.password_hash) != claims.password {
        return Err(invalid());
    }
    Ok(account)
}

async fn by_password(
    state: &AppState,
    client: &ClientInfo,
    email: &str,
    password: &str,
) -> Result<Account, AppError> {
    let rate = &state.config.rate_limits;
    let found = login::check(&state.db, rate, email, client.ip, password)
        .await?
        .ok_or_else(|| AppError::Unauthorized("Invalid email or password.".into()))?;
    user::account_by_id(&state.db, found.id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("user {} has no role", found.id).into())
}

/// The account whose credentials the request carries, `None` if it carries none; a 401 if
/// they are malformed or wrong.
async fn authenticate(
    parts: &mut Parts,
    state: &AppState,
) -> Result<Option<(Account, Credentials)>, AppError> {
    if !parts.headers.contains_key(header::AUTHORIZATION) {
        return Ok(None);
    }
    let presented = presented(parts).map_err(|how| AppError::Unauthorized(how.into()))?;
    let (account, credentials) = match presented {
        Presented::Token(token) => (by_token(state, &token).await?, Credentials::Token),
        Presented::Password { email, password } => {
            let client = ClientInfo::from_request_parts(parts, state).await?;
            let account = by_password(state, &client, &email, &password).await?;
            (account, Credentials::Password)
        }
    };
    if let Some(Caller(slot)) = parts.extensions.get::<Caller>() {
        let _ = slot.set(account.id);
    }
    let stale = Utc::now() - account.last_seen > chrono::Duration::seconds(60);
    if stale && let Err(e) = user::touch_last_seen(&state.db, account.id).await {
        tracing::warn!(error = %e, "cannot update last_seen");
    }
    Ok(Some((account, credentials)))
}

impl FromRequestParts<AppState> for ApiAccount {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let (account, credentials) = authenticate(parts, state)
            .await?
            .ok_or_else(|| AppError::Unauthorized(HOW.into()))?;
        Ok(ApiAccount {
            account,
            credentials,
        })
    }
}

impl FromRequestParts<AppState> for ApiUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let ApiAccount {
            account,
            credentials,
        } = ApiAccount::from_request_parts(parts, state).await?;
        if !account.confirmed {
            return Err(AppError::forbidden(UNCONFIRMED));
        }
        Ok(ApiUser {
            account,
            credentials,
        })
    }
}

impl FromRequestParts<AppState> for ApiReader {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        if let Some((account, _)) = authenticate(parts, state).await? {
            return Ok(ApiReader {
                account: Some(account),
            });
        }
        let client = ClientInfo::from_request_parts(parts, state).await?;
        let rate = &state.config.rate_limits;
        limits::spend(
            &state.db,
            rate,
            &[limits::api_anonymous_read(rate, client.ip)],
        )
        .await?;
        Ok(ApiReader { account: None })
    }
}

/// The authenticated caller's id, filled in by [`ApiUser`] for the request log.
#[derive(Clone, Default)]
struct Caller(Arc<OnceLock<i32>>);

/// Middleware on every API route: the request log learns who called, and no cache keeps an
/// answer that depends on the credentials.
pub async fn api_responses(mut req: Request, next: Next) -> Response {
    let caller = Caller::default();
    req.extensions_mut().insert(caller.clone());
    let mut res = next.run(req).await;
    if let Some(id) = caller.0.get() {
        res.extensions_mut().insert(LoggedUser(*id));
    }
    res.headers_mut()
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    res
}

/// A token, how long it works, and whose it is.
#[derive(Serialize, ToSchema)]
pub struct Token {
    /// Send it as `Authorization: Bearer <token>`, or as the Basic username with an empty
    /// password.
    pub token: String,
    /// Seconds the token works for (unless the password changes first).
    #[schema(example = 3600)]
    pub expiration: i64,
    /// The account the token stands for.
    pub user: TokenUser,
}

/// Whose a token is: enough to find the rest (`url`, or `GET /api/v1/users/me`).
#[derive(Serialize, ToSchema)]
pub struct TokenUser {
    pub id: i32,
    pub username: String,
    /// This user in the API.
    #[schema(format = "uri")]
    pub url: String,
}

/// Get a token. Only email and password may ask: a token cannot mint a token. An account not
/// yet confirmed gets one too: it reads with it, and writes once confirmed.
#[utoipa::path(
    post,
    path = "/api/v1/tokens/",
    tag = "tokens",
    operation_id = "new_token",
    security(("basic" = [])),
    responses(
        (status = 200, description = "A new token, valid for an hour or until the password changes.", body = Token),
        (status = 401, description = "Missing or wrong email and password, or a token was used to ask for a token.", body = ErrorBody),
    )
)]
pub async fn new_token(
    caller: ApiAccount,
    State(state): State<AppState>,
    links: Links,
) -> Result<Json<Token>, AppError> {
    if caller.credentials == Credentials::Token {
        return Err(AppError::Unauthorized(
            "A token cannot be used to get a token: authenticate with your email and password."
                .into(),
        ));
    }
    let user = &caller.account.user;
    Ok(Json(Token {
        token: issue(&state.signer, user),
        expiration: TOKEN_SECONDS,
        user: TokenUser {
            id: user.id,
            username: user.username.clone(),
            url: links.user(user.id),
        },
    }))
}
