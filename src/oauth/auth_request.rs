//! The authorization request (RFC 6749 4.1.1, RFC 7636), checked in the order that keeps it safe:
//! client and exact redirect URI first (if either is wrong there is nobody safe to redirect to,
//! so the browser gets an error page), then everything else (errors go back to the client).
//!
//! The pages carry the request along in hidden fields and every POST checks it again.

use super::endpoints;
use super::events::{AuthEvent, Event};
use crate::AppState;
use crate::cli::config::Config;
use crate::oauth::client_names::imitated;
use crate::oauth::client_rules::{Client, Registration};
use crate::store::clients;
use crate::web::params::Params;

#[derive(Debug, Clone)]
pub struct AuthRequest {
    pub client: Client,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub scope: Option<String>,
    /// The PKCE S256 challenge, when the client sent one (public clients must).
    pub code_challenge: Option<String>,
    /// The resource the tokens will be bound to (RFC 8707), when the client named one.
    pub resource: Option<String>,
}

/// Why a request cannot go on.
#[derive(Debug)]
pub enum Refusal {
    /// Client or redirect URI is wrong: show this message, never redirect; log the event if any.
    Page(String, Option<AuthEvent>),
    /// The client is known: send it this error (RFC 6749 4.1.2.1).
    Redirect { redirect_uri: String, state: Option<String>, error: &'static str, description: String },
}

impl AuthRequest {
    pub async fn check(state: &AppState, params: &Params) -> Result<AuthRequest, Refusal> {
        let client_id = params.get("client_id").ok_or_else(|| page("The request names no client (client_id)."))?;
        let client = find_client(state, client_id, params.get("redirect_uri")).await?;
        let redirect_uri =
            params.get("redirect_uri").ok_or_else(|| page("The request has no redirect_uri."))?.to_owned();
        if !client.allows_redirect(&redirect_uri) {
            // The page shows the URI exactly as received, so the operator can register that one.
            let event = AuthEvent::new(Event::UnregisteredRedirectUri).client(Some(client_id), Some(&redirect_uri));
            let message = format!(
                "The redirect URI is not registered for \"{}\". This request came with {redirect_uri} ; an \
                 operator can register exactly that one with: gpt-todo client add-redirect-uri {} '{redirect_uri}'",
                client.name, client.client_id
            );
            return Err(Refusal::Page(message, Some(event)));
        }
        let state_param = params.get("state").map(str::to_owned);
        let refuse = |error: &'static str, description: &str| Refusal::Redirect {
            redirect_uri: redirect_uri.clone(),
            state: state_param.clone(),
            error,
            description: description.to_owned(),
        };
        match params.get("response_type") {
            Some("code") => {}
            None => return Err(refuse("invalid_request", "response_type is required")),
            Some(_) => return Err(refuse("unsupported_response_type", "Only response_type=code is supported")),
        }
        let code_challenge = match (params.get("code_challenge"), params.get("code_challenge_method")) {
            (None, None) => None,
            (Some(challenge), Some("S256")) if is_s256_challenge(challenge) => Some(challenge.to_owned()),
            (Some(_), Some("S256")) => return Err(refuse("invalid_request", "code_challenge is not a S256 challenge")),
            (Some(_), None | Some("plain")) => {
                return Err(refuse("invalid_request", "PKCE method plain is not supported; use S256"));
            }
            (None, Some(_)) => return Err(refuse("invalid_request", "code_challenge_method without code_challenge")),
            (Some(_), Some(_)) => return Err(refuse("invalid_request", "Unsupported code_challenge_method; use S256")),
        };
        if client.is_public() && code_challenge.is_none() {
            return Err(refuse("invalid_request", "A public client must use PKCE (code_challenge_method=S256)"));
        }
        let resource = match params.get("resource") {
            None => None,
            Some(resource) => Some(
                our_resource(&state.config, resource)
                    .ok_or_else(|| refuse("invalid_target", &unknown_resource(state)))?,
            ),
        };
        Ok(AuthRequest {
            client,
            redirect_uri,
            state: state_param.clone(),
            scope: params.get("scope").map(str::to_owned),
            code_challenge,
            resource,
        })
    }

    /// The request's parameters, to carry it in hidden fields or a URL.
    pub fn params(&self) -> Vec<(&'static str, &str)> {
        let mut params = vec![("response_type", "code"), ("client_id", self.client.client_id.as_str())];
        params.push(("redirect_uri", &self.redirect_uri));
        params.extend(self.state.as_deref().map(|s| ("state", s)));
        params.extend(self.scope.as_deref().map(|s| ("scope", s)));
        if let Some(challenge) = &self.code_challenge {
            params.push(("code_challenge", challenge));
            params.push(("code_challenge_method", "S256"));
        }
        params.extend(self.resource.as_deref().map(|r| ("resource", r)));
        params
    }

    /// Where the pages send the browser after a POST: this same request, as a GET.
    pub fn page_url(&self) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.extend_pairs(self.params());
        format!("{}?{}", endpoints::AUTHORIZE, query.finish())
    }
}

/// The client a request names: one this server registered, or one known by the URL of its
/// Client ID Metadata Document, which is fetched (or taken from the cache). Such a client's row
/// is written only when it is issued a code (`authorize::consent`): asking for pages stores
/// nothing, however many document URLs a stranger makes up.
async fn find_client(state: &AppState, client_id: &str, redirect_uri: Option<&str>) -> Result<Client, Refusal> {
    let unknown = || AuthEvent::new(Event::UnknownClient).client(Some(client_id), redirect_uri);
    if state.config.client_metadata_documents && state.client_documents.is_document_url(client_id) {
        let cannot_use = |reason: &str| {
            let message = format!("This app's client metadata document ({client_id}) cannot be used: {reason}.");
            Refusal::Page(message, Some(unknown()))
        };
        let document = state.client_documents.resolve(client_id).await.map_err(|reason| cannot_use(&reason))?;
        let client = Client {
            client_id: client_id.to_owned(),
            name: document.client_name,
            secret_hash: None,
            redirect_uris: document.redirect_uris,
            registration: Registration::MetadataDocument,
        };
        let (name, host) = (client.name.clone(), client.metadata_document_host().map(str::to_owned));
        let protected = state.store.read(|tx| clients::protected_names(tx)).await;
        return match protected.map(|protected| imitated(protected, &name, host.as_deref())) {
            Ok(None) => Ok(client),
            Ok(Some(protected)) => {
                Err(cannot_use(&format!("its client_name looks like \"{protected}\", which it is not")))
            }
            Err(e) => {
                tracing::error!(error = %e, "authorize: client name check failed");
                Err(page("The server could not check this request. Please try again."))
            }
        };
    }
    let lookup = client_id.to_owned();
    state
        .store
        .read(move |tx| clients::find(tx, &lookup))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "authorize: client look-up failed");
            page("The server could not check this request. Please try again.")
        })?
        .ok_or_else(|| {
            Refusal::Page("This app is not registered with gpt-todo (unknown client_id).".into(), Some(unknown()))
        })
}

/// RFC 8707 §2: the resources this server issues tokens for are its MCP endpoint and its todo
/// API (the public URL itself). Returns the canonical form, without a trailing slash.
pub fn our_resource(config: &Config, requested: &str) -> Option<String> {
    let requested = requested.trim_end_matches('/');
    let mcp = config.mcp_resource();
    (requested == mcp || requested == config.public_url()).then(|| requested.to_owned())
}

pub fn unknown_resource(state: &AppState) -> String {
    format!("resource must be {} (or {})", state.config.mcp_resource(), state.config.public_url())
}

fn page(message: &str) -> Refusal {
    Refusal::Page(message.to_owned(), None)
}

/// BASE64URL(SHA-256(verifier)) without padding is always 43 characters.
fn is_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43 && challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `redirect_uri` with `params` added to its query (RFC 6749 3.1.2 keeps its own query).
pub fn redirect_to(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.extend_pairs(params);
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    format!("{redirect_uri}{separator}{}", query.finish())
}

#[cfg(test)]
mod tests {
    use super::redirect_to;

    #[test]
    fn keeps_the_redirect_uris_own_query() {
        assert_eq!(redirect_to("https://a.example/cb", &[("code", "x y")]), "https://a.example/cb?code=x+y");
        assert_eq!(redirect_to("https://a.example/cb?k=1", &[("state", "&")]), "https://a.example/cb?k=1&state=%26");
    }
}
