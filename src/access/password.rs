//! Password hashing: Argon2id for every new hash; Werkzeug's `pbkdf2:sha256:<iterations>$<salt>$<hex>`
//! (from the Flask deployment) accepted at login so the caller can rehash it. Hashing is slow
//! on purpose, so it runs on the blocking pool, never on the async runtime's threads.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use hmac::Hmac;
use rand::RngCore;
use sha2::Sha256;

/// The outcome of checking a password.
#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    No,
    Yes,
    /// Right password, stored in a legacy format: store this new hash instead.
    YesRehash(String),
}

impl Verified {
    pub fn ok(&self) -> bool {
        !matches!(self, Verified::No)
    }
}

/// OWASP's Argon2id setting of 9 MiB and 4 passes: rated as strong as the 19 MiB / 2 passes
/// default, with half the memory per login. A dyno's memory is small and logins come in
/// bursts; it keeps the server's peak memory under 30 MiB (measured with `bench/run.sh`).
const MEMORY_KIB: u32 = 9 * 1024;
const PASSES: u32 = 4;

fn argon2() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, PASSES, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Whether a stored Argon2 hash was made with other parameters (so it should be redone).
fn outdated(parsed: &PasswordHash<'_>) -> bool {
    Params::try_from(parsed)
        .map(|p| (p.m_cost(), p.t_cost(), p.p_cost()) != (MEMORY_KIB, PASSES, 1))
        .unwrap_or(true)
}

fn hash_now(password: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Ok(argon2()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("argon2: {e}"))?
        .to_string())
}

fn verify_now(password: &str, stored: &str) -> anyhow::Result<Verified> {
    if let Some(rest) = stored.strip_prefix("pbkdf2:sha256:") {
        return Ok(if werkzeug_pbkdf2_matches(password, rest) {
            Verified::YesRehash(hash_now(password)?)
        } else {
            Verified::No
        });
    }
    let Ok(parsed) = PasswordHash::new(stored) else {
        return Ok(Verified::No);
    };
    // The parameters written in the stored hash are the ones used to check it.
    Ok(
        match argon2().verify_password(password.as_bytes(), &parsed) {
            Ok(()) if outdated(&parsed) => Verified::YesRehash(hash_now(password)?),
            Ok(()) => Verified::Yes,
            Err(_) => Verified::No,
        },
    )
}

/// `<iterations>$<salt>$<hex>` as Werkzeug writes it: PBKDF2-HMAC-SHA256 over the UTF-8 salt.
fn werkzeug_pbkdf2_matches(password: &str, rest: &str) -> bool {
    let mut parts = rest.splitn(3, '$');
    let (Some(iterations), Some(salt), Some(hex)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Ok(iterations) = iterations.parse::<u32>() else {
        return false;
    };
    // Refuse absurd work factors from a tampered row instead of spinning for minutes.
    if iterations == 0 || iterations > 10_000_000 || hex.len() != 64 {
        return false;
    }
    let mut out = [0u8; 32];
    if pbkdf2::pbkdf2::<Hmac<Sha256>>(password.as_bytes(), salt.as_bytes(), iterations, &mut out)
        .is_err()
    {
        return false;
    }
    let computed = hex::encode(out);
    // Constant-time comparison of the two hex strings.
    computed
        .bytes()
        .zip(hex.to_ascii_lowercase().bytes())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

/// A new Argon2id hash of `password`.
pub async fn hash(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || hash_now(&password)).await?
}

/// Check `password` against a stored hash (Argon2id or Werkzeug pbkdf2).
pub async fn verify(password: String, stored: String) -> anyhow::Result<Verified> {
    tokio::task::spawn_blocking(move || verify_now(&password, &stored)).await?
}

/// Check `password` against the stored hash of an account, or, when there is no account,
/// against a decoy: a failed login takes as long whether or not the email is known.
pub async fn verify_or_decoy(password: String, stored: Option<String>) -> anyhow::Result<Verified> {
    tokio::task::spawn_blocking(move || match stored {
        Some(stored) => verify_now(&password, &stored),
        None => {
            verify_now(&password, decoy_hash())?;
            Ok(Verified::No)
        }
    })
    .await?
}

/// A valid hash of a password nobody knows, made once (on a blocking thread, by the caller).
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        hash_now(&crate::crypto::random_token(24)).expect("argon2 with default parameters")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Werkzeug hash made here with PBKDF2-HMAC-SHA256, as `generate_password_hash` does.
    fn werkzeug_hash(password: &str, salt: &str, iterations: u32) -> String {
        let mut out = [0u8; 32];
        pbkdf2::pbkdf2::<Hmac<Sha256>>(password.as_bytes(), salt.as_bytes(), iterations, &mut out)
            .unwrap();
        let hex = hex::encode(out);
        format!("pbkdf2:sha256:{iterations}${salt}${hex}")
    }

    #[test]
    fn argon2id_hashes_verify_and_differ_per_salt() {
        let a = hash_now("cat-piano-42").unwrap();
        let b = hash_now("cat-piano-42").unwrap();
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b);
        assert_eq!(verify_now("cat-piano-42", &a).unwrap(), Verified::Yes);
        assert_eq!(verify_now("cat-piano-43", &a).unwrap(), Verified::No);
    }

    #[test]
    fn werkzeug_pbkdf2_hashes_are_accepted_and_rehashed_to_argon2id() {
        let stored = werkzeug_hash("cat-piano-42", "nWz1sbfS3ixHLXb4", 1000);
        match verify_now("cat-piano-42", &stored).unwrap() {
            Verified::YesRehash(new) => {
                assert!(new.starts_with("$argon2id$"));
                assert_eq!(verify_now("cat-piano-42", &new).unwrap(), Verified::Yes);
            }
            other => panic!("expected a rehash, got {other:?}"),
        }
        assert_eq!(verify_now("wrong", &stored).unwrap(), Verified::No);
    }

    #[test]
    fn hashes_use_9_mib_and_4_passes_and_older_settings_are_redone() {
        let new = hash_now("cat-piano-42").unwrap();
        assert!(new.contains("$m=9216,t=4,p=1$"), "{new}");
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let salt = SaltString::encode_b64(&salt).unwrap();
        let old = Argon2::default()
            .hash_password(b"cat-piano-42", &salt)
            .unwrap()
            .to_string();
        assert!(old.contains("$m=19456,t=2,p=1$"), "{old}");
        match verify_now("cat-piano-42", &old).unwrap() {
            Verified::YesRehash(redone) => assert!(redone.contains("$m=9216,t=4,p=1$")),
            other => panic!("expected a rehash, got {other:?}"),
        }
        assert_eq!(verify_now("wrong", &old).unwrap(), Verified::No);
    }

    #[test]
    fn a_known_werkzeug_vector_matches() {
        // PBKDF2-HMAC-SHA256("password", "salt", 1) from RFC 7914's test vectors.
        let stored =
            "pbkdf2:sha256:1$salt$120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b";
        assert!(verify_now("password", stored).unwrap().ok());
    }

    #[test]
    fn malformed_or_hostile_hashes_never_verify() {
        for stored in [
            "",
            "plaintext",
            "pbkdf2:sha256:abc$salt$00",
            "pbkdf2:sha256:999999999$salt$00",
            "pbkdf2:sha256:1$salt",
            "$argon2id$v=19$garbage",
        ] {
            assert_eq!(verify_now("x", stored).unwrap(), Verified::No, "{stored}");
        }
    }
}
