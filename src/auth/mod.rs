//! The auth step: a bearer token becomes a [`Caller`], from the built-in token store or from a
//! remote user-info endpoint (`--userinfo-url`).

mod local;
mod remote;

use warp::http::HeaderMap;
use warp::http::header::AUTHORIZATION;

pub use local::find_access_token;
pub use remote::RemoteUserinfo;

use crate::db::Db;
use crate::error::{ApiError, MISSING_TOKEN};

/// Who is calling: the user, and the OAuth client (the GPT) acting for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: String,
    pub client_id: String,
    pub email: Option<String>,
    pub name: Option<String>,
}

pub enum Authenticator {
    /// Tokens issued by this server, looked up by hash in `oauth_tokens`.
    Local(Db),
    Remote(RemoteUserinfo),
}

impl Authenticator {
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, ApiError> {
        let token = bearer_token(headers)?;
        match self {
            Authenticator::Local(db) => {
                let token = token.to_owned();
                db.read(move |conn| Ok(find_access_token(conn, &token)?))
                    .await?
                    .ok_or(ApiError::Unauthorized("The access token is invalid, expired or revoked"))
            }
            Authenticator::Remote(remote) => remote.resolve(token).await,
        }
    }
}

/// Takes the token out of exactly one `Authorization: Bearer <token>` header.
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, ApiError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let value = values.next().ok_or(ApiError::Unauthorized(MISSING_TOKEN))?;
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
