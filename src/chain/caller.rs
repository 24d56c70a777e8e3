//! Who is calling: the user and the OAuth client acting for them, as the auth step found them,
//! and where their token may be used.

use crate::chain::api_error::ApiError;
use crate::store::tokens::TokenOwner;
use crate::support::ids::{ClientId, UserId};

/// Who is calling: the user, and the OAuth client (the GPT) acting for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The user the token was issued to.
    pub user_id: UserId,
    /// The OAuth client the token was issued to.
    pub client_id: ClientId,
    /// The user's email, when known.
    pub email: Option<String>,
    /// The user's name, when known.
    pub name: Option<String>,
    /// The resource the token is bound to (RFC 8707); `None` for an unbound token.
    pub resource: Option<String>,
}

impl From<TokenOwner> for Caller {
    fn from(owner: TokenOwner) -> Caller {
        let TokenOwner { user_id, client_id, email, name, resource } = owner;
        Caller { user_id, client_id, email, name, resource }
    }
}

impl Caller {
    /// RFC 8707 §2 and MCP authorization (token audience validation): a token is used only where
    /// it was issued for. `/mcp` takes only tokens bound to `<public>/mcp`, so a token a client
    /// got for another server cannot be replayed here; the todo API takes tokens bound to
    /// `<public>` and unbound ones, since GPT Actions never send `resource`.
    pub fn check_audience(&self, path: &str, public_url: &str) -> Result<(), ApiError> {
        let resource = self.resource.as_deref().map(|r| r.trim_end_matches('/'));
        // The route takes `/mcp/` as `/mcp` too, so the check must (it once let unbound tokens in).
        let fits = if path.trim_end_matches('/') == MCP_PATH {
            resource.is_some_and(|r| r.strip_prefix(public_url) == Some(MCP_PATH))
        } else {
            resource.is_none_or(|r| r == public_url)
        };
        if fits { Ok(()) } else { Err(ApiError::Unauthorized("The access token was not issued for this resource")) }
    }
}

/// The MCP endpoint's path.
pub const MCP_PATH: &str = "/mcp";
