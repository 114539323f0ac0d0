//! Checking an email and password, for the login form, the API's Basic auth and the account
//! pages that ask for the current password: one place that counts failures against the login
//! rate limits and takes the same time whether or not the account exists.

use std::net::IpAddr;

use sea_orm::ConnectionTrait;

use super::limits;
use super::password::{self, Verified};
use crate::config::RateLimits;
use crate::error::AppError;
use crate::models::user;

/// The account `email` names if `password` is its password; `None` otherwise; 429 once the
/// account or the client address has used up its attempts.
///
/// The attempt is counted before the password is checked, so guesses sent at the same moment
/// each take a place under the limit; a success clears the account's failures and gives the
/// address its attempt back.
pub async fn check<C: ConnectionTrait>(
    db: &C,
    rate: &RateLimits,
    email: &str,
    ip: IpAddr,
    password: &str,
) -> Result<Option<user::Model>, AppError> {
    let [account, address] = limits::login(rate, email, ip);
    // The address first: once it is refused, its attempts no longer count against the
    // accounts it names, or one address could lock every account out.
    limits::spend(db, rate, std::slice::from_ref(&address)).await?;
    limits::spend(db, rate, std::slice::from_ref(&account)).await?;
    let found = user::find_by_email(db, email).await?;
    let stored = found.as_ref().map(|u| u.password_hash.clone());
    let verified = password::verify_or_decoy(password.to_owned(), stored).await?;
    let Some(mut found) = found.filter(|_| verified.ok()) else {
        return Ok(None);
    };
    limits::forgive(db, &account).await?;
    limits::give_back(db, &address).await?;
    if let Verified::YesRehash(new_hash) = verified
        && user::replace_password_hash(db, found.id, &found.password_hash, &new_hash).await?
    {
        found.password_hash = new_hash;
    }
    Ok(Some(found))
}
