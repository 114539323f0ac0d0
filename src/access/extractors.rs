//! Who is asking: `CurrentUser` for pages that need a login (`@login_required`), `Confirmed`
//! for writes that need a confirmed address, and `Can<PERMISSION>` for pages that need a
//! permission (`@permission_required`, a 403 page).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};

use crate::error::AppError;
use crate::models::Permission;
use crate::models::user::Account;
use crate::state::AppState;
use crate::web::session::Session;

/// A logged-in user. Anonymous visitors are sent to the login page, and back here after.
pub struct CurrentUser(pub Account);

/// Where to send an anonymous visitor: the login page with `next` set to this page.
fn login_redirect(parts: &Parts, session: &Session) -> Response {
    let here = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let next: String = form_urlencoded::byte_serialize(here.as_bytes()).collect();
    session.flash("info", "Please log in to access this page.");
    Redirect::to(&format!("/auth/login?next={next}")).into_response()
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        match session.account(&state.db).await {
            Ok(Some(account)) => Ok(CurrentUser(account)),
            Ok(None) => Err(login_redirect(parts, &session)),
            Err(e) => Err(AppError::from(e).into_response()),
        }
    }
}

/// What an account that has not confirmed its address is told when it tries to write or to
/// make the site send mail (SPEC §2), on the site and in the API.
pub const UNCONFIRMED: &str = "Your account is not confirmed yet: follow the link in the email \
we sent you, or ask for a new one at /auth/unconfirmed. Until then you can read and listen.";

/// A logged-in user whose address is confirmed. An unconfirmed one may read like a visitor,
/// but is sent to `/auth/unconfirmed` (with [`UNCONFIRMED`]) from what writes.
pub struct Confirmed(pub Account);

impl FromRequestParts<AppState> for Confirmed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let CurrentUser(account) = CurrentUser::from_request_parts(parts, state).await?;
        if account.confirmed {
            return Ok(Confirmed(account));
        }
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        session.flash("warning", UNCONFIRMED);
        Err(Redirect::to("/auth/unconfirmed").into_response())
    }
}

/// A confirmed user holding permission `P` (one of the `Permission` bits); others get a 403.
pub struct Can<const P: i32>(pub Account);

impl<const P: i32> FromRequestParts<AppState> for Can<P> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Confirmed(account) = Confirmed::from_request_parts(parts, state).await?;
        if account.can(Permission(P)) {
            Ok(Can(account))
        } else {
            Err(AppError::Forbidden(None).into_response())
        }
    }
}

/// `next` is honoured only when it is a path on this site: `/x`, never `//host`, `/\host`,
/// an absolute URL, or anything with a backslash or control character browsers might bend.
pub fn safe_next(next: Option<&str>) -> Option<String> {
    let next = next?.trim();
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(|c| c.is_control());
    ok.then(|| next.to_owned())
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_paths_are_safe_next_targets() {
        assert_eq!(
            safe_next(Some("/user/ann?page=2")).as_deref(),
            Some("/user/ann?page=2")
        );
        for hostile in [
            "//evil.example",
            "https://evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/\t/evil.example",
            "javascript:alert(1)",
            "evil.example",
            "",
        ] {
            assert_eq!(safe_next(Some(hostile)), None, "{hostile:?}");
        }
        assert_eq!(safe_next(None), None);
    }
}
