//! Client authentication at the token and revocation endpoints: `client_secret_basic`,
//! `client_secret_post`, or `none` for a public client (which then proves itself with PKCE).
//! Failures count against the address's budget (`--failed-client-auth-rate`); a client that
//! authenticates costs nothing, however many users it serves from that address.

use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use warp::http::HeaderMap;
use warp::http::header::AUTHORIZATION;

use super::events::{AuthEvent, Event};
use super::oauth_error::OAuthError;
use crate::AppState;
use crate::oauth::client_rules::Client;
use crate::store::clients;
use crate::support::secrets::secret_matches;
use crate::web::params::Params;

/// What the client presented, before it is checked.
#[derive(Debug, PartialEq, Eq)]
pub struct Presented {
    pub client_id: String,
    pub secret: Option<String>,
    /// Sent with HTTP Basic (a refusal must then carry a Basic challenge).
    pub basic: bool,
}

/// The registered client that made this request from `address`, if its credentials are right.
pub async fn authenticate(
    state: &AppState,
    address: IpAddr,
    headers: &HeaderMap,
    params: &Params,
) -> Result<Client, OAuthError> {
    let budget = &state.limits.client_auth;
    budget.peek(address).map_err(OAuthError::too_many_requests)?;
    let checked = check_credentials(state, headers, params).await;
    if checked.as_ref().is_err_and(|e| e.code == "invalid_client") {
        budget.charge(address);
    }
    checked
}

async fn check_credentials(state: &AppState, headers: &HeaderMap, params: &Params) -> Result<Client, OAuthError> {
    let presented = presented(headers, params)?;
    let client_id = presented.client_id.clone();
    let client = state.store.read(move |tx| clients::find(tx, &client_id)).await?;
    verify(client, &presented).map_err(|refused| {
        let event =
            AuthEvent::new(Event::BadClientSecret).client(Some(&presented.client_id), params.get("redirect_uri"));
        refused.with_event(event)
    })
}

/// Reads the client's credentials from the `Authorization: Basic` header or the body, without
/// checking them.
pub fn presented(headers: &HeaderMap, params: &Params) -> Result<Presented, OAuthError> {
    let Some((client_id, secret)) = basic_credentials(headers)? else {
        let client_id = params.get("client_id").ok_or_else(|| {
            OAuthError::invalid_client(
                "Client authentication is required: client_id (and client_secret) in the body, or HTTP Basic",
                false,
            )
        })?;
        return Ok(Presented {
            client_id: client_id.to_owned(),
            secret: params.get("client_secret").map(str::to_owned),
            basic: false,
        });
    };
    if params.get("client_secret").is_some() {
        return Err(OAuthError::invalid_request("Use one client authentication method, not both Basic and the body"));
    }
    if params.get("client_id").is_some_and(|id| id != client_id) {
        return Err(OAuthError::invalid_request("client_id in the body differs from the Authorization header"));
    }
    Ok(Presented { client_id, secret: Some(secret).filter(|s| !s.is_empty()), basic: true })
}

/// `Authorization: Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 2.3.1), if sent.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed = || OAuthError::invalid_client("Malformed HTTP Basic client credentials", true);
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, encoded) = value.split_once(' ').ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_client("Send client credentials with HTTP Basic or in the body", true));
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    Ok(Some((form_decode(id).ok_or_else(malformed)?, form_decode(secret).ok_or_else(malformed)?)))
}

fn form_decode(text: &str) -> Option<String> {
    let text = text.replace('+', " ");
    percent_encoding::percent_decode_str(&text).decode_utf8().ok().map(|s| s.into_owned())
}

fn verify(client: Option<Client>, presented: &Presented) -> Result<Client, OAuthError> {
    let refused = || OAuthError::invalid_client("Unknown client or wrong client secret", presented.basic);
    let client = client.ok_or_else(refused)?;
    match (&client.secret_hash, &presented.secret) {
        (Some(hash), Some(secret)) if secret_matches(secret, hash) => Ok(client),
        // A public client has no secret to show; the grant then requires PKCE.
        (None, None) => Ok(client),
        _ => Err(refused()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use warp::http::HeaderValue;

    fn basic(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn reads_url_encoded_basic_credentials() {
        let header = format!("Basic {}", STANDARD.encode("my%20id:s%3Acret+x"));
        let presented = presented(&basic(&header), &Params::default()).unwrap();
        assert_eq!(presented, Presented { client_id: "my id".into(), secret: Some("s:cret x".into()), basic: true });
    }

    #[test]
    fn refuses_two_methods_and_other_schemes() {
        let header = format!("Basic {}", STANDARD.encode("id:secret"));
        let both = Params::parse(b"client_secret=secret").unwrap();
        assert_eq!(presented(&basic(&header), &both).unwrap_err().code, "invalid_request");
        let bearer = presented(&basic("Bearer abc"), &Params::default()).unwrap_err();
        assert_eq!((bearer.code, bearer.status.as_u16()), ("invalid_client", 401));
    }
}
