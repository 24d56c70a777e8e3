//! Authorization codes: random, stored only as a hash (`store::codes`), bound to the client, the
//! redirect URI and the PKCE challenge, valid for [`CODE_TTL`], usable once.

use std::time::Duration;

use crate::support::secrets::{hash_secret, random_secret};

pub const CODE_TTL: Duration = Duration::from_secs(5 * 60);
const CODE_PREFIX: &str = "gtac_";

/// A new code and the hash it is stored under, drawn before the job that stores it.
pub struct NewCode {
    /// What the client gets, once, in the redirect.
    pub code: String,
    pub hash: String,
}

impl NewCode {
    pub fn new() -> NewCode {
        let code = random_secret(CODE_PREFIX);
        NewCode { hash: hash_secret(&code), code }
    }
}
