//! A new account: its row and its self-follow, in the caller's transaction. Here, above both
//! `user` and `follow`, so that neither writes the other's rows.

use sea_orm::ConnectionTrait;

use super::follow;
use super::user::{self, AccountError, Model};

/// Create the account (see [`user::create`]) and the self-follow that puts its own
/// compositions in its timeline.
pub async fn register<C: ConnectionTrait>(
    db: &C,
    email: &str,
    username: &str,
    password_hash: &str,
    admin_email: Option<&str>,
) -> Result<Model, AccountError> {
    let account = user::create(db, email, username, password_hash, admin_email).await?;
    follow::add(db, account.id, account.id).await?;
    Ok(account)
}
