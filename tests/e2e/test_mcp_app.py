"""The todo view of MCP Apps in a real browser (Debian's Chromium, driven by Playwright), inside a
test host page (mcp_app_host/) that uses the official host side of the extension: AppBridge from
@modelcontextprotocol/ext-apps and the official MCP client, both from npm at the versions of
package-lock.json, connected to the real gpt-todo over /mcp with a real token. The host reads
the view that list_todos points at, shows it in a sandboxed iframe, makes the model's list_todos
call and hands the view its result. Then a person asks for the next page, ticks a todo, adds
one, deletes one (after saying yes), and runs into the quota; each action must be exactly one counted, logged tools/call
in the database, and the view must never list again on its own nor load anything.

The view is screenshotted at 360 and 720 px wide (artifacts/mcp-view-*.png; docs/ has copies for
docs/mcp.md) and checked with axe-core, light and dark, for serious or critical problems."""

import http.server
import sqlite3
import threading
from functools import partial
from pathlib import Path

import pytest
import requests
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect, sync_playwright

from test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

HERE = Path(__file__).resolve().parent
EMAIL = "view@example.com"
QUOTA_MESSAGE = "You have reached the maximum number of free API calls."
MARKUP_TITLE = "<b>Pay rent</b> by Friday"


class _Static(http.server.SimpleHTTPRequestHandler):
    """Serves the host page and the npm packages it imports, nothing else of tests/e2e."""

    extensions_map = {".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript", ".json": "application/json"}

    def do_GET(self):
        if not self.path.startswith(("/mcp_app_host/", "/node_modules/")) or ".." in self.path:
            self.send_error(404)
            return
        super().do_GET()

    def end_headers(self):
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def host_origin():
    assert (HERE / "node_modules" / "@modelcontextprotocol" / "ext-apps").is_dir(), "scripts/e2e runs npm ci in tests/e2e"
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Static, directory=str(HERE)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def tool_calls(server) -> list[tuple[str, int]]:
    """The call log's /mcp tool calls, oldest first: (tool, status)."""
    with sqlite3.connect(server.db) as db:
        return db.execute("SELECT tool, status FROM api_calls WHERE path = '/mcp' AND tool IS NOT NULL ORDER BY id").fetchall()


def one_value(server, sql: str, *args):
    with sqlite3.connect(server.db) as db:
        return db.execute(sql, args).fetchone()[0]


def usage(server) -> int:
    return one_value(server, "SELECT coalesce(sum(count), 0) FROM api_usage")


def serious(found: list[dict]) -> list[str]:
    return [f"{v['id']}: {v['help']}" for v in found if v.get("impact") in ("serious", "critical")]


def test_the_view_in_a_host_ticks_adds_deletes_and_shows_the_quota(start_server, host_origin):
    # The host page calls /mcp from its own origin, as a web host's browser code would.
    server = start_server("--cors-origin", host_origin)
    server.add_user(EMAIL)
    client = server.add_client("https://host.example/callback")["Client ID"]
    mcp_token = server.cli("token", "issue", "--user", EMAIL, "--client", client, "--resource", server.url("/mcp")).strip()
    rest_token = server.cli("token", "issue", "--user", EMAIL, "--client", client).strip()
    for todo in [
        {"title": "Water the plants", "status": "done"},
        {"title": MARKUP_TITLE},
        {"title": "Fix the bike", "status": "in progress"},
        {"title": "Buy milk", "description": "Two litres.\nThe semi-skimmed one."},
    ]:
        created = requests.post(server.url("/api/todos"), json=todo, headers={"Authorization": f"Bearer {rest_token}"})
        assert created.status_code == 201, created.text
    ids = {title: id for id, title in sqlite3.connect(server.db).execute("SELECT id, title FROM todos")}
    ARTIFACTS.mkdir(exist_ok=True)
    problems, view_requests, violations = [], [], {}

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_context(viewport={"width": 752, "height": 1000}, device_scale_factor=2).new_page()
            page.on("console", lambda message: message.type == "error" and problems.append(f"{message.text} at {message.location}"))
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on("requestfailed", lambda request: problems.append(f"{request.method} {request.url} failed"))
            page.on("request", lambda request: request.frame != page.main_frame and view_requests.append(request.url))
            page.goto(f"{host_origin}/mcp_app_host/host.html")
            page.wait_for_function("window.hostReady === true")
            started = page.evaluate(
                "config => startHost(config)",
                {"mcpUrl": server.url("/mcp"), "token": mcp_token, "theme": "light", "listArguments": {"limit": 3}},
            )
            assert started["uri"].startswith("ui://") and started["resultIsError"] is False, started
            assert started["protocolVersion"] == "2026-07-28", started
            assert started["csp"] == {"connectDomains": [], "resourceDomains": [], "frameDomains": [], "baseUriDomains": []}
            view = page.frame_locator("iframe")
            expect(view.locator("#summary")).to_have_text("Waiting for your todos…")
            assert tool_calls(server) == [("list_todos", 200)], "the host's list_todos is the model's call"

            # The host sends the tool's result; the view shows it, text as text.
            page.evaluate("showToolResult()")
            expect(view.get_by_role("checkbox")).to_have_count(3)
            expect(view.locator("#summary")).to_have_text("3 todos shown, 0 done; more on the next page.")
            # The next page only when asked: one list_todos, with the model's page size.
            view.get_by_role("button", name="Show more").click()
            expect(view.get_by_role("checkbox")).to_have_count(4)
            expect(view.get_by_role("button", name="Show more")).to_be_hidden()
            assert tool_calls(server) == [("list_todos", 200), ("list_todos", 200)]
            labels = view.locator("li label").all_inner_texts()
            assert labels == ["Buy milk", "Fix the bike", MARKUP_TITLE, "Water the plants"], labels
            assert view.locator("b").count() == 0, "a title is text, never markup"
            expect(view.get_by_role("checkbox", name="Water the plants")).to_be_checked()
            expect(view.locator("li", has_text="Fix the bike").locator(".status")).to_have_text("in progress")
            expect(view.locator("#summary")).to_have_text("4 todos shown, 1 done.")
            # The description on demand.
            details = view.get_by_role("button", name="Details of “Buy milk”")
            expect(view.get_by_text("The semi-skimmed one.")).to_be_hidden()
            details.click()
            expect(details).to_have_attribute("aria-expanded", "true")
            expect(view.get_by_text("The semi-skimmed one.")).to_be_visible()
            page.locator("iframe").screenshot(path=ARTIFACTS / "mcp-view-720.png")

            # Ticking one done: one update_todo, counted and logged, and the row changed.
            counted = usage(server)
            view.get_by_role("checkbox", name="Buy milk").check()
            expect(view.locator("#notice")).to_have_text("Done: Buy milk.")
            expect(view.get_by_text("The semi-skimmed one.")).to_be_visible()
            assert one_value(server, "SELECT status FROM todos WHERE id = ?", ids["Buy milk"]) == "done"
            assert tool_calls(server)[2:] == [("update_todo", 200)]
            assert usage(server) == counted + 1
            told = page.evaluate("hostLog.modelContext.at(-1)")
            assert f'marked #{ids["Buy milk"]} "Buy milk" done' in told["content"][0]["text"], told
            assert {"id": ids["Buy milk"], "title": "Buy milk", "status": "done"} in told["structuredContent"]["todos"]

            # Adding one, from the keyboard.
            field = view.get_by_label("New todo")
            field.fill("Call the plumber")
            field.press("Enter")
            expect(view.get_by_role("checkbox", name="Call the plumber")).to_be_visible()
            expect(field).to_have_value("")
            assert one_value(server, "SELECT count(*) FROM todos WHERE title = 'Call the plumber'") == 1
            assert tool_calls(server)[3:] == [("create_todo", 200)]

            # Deleting asks first; keeping it calls nothing.
            view.get_by_role("button", name="Delete “Fix the bike”").click()
            confirm = view.get_by_role("group", name="Confirm deleting")
            expect(confirm).to_contain_text("Delete “Fix the bike”? This cannot be undone.")
            expect(confirm.get_by_role("button", name="Keep it")).to_be_focused()
            confirm.get_by_role("button", name="Keep it").press("Escape")
            expect(confirm).to_have_count(0)
            expect(view.get_by_role("button", name="Delete “Fix the bike”")).to_be_focused()
            assert len(tool_calls(server)) == 4
            view.get_by_role("button", name="Delete “Fix the bike”").click()
            view.get_by_role("group", name="Confirm deleting").get_by_role("button", name="Delete").click()
            expect(view.get_by_role("checkbox", name="Fix the bike")).to_have_count(0)
            assert one_value(server, "SELECT count(*) FROM todos WHERE id = ?", ids["Fix the bike"]) == 0
            assert tool_calls(server)[4:] == [("delete_todo", 200)]

            frame = next(f for f in page.frames if f != page.main_frame)
            axe = Axe()
            violations["light-720"] = serious(axe.run(frame).response["violations"])

            # A phone-wide frame: 360 px, light and dark (the host's theme).
            page.set_viewport_size({"width": 392, "height": 900})
            page.wait_for_timeout(300)  # the view reports its new height; the host resizes the frame
            page.locator("iframe").screenshot(path=ARTIFACTS / "mcp-view-360.png")
            assert frame.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth"), (
                "nothing is wider than a phone's frame"
            )
            violations["light-360"] = serious(axe.run(frame).response["violations"])
            page.evaluate("setTheme('dark')")
            expect(view.locator("html")).to_have_attribute("data-theme", "dark")
            page.locator("iframe").screenshot(path=ARTIFACTS / "mcp-view-360-dark.png")
            violations["dark-360"] = serious(axe.run(frame).response["violations"])
            page.evaluate("setTheme('light')")

            # At the limit: the refusal's text is shown, the tick undone, nothing changed.
            server.cli("client", "set-limit", client, str(usage(server)))
            plumber = view.get_by_role("checkbox", name="Call the plumber")
            plumber.focus()
            plumber.press("Space")
            expect(view.get_by_role("alert")).to_have_text(QUOTA_MESSAGE)
            expect(plumber).not_to_be_checked()
            expect(plumber).to_be_enabled()
            assert one_value(server, "SELECT status FROM todos WHERE title = 'Call the plumber'") == "pending"
            assert tool_calls(server)[5:] == [("update_todo", 429)]
            page.locator("iframe").screenshot(path=ARTIFACTS / "mcp-view-360-quota.png")
            heights = page.evaluate("hostLog.sizes")
            assert heights and all(h > 100 for h in heights), heights
        finally:
            browser.close()

    # Each action was one tools/call through the chain; the view never listed again on its own.
    assert tool_calls(server) == [
        ("list_todos", 200),  # the model's
        ("list_todos", 200),  # "Show more"
        ("update_todo", 200),
        ("create_todo", 200),
        ("delete_todo", 200),
        ("update_todo", 429),
    ]
    assert problems == [], "\n".join(problems)
    assert view_requests == [], f"the view loaded something: {view_requests}"
    assert all(found == [] for found in violations.values()), violations
