//! The auth step: a bearer token becomes a [`Caller`], from the built-in token store or from a
//! remote user-info endpoint (`--userinfo-url`).

use warp::http::HeaderMap;
use warp::http::header::AUTHORIZATION;

pub use super::caller::{Caller, MCP_PATH};
pub use super::remote_auth::RemoteUserinfo;

use crate::chain::api_error::ApiError;
use crate::store::tokens;
use crate::store::{StoreError, Tx};
use crate::support::secrets::hash_secret;

/// Where bearer tokens are checked: here, or at the `--userinfo-url` of another server.
pub enum Authenticator {
    /// Tokens issued by this server, looked up by hash in `oauth_tokens`.
    Local,
    /// Tokens of another authorization server, asked about (and cached) by their user-info URL.
    Remote(Box<RemoteUserinfo>),
}

/// Who a request says it is, as far as can be known before its database work: a caller already
/// resolved (remote mode), or the hash of a built-in token. The hash is looked up inside the
/// call's own write job ([`Claim::resolve`]), so a call costs one trip to the database, not two.
pub enum Claim {
    /// Already known (remote mode).
    Caller(Caller),
    /// The SHA-256 of a built-in token, looked up in the call's job.
    TokenHash(String),
}

impl Authenticator {
    /// Reads the bearer token and gets as far with it as can be done before the database.
    pub async fn claim(&self, headers: &HeaderMap) -> Result<Claim, ApiError> {
        let token = bearer_token(headers)?;
        match self {
            Authenticator::Local => Ok(Claim::TokenHash(hash_secret(token))),
            Authenticator::Remote(remote) => Ok(Claim::Caller(remote.resolve(token).await?)),
        }
    }
}

impl Claim {
    /// The caller, or the 401 of a token that is unknown, expired or revoked; the outer `Err` is
    /// the store's failure.
    pub fn resolve(&self, tx: &Tx<'_>) -> Result<Result<Caller, ApiError>, StoreError> {
        match self {
            Claim::Caller(caller) => Ok(Ok(caller.clone())),
            Claim::TokenHash(hash) => Ok(tokens::find_access(tx, hash)?
                .map(Caller::from)
                .ok_or(ApiError::Unauthorized("The access token is invalid, expired or revoked"))),
        }
    }
}

/// Takes the token out of exactly one `Authorization: Bearer <token>` header.
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, ApiError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let value = values.next().ok_or(ApiError::MissingToken)?;
    if values.next().is_some() {
        return Err(ApiError::Unauthorized("Send exactly one Authorization header"));
    }
    let value = value.to_str().map_err(|_| ApiError::Unauthorized("Malformed Authorization header"))?;
    let (scheme, token) =
        value.split_once(' ').ok_or(ApiError::Unauthorized("Authorization must be 'Bearer <token>'"))?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.contains(char::is_whitespace) {
        return Err(ApiError::Unauthorized("Authorization must be 'Bearer <token>'"));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use warp::http::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn accepts_one_bearer_token_in_any_case() {
        assert_eq!(bearer_token(&headers(&["Bearer abc"])).unwrap(), "abc");
        assert_eq!(bearer_token(&headers(&["bearer abc"])).unwrap(), "abc");
    }

    #[test]
    fn refuses_everything_else() {
        for bad in [&[][..], &["Basic abc"], &["Bearer"], &["Bearer "], &["Bearer a b"], &["Bearer a", "Bearer b"]] {
            assert!(bearer_token(&headers(bad)).is_err(), "{bad:?} should be refused");
        }
    }
}
