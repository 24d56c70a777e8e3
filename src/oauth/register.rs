//! `POST /api/oauth2/register`: OAuth 2.0 Dynamic Client Registration (RFC 7591), which MCP clients
//! use when the authorization server does not know them yet. Public clients
//! (`token_endpoint_auth_method: none`) get no secret and must use PKCE S256 at the authorization
//! endpoint, like any public client; confidential ones get a secret, shown once.
//!
//! Anyone may call this, and an assistant registers a client each time a person connects it, so
//! the endpoint scales with connections while what it stores stays bounded:
//! - each address has a budget of registrations (`--registration-rate`, 120 at once);
//! - nothing refuses registrations globally (an attacker who filled such a cap would block every
//!   assistant): instead each registration removes the oldest unused self-registered clients
//!   beyond `--max-unused-clients` (`store::clients::evict_unused`; never one younger than 15 minutes,
//!   never one that holds tokens), and housekeeping removes them after a day;
//! - a row is small: a name of at most 100 characters, at most 10 redirect URIs of 1,000 bytes.
//!
//! The name is shown on the consent page, marked as unverified, so it may not pass for the
//! operator's clients (`crate::oauth::client_names`); self-registered clients may share one.
//! `--no-dynamic-registration` switches the endpoint off.

use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde_json::{Map, Value, json};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::endpoints::{SCOPE, asks_only_our_scope};
use super::oauth_error::{OAuthError, no_store};
use crate::AppState;
use crate::chain::api_error::{ApiError, json_response};
use crate::http::client_address::client_address;
use crate::http::request::json_body;
use crate::oauth::client_names::{check_unambiguous_name, imitated};
use crate::oauth::client_rules::{self as clients, NewClient, Registration};
use crate::store::{self, Commit};

const MAX_NAME_CHARS: usize = 100;
/// Unused clients each registration may remove: more than the one it adds, so the table shrinks
/// back to the bound after it was lowered (housekeeping removes the rest in batches).
const EVICT_PER_REGISTRATION: i64 = 2;

pub fn route(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("api" / "oauth2" / "register")
        .and(warp::post())
        .and(client_address(&state.forwarding))
        .and(json_body())
        .then(move |address, body| {
            let state = state.clone();
            async move { register(state, address, body).await.unwrap_or_else(|e| e.to_response()) }
        })
}

async fn register(state: AppState, address: IpAddr, body: Result<Bytes, ApiError>) -> Result<Response, OAuthError> {
    if !state.config.dynamic_registration {
        return Err(OAuthError::invalid_request("Dynamic client registration is switched off on this server")
            .with_status(StatusCode::FORBIDDEN));
    }
    let body = body.map_err(|e| match e {
        ApiError::PayloadTooLarge(_) => OAuthError::invalid_request(e.to_string()).with_status(e.status()),
        ApiError::UnsupportedMediaType => OAuthError::invalid_request(e.to_string()).with_status(e.status()),
        other => OAuthError::invalid_client_metadata(other.to_string()),
    })?;
    let request = RegistrationRequest::parse(&body)?;
    let protected = state.store.read(|tx| store::clients::protected_names(tx)).await?;
    if let Some(protected) = imitated(protected, &request.client_name, None) {
        return Err(OAuthError::invalid_client_metadata(format!(
            "client_name looks like \"{protected}\", an app registered by this server's operator; choose another name"
        )));
    }
    // The per-address limit (crate::http::rate_limit) counts registrations, i.e. new rows: a request
    // refused for its metadata stores nothing, so it does not use up the address's allowance.
    state.limits.registration.check(address).map_err(OAuthError::too_many_requests)?;
    let new = NewClient::prepare(
        Registration::Dynamic,
        &request.client_name,
        &request.redirect_uris,
        None,
        request.is_public(),
    )
    .map_err(OAuthError::invalid_client_metadata)?;
    let registered = new.registered();
    let (now, keep) = (state.config.clock.now(), state.config.max_unused_clients);
    let register = move |tx: &mut store::Tx<'_>| {
        store::clients::insert(tx, &new, now)?;
        store::clients::evict_unused(tx, now, keep, EVICT_PER_REGISTRATION)?;
        Ok(())
    };
    state.store.write(Commit::OnOk, register).await?;
    tracing::info!(client_id = %registered.client_id, auth_method = request.auth_method, "client registered (RFC 7591)");
    let issued_at = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    // RFC 7591 §3.2.1: the client information, with every metadata value as registered.
    let mut answer = json!({
        "client_id": registered.client_id,
        "client_id_issued_at": issued_at,
        "client_name": request.client_name,
        "redirect_uris": request.redirect_uris,
        "grant_types": request.grant_types,
        "response_types": ["code"],
        "token_endpoint_auth_method": request.auth_method,
        "scope": SCOPE,
    });
    if let Some(secret) = registered.client_secret {
        answer["client_secret"] = secret.into();
        answer["client_secret_expires_at"] = 0.into();
    }
    Ok(no_store(json_response(StatusCode::CREATED, &answer)))
}

/// The client metadata of RFC 7591 §2 that this server acts on; other fields are ignored.
#[derive(Debug, Clone)]
struct RegistrationRequest {
    redirect_uris: Vec<String>,
    auth_method: &'static str,
    grant_types: Vec<&'static str>,
    client_name: String,
}

impl RegistrationRequest {
    fn parse(body: &[u8]) -> Result<RegistrationRequest, OAuthError> {
        let fields = crate::todos::json_object(body).map_err(|e| OAuthError::invalid_client_metadata(e.to_string()))?;
        let request = RegistrationRequest {
            redirect_uris: redirect_uris(&fields)?,
            auth_method: auth_method(&fields)?,
            grant_types: grant_types(&fields)?,
            client_name: client_name(&fields)?,
        };
        check_response_types(&fields)?;
        check_scope(&fields)?;
        Ok(request)
    }

    fn is_public(&self) -> bool {
        self.auth_method == "none"
    }
}

fn strings<'a>(fields: &'a Map<String, Value>, name: &str) -> Result<Option<Vec<&'a str>>, OAuthError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .ok_or_else(|| OAuthError::invalid_client_metadata(format!("{name} must be an array of strings")))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(OAuthError::invalid_client_metadata(format!("{name} must be an array of strings"))),
    }
}

fn text<'a>(fields: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, OAuthError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(value)) => Ok(Some(value)),
        Some(_) => Err(OAuthError::invalid_client_metadata(format!("{name} must be a string"))),
    }
}

/// Required (RFC 7591 §2, for the authorization code grant); each https, or http on a loopback
/// host, matched later by exact string comparison.
fn redirect_uris(fields: &Map<String, Value>) -> Result<Vec<String>, OAuthError> {
    let uris: Vec<String> =
        strings(fields, "redirect_uris")?.unwrap_or_default().into_iter().map(str::to_owned).collect();
    if uris.is_empty() {
        return Err(OAuthError::invalid_redirect_uri("redirect_uris must list at least one redirect URI"));
    }
    clients::check_self_registered_redirect_uris(&uris).map_err(OAuthError::invalid_redirect_uri)?;
    Ok(uris)
}

/// RFC 7591 §2: the default is `client_secret_basic`.
fn auth_method(fields: &Map<String, Value>) -> Result<&'static str, OAuthError> {
    match text(fields, "token_endpoint_auth_method")?.unwrap_or("client_secret_basic") {
        "none" => Ok("none"),
        "client_secret_basic" => Ok("client_secret_basic"),
        "client_secret_post" => Ok("client_secret_post"),
        other => Err(OAuthError::invalid_client_metadata(format!(
            "token_endpoint_auth_method '{other}' is not supported: use none (with PKCE), client_secret_basic or client_secret_post"
        ))),
    }
}

fn grant_types(fields: &Map<String, Value>) -> Result<Vec<&'static str>, OAuthError> {
    let Some(requested) = strings(fields, "grant_types")? else {
        return Ok(vec!["authorization_code", "refresh_token"]);
    };
    let mut granted = Vec::new();
    for grant in requested {
        granted.push(match grant {
            "authorization_code" => "authorization_code",
            "refresh_token" => "refresh_token",
            other => {
                return Err(OAuthError::invalid_client_metadata(format!(
                    "grant type '{other}' is not supported: use authorization_code and refresh_token"
                )));
            }
        });
    }
    if !granted.contains(&"authorization_code") {
        return Err(OAuthError::invalid_client_metadata("grant_types must include authorization_code"));
    }
    granted.dedup();
    Ok(granted)
}

fn check_response_types(fields: &Map<String, Value>) -> Result<(), OAuthError> {
    match strings(fields, "response_types")? {
        Some(types) if types.iter().any(|t| *t != "code") => {
            Err(OAuthError::invalid_client_metadata("response_types may only be [\"code\"]"))
        }
        _ => Ok(()),
    }
}

fn check_scope(fields: &Map<String, Value>) -> Result<(), OAuthError> {
    match text(fields, "scope")? {
        Some(scope) if !asks_only_our_scope(scope) => {
            Err(OAuthError::invalid_client_metadata(format!("The only scope is '{SCOPE}'")))
        }
        _ => Ok(()),
    }
}

/// What the consent page calls the client; a registration without a name gets a plain one.
fn client_name(fields: &Map<String, Value>) -> Result<String, OAuthError> {
    let name = text(fields, "client_name")?.map(str::trim).filter(|n| !n.is_empty()).unwrap_or("Unnamed client");
    if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(OAuthError::invalid_client_metadata(format!(
            "client_name must be at most {MAX_NAME_CHARS} characters, without control characters"
        )));
    }
    check_unambiguous_name(name).map_err(|why| OAuthError::invalid_client_metadata(format!("client_name {why}")))?;
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<RegistrationRequest, OAuthError> {
        RegistrationRequest::parse(body.as_bytes())
    }

    #[test]
    fn defaults_follow_rfc_7591() {
        let request = parse(r#"{"redirect_uris":["https://a.example/cb"]}"#).unwrap();
        assert_eq!(request.auth_method, "client_secret_basic");
        assert_eq!(request.grant_types, ["authorization_code", "refresh_token"]);
        assert_eq!(request.client_name, "Unnamed client");
        assert!(!request.is_public());
        let public = parse(
            r#"{"redirect_uris":["http://127.0.0.1:9/cb"],"token_endpoint_auth_method":"none","client_name":" MCP "}"#,
        )
        .unwrap();
        assert!(public.is_public());
        assert_eq!(public.client_name, "MCP");
    }

    #[test]
    fn refusals_name_the_field() {
        let error = |body: &str| {
            let e = parse(body).unwrap_err();
            (e.code, e.description)
        };
        assert_eq!(error("{}").0, "invalid_redirect_uri");
        assert_eq!(error(r#"{"redirect_uris":["http://a.example/cb"]}"#).0, "invalid_redirect_uri");
        assert_eq!(error(r#"{"redirect_uris":"https://a.example/cb"}"#).1, "redirect_uris must be an array of strings");
        let uris = r#""redirect_uris":["https://a.example/cb"]"#;
        assert!(
            error(&format!(r#"{{{uris},"token_endpoint_auth_method":"private_key_jwt"}}"#))
                .1
                .contains("private_key_jwt")
        );
        assert!(error(&format!(r#"{{{uris},"grant_types":["client_credentials"]}}"#)).1.contains("client_credentials"));
        assert_eq!(error(&format!(r#"{{{uris},"response_types":["token"]}}"#)).0, "invalid_client_metadata");
        assert_eq!(error(&format!(r#"{{{uris},"scope":"todos admin"}}"#)).0, "invalid_client_metadata");
        assert_eq!(error(&format!(r#"{{{uris},"client_name":5}}"#)).1, "client_name must be a string");
        assert_eq!(error("[1]").1, "The request body must be a JSON object");
    }
}
