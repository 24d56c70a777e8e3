//! The todo as the API shows it, and the validation of what clients send.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::chain::api_error::ApiError;

pub const TITLE_MAX: usize = 500;
pub const DESCRIPTION_MAX: usize = 10_000;
pub const STATUS_MAX: usize = 50;
pub const DEFAULT_STATUS: &str = "pending";

/// The JSON shape the original GPT-Todo demo answers with (docs/contract.md): its ORM's camelCase
/// field names and RFC 3339 UTC times, which GPTs built against it read.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Todo {
    pub id: i64,
    pub title: String,
    pub description: String,
    pub status: String,
    pub user_id: String,
    pub created_at: String,
    pub updated_at: String,
}

/// A validated create request.
#[derive(Debug, Clone)]
pub struct NewTodo {
    pub title: String,
    pub description: String,
    pub status: String,
}

impl NewTodo {
    /// `title` required (1–500 characters); `description` (≤ 10,000) and `status` (1–50) optional;
    /// unknown fields ignored. The error names the field at fault.
    pub fn parse(body: &[u8]) -> Result<NewTodo, ApiError> {
        NewTodo::from_fields(&json_object(body)?)
    }

    /// The same rules for fields already parsed (an MCP tool's arguments).
    pub fn from_fields(fields: &Map<String, Value>) -> Result<NewTodo, ApiError> {
        let fields = TodoPatch::read(fields)?;
        Ok(NewTodo {
            title: fields.title.ok_or_else(|| ApiError::bad_request("title is required"))?,
            description: fields.description.unwrap_or_default(),
            status: fields.status.unwrap_or_else(|| DEFAULT_STATUS.to_owned()),
        })
    }
}

/// A validated partial update: the fields present are checked as for a create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TodoPatch {
    pub title: Option<String>,
    pub description: Option<String>,
    pub status: Option<String>,
}

impl TodoPatch {
    /// Like a create, but every field optional; one of them must be given (`null` counts as absent).
    pub fn parse(body: &[u8]) -> Result<TodoPatch, ApiError> {
        TodoPatch::from_fields(&json_object(body)?)
    }

    /// The same rules for fields already parsed (an MCP tool's arguments).
    pub fn from_fields(fields: &Map<String, Value>) -> Result<TodoPatch, ApiError> {
        let patch = TodoPatch::read(fields)?;
        if patch == (TodoPatch { title: None, description: None, status: None }) {
            return Err(ApiError::bad_request("Nothing to update: give at least one of title, description, status"));
        }
        Ok(patch)
    }

    /// The three todo fields, each checked when present; what a create and an update share.
    fn read(fields: &Map<String, Value>) -> Result<TodoPatch, ApiError> {
        Ok(TodoPatch {
            title: text_field(fields, "title", 1, TITLE_MAX)?,
            description: text_field(fields, "description", 0, DESCRIPTION_MAX)?,
            status: text_field(fields, "status", 1, STATUS_MAX)?,
        })
    }
}

/// A todo id from the path: a positive integer, digits only.
pub fn parse_id(segment: &str) -> Result<i64, ApiError> {
    let digits = !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit());
    digits
        .then(|| segment.parse::<i64>().ok())
        .flatten()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::bad_request("id must be a positive integer (a todo's id)"))
}

/// A todo id given as JSON (an MCP tool's argument): a positive integer, or its digits as a string.
pub fn id_value(value: Option<&Value>) -> Result<i64, ApiError> {
    match value {
        Some(Value::Number(n)) => n.as_i64().map(|id| id.to_string()),
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    }
    .map_or_else(|| parse_id(""), |digits| parse_id(&digits))
}

/// Parses a body that must be one JSON object.
pub fn json_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(fields)) => Ok(fields),
        Ok(_) => Err(ApiError::bad_request("The request body must be a JSON object")),
        Err(e) => Err(ApiError::bad_request(format!("Malformed JSON body: {e}"))),
    }
}

/// An optional string field of `min..=max` characters; `null` counts as absent.
pub fn text_field(fields: &Map<String, Value>, name: &str, min: usize, max: usize) -> Result<Option<String>, ApiError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => text_value(name, text, min, max).map(Some),
        Some(_) => Err(ApiError::bad_request(format!("{name} must be a string"))),
    }
}

/// A text of `min..=max` characters; when it may not be empty, it may not be blank either.
pub fn text_value(name: &str, text: &str, min: usize, max: usize) -> Result<String, ApiError> {
    let length = text.chars().count();
    if length < min || (min > 0 && text.trim().is_empty()) {
        Err(ApiError::bad_request(format!("{name} must not be empty")))
    } else if length > max {
        Err(ApiError::bad_request(format!("{name} must be at most {max} characters")))
    } else {
        Ok(text.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(body: &str) -> String {
        NewTodo::parse(body.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn defaults_and_unknown_fields() {
        let todo = NewTodo::parse(br#"{"title":"Buy milk","extra":1}"#).unwrap();
        assert_eq!((todo.title.as_str(), todo.description.as_str(), todo.status.as_str()), ("Buy milk", "", "pending"));
    }

    #[test]
    fn errors_name_the_field() {
        assert!(message("{").starts_with("Malformed JSON body"));
        assert_eq!(message("[]"), "The request body must be a JSON object");
        assert_eq!(message("{}"), "title is required");
        assert_eq!(message(r#"{"title":"  "}"#), "title must not be empty");
        assert_eq!(message(r#"{"title":5}"#), "title must be a string");
        assert_eq!(message(&format!(r#"{{"title":"{}"}}"#, "é".repeat(501))), "title must be at most 500 characters");
        assert_eq!(message(r#"{"title":"a","status":""}"#), "status must not be empty");
        assert_eq!(message(r#"{"title":"a","description":[]}"#), "description must be a string");
    }

    #[test]
    fn a_patch_checks_what_it_has_and_needs_something() {
        let patch = TodoPatch::parse(br#"{"status":"done","title":null,"other":1}"#).unwrap();
        assert_eq!(patch, TodoPatch { title: None, description: None, status: Some("done".into()) });
        let error = |body: &str| TodoPatch::parse(body.as_bytes()).unwrap_err().to_string();
        assert!(error("{}").starts_with("Nothing to update"));
        assert!(error(r#"{"title":null,"x":1}"#).starts_with("Nothing to update"));
        assert_eq!(error(r#"{"title":" "}"#), "title must not be empty");
        assert_eq!(error(r#"{"status":1}"#), "status must be a string");
        assert_eq!(
            error(&format!(r#"{{"description":"{}"}}"#, "d".repeat(10_001))),
            "description must be at most 10000 characters"
        );
        assert_eq!(error("[1]"), "The request body must be a JSON object");
    }

    #[test]
    fn ids_are_positive_integers() {
        assert_eq!(parse_id("42").unwrap(), 42);
        for bad in ["", "0", "-1", "+1", "1.0", "abc", "99999999999999999999", " 1"] {
            assert!(parse_id(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn json_ids_follow_the_path_rules() {
        use serde_json::json;
        assert_eq!(id_value(Some(&json!(42))).unwrap(), 42);
        assert_eq!(id_value(Some(&json!("42"))).unwrap(), 42);
        for bad in [json!(0), json!(-1), json!(1.5), json!(1e30), json!("x"), json!(null), json!([1]), json!(u64::MAX)]
        {
            assert!(id_value(Some(&bad)).is_err(), "{bad} should be refused");
        }
        assert!(id_value(None).is_err());
    }

    #[test]
    fn limits_count_characters_not_bytes() {
        assert!(NewTodo::parse(format!(r#"{{"title":"{}"}}"#, "é".repeat(500)).as_bytes()).is_ok());
    }
}
