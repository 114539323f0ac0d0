//! Small cryptographic helpers built on `hmac`/`sha2`: random tokens, keyed signatures
//! (purpose-separated so a token minted for one use never verifies for another) and hashing
//! of session ids before they touch the database.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// `bytes` random bytes from the OS generator, URL-safe base64 without padding.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// `bytes` random bytes from the OS generator, as lower-case hex.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

/// Hex SHA-256, used to store session ids so a database leak does not leak live sessions.
pub fn sha256_hex(input: &str) -> String {
    hex::encode(Sha256::digest(input.as_bytes()))
}

/// A keyed signer. Every signature mixes in a purpose string.
#[derive(Clone)]
pub struct Signer {
    /// Shared: every request's session clones the signer.
    key: Arc<[u8]>,
}

impl Signer {
    pub fn new(key: &[u8]) -> Self {
        Signer { key: key.into() }
    }

    fn mac(&self, purpose: &str, message: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(message);
        mac
    }

    pub fn sign(&self, purpose: &str, message: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(purpose, message).finalize().into_bytes())
    }

    /// Constant-time check of a signature made by [`Signer::sign`].
    pub fn verify(&self, purpose: &str, message: &[u8], signature: &str) -> bool {
        match URL_SAFE_NO_PAD.decode(signature) {
            Ok(sig) => self.mac(purpose, message).verify_slice(&sig).is_ok(),
            Err(_) => false,
        }
    }

    /// `payload.signature`, for values kept in cookies.
    pub fn seal(&self, purpose: &str, payload: &str) -> String {
        let encoded = URL_SAFE_NO_PAD.encode(payload.as_bytes());
        let sig = self.sign(purpose, encoded.as_bytes());
        format!("{encoded}.{sig}")
    }

    /// The payload of a value made by [`Signer::seal`], if its signature holds.
    pub fn unseal(&self, purpose: &str, sealed: &str) -> Option<String> {
        let (encoded, sig) = sealed.split_once('.')?;
        if !self.verify(purpose, encoded.as_bytes(), sig) {
            return None;
        }
        String::from_utf8(URL_SAFE_NO_PAD.decode(encoded).ok()?).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_bound_to_key_purpose_and_message() {
        let a = Signer::new(b"key-a");
        let b = Signer::new(b"key-b");
        let sig = a.sign("csrf", b"session-1");
        assert!(a.verify("csrf", b"session-1", &sig));
        assert!(!a.verify("csrf", b"session-2", &sig));
        assert!(!a.verify("flash", b"session-1", &sig));
        assert!(!b.verify("csrf", b"session-1", &sig));
        assert!(!a.verify("csrf", b"session-1", "not base64 !"));
    }

    #[test]
    fn sealed_values_round_trip_and_tampering_is_detected() {
        let s = Signer::new(b"key");
        let sealed = s.seal("flash", "hello.world");
        assert_eq!(s.unseal("flash", &sealed).as_deref(), Some("hello.world"));
        assert_eq!(s.unseal("other", &sealed), None);
        // Every single-character change, in the payload or in the signature, is refused.
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        for (i, c) in sealed.char_indices().filter(|&(_, c)| c != '.') {
            let other = alphabet.chars().find(|&o| o != c).unwrap();
            let mut tampered = sealed.clone();
            tampered.replace_range(i..i + 1, &other.to_string());
            assert_ne!(tampered, sealed);
            assert_eq!(s.unseal("flash", &tampered), None, "{tampered}");
        }
        // A payload sealed by one signature and another's signature do not mix.
        let (payload, _) = sealed.split_once('.').unwrap();
        let other = s.seal("flash", "hello.there");
        let (_, other_sig) = other.split_once('.').unwrap();
        assert_eq!(s.unseal("flash", &format!("{payload}.{other_sig}")), None);
        assert_eq!(s.unseal("flash", "garbage"), None);
    }

    #[test]
    fn random_tokens_differ_and_have_the_asked_entropy() {
        let a = random_token(32);
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_token(32));
        assert_eq!(sha256_hex("abc").len(), 64);
    }
}
