//! CSRF protection for the whole site (Flask-WTF's `CSRFProtect`), as a layer so no handler can
//! forget it. Every POST, PUT, PATCH and DELETE outside `/api/` needs a token bound to the
//! browser's session cookie, sent as the form field `csrf_token` or the `X-CSRFToken` header;
//! a cross-origin `Origin` is refused outright. The token-authenticated API uses no cookies and
//! is exempt, and so are the mails' one-click unsubscribe links (their signed token is proof).
//!
//! A token is `mask || (mask XOR hmac(session token))`: a fresh mask per page keeps the secret
//! from being recovered through compressed responses (BREACH), and the HMAC binds it to one
//! session, so a token from another session, or from before login, is refused.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use futures_util::StreamExt;
use rand::RngCore;

use crate::crypto::Signer;
use crate::error::{AppError, body_error};
use crate::state::AppState;
use crate::web::client::ClientInfo;
use crate::web::session::Session;

pub const FIELD: &str = "csrf_token";
pub const HEADER: &str = "x-csrftoken";
const PURPOSE: &str = "csrf";
const LEN: usize = 32;

/// Makes and checks the CSRF tokens of one browser session.
#[derive(Clone)]
pub struct Csrf {
    signer: Signer,
    session: Session,
}

impl Csrf {
    pub fn new(signer: &Signer, session: &Session) -> Self {
        Csrf {
            signer: signer.clone(),
            session: session.clone(),
        }
    }

    /// A token for a form on the page being rendered.
    pub fn token(&self) -> String {
        let token = self.session.token_for_page();
        let secret = self.signer.sign(PURPOSE, token.as_bytes());
        let secret = URL_SAFE_NO_PAD.decode(secret).unwrap_or_default();
        let mut mask = [0u8; LEN];
        rand::rng().fill_bytes(&mut mask);
        let mut out = Vec::with_capacity(2 * LEN);
        out.extend_from_slice(&mask);
        out.extend(mask.iter().zip(secret.iter()).map(|(m, s)| m ^ s));
        URL_SAFE_NO_PAD.encode(out)
    }

    /// Whether `presented` was made by [`Csrf::token`] for this session.
    pub fn verify(&self, presented: &str) -> bool {
        let Some(token) = self.session.token() else {
            return false;
        };
        let Ok(raw) = URL_SAFE_NO_PAD.decode(presented.trim()) else {
            return false;
        };
        if raw.len() != 2 * LEN {
            return false;
        }
        let (mask, masked) = raw.split_at(LEN);
        let secret: Vec<u8> = mask.iter().zip(masked).map(|(m, s)| m ^ s).collect();
        self.signer
            .verify(PURPOSE, token.as_bytes(), &URL_SAFE_NO_PAD.encode(secret))
    }
}

fn is_safe_method(req: &Request) -> bool {
    matches!(
        *req.method(),
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// The token-authenticated API needs no CSRF token (it reads no cookie).
fn is_api(req: &Request) -> bool {
    req.uri().path() == "/api" || req.uri().path().starts_with("/api/")
}

/// A browser says which site a request comes from; another site's is refused. (Clients that
/// are not browsers send no `Origin`.)
fn is_cross_origin(req: &Request) -> bool {
    req.headers().get(header::ORIGIN).is_some_and(|origin| {
        let ours = req.extensions().get::<ClientInfo>();
        !matches!((origin.to_str(), ours), (Ok(origin), Some(client)) if client.is_same_origin(origin))
    })
}

fn refuse(message: &str) -> Response {
    AppError::BadRequest(message.to_owned()).into_response()
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.split(';').next().is_some_and(|m| {
                m.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        })
}

/// Middleware: refuse state-changing browser requests without a valid token. Runs inside the
/// body-size limit, so buffering a form to read its token is bounded.
pub async fn csrf_protect(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if is_safe_method(&req) {
        return next.run(req).await;
    }
    // Even the API: a browser that cached Basic credentials for it would otherwise let any
    // site's form send, say, a bodiless follow.
    if is_cross_origin(&req) {
        return refuse("Cross-origin request refused: this must be sent from this site.");
    }
    // The signed token in an unsubscribe link is its own proof, and mail providers post to
    // it without a session (RFC 8058).
    if is_api(&req) || req.uri().path().starts_with("/unsubscribe/") {
        return next.run(req).await;
    }
    let Some(session) = req.extensions().get::<Session>().cloned() else {
        return refuse("The CSRF session token is missing.");
    };
    let csrf = Csrf::new(&state.signer, &session);
    if session.token().is_none() {
        return refuse(
            "The CSRF session token is missing. Please enable cookies for this site and reload the form.",
        );
    }

    if let Some(token) = req.headers().get(HEADER).and_then(|v| v.to_str().ok()) {
        return if csrf.verify(token) {
            next.run(req).await
        } else {
            refuse("The CSRF token is invalid. Please reload the page and try again.")
        };
    }
    if let Some(boundary) = multipart_boundary(req.headers()) {
        return check_multipart(&csrf, boundary, req, next).await;
    }
    if !is_form(req.headers()) {
        return refuse("The CSRF token is missing.");
    }

    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => return body_error(&e).into_response(),
    };
    let token = form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == FIELD)
        .map(|(_, v)| v.into_owned());
    match token {
        None => refuse("The CSRF token is missing."),
        Some(t) if !csrf.verify(&t) => {
            refuse("The CSRF token is invalid. Please reload the page and try again.")
        }
        Some(_) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
    }
}

fn multipart_boundary(headers: &HeaderMap) -> Option<String> {
    let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    multer::parse_boundary(ct).ok()
}

/// An upload form carries its token in its first field (our forms put it there), so it is
/// checked from the first few bytes, and the files behind it stream on untouched.
async fn check_multipart(csrf: &Csrf, boundary: String, req: Request, next: Next) -> Response {
    const HEAD_LIMIT: usize = 16 * 1024;
    let (parts, body) = req.into_parts();
    let mut rest = body.into_data_stream();
    let delimiter = format!("--{boundary}");
    let mut head = Vec::new();
    // Enough bytes to hold the whole first field: up to the delimiter that ends it.
    while head
        .windows(delimiter.len())
        .filter(|w| *w == delimiter.as_bytes())
        .count()
        < 2
        && head.len() < HEAD_LIMIT
    {
        match rest.next().await {
            Some(Ok(chunk)) => head.extend_from_slice(&chunk),
            Some(Err(e)) => return body_error(&e).into_response(),
            None => break,
        }
    }
    let head = Bytes::from(head);
    let first =
        futures_util::stream::once(std::future::ready(Ok::<_, std::io::Error>(head.clone())));
    let mut fields = multer::Multipart::new(first, boundary);
    let token = match fields.next_field().await {
        Ok(Some(field)) if field.name() == Some(FIELD) => field.text().await.ok(),
        _ => None,
    };
    match token {
        None => refuse("The CSRF token is missing."),
        Some(t) if !csrf.verify(&t) => {
            refuse("The CSRF token is invalid. Please reload the page and try again.")
        }
        Some(_) => {
            let replay = futures_util::stream::once(std::future::ready(Ok::<_, axum::Error>(head)));
            let body = Body::from_stream(replay.chain(rest));
            next.run(Request::from_parts(parts, body)).await
        }
    }
}
