//! The list's query string (`status`, `limit`, `cursor`) and the page cursor. Each bad parameter
//! is a 400 that names it; unknown parameters are ignored, like unknown body fields.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::model::{STATUS_MAX, text_field, text_value};
use crate::chain::api_error::ApiError;

pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub status: Option<String>,
    pub limit: u32,
    /// Only todos with a smaller id: the page after the one that ended just above this id.
    pub before: Option<i64>,
}

impl ListQuery {
    pub fn parse(raw: &str) -> Result<ListQuery, ApiError> {
        let mut query = ListQuery { status: None, limit: DEFAULT_LIMIT, before: None };
        let mut seen: Vec<String> = Vec::new();
        for (name, value) in form_urlencoded::parse(raw.as_bytes()) {
            if !matches!(name.as_ref(), "status" | "limit" | "cursor") {
                continue;
            }
            if seen.iter().any(|s| *s == name) {
                return Err(ApiError::bad_request(format!("{name} must be given at most once")));
            }
            match name.as_ref() {
                "status" => query.status = Some(text_value("status", &value, 1, STATUS_MAX)?),
                "limit" => query.limit = parse_limit(&value)?,
                _ => query.before = Some(cursor::decode(&value)?),
            }
            seen.push(name.into_owned());
        }
        Ok(query)
    }
}

impl ListQuery {
    /// The same parameters as JSON (an MCP tool's arguments), under the same rules and messages.
    pub fn from_arguments(fields: &serde_json::Map<String, serde_json::Value>) -> Result<ListQuery, ApiError> {
        use serde_json::Value;
        let mut query = ListQuery { status: None, limit: DEFAULT_LIMIT, before: None };
        query.status = text_field(fields, "status", 1, STATUS_MAX)?;
        match fields.get("limit") {
            None | Some(Value::Null) => {}
            Some(Value::Number(n)) => query.limit = parse_limit(&n.to_string())?,
            Some(_) => return Err(parse_limit("").unwrap_err()),
        }
        match fields.get("cursor") {
            None | Some(Value::Null) => {}
            Some(Value::String(text)) => query.before = Some(cursor::decode(text)?),
            Some(_) => return Err(cursor::decode("").unwrap_err()),
        }
        Ok(query)
    }
}

fn parse_limit(value: &str) -> Result<u32, ApiError> {
    let digits = !value.is_empty() && value.len() <= 3 && value.bytes().all(|b| b.is_ascii_digit());
    digits
        .then(|| value.parse::<u32>().ok())
        .flatten()
        .filter(|n| (1..=MAX_LIMIT).contains(n))
        .ok_or_else(|| ApiError::bad_request(format!("limit must be an integer from 1 to {MAX_LIMIT}")))
}

/// The cursor is the base64url (unpadded) of the last listed id as 8 big-endian bytes: opaque to
/// clients, and exact whatever is added meanwhile, since ids only grow and pages walk downwards.
pub mod cursor {
    use super::*;

    /// What OpenAPI says a cursor looks like: exactly the strings [`decode`] accepts.
    pub const PATTERN: &str = "^[A-Za-z0-9_-]{10}[AEIMQUYcgkosw048]$";
    pub const LENGTH: usize = 11;

    pub fn encode(last_id: i64) -> String {
        URL_SAFE_NO_PAD.encode(last_id.to_be_bytes())
    }

    pub fn decode(text: &str) -> Result<i64, ApiError> {
        let bytes = URL_SAFE_NO_PAD.decode(text).ok().and_then(|b| <[u8; 8]>::try_from(b).ok()).ok_or_else(|| {
            ApiError::bad_request("cursor is not valid: pass the nextCursor of a previous page unchanged")
        })?;
        // Any well-formed cursor is a position; one past every id simply means "from the top".
        Ok(i64::try_from(u64::from_be_bytes(bytes)).unwrap_or(i64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(raw: &str) -> String {
        ListQuery::parse(raw).unwrap_err().to_string()
    }

    #[test]
    fn defaults_values_and_unknown_parameters() {
        assert_eq!(ListQuery::parse("").unwrap(), ListQuery { status: None, limit: DEFAULT_LIMIT, before: None });
        let query =
            ListQuery::parse(&format!("status=in+progress&limit=100&x=1&cursor={}", cursor::encode(7))).unwrap();
        assert_eq!(query, ListQuery { status: Some("in progress".into()), limit: 100, before: Some(7) });
        assert_eq!(ListQuery::parse("status=%C3%A9t%C3%A9").unwrap().status.as_deref(), Some("été"));
    }

    #[test]
    fn bad_parameters_are_named() {
        for raw in ["limit=0", "limit=101", "limit=", "limit=abc", "limit=1.5", "limit=-1", "limit=+5", "limit=0001"] {
            assert!(message(raw).starts_with("limit must be"), "{raw}");
        }
        assert_eq!(message("status="), "status must not be empty");
        assert_eq!(message("status=%20"), "status must not be empty");
        assert_eq!(message(&format!("status={}", "s".repeat(51))), "status must be at most 50 characters");
        for raw in ["cursor=", "cursor=abc", "cursor=AAAAAAAAAAB", "cursor=AAAAAAAAAAA%3D", "cursor=AAAAAAAAAAAA"] {
            assert!(message(raw).starts_with("cursor is not valid"), "{raw}");
        }
        assert_eq!(message("limit=1&limit=2"), "limit must be given at most once");
    }

    #[test]
    fn arguments_follow_the_query_rules() {
        let parse = |json: serde_json::Value| ListQuery::from_arguments(json.as_object().unwrap());
        let query = parse(serde_json::json!({"status": "done", "limit": 5, "cursor": cursor::encode(9)})).unwrap();
        assert_eq!(query, ListQuery { status: Some("done".into()), limit: 5, before: Some(9) });
        assert_eq!(parse(serde_json::json!({})).unwrap().limit, DEFAULT_LIMIT);
        for bad in
            [serde_json::json!({"limit": 0}), serde_json::json!({"limit": 1.5}), serde_json::json!({"limit": "5"})]
        {
            assert!(parse(bad).unwrap_err().to_string().starts_with("limit must be"));
        }
        assert!(parse(serde_json::json!({"cursor": 7})).unwrap_err().to_string().starts_with("cursor is not valid"));
        assert_eq!(parse(serde_json::json!({"status": 1})).unwrap_err().to_string(), "status must be a string");
    }

    #[test]
    fn cursors_round_trip_and_match_their_pattern() {
        for id in [1, 42, 1 << 40, i64::MAX] {
            let text = cursor::encode(id);
            assert_eq!(text.len(), cursor::LENGTH);
            assert_eq!(cursor::decode(&text).unwrap(), id);
        }
        // The largest string the pattern allows is still a position, not an error.
        assert_eq!(cursor::decode("__________8").unwrap(), i64::MAX);
        assert_eq!(cursor::decode("AAAAAAAAAAA").unwrap(), 0);
    }
}
