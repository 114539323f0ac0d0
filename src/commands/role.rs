//! `ragtime role <email> <role>`: give an existing account a role (make a moderator, promote an
//! administrator) from the command line, as `heroku run ragtime role ...` on a live site.

use anyhow::{Context, bail};

use crate::config::Config;
use crate::db;
use crate::models::{role, user};

/// Give the account with `email` the role named `role_name` (any case); returns what changed,
/// in words. An unknown email or role is an error naming what exists.
pub async fn set(config: &Config, email: &str, role_name: &str) -> anyhow::Result<String> {
    let db = db::connect(config)
        .await
        .context("cannot connect to the database (check DATABASE_URL)")?;
    let roles = role::all(&db)
        .await
        .context("cannot read the roles: has `ragtime deploy` run?")?;
    let Some(wanted) = roles
        .iter()
        .find(|r| r.name.eq_ignore_ascii_case(role_name.trim()))
    else {
        let names: Vec<&str> = roles.iter().map(|r| r.name.as_str()).collect();
        bail!(
            "no role is named {role_name:?}; the roles are {}",
            names.join(", ")
        );
    };
    let Some(account) = user::find_by_email(&db, email).await? else {
        bail!("no account has the email address {email:?}");
    };
    let was = roles
        .iter()
        .find(|r| r.id == account.role_id)
        .map_or("no role", |r| r.name.as_str());
    if account.role_id == wanted.id {
        return Ok(format!("{} is already {}", account.email, wanted.name));
    }
    user::set_role(&db, account.id, wanted.id).await?;
    Ok(format!(
        "{} ({}) is now {} (was {was})",
        account.email, account.username, wanted.name
    ))
}
