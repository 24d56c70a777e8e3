//! Parameters from a query string or a form body (OAuth endpoints and every page form). A
//! parameter sent twice is refused (RFC 6749 3.1 and 3.2): with two values there is no telling
//! which one was meant.

use std::collections::HashMap;

use bytes::Bytes;
use warp::Filter;
use warp::http::HeaderMap;
use warp::http::header::CONTENT_TYPE;

/// Form bodies (token, revocation and page forms) are small; anything bigger is refused.
pub const MAX_FORM_BYTES: u64 = 16 * 1024;

#[derive(Debug, Default)]
pub struct Params(HashMap<String, String>);

impl Params {
    pub fn parse(encoded: &[u8]) -> Result<Params, String> {
        let mut map = HashMap::new();
        for (name, value) in form_urlencoded::parse(encoded) {
            let name = name.into_owned();
            if map.contains_key(&name) {
                return Err(format!("The parameter '{name}' was sent more than once"));
            }
            map.insert(name, value.into_owned());
        }
        Ok(Params(map))
    }

    /// A parameter's value; an empty one counts as absent (RFC 6749 3.1).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str).filter(|value| !value.is_empty())
    }
}

/// The raw query string; empty when there is none (warp's own filter would reject).
pub fn query() -> impl Filter<Extract = (String,), Error = std::convert::Infallible> + Clone {
    warp::query::raw().or(warp::any().map(String::new)).unify()
}

/// The body as form parameters, or why it is not acceptable. Never rejects, so that every OAuth
/// endpoint answers a bad body in its own error format.
pub fn form() -> impl Filter<Extract = (Result<Params, String>,), Error = std::convert::Infallible> + Clone {
    let read = warp::header::headers_cloned()
        .and(warp::body::content_length_limit(MAX_FORM_BYTES))
        .and(warp::body::bytes())
        .map(|headers: HeaderMap, body: Bytes| {
            if !is_form(&headers) {
                return Err("Content-Type must be application/x-www-form-urlencoded".to_owned());
            }
            Params::parse(&body)
        });
    let refused = warp::any()
        .map(|| Err(format!("The body must be a form of at most {MAX_FORM_BYTES} bytes sent with a Content-Length")));
    read.or(refused).unify()
}

fn is_form(headers: &HeaderMap) -> bool {
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/x-www-form-urlencoded")
}

#[cfg(test)]
mod tests {
    use super::Params;

    #[test]
    fn decodes_and_treats_empty_as_absent() {
        let params = Params::parse(b"a=1%2B1&b=&c=x+y").unwrap();
        assert_eq!(params.get("a"), Some("1+1"));
        assert_eq!(params.get("b"), None);
        assert_eq!(params.get("c"), Some("x y"));
        assert_eq!(params.get("d"), None);
    }

    #[test]
    fn refuses_a_repeated_parameter() {
        assert!(Params::parse(b"code=a&code=b").unwrap_err().contains("code"));
    }
}
