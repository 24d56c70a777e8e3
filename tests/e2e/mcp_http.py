"""One MCP request over plain HTTP, as a 2026-07-28 client sends it: the per-request `_meta` and
the headers that mirror the body. For tests that check what the server answers, not a client."""

import itertools

import requests

MODERN = "2026-07-28"
_ids = itertools.count(1)


def request(mcp_url: str, token: str, method: str, params: dict | None = None) -> dict:
    """Sends one request and returns its JSON-RPC `result`; an error fails the test."""
    params = dict(params or {})
    params["_meta"] = {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "gpt-todo e2e", "version": "1"},
    }
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": MODERN,
        "Mcp-Method": method,
    }
    name = params.get("name") or params.get("uri")
    if name:
        headers["Mcp-Name"] = name
    body = {"jsonrpc": "2.0", "id": next(_ids), "method": method, "params": params}
    answer = requests.post(mcp_url, json=body, headers=headers, timeout=30)
    assert answer.status_code == 200, f"{method}: {answer.status_code} {answer.text}"
    message = answer.json()
    assert "result" in message, f"{method}: {message}"
    return message["result"]


def call_tool(mcp_url: str, token: str, name: str, arguments: dict) -> dict:
    return request(mcp_url, token, "tools/call", {"name": name, "arguments": arguments})
