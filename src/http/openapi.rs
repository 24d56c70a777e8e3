//! `GET /openapi.json`: the OpenAPI 3.1 document a user imports into the GPT editor. It describes
//! exactly what the server does (field limits, errors, the OAuth 2.0 flow), and its prose is
//! written for the model that picks which operation to call. Unauthenticated and not logged.

use bytes::Bytes;
use serde_json::{Value, json};
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;
use warp::{Filter, Rejection};

use crate::AppState;
use crate::chain::api_error::QUOTA_MESSAGE;
use crate::oauth::endpoints::{EndpointUrls, SCOPE};
use crate::todos::{DEFAULT_LIMIT, DESCRIPTION_MAX, MAX_LIMIT, STATUS_MAX, TITLE_MAX, cursor};

pub fn route(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let body = Bytes::from(serde_json::to_vec_pretty(&document(state.config.public_url())).unwrap_or_default());
    warp::path!("openapi.json").and(warp::get()).map(move || {
        let mut response = Response::new(body.clone().into());
        *response.status_mut() = StatusCode::OK;
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    })
}

/// A character `char::is_whitespace` does not match: a text with one is not blank, as the
/// server checks (`\s` differs between regex engines, so the set is spelled out).
const NOT_BLANK: &str = r"[^\u0009-\u000d \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]";

pub fn document(public_url: &str) -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "gpt-todo",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The signed-in user's todo list: list, create, read, update and delete todos. \
                Every successful call counts against the user's free call quota.",
        },
        "servers": [{ "url": public_url }],
        "security": [{ "oauth2": [SCOPE] }],
        "paths": {
            "/api/todos": {
                "get": list_todos(),
                "post": create_todo(),
            },
            "/api/todos/{id}": {
                "get": get_todo(),
                "patch": update_todo(),
                "delete": delete_todo(),
            },
            "/api/todo-demo": { "post": create_todo_demo() },
        },
        "components": components(public_url),
    })
}

fn list_todos() -> Value {
    json!({
        "operationId": "listTodos",
        "summary": "List the user's todos, newest first",
        "description": "Returns the user's todos, newest first, a page at a time. Filter with status \
            (exact match). When nextCursor is not null, more todos exist: call again with the same \
            status and cursor=nextCursor. Use this to find a todo's id before updating or deleting it.",
        "x-openai-isConsequential": false,
        "parameters": [
            {
                "name": "status",
                "in": "query",
                "description": "Only todos with exactly this status, e.g. pending or done.",
                "schema": status_schema(),
            },
            {
                "name": "limit",
                "in": "query",
                "description": "How many todos per page.",
                "schema": { "type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT },
            },
            {
                "name": "cursor",
                "in": "query",
                "description": "The nextCursor of the previous page, unchanged. Omit it for the first page.",
                "schema": {
                    "type": "string",
                    "minLength": cursor::LENGTH,
                    "maxLength": cursor::LENGTH,
                    "pattern": cursor::PATTERN,
                },
            },
        ],
        "responses": responses(&["400", "401", "429", "500"], "200", json!({
            "description": "A page of todos.",
            "headers": usage_headers(),
            "content": json_content("TodoPage"),
        })),
    })
}

fn create_todo() -> Value {
    json!({
        "operationId": "createTodo",
        "summary": "Create a todo",
        "description": "Adds a todo to the user's list. Only title is required; status defaults to \
            pending and description to empty. Returns the new todo with its id.",
        "x-openai-isConsequential": false,
        "requestBody": request_body("NewTodo"),
        "responses": responses(&["400", "401", "413", "415", "429", "500"], "201", json!({
            "description": "The todo was created.",
            "headers": created_headers(),
            "content": json_content("Todo"),
        })),
    })
}

fn created_headers() -> Value {
    let mut headers = usage_headers();
    headers["Location"] = json!({
        "description": "The new todo's path, /api/todos/{id}.",
        "required": true,
        "schema": { "type": "string" },
    });
    headers
}

fn get_todo() -> Value {
    json!({
        "operationId": "getTodo",
        "summary": "Get one todo by id",
        "description": "Returns one of the user's todos by its id, with its full description. \
            A todo that does not exist, or is not the user's, is a 404.",
        "x-openai-isConsequential": false,
        "parameters": [todo_id()],
        "responses": responses(&["400", "401", "404", "429", "500"], "200", todo_response("The todo.")),
    })
}

fn update_todo() -> Value {
    json!({
        "operationId": "updateTodo",
        "summary": "Update a todo's title, description or status",
        "description": "Changes only the fields given; at least one of title, description, status. \
            To mark a todo finished, send {\"status\": \"done\"}. Returns the updated todo. \
            Find the id with listTodos first.",
        "x-openai-isConsequential": false,
        "parameters": [todo_id()],
        "requestBody": request_body("TodoPatch"),
        "responses": responses(
            &["400", "401", "404", "413", "415", "429", "500"],
            "200",
            todo_response("The updated todo."),
        ),
    })
}

fn delete_todo() -> Value {
    json!({
        "operationId": "deleteTodo",
        "summary": "Delete a todo permanently",
        "description": "Deletes one of the user's todos for good; it cannot be undone. Confirm with the \
            user first. To mark a todo finished instead, use updateTodo with status done.",
        "x-openai-isConsequential": true,
        "parameters": [todo_id()],
        "responses": responses(&["400", "401", "404", "429", "500"], "204", json!({
            "description": "The todo was deleted; there is no body.",
            "headers": usage_headers(),
        })),
    })
}

fn create_todo_demo() -> Value {
    json!({
        "operationId": "createTodoDemo",
        "summary": "Create a todo (compatibility endpoint)",
        "description": "Same as createTodo but answers 200 instead of 201, for GPTs built against the \
            original GPT-Todo demo. Prefer createTodo.",
        "x-openai-isConsequential": false,
        "requestBody": request_body("NewTodo"),
        "responses": responses(&["400", "401", "413", "415", "429", "500"], "200", todo_response("The created todo.")),
    })
}

/// The success response plus the shared error responses named by status code.
fn responses(errors: &[&str], success_status: &str, success: Value) -> Value {
    let mut all = serde_json::Map::new();
    all.insert(success_status.to_owned(), success);
    for status in errors {
        all.insert((*status).to_owned(), json!({ "$ref": format!("#/components/responses/{status}") }));
    }
    Value::Object(all)
}

/// Each operation on one todo declares the id itself, so it reads whole without its path item.
fn todo_id() -> Value {
    json!({ "$ref": "#/components/parameters/TodoId" })
}

fn todo_response(description: &str) -> Value {
    json!({ "description": description, "headers": usage_headers(), "content": json_content("Todo") })
}

fn request_body(schema: &str) -> Value {
    json!({
        "required": true,
        "description": "A JSON object of at most 64 KiB; unknown fields are ignored.",
        "content": json_content(schema),
    })
}

fn json_content(schema: &str) -> Value {
    json!({ "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } })
}

/// The quota headers every counted call (and a 429) carries.
fn usage_headers() -> Value {
    json!({
        "RateLimit-Limit": { "$ref": "#/components/headers/RateLimit-Limit" },
        "RateLimit-Remaining": { "$ref": "#/components/headers/RateLimit-Remaining" },
    })
}

fn status_schema() -> Value {
    json!({ "type": "string", "minLength": 1, "maxLength": STATUS_MAX, "pattern": NOT_BLANK })
}

fn title_schema() -> Value {
    json!({ "type": "string", "minLength": 1, "maxLength": TITLE_MAX, "pattern": NOT_BLANK })
}

fn description_schema() -> Value {
    json!({ "type": "string", "maxLength": DESCRIPTION_MAX })
}

/// `null` for an optional field means "not given", as the server reads it.
fn or_null(mut schema: Value) -> Value {
    schema["type"] = json!(["string", "null"]);
    schema
}

fn components(public_url: &str) -> Value {
    let urls = EndpointUrls::under(public_url);
    json!({
        "schemas": {
            "Todo": {
                "type": "object",
                "required": ["id", "title", "description", "status", "userId", "createdAt", "updatedAt"],
                "properties": {
                    "id": { "type": "integer", "minimum": 1, "description": "Use it to get, update or delete this todo." },
                    "title": title_schema(),
                    "description": description_schema(),
                    "status": status_schema(),
                    "userId": { "type": "string", "description": "The owner (the signed-in user)." },
                    "createdAt": { "type": "string", "format": "date-time" },
                    "updatedAt": { "type": "string", "format": "date-time" },
                },
            },
            "TodoPage": {
                "type": "object",
                "required": ["todos", "nextCursor"],
                "properties": {
                    "todos": { "type": "array", "items": { "$ref": "#/components/schemas/Todo" } },
                    "nextCursor": {
                        "type": ["string", "null"],
                        "description": "Pass as cursor to get the next page; null on the last page.",
                    },
                },
            },
            "NewTodo": {
                "type": "object",
                "required": ["title"],
                "properties": {
                    "title": title_schema(),
                    "description": or_null(description_schema()),
                    "status": or_null(status_schema()),
                },
            },
            "TodoPatch": {
                "type": "object",
                "description": "Only the fields given change; null means not given.",
                "properties": {
                    "title": or_null(title_schema()),
                    "description": or_null(description_schema()),
                    "status": or_null(status_schema()),
                },
                "anyOf": (["title", "description", "status"].map(|field| json!({
                    "required": [field],
                    "properties": { field: { "type": "string" } },
                }))),
            },
            "Error": {
                "type": "object",
                "required": ["error"],
                "properties": { "error": { "type": "string", "description": "What went wrong, for a person." } },
            },
        },
        "parameters": {
            "TodoId": {
                "name": "id",
                "in": "path",
                "required": true,
                "description": "The todo's id, from listTodos or createTodo.",
                "schema": { "type": "integer", "minimum": 1, "maximum": i64::MAX },
            },
        },
        "headers": {
            "RateLimit-Limit": {
                "description": "The user's total number of free API calls through this GPT.",
                "required": true,
                "schema": { "type": "integer", "minimum": 0 },
            },
            "RateLimit-Remaining": {
                "description": "How many of those calls are left.",
                "required": true,
                "schema": { "type": "integer", "minimum": 0 },
            },
        },
        "responses": {
            "400": error_response("A parameter or the body is invalid; the message names the field."),
            "401": {
                "description": "The access token is missing, invalid, expired or revoked: sign in again.",
                "headers": {
                    "WWW-Authenticate": { "required": true, "schema": { "type": "string" } },
                },
                "content": json_content("Error"),
            },
            "404": error_response("No such todo among the user's todos."),
            "413": error_response("The request body is larger than 64 KiB."),
            "415": error_response("The request body must be application/json."),
            "429": {
                "description": format!("The user's free calls are used up: \"{QUOTA_MESSAGE}\""),
                "headers": usage_headers(),
                "content": json_content("Error"),
            },
            "500": error_response("A server fault; try again later."),
        },
        "securitySchemes": {
            "oauth2": {
                "type": "oauth2",
                "description": "Sign in to gpt-todo and allow the GPT to manage your todos.",
                "flows": {
                    "authorizationCode": {
                        "authorizationUrl": urls.authorize,
                        "tokenUrl": urls.token,
                        "refreshUrl": urls.token,
                        "scopes": { SCOPE: "Read and change your todos." },
                    },
                },
            },
        },
    })
}

fn error_response(description: &str) -> Value {
    json!({ "description": description, "content": json_content("Error") })
}

#[cfg(test)]
mod tests {
    use super::*;

    const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

    fn operations(doc: &Value) -> Vec<(String, &Value)> {
        let mut found = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in METHODS {
                if let Some(operation) = item.get(method) {
                    found.push((format!("{} {path}", method.to_uppercase()), operation));
                }
            }
        }
        found
    }

    #[test]
    fn every_operation_is_named_and_described_briefly_for_a_model() {
        let doc = document("https://todo.example");
        let operations = operations(&doc);
        assert_eq!(operations.len(), 6);
        for (name, operation) in operations {
            for field in ["operationId", "summary", "description"] {
                let text = operation[field].as_str().unwrap_or_else(|| panic!("{name}: no {field}"));
                assert!(!text.is_empty() && text.chars().count() <= 300, "{name}: {field} has {} chars", text.len());
            }
            let consequential = operation["x-openai-isConsequential"].as_bool().unwrap();
            assert_eq!(consequential, name.starts_with("DELETE"), "{name}: only a delete is consequential");
            assert!(operation["responses"]["401"].is_object(), "{name}: 401");
            assert!(operation["responses"]["429"].is_object(), "{name}: 429");
        }
    }

    #[test]
    fn urls_come_from_the_public_url() {
        let doc = document("https://todo.example");
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(doc["servers"][0]["url"], "https://todo.example");
        let flow = &doc["components"]["securitySchemes"]["oauth2"]["flows"]["authorizationCode"];
        assert_eq!(flow["authorizationUrl"], "https://todo.example/api/oauth2/authorize");
        assert_eq!(flow["tokenUrl"], "https://todo.example/api/oauth2/token");
        assert!(flow["scopes"]["todos"].is_string());
    }

    #[test]
    fn every_reference_resolves() {
        let doc = document("https://todo.example");
        let text = doc.to_string();
        for reference in text.split("\"$ref\":\"").skip(1) {
            let pointer = reference.split('"').next().unwrap().trim_start_matches('#');
            assert!(doc.pointer(pointer).is_some(), "{pointer} does not resolve");
        }
    }
}
