//! Managing an account: change the password (needs the old one), reset a forgotten one by
//! email, and change the email address (confirmed through the new address). A password change
//! or reset ends the user's other sessions.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use sea_orm::TransactionTrait;
use serde::Deserialize;

use crate::access::CurrentUser;
use crate::access::tokens::{self, Purpose};
use crate::access::{limits, login, password};
use crate::error::AppError;
use crate::models::forms::{self, FieldErrors};
use crate::models::{session, user};
use crate::state::AppState;
use crate::templates::Html;
use crate::templates::auth::{AccountFormTemplate, Field};
use crate::templates::mail::LinkMail;
use crate::views::auth::queue_link_mail;
use crate::web::client::ClientInfo;
use crate::web::extract::{Form, Path};
use crate::web::layout::Layout;
use crate::web::session::Session;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/auth/change-password",
            get(change_password_page).post(change_password),
        )
        .route("/auth/reset", get(reset_request_page).post(reset_request))
        .route("/auth/reset/{token}", get(reset_page).post(reset))
        .route(
            "/auth/change_email",
            get(change_email_page).post(change_email_request),
        )
        .route("/auth/change_email/{token}", get(change_email))
}

/// Show a form: 200 when it is new, 422 when it comes back with errors.
fn form(
    layout: Layout,
    title: &'static str,
    action: impl Into<String>,
    fields: Vec<Field>,
    submit: &'static str,
    errors: FieldErrors,
) -> Result<Response, AppError> {
    form_with_intro(layout, title, action, None, fields, submit, errors)
}

/// [`form`], with a sentence above the fields.
fn form_with_intro(
    layout: Layout,
    title: &'static str,
    action: impl Into<String>,
    intro: Option<String>,
    fields: Vec<Field>,
    submit: &'static str,
    errors: FieldErrors,
) -> Result<Response, AppError> {
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((
        status,
        Html(AccountFormTemplate {
            layout,
            title,
            action: action.into(),
            intro,
            fields,
            submit,
            errors,
        }),
    )
        .into_response())
}

fn new_password_fields() -> Vec<Field> {
    vec![
        Field::password("password", "New password", "new-password"),
        Field::password("password2", "Confirm new password", "new-password"),
    ]
}

fn change_password_form(layout: Layout, errors: FieldErrors) -> Result<Response, AppError> {
    let mut fields = vec![Field::password(
        "old_password",
        "Old password",
        "current-password",
    )];
    fields.extend(new_password_fields());
    form(
        layout,
        "Change Password",
        "/auth/change-password",
        fields,
        "Update Password",
        errors,
    )
}

async fn change_password_page(_user: CurrentUser, layout: Layout) -> Result<Response, AppError> {
    change_password_form(layout, FieldErrors::new())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ChangePasswordForm {
    old_password: String,
    password: String,
    password2: String,
}

async fn change_password(
    State(state): State<AppState>,
    session: Session,
    client: ClientInfo,
    CurrentUser(account): CurrentUser,
    layout: Layout,
    Form(form): Form<ChangePasswordForm>,
) -> Result<Response, AppError> {
    let mut errors = FieldErrors::new();
    if let Err(e) = forms::new_password(&form.password, &form.password2) {
        errors.insert("password", e.into());
    }
    let current = current_password(&state, &client, &account, &form.old_password).await?;
    if current.is_none() {
        errors.insert("old_password", "Invalid password.".into());
    }
    let (Some(current), true) = (current, errors.is_empty()) else {
        return change_password_form(layout, errors);
    };
    let hash = password::hash(form.password).await?;
    let txn = state.db.begin().await?;
    // Another change at the same moment wins; this one would undo it.
    if !user::replace_password_hash(&txn, account.id, &current.password_hash, &hash).await? {
        return Err(AppError::Conflict(
            "Your password was changed meanwhile: sign in again with the new one.".into(),
        ));
    }
    session::delete_others(&txn, account.id, session.token().as_deref()).await?;
    txn.commit().await?;
    session.flash("success", "Your password has been updated.");
    Ok(Redirect::to("/").into_response())
}

/// The account as it is now if `password` is its password, under the login rate limits: a
/// stolen session must not become a way to guess the password.
async fn current_password(
    state: &AppState,
    client: &ClientInfo,
    account: &user::Account,
    password: &str,
) -> Result<Option<user::Model>, AppError> {
    let rate = &state.config.rate_limits;
    let found = login::check(&state.db, rate, &account.email, client.ip, password).await?;
    Ok(found.filter(|u| u.id == account.id))
}

fn reset_request_form(
    layout: Layout,
    email: &str,
    errors: FieldErrors,
) -> Result<Response, AppError> {
    form(
        layout,
        "Reset Your Password",
        "/auth/reset",
        vec![Field::email("Email", email)],
        "Reset Password",
        errors,
    )
}

async fn reset_request_page(layout: Layout) -> Result<Response, AppError> {
    if layout.user.is_some() {
        return Ok(Redirect::to("/").into_response());
    }
    reset_request_form(layout, "", FieldErrors::new())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct EmailForm {
    email: String,
    password: String,
}

/// Always the same answer, whether or not the address has an account.
async fn reset_request(
    State(state): State<AppState>,
    session: Session,
    client: ClientInfo,
    layout: Layout,
    Form(form): Form<EmailForm>,
) -> Result<Response, AppError> {
    if layout.user.is_some() {
        return Ok(Redirect::to("/").into_response());
    }
    let email = match forms::email(&form.email) {
        Ok(email) => email,
        Err(e) => {
            let errors = FieldErrors::from([("email", e.to_owned())]);
            return reset_request_form(layout, &form.email, errors);
        }
    };
    let rate = &state.config.rate_limits;
    limits::spend(
        &state.db,
        rate,
        &limits::mail(rate, "reset", &email, client.ip),
    )
    .await?;
    // Whether the address has an account must not show in the time the answer takes: the
    // lookup and the mail happen after answering.
    let link_base = format!("{}/auth/reset", client.origin());
    let worker = state.clone();
    state.background.spawn(async move {
        if let Err(e) = send_reset_link(&worker, &email, &link_base).await {
            tracing::error!(error = ?e, "cannot queue a password reset mail");
        }
    });
    session.flash(
        "info",
        "An email with instructions to reset your password has been sent to you.",
    );
    Ok(Redirect::to("/auth/login").into_response())
}

/// Mail a reset link to the account `email` names, if any.
async fn send_reset_link(state: &AppState, email: &str, link_base: &str) -> Result<(), AppError> {
    let Some(account) = user::find_by_email(&state.db, email).await? else {
        return Ok(());
    };
    let token = tokens::issue_for(&state.signer, Purpose::ResetPassword, &account, None);
    let link = format!("{link_base}/{token}");
    queue_link_mail(
        state,
        &state.db,
        &account.email,
        &account.username,
        LinkMail::ResetPassword,
        &link,
    )
    .await
}

/// The account a reset link is for, while the link is valid: signed, unexpired, for this
/// purpose, and made before the password last changed (so it works once).
async fn reset_account(state: &AppState, token: &str) -> Result<Option<user::Model>, AppError> {
    let Some(claims) = tokens::open(&state.signer, Purpose::ResetPassword, token) else {
        return Ok(None);
    };
    let account = user::find_by_id(&state.db, claims.user_id).await?;
    Ok(account.filter(|a| claims.still_valid_for(Purpose::ResetPassword, a)))
}

fn invalid_reset_link(session: &Session) -> Response {
    session.flash(
        "danger",
        "The password reset link is invalid or has expired.",
    );
    Redirect::to("/auth/reset").into_response()
}

async fn reset_page(
    State(state): State<AppState>,
    session: Session,
    layout: Layout,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    if layout.user.is_some() {
        return Ok(Redirect::to("/").into_response());
    }
    if reset_account(&state, &token).await?.is_none() {
        return Ok(invalid_reset_link(&session));
    }
    let action = format!("/auth/reset/{token}");
    form(
        layout,
        "Reset Your Password",
        action,
        new_password_fields(),
        "Reset Password",
        FieldErrors::new(),
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NewPasswordForm {
    password: String,
    password2: String,
}

async fn reset(
    State(state): State<AppState>,
    session: Session,
    layout: Layout,
    Path(token): Path<String>,
    Form(form_data): Form<NewPasswordForm>,
) -> Result<Response, AppError> {
    if layout.user.is_some() {
        return Ok(Redirect::to("/").into_response());
    }
    let Some(account) = reset_account(&state, &token).await? else {
        return Ok(invalid_reset_link(&session));
    };
    if let Err(e) = forms::new_password(&form_data.password, &form_data.password2) {
        let action = format!("/auth/reset/{token}");
        let errors = FieldErrors::from([("password", e.to_owned())]);
        return form(
            layout,
            "Reset Your Password",
            action,
            new_password_fields(),
            "Reset Password",
            errors,
        );
    }
    let hash = password::hash(form_data.password).await?;
    let txn = state.db.begin().await?;
    // The link is good for one change: if the password changed since it was checked (the same
    // link used twice at once), this use is refused.
    if !user::replace_password_hash(&txn, account.id, &account.password_hash, &hash).await? {
        return Ok(invalid_reset_link(&session));
    }
    session::delete_others(&txn, account.id, None).await?;
    txn.commit().await?;
    session.flash("success", "Your password has been updated.");
    Ok(Redirect::to("/auth/login").into_response())
}

fn change_email_form(
    layout: Layout,
    email: &str,
    errors: FieldErrors,
) -> Result<Response, AppError> {
    // Which address is being changed, said before asking for a new one.
    let intro = layout
        .user
        .as_ref()
        .map(|u| format!("Your email address is {}.", u.email));
    form_with_intro(
        layout,
        "Change Your Email Address",
        "/auth/change_email",
        intro,
        vec![
            Field::email("New Email", email),
            Field::password("password", "Password", "current-password"),
        ],
        "Update Email Address",
        errors,
    )
}

async fn change_email_page(_user: CurrentUser, layout: Layout) -> Result<Response, AppError> {
    change_email_form(layout, "", FieldErrors::new())
}

async fn change_email_request(
    State(state): State<AppState>,
    session: Session,
    client: ClientInfo,
    CurrentUser(account): CurrentUser,
    layout: Layout,
    Form(form_data): Form<EmailForm>,
) -> Result<Response, AppError> {
    let mut errors = FieldErrors::new();
    let email = forms::email(&form_data.email).map_err(|e| errors.insert("email", e.into()));
    if let Ok(email) = &email
        && user::find_by_email(&state.db, email).await?.is_some()
    {
        errors.insert("email", user::AccountError::EmailTaken.to_string());
    }
    let current = current_password(&state, &client, &account, &form_data.password).await?;
    if current.is_none() {
        errors.insert("password", "Invalid password.".into());
    }
    // The account as it is now: checking the password may have rehashed it, and the link is
    // bound to the hash.
    let (Ok(email), Some(account), true) = (email, current, errors.is_empty()) else {
        return change_email_form(layout, &form_data.email, errors);
    };
    let rate = &state.config.rate_limits;
    limits::spend(
        &state.db,
        rate,
        &limits::mail(rate, "change_email", &account.email, client.ip),
    )
    .await?;
    let token = tokens::issue_for(
        &state.signer,
        Purpose::ChangeEmail,
        &account,
        Some(email.clone()),
    );
    let link = format!("{}/auth/change_email/{token}", client.origin());
    queue_link_mail(
        &state,
        &state.db,
        &email,
        &account.username,
        LinkMail::ChangeEmail,
        &link,
    )
    .await?;
    session.flash(
        "info",
        "An email with instructions to confirm your new email address has been sent to you.",
    );
    Ok(Redirect::to("/").into_response())
}

async fn change_email(
    State(state): State<AppState>,
    session: Session,
    CurrentUser(account): CurrentUser,
    Path(token): Path<String>,
) -> Result<Redirect, AppError> {
    let new_email = tokens::open(&state.signer, Purpose::ChangeEmail, &token)
        .filter(|c| c.still_valid_for(Purpose::ChangeEmail, &account))
        .and_then(|c| c.new_email);
    let Some(new_email) = new_email else {
        session.flash("danger", "The link is invalid or has expired.");
        return Ok(Redirect::to("/"));
    };
    match user::set_email(&state.db, account.id, &new_email).await {
        Ok(()) => {
            // The avatar on the feeds' cards follows the address.
            session.note_write();
            session.flash("success", "Your email address has been updated.");
        }
        Err(user::AccountError::Db(e)) => return Err(e.into()),
        Err(_) => session.flash(
            "danger",
            "That address has been registered by someone else meanwhile.",
        ),
    }
    Ok(Redirect::to("/"))
}
