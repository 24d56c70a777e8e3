//! The route table: every path the server answers and its methods, for the `Allow` header of a
//! 405 and the metrics' route label. Kept apart from the routes themselves, which use the
//! metrics, so neither imports the other.

use crate::oauth::endpoints;

/// Every path the server answers, with its methods: the one list the `Allow` header of a 405
/// comes from (RFC 9110 §15.5.6), checked against [`crate::http::routes::routes`] path by path and method by method in
/// the tests. `{id}` stands for one non-empty path segment.
pub const ROUTE_TABLE: &[(&str, &str)] = &[
    ("/healthz", "GET"),
    ("/openapi.json", "GET"),
    ("/.well-known/oauth-authorization-server", "GET"),
    ("/.well-known/openid-configuration", "GET"),
    ("/.well-known/oauth-protected-resource", "GET"),
    ("/.well-known/oauth-protected-resource/mcp", "GET"),
    (endpoints::USERINFO, "GET"),
    (endpoints::AUTHORIZE, "GET, POST"),
    (endpoints::TOKEN, "POST"),
    (endpoints::REVOKE, "POST"),
    (endpoints::REGISTER, "POST"),
    ("/api/todo-demo", "POST"),
    ("/api/todos", "GET, POST"),
    ("/api/todos/{id}", "GET, PATCH, DELETE"),
    // Streamable HTTP (MCP 2026-07-28): the endpoint takes POST only; GET and DELETE are 405.
    ("/mcp", "POST"),
    // The operator console (`crate::console`): pages are GET, changes are form POSTs.
    ("/admin", "GET"),
    ("/admin/login", "GET, POST"),
    ("/admin/logout", "POST"),
    ("/admin/clients", "GET, POST"),
    ("/admin/clients/{id}", "GET, POST"),
    ("/admin/users", "GET"),
    ("/admin/users/{id}", "GET, POST"),
    ("/admin/calls", "GET"),
    ("/admin/calls/{id}", "GET"),
];

/// The methods `path` answers, from [`ROUTE_TABLE`].
pub fn allowed_methods(path: &str) -> Option<&'static str> {
    route_index(path).map(|i| ROUTE_TABLE[i].1)
}

/// Where in [`ROUTE_TABLE`] the pattern `path` matches is (`/api/todos/{id}` for
/// `/api/todos/42`): the metrics label a request with its pattern, which does not grow with ids
/// or junk paths.
pub fn route_index(path: &str) -> Option<usize> {
    ROUTE_TABLE.iter().position(|(pattern, _)| path_matches(pattern, path))
}

/// Whether `path` has the segments of `pattern`, with `{id}` standing for any non-empty one. It
/// runs for every request (the metrics' label), so it compares whole strings, not segment by
/// segment: a pattern without `{id}` is the path itself.
fn path_matches(pattern: &str, path: &str) -> bool {
    let Some(at) = pattern.find('{') else {
        return pattern == path;
    };
    let (before, after) = pattern.split_at(at);
    let (Some(after), Some(rest)) = (after.strip_prefix(ID), path.strip_prefix(before)) else {
        return false;
    };
    let id_length = rest.find('/').unwrap_or(rest.len());
    id_length > 0 && path_matches(after, &rest[id_length..])
}

/// What stands for one path segment in a [`ROUTE_TABLE`] pattern.
const ID: &str = "{id}";

#[cfg(test)]
mod tests {
    use super::allowed_methods;

    #[test]
    fn the_table_matches_whole_paths_and_one_segment_ids() {
        assert_eq!(allowed_methods("/api/todos"), Some("GET, POST"));
        assert_eq!(allowed_methods("/api/todos/42"), Some("GET, PATCH, DELETE"));
        assert_eq!(allowed_methods("/api/todos/abc"), Some("GET, PATCH, DELETE"));
        assert_eq!(allowed_methods("/api/oauth2/authorize"), Some("GET, POST"));
        for unknown in ["/api/todos/", "/api/todos/1/2", "/api/todo", "/healthz/x", "/", ""] {
            assert_eq!(allowed_methods(unknown), None, "{unknown:?}");
        }
    }
}
