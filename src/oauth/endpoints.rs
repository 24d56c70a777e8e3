//! Where the OAuth server answers, written once: the endpoints' paths (the routes, the route table
//! and the pages' forms use these), their absolute URLs under the public URL (the metadata
//! documents, the OpenAPI document and what the CLI prints), and the one scope there is.

pub const AUTHORIZE: &str = "/api/oauth2/authorize";
pub const TOKEN: &str = "/api/oauth2/token";
pub const REVOKE: &str = "/api/oauth2/revoke";
pub const USERINFO: &str = "/api/oauth2/userinfo";
pub const REGISTER: &str = "/api/oauth2/register";

/// The only scope there is: the user's todos (and their name and email, through user info).
pub const SCOPE: &str = "todos";

/// Whether a space-separated scope list (RFC 6749 3.3) asks for nothing but [`SCOPE`]; an empty
/// list asks for nothing, which is the same scope.
pub fn asks_only_our_scope(scopes: &str) -> bool {
    scopes.split(' ').all(|scope| scope.is_empty() || scope == SCOPE)
}

/// The endpoints as absolute URLs, for a client that is told where to go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointUrls {
    pub authorize: String,
    pub token: String,
    pub revoke: String,
    pub userinfo: String,
    pub register: String,
}

impl EndpointUrls {
    /// The endpoints under `public_url` (the issuer; a trailing slash is ignored).
    pub fn under(public_url: &str) -> EndpointUrls {
        let base = public_url.trim_end_matches('/');
        let at = |path: &str| format!("{base}{path}");
        EndpointUrls {
            authorize: at(AUTHORIZE),
            token: at(TOKEN),
            revoke: at(REVOKE),
            userinfo: at(USERINFO),
            register: at(REGISTER),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_sit_under_the_public_url_with_or_without_its_trailing_slash() {
        let urls = EndpointUrls::under("https://todo.example/");
        assert_eq!(urls, EndpointUrls::under("https://todo.example"));
        assert_eq!(urls.authorize, "https://todo.example/api/oauth2/authorize");
        assert_eq!(urls.token, "https://todo.example/api/oauth2/token");
        assert_eq!(urls.register, "https://todo.example/api/oauth2/register");
    }

    #[test]
    fn only_the_todos_scope_is_ours() {
        assert!(asks_only_our_scope("todos"));
        assert!(asks_only_our_scope(""));
        assert!(asks_only_our_scope("todos  todos"));
        assert!(!asks_only_our_scope("todos admin"));
        assert!(!asks_only_our_scope("Todos"));
    }
}
