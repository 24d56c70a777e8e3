//! MCP resources: the server has one, the todo view of MCP Apps ([`view`]). The lists are the
//! same for every caller, so clients may cache them for everyone (2026-07-28, caching).

use serde_json::{Map, Value, json};
use warp::http::StatusCode;

use super::transport::{INVALID_PARAMS, RpcError};
use super::view;

/// `resources/list`: every resource, on one page.
pub fn list() -> Value {
    json!({ "resources": [view::descriptor()] })
}

/// `resources/templates/list`: none; the view's URI is fixed.
pub fn templates() -> Value {
    json!({ "resourceTemplates": [] })
}

/// `resources/read` of `params.uri`. 2026-07-28, resources (error handling): an unknown resource
/// is a -32602 naming the URI in `data`, never an empty `contents`.
pub fn read(params: &Map<String, Value>) -> Result<Value, RpcError> {
    let Some(uri) = params.get("uri").and_then(Value::as_str) else {
        return Err(RpcError::new(StatusCode::OK, INVALID_PARAMS, "params.uri must be a resource's URI"));
    };
    if uri != view::URI {
        let mut error = RpcError::new(
            StatusCode::OK,
            INVALID_PARAMS,
            format!("Resource not found: {uri}. The resources are those resources/list gives ({}).", view::URI),
        );
        error.data = Some(json!({ "uri": uri }));
        return Err(error);
    }
    Ok(json!({ "contents": [view::contents()] }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_view_is_listed_and_read_and_nothing_else_is_found() {
        assert_eq!(list()["resources"][0]["uri"], view::URI);
        let params = |uri: Value| json!({ "uri": uri }).as_object().unwrap().clone();
        let read = read(&params(view::URI.into())).unwrap();
        assert_eq!(read["contents"].as_array().map(Vec::len), Some(1));
        let missing = super::read(&params("ui://gpt-todo/nope".into())).unwrap_err();
        assert_eq!((missing.code, missing.data), (INVALID_PARAMS, Some(json!({ "uri": "ui://gpt-todo/nope" }))));
        assert_eq!(super::read(&params(json!(5))).unwrap_err().code, INVALID_PARAMS);
        assert_eq!(super::read(&Map::new()).unwrap_err().code, INVALID_PARAMS);
    }
}
