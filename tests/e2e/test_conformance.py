"""The official MCP conformance suite (@modelcontextprotocol/conformance, the exact version in
tests/e2e/package-lock.json, run with Node 22 from the `node` package) against the real binary,
tried the way a new user would: the suite cannot sign in, so it talks to a local proxy that adds
a bearer token (token_proxy.py), and the server's public URL is the proxy's, as behind any
reverse proxy.

Each protocol revision's requirement set runs at its own wire (2026-07-28: per-request _meta;
2025-11-25: the initialize handshake). The suite's verdict must be a pass with
conformance-baseline.yml, which lists the checks that need the suite's own test fixtures; on
top of that, the scenarios issue 22 names must pass every other check they have. Then the
authorization-server scenarios, with a public client and PKCE, the way an MCP client signs in."""

import re
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

import token_proxy
from oauth_pages import sign_in_and_allow

HERE = Path(__file__).resolve().parent
NODE = HERE / "node_modules" / ".bin" / "node"
SUITE = HERE / "node_modules" / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
BASELINE = HERE / "conformance-baseline.yml"
EMAIL, PASSWORD = "conformance@example.com", "password123"

# The scenarios that apply to what gpt-todo serves, by the wire they run at.
MUST_PASS = {
    "2026-07-28": [
        "server-stateless",
        "tools-list",
        "caching",
        "dns-rebinding-protection",
        "http-header-validation",
        "json-schema-2020-12",
        "sep-2164-resource-not-found",
        "resources-list",
        "prompts-list",
        "server-sse-multiple-streams",
    ],
    "2025-11-25": [
        "server-initialize",
        "ping",
        "tools-list",
        "dns-rebinding-protection",
        "json-schema-2020-12",
        "resources-list",
        "prompts-list",
    ],
}
PASSING = {"SUCCESS", "INFO", "SKIPPED"}


def suite(*args: str, **popen) -> subprocess.Popen:
    assert NODE.exists() and SUITE.exists(), "scripts/e2e installs the suite and Node 22 (npm ci in tests/e2e)"
    return subprocess.Popen([str(NODE), str(SUITE), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)


def excused() -> set[str]:
    """The baseline's entries: `scenario` (all of it) or `scenario:check-id`."""
    entries = set()
    for line in BASELINE.read_text().splitlines():
        match = re.match(r"^\s+-\s+(\S+)", line)
        if match:
            entries.add(match.group(1))
    assert entries, "the baseline lists its entries as '  - name'"
    return entries


def results(out: Path) -> dict[str, list[dict]]:
    """The checks of each scenario the suite saved, by scenario name."""
    import json

    found = {}
    for checks in out.glob("*/checks.json"):
        match = re.match(r"^(?:server|authorization-server)-(.+)-\d{4}-\d\d-\d\dT[\d-]+Z$", checks.parent.name)
        assert match, checks.parent.name
        found[match.group(1)] = json.loads(checks.read_text())
    return found


def assert_passed(found: dict, scenario: str, allowed: set[str]) -> None:
    assert scenario in found, f"the suite did not run {scenario}; it ran {sorted(found)}"
    checks = found[scenario]
    failed = [
        (check["id"], check["status"], check.get("errorMessage"))
        for check in checks
        if check["status"] not in PASSING and f"{scenario}:{check['id']}" not in allowed
    ]
    assert failed == [], f"{scenario}: {failed}"
    assert any(check["status"] == "SUCCESS" for check in checks), f"{scenario} checked nothing: {checks}"


@pytest.mark.parametrize("revision", ["2026-07-28", "2025-11-25"])
def test_the_conformance_suite_passes_through_a_token_adding_proxy(start_server, tmp_path, revision):
    proxy, proxy_base = token_proxy.reserve()
    server = start_server("--public-url", proxy_base, "--default-call-limit", "100000")
    server.add_user(EMAIL, PASSWORD)
    client = server.add_client("http://127.0.0.1:3000/callback")
    token = server.cli(
        "token", "issue", "--user", EMAIL, "--client", client["Client ID"], "--resource", proxy_base + "/mcp"
    ).strip()
    token_proxy.serve(proxy, server.base, token)
    try:
        started = time.monotonic()
        run = suite(
            "server", "--url", proxy_base + "/mcp", "--requirements", revision,
            "--expected-failures", str(BASELINE), "-o", str(tmp_path / "results"),
        )
        output, _ = run.communicate(timeout=300)
        took = time.monotonic() - started
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert run.returncode == 0, f"the suite's verdict for {revision} (in {took:.0f} s):\n{output[-6000:]}"
    found = results(tmp_path / "results")
    allowed = excused()
    for scenario in MUST_PASS[revision]:
        assert_passed(found, scenario, allowed)
    # The suite's requests reached the server with the proxy's token: tools/list answered.
    assert any(check["id"] == "tools-list" and check["status"] == "SUCCESS" for check in found["tools-list"])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_authorization_server_scenarios_pass(start_server, tmp_path):
    server = start_server()
    server.add_user(EMAIL, PASSWORD)
    port = free_port()
    callback = f"http://127.0.0.1:{port}/callback"
    # A public client (PKCE, no secret), the way MCP clients register.
    client = server.add_client(callback, "--public")
    run = suite(
        "authorization", "--url", server.base, "--client-id", client["Client ID"],
        "--resource", server.url("/mcp"), "--port", str(port), "-o", str(tmp_path / "results"),
    )
    lines = []
    try:
        # The code-grant scenario prints the authorization URL for a person to open, then waits
        # for the redirect to its callback: sign in and allow, then follow the redirect.
        for line in run.stdout:
            lines.append(line)
            if line.startswith(server.base + "/api/oauth2/authorize?"):
                location = sign_in_and_allow(line.strip(), EMAIL, PASSWORD)
                assert location.startswith(callback + "?"), location
                assert requests.get(location, timeout=30).status_code == 200
                break
        output, _ = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    output = "".join(lines) + output
    assert run.returncode == 0, output[-4000:]
    found = results(tmp_path / "results")
    for scenario in ["authorization-server-metadata-endpoint", "authorization-code-grant"]:
        assert_passed(found, scenario, set())
