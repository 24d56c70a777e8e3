"""The operator console in a real browser (headless Chromium driven by Playwright): an admin signs
in, adds a client, sees API calls move the chart and the counters, sets a limit and the API
answers 429, disables the user and the API answers 401. Every page is screenshotted at a desktop
and a phone size into artifacts/, and checked with axe-core for serious or critical problems."""

import re

import requests
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import sync_playwright

from test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


def create(server, token):
    return requests.post(
        server.url("/api/todos"), json={"title": "from the console test"}, headers={"Authorization": f"Bearer {token}"}
    )


def test_an_admin_runs_the_console(start_server):
    server = start_server("--default-call-limit", "1000")
    server.cli("user", "add", "root@example.com", "--admin", "--password-stdin", stdin="password123\n")
    server.add_user("ann@example.com")
    ARTIFACTS.mkdir(exist_ok=True)
    problems, pages, violations = [], {}, {}

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_context(**DESKTOP).new_page()
            page.on("console", lambda message: message.type == "error" and problems.append(message.text))
            page.on("pageerror", lambda error: problems.append(str(error)))

            def visit(name, path=None):
                if path:
                    page.goto(server.url(path))
                pages[name] = page.url

            visit("login", "/admin")
            assert page.url.endswith("/admin/login"), page.url
            page.fill("#email", "root@example.com")
            page.fill("#password", "password123")
            page.click("button:has-text(\"Sign in\")")
            page.wait_for_url(server.url("/admin"))
            visit("overview")

            visit("clients", "/admin/clients")
            page.fill("#name", "Console GPT")
            page.fill("#redirect_uris", "https://chat.openai.com/aip/g-console/oauth/callback")
            page.click("button:has-text(\"Add client\")")
            printed = page.locator("pre").inner_text()
            assert 'Added client "Console GPT".' in printed, printed
            client_id = re.search(r"Client ID:\s+(\S+)", printed).group(1)
            assert re.search(r"Client Secret:\s+gts_\S+", printed), printed
            # A POST's answer, shown once: screenshotted here rather than visited again.
            page.screenshot(path=ARTIFACTS / "console-client-added-desktop.png", full_page=True)

            token = server.cli("token", "issue", "--user", "ann@example.com", "--client", client_id).strip()
            for _ in range(3):
                assert create(server, token).status_code == 201
            page.goto(server.url("/admin"))
            today = page.locator(".tile").first.inner_text()
            assert re.search(r"\b3\b", today), f"expected 3 calls today, saw: {today}"
            assert "In total: 3 2xx" in page.locator("#hourly-d").text_content()

            page.goto(server.url(f"/admin/clients/{client_id}"))
            page.fill("#call_limit", "3")
            page.click("button:has-text(\"Set limit\")")
            assert "Limit set: 3 calls in total." in page.content()
            visit("client")
            refused = create(server, token)
            assert refused.status_code == 429, refused.text

            page.goto(server.url("/admin/users?q=ann"))
            visit("users")
            page.click("text=ann@example.com")
            assert "Console GPT" in page.content() or client_id in page.content()
            page.click("button:has-text(\"Disable\")")
            assert "Disabled: sign-in is refused" in page.content()
            visit("user")
            gone = create(server, token)
            assert gone.status_code == 401, gone.text

            visit("calls", "/admin/calls?status=4xx")
            assert page.locator("tbody tr").count() >= 2
            page.locator("tbody a").first.click()
            visit("call")
            assert "401" in page.content()

            page.goto(server.url("/admin"))
            assert "client.set-limit" in page.content() and "user.disable" in page.content()
            visit("overview")

            axe = Axe()
            for size, options in (("desktop", DESKTOP), ("phone", PHONE)):
                signed_out = browser.new_context(**options)
                context = browser.new_context(**options)
                context.add_cookies(page.context.cookies())
                for name, url in pages.items():
                    # The sign-in page as a signed-out browser sees it; the rest signed in.
                    view = (signed_out if name == "login" else context).new_page()
                    view.goto(url)
                    view.screenshot(path=ARTIFACTS / f"console-{name}-{size}.png", full_page=True)
                    found = axe.run(view).response["violations"]
                    bad = [v["id"] for v in found if v.get("impact") in ("serious", "critical")]
                    if bad:
                        violations[f"{name}-{size}"] = bad
                    view.close()
                context.close()
                signed_out.close()
        finally:
            browser.close()

    assert problems == [], problems
    assert violations == {}, violations
