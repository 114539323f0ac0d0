//! The rate limits of the account pages: failed logins, and requests that send mail
//! (registration, confirmation resends, password-reset requests), counted per account and per
//! client address; and the API's reads without credentials, per client address. All are
//! counted in the database so they hold across every web process.

use std::net::IpAddr;

use chrono::{Duration, Utc};
use sea_orm::ConnectionTrait;

use crate::config::RateLimits;
use crate::crypto::sha256_hex;
use crate::error::AppError;
use crate::models::rate_limit;

/// One counter and its limit.
#[derive(Clone)]
pub struct Limit {
    key: String,
    max: i64,
    /// Its own window, instead of the configured one (`RAGTIME_RATE_LIMIT_WINDOW`).
    window: Option<Duration>,
}

/// An IPv6 client usually holds a whole /64, so it is counted as one.
fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// Accounts are named by a digest of the lower-cased address: keys stay short, and the table
/// holds no email addresses.
fn account_key(email: &str) -> String {
    sha256_hex(&email.trim().to_lowercase())[..32].to_owned()
}

/// Failed logins for this email address (first) and from this client address.
pub fn login(limits: &RateLimits, email: &str, ip: IpAddr) -> [Limit; 2] {
    [
        Limit {
            key: format!("login:account:{}", account_key(email)),
            max: limits.login_per_account,
            window: None,
        },
        Limit {
            key: format!("login:address:{}", address_key(ip)),
            max: limits.login_per_address,
            window: None,
        },
    ]
}

/// Mail-sending requests (`action` names which) for this account (first) and from this address.
pub fn mail(limits: &RateLimits, action: &str, email: &str, ip: IpAddr) -> [Limit; 2] {
    [
        Limit {
            key: format!("{action}:account:{}", account_key(email)),
            max: limits.mail_per_account,
            window: None,
        },
        Limit {
            key: format!("{action}:address:{}", address_key(ip)),
            max: limits.mail_per_address,
            window: None,
        },
    ]
}

/// The API's reads without credentials from this client address, counted per minute: a
/// client reading public data too fast is slowed down for a moment, not locked out for the
/// long window of the login limits.
pub fn api_anonymous_read(limits: &RateLimits, ip: IpAddr) -> Limit {
    Limit {
        key: format!("api_read:address:{}", address_key(ip)),
        max: limits.api_anonymous_reads_per_minute,
        window: Some(Duration::minutes(1)),
    }
}

fn window(limits: &RateLimits) -> Duration {
    Duration::from_std(limits.window).unwrap_or(Duration::minutes(15))
}

fn retry_after(started: chrono::DateTime<Utc>, window: Duration) -> AppError {
    let seconds = (started + window - Utc::now()).num_seconds();
    AppError::TooMany {
        retry_after: seconds.max(1) as u64,
    }
}

/// Count one event on each counter; 429 if that goes over any limit.
pub async fn spend<C: ConnectionTrait>(
    db: &C,
    limits: &RateLimits,
    checks: &[Limit],
) -> Result<(), AppError> {
    let configured = window(limits);
    let mut refusal = None;
    for check in checks {
        let window = check.window.unwrap_or(configured);
        let w = rate_limit::hit(db, &check.key, window).await?;
        if w.count > check.max {
            refusal = Some(retry_after(w.started, window));
        }
    }
    refusal.map_or(Ok(()), Err)
}

/// Forget a counter: an account's failed logins, once it logs in successfully.
pub async fn forgive<C: ConnectionTrait>(db: &C, limit: &Limit) -> Result<(), AppError> {
    rate_limit::clear(db, &limit.key).await?;
    Ok(())
}

/// Uncount one event (a login attempt that succeeded, from an address shared by many).
pub async fn give_back<C: ConnectionTrait>(db: &C, limit: &Limit) -> Result<(), AppError> {
    rate_limit::take_back(db, &limit.key).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_of_one_ipv6_network_share_a_counter() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(address_key(mapped), "192.0.2.7");
    }

    #[test]
    fn an_account_is_the_same_in_any_case_and_is_not_stored_in_clear() {
        assert_eq!(
            account_key("Ann@Example.com "),
            account_key("ann@example.com")
        );
        assert!(!account_key("ann@example.com").contains("ann"));
    }
}
