"""A real browser (headless Chromium driven by Playwright) signs up on the authorization page,
signs in, allows the client, and lands on the client's redirect URI with a code the token endpoint accepts.
Screenshots of the pages, at a phone's size, go to artifacts/."""

import http.server
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
import requests
from playwright.sync_api import sync_playwright

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


class _Callback(http.server.BaseHTTPRequestHandler):
    """Stands in for the client's redirect URI."""

    def do_GET(self):
        body = b"<!doctype html><title>callback</title><p>Back at the client.</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def callback_url():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Callback)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/callback"
    server.shutdown()
    server.server_close()


def test_browser_signs_up_consents_and_reaches_the_redirect_uri(start_server, callback_url):
    server = start_server("--allow-signup")
    client = server.add_client(callback_url)
    authorize_url = client["Authorization URL"] + "?" + urlencode(
        {
            "response_type": "code",
            "client_id": client["Client ID"],
            "redirect_uri": callback_url,
            "state": "browser-state-42",
            "scope": "todos",
        }
    )
    ARTIFACTS.mkdir(exist_ok=True)
    problems = []

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_context(**PHONE).new_page()
            # A CSP violation (say, the stylesheet not allowed) shows up as a console error.
            page.on("console", lambda message: message.type == "error" and problems.append(message.text))
            page.on("pageerror", lambda error: problems.append(str(error)))

            page.goto(authorize_url)
            assert page.locator("h1").inner_text().startswith("Sign in to continue to E2E GPT")
            page.screenshot(path=ARTIFACTS / "oauth-login.png", full_page=True)

            page.fill("#signup-name", "Browser User")
            page.fill("#signup-email", "browser@example.com")
            page.fill("#signup-password", "correct horse battery")
            page.click("text=Create account")
            # Sign-up answers a new address and a taken one alike (nobody learns who has an
            # account), so it signs nobody in: the page says so, and the person signs in.
            page.wait_for_selector("p.notice")
            assert "Sign in with it below" in page.locator("p.notice").inner_text()
            page.fill("#email", "browser@example.com")
            page.fill("#password", "correct horse battery")
            page.click("button:has-text('Sign in')")
            page.wait_for_selector("button[value=allow]")
            assert "E2E GPT wants to use your gpt-todo account" in page.locator("h1").inner_text()
            assert "Browser User (browser@example.com)" in page.content()
            page.screenshot(path=ARTIFACTS / "oauth-consent.png", full_page=True)

            page.click("button[value=allow]")
            page.wait_for_url(callback_url + "?**")
            landed = page.url

            # A returning browser is already signed in: straight to consent.
            page.goto(authorize_url)
            assert page.locator("button[value=allow]").count() == 1
            assert page.locator("input[type=password]").count() == 0
        finally:
            browser.close()

    assert problems == [], problems
    query = parse_qs(urlparse(landed).query)
    assert query["state"] == ["browser-state-42"]
    assert query["iss"] == [server.base]
    token = requests.post(
        client["Token URL"],
        data={"grant_type": "authorization_code", "code": query["code"][0], "redirect_uri": callback_url},
        auth=(client["Client ID"], client["Client Secret"]),
    )
    assert token.status_code == 200, token.text
    assert token.headers["Cache-Control"] == "no-store"
    created = requests.post(
        server.url("/api/todo-demo"),
        json={"title": "from the browser flow"},
        headers={"Authorization": f"Bearer {token.json()['access_token']}"},
    )
    assert created.status_code == 200, created.text
