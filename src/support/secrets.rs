//! Random secrets, their hashes at rest, and password hashing.
//!
//! Tokens, codes and client secrets are 256 random bits, so a fast SHA-256 is enough to store them:
//! nobody can guess a preimage. Passwords are chosen by people, so they get argon2id.

use std::sync::OnceLock;

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A new random secret, `prefix` followed by 43 URL-safe characters (256 bits).
pub fn random_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// A short random id (128 bits, hex) for rows whose id is not a secret.
pub fn random_id() -> String {
    let mut bytes = [0u8; 16];
    rand::fill(&mut bytes);
    to_hex(&bytes)
}

/// The form in which a secret is stored and looked up.
pub fn hash_secret(secret: &str) -> String {
    to_hex(&Sha256::digest(secret.as_bytes()))
}

/// Compares a presented secret with a stored hash in constant time.
pub fn secret_matches(secret: &str, stored_hash: &str) -> bool {
    hash_secret(secret).as_bytes().ct_eq(stored_hash.as_bytes()).into()
}

/// argon2's working memory. A hash at the default cost fills 19 MiB; allocating that for every
/// hash and freeing it on whichever blocking thread ran it leaves it cached in that thread's
/// allocator arena, so a flood of sign-ins grew the process by gigabytes. The server keeps one
/// of these per hashing slot and reuses it (see `oauth::hashing`).
pub struct HashMemory(Vec<Block>);

impl Default for HashMemory {
    fn default() -> HashMemory {
        HashMemory(vec![Block::new(); Params::DEFAULT.block_count()])
    }
}

impl HashMemory {
    /// The blocks a hash with `params` needs; grows (once) for a stored hash of a higher cost.
    fn blocks(&mut self, params: &Params) -> &mut [Block] {
        let needed = params.block_count();
        if self.0.len() < needed {
            self.0.resize(needed, Block::new());
        }
        &mut self.0[..needed]
    }
}

/// An argon2id PHC string for `password`, with fresh memory (the admin commands).
pub fn hash_password(password: &str) -> Result<String, String> {
    hash_password_in(&mut HashMemory::default(), password)
}

/// An argon2id PHC string for `password` at the default cost, computed in `memory`.
pub fn hash_password_in(memory: &mut HashMemory, password: &str) -> Result<String, String> {
    let fail = |e: &dyn std::fmt::Display| format!("cannot hash password: {e}");
    let params = Params::default();
    let mut salt_bytes = [0u8; argon2::RECOMMENDED_SALT_LEN];
    rand::fill(&mut salt_bytes);
    let salt = Salt::new(&salt_bytes).map_err(|e| fail(&e))?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, memory.blocks(&params))
        .map_err(|e| fail(&e))?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| fail(&e))?,
        salt: Some(salt),
        hash: Some(Output::new(&out).map_err(|e| fail(&e))?),
    };
    Ok(hash.to_string())
}

/// Checks a password against a stored argon2 hash, with fresh memory.
pub fn verify_password(password: &str, stored_hash: Option<&str>) -> bool {
    verify_password_in(&mut HashMemory::default(), password, stored_hash)
}

/// Checks a password against a stored argon2 hash, computed in `memory`. With `None` (no such
/// user) it still spends the time of a real check, so response times do not tell which emails
/// exist.
pub fn verify_password_in(memory: &mut HashMemory, password: &str, stored_hash: Option<&str>) -> bool {
    match stored_hash {
        Some(hash) => matches_hash(memory, password, hash),
        None => {
            let decoy = decoy_hash(memory);
            let _ = matches_hash(memory, password, decoy);
            false
        }
    }
}

/// Recomputes the stored hash's output with its own algorithm, version, cost and salt.
fn matches_hash(memory: &mut HashMemory, password: &str, stored: &str) -> bool {
    let Ok(hash) = PasswordHash::new(stored) else { return false };
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else { return false };
    let (Ok(algorithm), Ok(params)) = (Algorithm::try_from(hash.algorithm.as_str()), Params::try_from(&hash)) else {
        return false;
    };
    let Ok(version) = hash.version.map_or(Ok(Version::default()), Version::try_from) else { return false };
    let mut out = vec![0u8; expected.len()];
    let computed = Argon2::new(algorithm, version, params.clone()).hash_password_into_with_memory(
        password.as_bytes(),
        salt,
        &mut out,
        memory.blocks(&params),
    );
    // `Output` compares in constant time.
    computed.is_ok() && Output::new(&out).is_ok_and(|out| out == *expected)
}

/// A hash of the default cost to check unknown emails against; made once, in `memory`.
fn decoy_hash(memory: &mut HashMemory) -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_password_in(memory, "decoy password").unwrap_or_default())
}

/// Lower-case hex; runs for every API call (the token's hash), so without a `format!` per byte.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        hex.push(DIGITS[usize::from(b >> 4)] as char);
        hex.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    hex
}

/// PKCE S256: BASE64URL(SHA256(verifier)), the challenge a verifier answers (RFC 7636 4.2).
pub fn pkce_s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// PKCE S256: BASE64URL(SHA256(verifier)) == challenge, compared in constant time.
pub fn pkce_s256_matches(verifier: &str, challenge: &str) -> bool {
    pkce_s256(verifier).as_bytes().ct_eq(challenge.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lower_case_two_digits_a_byte() {
        assert_eq!(to_hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
    }

    #[test]
    fn pkce_matches_rfc7636_example() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(pkce_s256_matches(verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
        assert!(!pkce_s256_matches(verifier, verifier));
    }

    #[test]
    fn hashes_made_by_the_argon2_crate_still_verify() {
        use argon2::password_hash::PasswordHasher;
        // Stored by earlier versions, which used the crate's own `hash_password`.
        let stored = Argon2::default().hash_password(b"correct horse").unwrap().to_string();
        let mut memory = HashMemory::default();
        assert!(verify_password_in(&mut memory, "correct horse", Some(&stored)));
        assert!(!verify_password_in(&mut memory, "wrong horse", Some(&stored)));
        let ours = hash_password_in(&mut memory, "correct horse").unwrap();
        assert!(ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{ours}");
        use argon2::password_hash::PasswordVerifier;
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default().verify_password(b"correct horse", &parsed).is_ok(), "the crate reads ours too");
    }

    #[test]
    fn passwords_verify_only_themselves() {
        let hash = hash_password("correct horse").unwrap();
        assert!(verify_password("correct horse", Some(&hash)));
        assert!(!verify_password("wrong horse", Some(&hash)));
        assert!(!verify_password("correct horse", None));
    }
}
