//! The `auth` blueprint: register (which logs the new account in), log in and out, confirm the
//! email address, the page that asks an unconfirmed account to confirm, and the middleware that
//! notes when users were last seen.

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::Utc;
use sea_orm::TransactionTrait;
use serde::Deserialize;

use crate::access::CurrentUser;
use crate::access::extractors::safe_next;
use crate::access::tokens::{self, Purpose};
use crate::access::{limits, login, password};
use crate::config::ConfigName;
use crate::error::AppError;
use crate::mail;
use crate::models::forms::{self, FieldErrors};
use crate::models::registration;
use crate::models::user::{self, AccountError};
use crate::state::AppState;
use crate::templates::Html;
use crate::templates::auth::{LoginTemplate, RegisterTemplate, UnconfirmedTemplate};
use crate::templates::mail::{LinkMail, NewUserHtml, NewUserText};
use crate::web::client::ClientInfo;
use crate::web::extract::{Form, Path, Query};
use crate::web::layout::Layout;
use crate::web::session::Session;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/login", get(login_page).post(login))
        .route("/auth/logout", post(logout))
        .route("/auth/register", get(register_page).post(register))
        .route("/auth/confirm/{token}", get(confirm))
        .route("/auth/confirm", post(resend_confirmation))
        .route("/auth/unconfirmed", get(unconfirmed))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NextQuery {
    next: Option<String>,
}

async fn login_page(layout: Layout, Query(query): Query<NextQuery>) -> Result<Response, AppError> {
    Ok(Html(LoginTemplate {
        layout,
        email: String::new(),
        next: safe_next(query.next.as_deref()).unwrap_or_default(),
        failure: None,
    })
    .into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct LoginForm {
    email: String,
    password: String,
    remember_me: Option<String>,
    next: String,
}

async fn login(
    State(state): State<AppState>,
    session: Session,
    client: ClientInfo,
    layout: Layout,
    Form(form): Form<LoginForm>,
) -> Result<Response, AppError> {
    let rate = &state.config.rate_limits;
    let found = login::check(&state.db, rate, &form.email, client.ip, &form.password).await?;
    let Some(account) = found else {
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            Html(LoginTemplate {
                layout,
                email: form.email.chars().take(64).collect(),
                next: safe_next(Some(&form.next)).unwrap_or_default(),
                failure: Some("Invalid email or password."),
            }),
        )
            .into_response());
    };
    session
        .login(&state.db, account.id, form.remember_me.is_some())
        .await?;
    let next = safe_next(Some(&form.next)).unwrap_or_else(|| "/".to_owned());
    Ok(Redirect::to(&next).into_response())
}

/// POST only (and CSRF-checked by the layer), so no link or image can log a user out.
async fn logout(State(state): State<AppState>, session: Session) -> Result<Redirect, AppError> {
    session.logout(&state.db).await?;
    session.flash("info", "You have been logged out.");
    Ok(Redirect::to("/"))
}

async fn register_page(layout: Layout) -> Result<Response, AppError> {
    Ok(Html(RegisterTemplate {
        layout,
        email: String::new(),
        username: String::new(),
        errors: FieldErrors::new(),
    })
    .into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RegisterForm {
    email: String,
    username: String,
    password: String,
    password2: String,
}

async fn register(
    State(state): State<AppState>,
    session: Session,
    client: ClientInfo,
    layout: Layout,
    Form(form): Form<RegisterForm>,
) -> Result<Response, AppError> {
    let rate = &state.config.rate_limits;
    limits::spend(
        &state.db,
        rate,
        &limits::mail(rate, "register", &form.email, client.ip),
    )
    .await?;
    let mut errors = FieldErrors::new();
    let email = forms::email(&form.email).map_err(|e| errors.insert("email", e.into()));
    let username = forms::username(&form.username).map_err(|e| errors.insert("username", e.into()));
    if let Err(e) = forms::new_password(&form.password, &form.password2) {
        errors.insert("password", e.into());
    }
    let rerender = |layout, errors| {
        Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            Html(RegisterTemplate {
                layout,
                email: form.email.chars().take(64).collect(),
                username: form.username.chars().take(64).collect(),
                errors,
            }),
        )
            .into_response())
    };
    let (Ok(email), Ok(username), true) = (email, username, errors.is_empty()) else {
        return rerender(layout, errors);
    };

    let hash = password::hash(form.password.clone()).await?;
    let txn = state.db.begin().await?;
    let created = registration::register(
        &txn,
        &email,
        &username,
        &hash,
        state.config.admin_email.as_deref(),
    )
    .await;
    let account = match created {
        Ok(account) => account,
        Err(AccountError::EmailTaken) => {
            errors.insert("email", AccountError::EmailTaken.to_string());
            return rerender(layout, errors);
        }
        Err(AccountError::UsernameTaken) => {
            errors.insert("username", AccountError::UsernameTaken.to_string());
            return rerender(layout, errors);
        }
        Err(AccountError::Db(e)) => return Err(e.into()),
    };
    queue_confirmation(&state, &txn, &client, &account).await?;
    if let Some(admin) = &state.config.admin_email {
        let body = mail::render(
            &NewUserText {
                username: &account.username,
                email: &account.email,
            },
            &NewUserHtml {
                username: &account.username,
                email: &account.email,
            },
        )?;
        mail::queue(&txn, &state.config.mail, admin, "New User", &body).await?;
    }
    txn.commit().await?;
    // Logged in at once: the mailed link is the only step left, in this browser or another.
    session.login(&state.db, account.id, false).await?;
    session.flash(
        "info",
        sent_confirmation(&state, "A confirmation email has been sent to you."),
    );
    Ok(Redirect::to("/auth/unconfirmed").into_response())
}

/// What the flash says once a confirmation mail is queued; in development, where to read it.
fn sent_confirmation(state: &AppState, message: &str) -> String {
    match state.config.name {
        ConfigName::Development => format!("{message} (Development: read it at /dev/mail.)"),
        _ => message.to_owned(),
    }
}

/// Queue the confirmation mail.
async fn queue_confirmation<C: sea_orm::ConnectionTrait>(
    state: &AppState,
    db: &C,
    client: &ClientInfo,
    account: &user::Model,
) -> Result<(), AppError> {
    let token = tokens::issue_for(&state.signer, Purpose::Confirm, account, None);
    let link = format!("{}/auth/confirm/{token}", client.origin());
    queue_link_mail(
        state,
        db,
        &account.email,
        &account.username,
        LinkMail::Confirm,
        &link,
    )
    .await
}

/// Queue one of the link mails to `to`. Links are absolute, built from the trusted scheme and
/// host (https behind Heroku's router).
pub async fn queue_link_mail<C: sea_orm::ConnectionTrait>(
    state: &AppState,
    db: &C,
    to: &str,
    username: &str,
    kind: LinkMail,
    link: &str,
) -> Result<(), AppError> {
    let body = kind.render(username, link)?;
    mail::queue(db, &state.config.mail, to, kind.subject(), &body).await?;
    Ok(())
}

/// The mailed link confirms the account it was made for, whichever browser opens it (the
/// token names the account; no login needed). A browser logged in as that account goes home;
/// any other is asked to log in, with the address filled in.
async fn confirm(
    State(state): State<AppState>,
    session: Session,
    client: ClientInfo,
    layout: Layout,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let claims = tokens::open(&state.signer, Purpose::Confirm, &token);
    let owner = match &claims {
        Some(claims) => user::find_by_id(&state.db, claims.user_id).await?,
        None => None,
    };
    let Some((claims, owner)) = claims.zip(owner) else {
        session.flash("danger", "The confirmation link is invalid or has expired.");
        let next = match &layout.user {
            Some(me) if me.confirmed => "/",
            Some(_) => "/auth/unconfirmed",
            // Once logged in, they can ask for a new link there.
            None => "/auth/login?next=%2Fauth%2Funconfirmed",
        };
        return Ok(Redirect::to(next).into_response());
    };
    if owner.confirmed {
        // A second click, or a reload of the page the first one showed.
        session.flash("info", "Your account is already confirmed.");
    } else if claims.still_valid_for(Purpose::Confirm, &owner) {
        let txn = state.db.begin().await?;
        // A second click at the same moment finds it done and sends no second welcome.
        if user::set_confirmed(&txn, owner.id).await? {
            let home = format!("{}/", client.origin());
            queue_link_mail(
                &state,
                &txn,
                &owner.email,
                &owner.username,
                LinkMail::Welcome,
                &home,
            )
            .await?;
        }
        txn.commit().await?;
        session.flash("success", "You have confirmed your account. Thanks!");
    } else {
        // Signed for this account, but for a state it has left (its address changed since).
        session.flash("danger", "The confirmation link is invalid or has expired.");
    }
    if layout.user.as_ref().is_some_and(|me| me.id == owner.id) {
        return Ok(Redirect::to("/").into_response());
    }
    Ok(Html(LoginTemplate {
        layout,
        email: owner.email,
        next: String::new(),
        failure: None,
    })
    .into_response())
}

/// The "check your mail" page: where registering lands, and where the writes of an account
/// not yet confirmed send it.
async fn unconfirmed(layout: Layout) -> Result<Response, AppError> {
    let Some(account) = layout.user.clone().filter(|a| !a.confirmed) else {
        return Ok(Redirect::to("/").into_response());
    };
    Ok(Html(UnconfirmedTemplate {
        layout,
        username: account.username.clone(),
        email: account.email.clone(),
    })
    .into_response())
}

async fn resend_confirmation(
    State(state): State<AppState>,
    session: Session,
    client: ClientInfo,
    CurrentUser(account): CurrentUser,
) -> Result<Redirect, AppError> {
    if !account.confirmed {
        let rate = &state.config.rate_limits;
        limits::spend(
            &state.db,
            rate,
            &limits::mail(rate, "confirm", &account.email, client.ip),
        )
        .await?;
        queue_confirmation(&state, &state.db, &client, &account).await?;
        session.flash(
            "info",
            sent_confirmation(&state, "A new confirmation email has been sent to you."),
        );
        return Ok(Redirect::to("/auth/unconfirmed"));
    }
    Ok(Redirect::to("/"))
}

/// Requests that do not count as the user being seen: assets, the API (which notes its own
/// callers), the health check.
fn unseen(path: &str) -> bool {
    path.starts_with("/static/") || path.starts_with("/api/") || path == "/healthz"
}

/// Middleware (Flasky's `before_app_request`): note when logged-in users were last seen, at
/// most once a minute. Unconfirmed accounts pass like anyone: what they may not do is refused
/// where it is done (`Confirmed`, `Can`).
pub async fn last_seen(
    State(state): State<AppState>,
    session: Session,
    req: Request,
    next: Next,
) -> Response {
    if unseen(req.uri().path()) {
        return next.run(req).await;
    }
    let account = match session.account(&state.db).await {
        Ok(a) => a,
        Err(e) => return AppError::from(e).into_response(),
    };
    if let Some(account) = account {
        let stale = Utc::now() - account.last_seen > chrono::Duration::seconds(60);
        if stale && let Err(e) = user::touch_last_seen(&state.db, account.id).await {
            tracing::warn!(error = %e, "cannot update last_seen");
        }
    }
    next.run(req).await
}
