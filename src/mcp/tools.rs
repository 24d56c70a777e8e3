//! The MCP tools: the todo API's five calls, described for a model (names, descriptions, JSON
//! Schemas with the REST API's body rules, annotations), and run through the same chain as the REST
//! routes: each `tools/call` is one [`Call`], so the token, the quota, the operation, the counter
//! and the log row (path `/mcp`, the tool's name) commit together. The arguments are checked by the
//! todo API's own parse functions, with its messages.

use serde::Serialize;
use serde_json::{Map, Value, json};
use warp::http::{HeaderMap, StatusCode};

use super::view;
use crate::AppState;
use crate::chain::api_error::ApiError;
use crate::chain::auth_step::Caller;
use crate::chain::{Call, OpError};
use crate::http::request::RequestLine;
use crate::store::Tx;
use crate::todos::{
    DEFAULT_LIMIT, DESCRIPTION_MAX, ListQuery, MAX_LIMIT, NewTodo, STATUS_MAX, TITLE_MAX, TodoPatch, cursor, id_value,
    operations,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    List,
    Get,
    Create,
    Update,
    Delete,
}

impl Tool {
    /// In the order `tools/list` gives them (2026-07-28, tools: a deterministic order).
    pub const ALL: [Tool; 5] = [Tool::List, Tool::Get, Tool::Create, Tool::Update, Tool::Delete];

    pub fn named(name: &str) -> Option<Tool> {
        Tool::ALL.into_iter().find(|tool| tool.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Tool::List => "list_todos",
            Tool::Get => "get_todo",
            Tool::Create => "create_todo",
            Tool::Update => "update_todo",
            Tool::Delete => "delete_todo",
        }
    }

    /// The tool as `tools/list` describes it.
    pub fn definition(self) -> Value {
        let (title, description, input, output) = match self {
            Tool::List => (
                "List todos",
                "List the signed-in user's todos, newest first. Optionally only those with a given status. \
                 Returns at most `limit` todos; when more exist, `nextCursor` is set: pass it as `cursor` to get \
                 the next page.",
                object(
                    json!({
                        "status": { "type": "string", "minLength": 1, "maxLength": STATUS_MAX,
                                    "description": "Only todos with exactly this status, e.g. \"pending\" or \"done\"." },
                        "limit": { "type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT,
                                   "description": "How many todos to return at most." },
                        "cursor": { "type": "string", "pattern": cursor::PATTERN,
                                    "description": "The nextCursor of the previous page, unchanged." },
                    }),
                    &[],
                ),
                object(
                    json!({
                        "todos": { "type": "array", "items": todo_schema() },
                        "nextCursor": { "type": ["string", "null"],
                                        "description": "Pass as cursor for the next page; null on the last page." },
                    }),
                    &["todos", "nextCursor"],
                ),
            ),
            Tool::Get => (
                "Get a todo",
                "Get one of the signed-in user's todos by its id.",
                object(json!({ "id": id_schema() }), &["id"]),
                todo_schema(),
            ),
            Tool::Create => (
                "Create a todo",
                "Create a todo for the signed-in user. Only the title is required; the status defaults to \
                 \"pending\". Returns the new todo with its id.",
                object(todo_fields(), &["title"]),
                todo_schema(),
            ),
            Tool::Update => (
                "Update a todo",
                "Change the title, description or status of one of the signed-in user's todos (e.g. status \
                 \"done\" to mark it done). Give the id and at least one field; fields not given keep their value.",
                object(
                    {
                        let mut fields = todo_fields();
                        fields["id"] = id_schema();
                        fields
                    },
                    &["id"],
                ),
                todo_schema(),
            ),
            Tool::Delete => (
                "Delete a todo",
                "Delete one of the signed-in user's todos by its id. This cannot be undone.",
                object(json!({ "id": id_schema() }), &["id"]),
                object(json!({ "id": id_schema(), "deleted": { "const": true } }), &["id", "deleted"]),
            ),
        };
        let read_only = matches!(self, Tool::List | Tool::Get);
        json!({
            "name": self.name(),
            "title": title,
            "description": description,
            "inputSchema": input,
            "outputSchema": output,
            "annotations": {
                "title": title,
                "readOnlyHint": read_only,
                // An update overwrites fields and a delete removes the todo; a create only adds.
                "destructiveHint": matches!(self, Tool::Update | Tool::Delete),
                "idempotentHint": !matches!(self, Tool::Create),
                "openWorldHint": false,
            },
            "_meta": self.meta(),
        })
    }

    /// The tools whose result the todo view shows: a page of todos, or the todo just made or
    /// changed. A delete leaves nothing to show.
    fn has_view(self) -> bool {
        matches!(self, Tool::List | Tool::Create | Tool::Update)
    }

    /// The tool's `_meta`: the view that shows its result (MCP Apps 2026-01-26, resource
    /// discovery: `ui.resourceUri`), and ChatGPT's keys (OpenAI Apps SDK reference, tool
    /// descriptor `_meta`): the same view as `openai/outputTemplate`, the short status lines
    /// while it runs and when it is done (at most 64 characters), and whether a view may call it.
    fn meta(self) -> Value {
        let (invoking, invoked) = match self {
            Tool::List => ("Reading your todos…", "Todos read"),
            Tool::Get => ("Reading the todo…", "Todo read"),
            Tool::Create => ("Adding the todo…", "Todo added"),
            Tool::Update => ("Updating the todo…", "Todo updated"),
            Tool::Delete => ("Deleting the todo…", "Todo deleted"),
        };
        let mut meta = json!({
            "openai/toolInvocation/invoking": invoking,
            "openai/toolInvocation/invoked": invoked,
        });
        if self.has_view() {
            meta["ui"] = json!({ "resourceUri": view::URI });
            meta["openai/outputTemplate"] = view::URI.into();
        }
        // The view ticks (update), adds (create), deletes and fetches the next page (list).
        // ChatGPT lets a view call only tools marked so; MCP Apps' default visibility
        // (["model", "app"]) already lets it.
        if self != Tool::Get {
            meta["openai/widgetAccessible"] = true.into();
        }
        meta
    }
}

fn object(properties: Value, required: &[&str]) -> Value {
    json!({ "type": "object", "properties": properties, "required": required })
}

fn id_schema() -> Value {
    json!({ "type": "integer", "minimum": 1, "description": "The todo's id, as list_todos or create_todo gave it." })
}

/// The fields a create takes and an update may change, with the REST API's limits (the same
/// constants its parse functions check).
fn todo_fields() -> Value {
    json!({
        "title": { "type": "string", "minLength": 1, "maxLength": TITLE_MAX, "description": "What is to be done." },
        "description": { "type": "string", "maxLength": DESCRIPTION_MAX, "description": "Details; empty by default." },
        "status": { "type": "string", "minLength": 1, "maxLength": STATUS_MAX,
                    "description": "Free text, \"pending\" by default; e.g. \"in progress\" or \"done\"." },
    })
}

/// A todo as the REST API shows it.
fn todo_schema() -> Value {
    object(
        json!({
            "id": { "type": "integer" },
            "title": { "type": "string" },
            "description": { "type": "string" },
            "status": { "type": "string" },
            "userId": { "type": "string" },
            "createdAt": { "type": "string", "format": "date-time" },
            "updatedAt": { "type": "string", "format": "date-time" },
        }),
        &["id", "title", "description", "status", "userId", "createdAt", "updatedAt"],
    )
}

/// Runs one `tools/call` through the chain and answers with its `CallToolResult`. A bad argument,
/// an unknown id or the quota is a result with `isError: true` (so the model can correct itself),
/// logged with its status (400, 404, 429); only a refused token is an `Err`, which the transport
/// answers with HTTP 401 so the client can sign in.
pub async fn call(
    state: &AppState,
    line: RequestLine,
    headers: &HeaderMap,
    tool: Tool,
    arguments: Map<String, Value>,
) -> Result<Value, ApiError> {
    let line = RequestLine { tool: Some(tool.name()), ..line };
    let call = Call::begin(state, line, headers).await.map_err(|refusal| refusal.error)?;
    let id = || id_value(arguments.get("id"));
    let outcome = match tool {
        Tool::List => run(call, ListQuery::from_arguments(&arguments), operations::list).await,
        Tool::Get => run(call, id(), operations::get).await,
        Tool::Create => run(call, NewTodo::from_fields(&arguments), operations::create).await,
        Tool::Update => {
            let input = id().and_then(|id| Ok((id, TodoPatch::from_fields(&arguments)?)));
            run(call, input, operations::update).await
        }
        Tool::Delete => {
            let delete = |tx: &mut Tx<'_>, caller: &Caller, id: &i64| {
                operations::delete(tx, caller, id).map(|()| json!({ "id": id, "deleted": true }))
            };
            run(call, id(), delete).await
        }
    };
    match outcome {
        Ok(value) => Ok(result(value)),
        Err(error @ (ApiError::MissingToken | ApiError::Unauthorized(_))) => Err(error),
        Err(ApiError::NotFound) => Ok(failure(&format!(
            "No todo with id {} was found for this user. Use list_todos to see the ids.",
            id().unwrap_or_default()
        ))),
        Err(error) => Ok(failure(&error.to_string())),
    }
}

/// The arguments (already checked into `input`, or refused) and the operation, as one chain call.
async fn run<I, T>(
    call: Call,
    input: Result<I, ApiError>,
    op: impl Fn(&mut Tx<'_>, &Caller, &I) -> Result<T, OpError> + Send + Sync + 'static,
) -> Result<Value, ApiError>
where
    I: Send + Sync + 'static,
    T: Serialize + Send + 'static,
{
    let done = call.parse(input).run(StatusCode::OK, op).await.map_err(|refusal| refusal.error)?;
    // Off the database's thread, once the call is committed.
    serde_json::to_value(done.value).map_err(|e| ApiError::internal("Response encoding failed", e))
}

/// MCP tools, "Structured Content": the value, and the same as text for clients that show only text.
fn result(value: Value) -> Value {
    json!({
        "content": [{ "type": "text", "text": value.to_string() }],
        "structuredContent": value,
        "isError": false,
    })
}

/// MCP tools, "Tool Execution Errors": reported in the result, so the model sees what to fix.
fn failure(message: &str) -> Value {
    json!({ "content": [{ "type": "text", "text": message }], "isError": true })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_is_found_by_its_name_and_describes_itself() {
        for tool in Tool::ALL {
            assert_eq!(Tool::named(tool.name()), Some(tool));
            let definition = tool.definition();
            assert_eq!(definition["name"], tool.name());
            assert_eq!(definition["inputSchema"]["type"], "object");
            assert_eq!(definition["outputSchema"]["type"], "object");
            assert!(definition["description"].as_str().unwrap().len() > 20);
        }
        assert_eq!(Tool::named("drop_tables"), None);
        let create = Tool::Create.definition();
        assert_eq!(create["inputSchema"]["properties"]["title"]["maxLength"], TITLE_MAX);
        assert_eq!(create["inputSchema"]["required"], json!(["title"]));
        assert_eq!(Tool::Delete.definition()["annotations"]["destructiveHint"], true);
        assert_eq!(Tool::List.definition()["annotations"]["readOnlyHint"], true);
    }

    #[test]
    fn the_tools_with_a_view_point_at_it_for_mcp_apps_and_for_chatgpt() {
        for tool in Tool::ALL {
            let meta = &tool.definition()["_meta"];
            let uri = tool.has_view().then_some(view::URI);
            assert_eq!(meta["ui"]["resourceUri"].as_str(), uri, "{}", tool.name());
            assert_eq!(meta["openai/outputTemplate"].as_str(), uri, "{}", tool.name());
            for key in ["openai/toolInvocation/invoking", "openai/toolInvocation/invoked"] {
                let text = meta[key].as_str().unwrap();
                assert!(!text.is_empty() && text.chars().count() <= 64, "{key} of {}: {text}", tool.name());
            }
            // No description promises a view: hosts without MCP Apps show none.
            let description = tool.definition()["description"].as_str().unwrap().to_lowercase();
            assert!(!description.contains("view") && !description.contains("widget"), "{description}");
        }
        assert_eq!(Tool::List.definition()["_meta"]["openai/widgetAccessible"], true);
        assert!(Tool::Get.definition()["_meta"].get("openai/widgetAccessible").is_none());
    }
}
