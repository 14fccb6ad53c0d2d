//! Join tokens: 256 random bits, shown once, stored only as a SHA-256 hash.
//!
//! The hash is the lookup key, so no constant-time comparison is involved: an attacker who
//! could time the index lookup learns about a hash of a 256-bit secret, which does not help.

use sha2::{Digest, Sha256};

/// Length of a token in bytes before hex encoding.
pub const TOKEN_BYTES: usize = 32;

/// A new random token (64 lowercase hex characters).
pub fn mint() -> Result<String, getrandom::Error> {
    let mut raw = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut raw)?;
    Ok(hex::encode(raw))
}

/// The stored form of a token: SHA-256 of its text, hex.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hash_stably() {
        let a = mint().unwrap();
        let b = mint().unwrap();
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_eq!(hash(&a), hash(&a));
        assert_ne!(hash(&a), hash(&b));
        assert_ne!(hash(&a), a);
    }
}
