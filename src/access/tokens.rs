//! Signed, expiring, single-purpose tokens for links sent by email (confirm the account, reset
//! the password, change the email). A token names its purpose and user, carries an expiry, and
//! a fingerprint of the state it may change: once that state changes (the account is confirmed,
//! the password or email is different) the token is worthless, so no token works twice.

use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::crypto::{Signer, sha256_hex};
use crate::models::user;

/// Emailed links work for an hour.
pub const LINK_SECONDS: i64 = 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    Confirm,
    ResetPassword,
    ChangeEmail,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Confirm => "confirm",
            Purpose::ResetPassword => "reset_password",
            Purpose::ChangeEmail => "change_email",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub user_id: i32,
    /// Unix seconds.
    pub expires: i64,
    /// Fingerprint of the state this token may change (see [`fingerprint`]).
    pub state: String,
    /// The new address, for email changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_email: Option<String>,
}

/// A short digest of the user's current state relevant to `purpose`.
pub fn fingerprint(purpose: Purpose, confirmed: bool, email: &str, password_hash: &str) -> String {
    let state = match purpose {
        Purpose::Confirm => format!("confirmed={confirmed}"),
        Purpose::ResetPassword => format!("password={password_hash}"),
        Purpose::ChangeEmail => format!("email={email}"),
    };
    sha256_hex(&state)[..16].to_owned()
}

/// A token for `purpose` on `user`'s current state, valid for [`LINK_SECONDS`].
pub fn issue_for(
    signer: &Signer,
    purpose: Purpose,
    user: &user::Model,
    new_email: Option<String>,
) -> String {
    let claims = Claims {
        user_id: user.id,
        expires: Utc::now().timestamp() + LINK_SECONDS,
        state: fingerprint(purpose, user.confirmed, &user.email, &user.password_hash),
        new_email,
    };
    issue(signer, purpose, &claims)
}

impl Claims {
    /// True while the token's user is `user` and the state it was issued for is unchanged.
    pub fn still_valid_for(&self, purpose: Purpose, user: &user::Model) -> bool {
        self.user_id == user.id
            && self.state == fingerprint(purpose, user.confirmed, &user.email, &user.password_hash)
    }
}

pub fn issue(signer: &Signer, purpose: Purpose, claims: &Claims) -> String {
    let json = serde_json::to_string(claims).unwrap_or_default();
    signer.seal(purpose.as_str(), &json)
}

/// The claims of a token made for `purpose`, if its signature holds and it has not expired.
/// The caller still compares `state` with the user's current fingerprint.
pub fn open(signer: &Signer, purpose: Purpose, token: &str) -> Option<Claims> {
    let json = signer.unseal(purpose.as_str(), token)?;
    let claims: Claims = serde_json::from_str(&json).ok()?;
    (claims.expires > Utc::now().timestamp()).then_some(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(expires_in: i64) -> Claims {
        Claims {
            user_id: 7,
            expires: Utc::now().timestamp() + expires_in,
            state: fingerprint(Purpose::Confirm, false, "a@example.com", "h"),
            new_email: None,
        }
    }

    #[test]
    fn a_token_opens_only_for_its_purpose_key_and_lifetime() {
        let signer = Signer::new(b"key");
        let token = issue(&signer, Purpose::Confirm, &claims(3600));
        let opened = open(&signer, Purpose::Confirm, &token).expect("a valid token");
        assert_eq!((opened.user_id, opened.state), (7, claims(0).state));
        assert_eq!(open(&signer, Purpose::ResetPassword, &token), None);
        assert_eq!(open(&Signer::new(b"other"), Purpose::Confirm, &token), None);
        let expired = issue(&signer, Purpose::Confirm, &claims(-1));
        assert_eq!(open(&signer, Purpose::Confirm, &expired), None);
        let mut tampered = token.clone();
        tampered.insert(3, 'x');
        assert_eq!(open(&signer, Purpose::Confirm, &tampered), None);
    }

    #[test]
    fn fingerprints_change_with_the_state_they_guard() {
        let a = fingerprint(Purpose::ResetPassword, true, "a@x", "hash1");
        assert_ne!(a, fingerprint(Purpose::ResetPassword, true, "a@x", "hash2"));
        assert_eq!(
            a,
            fingerprint(Purpose::ResetPassword, false, "b@x", "hash1")
        );
        assert_ne!(
            fingerprint(Purpose::Confirm, false, "a@x", "h"),
            fingerprint(Purpose::Confirm, true, "a@x", "h")
        );
    }
}
