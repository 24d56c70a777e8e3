"""Every MCP tool's real results, over real HTTP from the real binary, validated against the
`outputSchema` that tools/list gives for it, with a JSON Schema 2020-12 validator (the dialect
MCP's schemas are in since 2025-11-25, SEP-1613) that also checks formats such as date-time.
The schemas themselves must be valid 2020-12 schemas, and what each call sends must fit its
`inputSchema`, so the schemas describe what the server really takes and gives."""

import json

from jsonschema import Draft202012Validator

from mcp_http import call_tool, request


def mcp_token(server, email: str) -> str:
    server.add_user(email)
    client = server.add_client("https://client.example/callback")
    return server.cli(
        "token", "issue", "--user", email, "--client", client["Client ID"], "--resource", server.url("/mcp")
    ).strip()


def test_every_tool_result_fits_its_output_schema(start_server):
    server = start_server("--default-call-limit", "1000")
    mcp = server.url("/mcp")
    token = mcp_token(server, "schemas@example.com")
    tools = {tool["name"]: tool for tool in request(mcp, token, "tools/list")["tools"]}
    assert set(tools) == {"list_todos", "get_todo", "create_todo", "update_todo", "delete_todo"}
    # A format the checker does not know is skipped silently: date-time must be one it checks.
    assert "date-time" in Draft202012Validator.FORMAT_CHECKER.checkers
    for name, tool in tools.items():
        Draft202012Validator.check_schema(tool["inputSchema"])
        Draft202012Validator.check_schema(tool["outputSchema"])

    checked = []

    def call(name: str, arguments: dict) -> dict:
        Draft202012Validator(tools[name]["inputSchema"]).validate(arguments)
        result = call_tool(mcp, token, name, arguments)
        assert result["isError"] is False, f"{name} {arguments}: {result}"
        value = result["structuredContent"]
        errors = list(
            Draft202012Validator(tools[name]["outputSchema"], format_checker=Draft202012Validator.FORMAT_CHECKER)
            .iter_errors(value)
        )
        assert errors == [], f"{name} {arguments} gave {value}, which its outputSchema refuses: {[e.message for e in errors]}"
        assert json.loads(result["content"][0]["text"]) == value, "the text block is the same value"
        checked.append(name)
        return value

    first = call("create_todo", {"title": "Buy milk"})
    second = call("create_todo", {"title": "Fix the bike", "description": "Rear tyre\nand the chain", "status": "in progress"})
    call("create_todo", {"title": "Ünïcode ✓ title", "status": "done"})
    page = call("list_todos", {"limit": 2})
    assert isinstance(page["nextCursor"], str), "a first page of two out of three has a next page"
    last = call("list_todos", {"limit": 2, "cursor": page["nextCursor"]})
    assert last["nextCursor"] is None
    assert call("list_todos", {"status": "in progress"})["todos"][0]["id"] == second["id"]
    assert call("list_todos", {"status": "nothing like this"})["todos"] == []
    call("get_todo", {"id": first["id"]})
    call("update_todo", {"id": first["id"], "status": "done"})
    call("update_todo", {"id": second["id"], "title": "Fix the bike today", "description": ""})
    assert call("delete_todo", {"id": first["id"]}) == {"id": first["id"], "deleted": True}
    assert set(checked) == set(tools), "every tool was checked"
