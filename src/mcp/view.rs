//! The todo view of MCP Apps (the `io.modelcontextprotocol/ui` extension, stable revision
//! 2026-01-26): one self-contained HTML page, `view.html`, built into the binary. A host that
//! renders apps (Claude, ChatGPT, VS Code, Goose, ...) reads it with `resources/read`, shows it in
//! a sandboxed iframe and hands it the result of `list_todos`, `create_todo` or `update_todo`; the
//! page changes todos only by asking the host for a `tools/call`, so every change is one counted,
//! logged API call through the chain. Hosts without the extension never read it and lose nothing:
//! every tool still answers with text and `structuredContent`.

use serde_json::{Value, json};

pub const EXTENSION: &str = "io.modelcontextprotocol/ui";
pub const URI: &str = "ui://gpt-todo/todo-list.html";
/// MCP Apps 2026-01-26, UI resource format: the MIME type of an HTML view.
pub const MIME_TYPE: &str = "text/html;profile=mcp-app";
const HTML: &str = include_str!("view.html");
const TITLE: &str = "Todo list";
const DESCRIPTION: &str = "The signed-in user's todos: tick one done, add one, delete one.";

/// The resource as `resources/list` shows it.
pub fn descriptor() -> Value {
    json!({
        "uri": URI,
        "name": "todo-list",
        "title": TITLE,
        "description": DESCRIPTION,
        "mimeType": MIME_TYPE,
        "size": HTML.len(),
        "_meta": { "ui": ui_meta() },
    })
}

/// The resource's contents, as `resources/read` answers them.
pub fn contents() -> Value {
    json!({
        "uri": URI,
        "mimeType": MIME_TYPE,
        "text": HTML,
        "_meta": {
            "ui": ui_meta(),
            // OpenAI Apps SDK reference, component resource `_meta`: what ChatGPT tells the model
            // the view shows, so it does not repeat the list in prose. MCP Apps has no such key.
            "openai/widgetDescription": "Shows the user's todos as a checklist. The user can tick a todo done, \
                add one or delete one right there; each change is a tool call you will see.",
        },
    })
}

/// MCP Apps 2026-01-26, UI resource format (`UIResourceMeta`): the page loads nothing from
/// anywhere (its script and styles are inline, it talks only to the host over postMessage), so
/// every list of outside origins is empty, which tells the host to keep its strictest CSP.
fn ui_meta() -> Value {
    json!({
        "csp": { "connectDomains": [], "resourceDomains": [], "frameDomains": [], "baseUriDomains": [] },
        // A list reads best in a card of its own in the conversation.
        "prefersBorder": true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The page keeps its promise of "no outside fetches": no URL to another origin in it, and no
    /// API that reaches the network on its own (only `postMessage` to the host).
    #[test]
    fn the_view_is_self_contained() {
        let lower = HTML.to_ascii_lowercase();
        assert!(lower.starts_with("<!doctype html>"), "an HTML5 document");
        for needle in [
            "http://",
            "https://",
            "//cdn",
            "src=",
            "href=",
            "@import",
            "url(",
            "fetch(",
            "xmlhttprequest",
            "websocket",
            "eventsource",
            "sendbeacon",
            "innerhtml",
            "eval(",
        ] {
            assert!(!lower.contains(needle), "the view must not contain {needle:?}");
        }
        assert!(HTML.contains("ui/initialize") && HTML.contains("tools/call"));
        assert!(HTML.len() < 32 * 1024, "the view stays small: {} bytes", HTML.len());
    }

    #[test]
    fn the_resource_says_what_it_is_and_that_it_needs_no_outside_origin() {
        let read = contents();
        assert_eq!(read["mimeType"], MIME_TYPE);
        assert!(read["uri"].as_str().unwrap().starts_with("ui://"));
        assert_eq!(read["_meta"]["ui"]["csp"]["connectDomains"], json!([]));
        assert_eq!(read["_meta"]["ui"]["csp"]["resourceDomains"], json!([]));
        assert_eq!(read["_meta"]["ui"]["prefersBorder"], true);
        assert_eq!(descriptor()["uri"], read["uri"]);
    }
}
