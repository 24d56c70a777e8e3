"""The official MCP Python SDK, both its 1.x line (the `initialize` handshake) and its 2.x line
(2026-07-28, `server/discover`), connects to gpt-todo's /mcp the way an assistant would: the
SDK's OAuth client finds the authorization server from the 401, registers (RFC 7591, or with a
Client ID Metadata Document served from a local http host under the server's test flag), runs
PKCE, while Chromium signs in and allows. Then every tool, the quota run out, and the call log.

The two SDK lines are both the package `mcp`, so each run is a process of its own
(tests/e2e/mcp_sdk_client.py): 1.x from the virtualenv, 2.x from .venv/mcp2 (installed there by
scripts/e2e with `pip install --target`) put first on its PYTHONPATH."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
MCP2 = HERE.parents[1] / ".venv" / "mcp2"
QUOTA_MESSAGE = "You have reached the maximum number of free API calls."
LIMIT = 12
EMAIL, PASSWORD = "mcp-e2e@example.com", "password123"


def run_client(server, sdk: str, registration: str) -> dict:
    env = dict(os.environ)
    if sdk == "2.x":
        assert MCP2.is_dir(), f"the 2.x SDK is expected in {MCP2} (scripts/e2e installs it)"
        env["PYTHONPATH"] = str(MCP2)
    done = subprocess.run(
        [sys.executable, str(HERE / "mcp_sdk_client.py"), server.url("/mcp"), EMAIL, PASSWORD, registration, str(LIMIT + 5)],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert done.returncode == 0, f"the {sdk} SDK client failed:\n{done.stderr[-4000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "sdk, registration, protocol",
    [
        ("1.x", "dcr", "2025-11-25"),
        ("1.x", "cimd", "2025-11-25"),
        ("2.x", "dcr", "2026-07-28"),
        ("2.x", "cimd", "2026-07-28"),
    ],
)
def test_the_official_sdk_signs_in_uses_every_tool_and_runs_out_of_quota(start_server, sdk, registration, protocol):
    server = start_server("--default-call-limit", str(LIMIT), "--test-allow-private-client-metadata")
    server.add_user(EMAIL, PASSWORD)

    seen = run_client(server, sdk, registration)

    assert seen["sdk"].startswith(sdk[0] + "."), seen["sdk"]
    assert seen["protocol_version"] == protocol
    assert seen["server_name"] == "gpt-todo"
    assert seen["tools"] == ["list_todos", "get_todo", "create_todo", "update_todo", "delete_todo"]
    # The SDK's OAuth client: PKCE S256, the resource of RFC 8707, and the issuer of RFC 9207.
    params = seen["authorize_params"]
    assert params["code_challenge_method"] == "S256" and params["code_challenge"], params
    assert params["resource"] == server.url("/mcp"), params
    assert seen["iss"] == server.base
    if registration == "cimd":
        assert seen["client_id"] == seen["document_url"], "the document's URL is the client id"
        host = seen["document_url"].split("/")[2]
        assert seen["consent"]["host"] == host, seen["consent"]
    else:
        assert seen["client_id"].startswith("gtc_"), "registered at POST /api/oauth2/register"
        assert seen["consent"]["host"] is None
    assert seen["consent"]["heading"] == f"E2E MCP {sdk} {registration} wants to use your gpt-todo account"

    todo = seen["created"]
    assert todo["title"] == "From the MCP SDK" and todo["status"] == "pending"
    assert seen["listed_ids"] == [todo["id"]]
    assert seen["updated_status"] == "done"
    assert seen["fetched_title"] == "From the MCP SDK"
    assert seen["deleted"] == {"id": todo["id"], "deleted": True}
    assert seen["missing_error"].startswith(f"No todo with id {todo['id']} was found")
    assert seen["bad_error"] == "title must not be empty"
    # Five tool calls succeeded before the probe, so the probe gets the rest of the limit.
    assert seen["quota_successes"] == LIMIT - 5
    assert seen["quota_message"] == QUOTA_MESSAGE

    logs = json.loads(server.cli("logs", "--json", "--limit", "100"))
    tool_rows = [row for row in logs if row["path"] == "/mcp" and row["tool"]]
    assert {row["tool"] for row in tool_rows} == set(seen["tools"])
    assert all(row["clientId"] == seen["client_id"] for row in tool_rows)
    statuses = [row["status"] for row in tool_rows]
    assert statuses.count(200) == LIMIT and statuses.count(429) == 1, statuses
    assert statuses.count(404) == 1 and statuses.count(400) == 1, statuses
    refused = next(row for row in tool_rows if row["status"] == 429)
    assert (refused["tool"], refused["error"]) == ("create_todo", QUOTA_MESSAGE)
    # The first request had no token: the 401 that started the sign-in is logged too.
    assert any(row["path"] == "/mcp" and row["status"] == 401 for row in logs)
    clients = server.cli("client", "list")
    kind = "metadata-document" if registration == "cimd" else "dynamic"
    assert any(seen["client_id"] in line and kind in line for line in clients.splitlines()), clients
