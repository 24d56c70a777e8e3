"""The operator console on a phone (issue 23 item 10), in a real browser (headless Chromium driven by
Playwright): at 390×844 every console page fits the screen's width (a wide table scrolls inside its
own box, never the page), every control and every link that stands on its own is at least 44 px
tall and wide, and the charts' labels are legible; at 1280×800 the same pages fit too. Every page
is screenshotted at both sizes into artifacts/ (console-phone-*.png, console-wide-*.png), the
figures go to artifacts/console-phone.json, and axe-core checks the phone pages."""

import json
import re

import requests
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import sync_playwright

from test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
WIDE = {"viewport": {"width": 1280, "height": 800}}
TAP = 44
# The charts' axis labels, as rendered (the issue saw 6 px).
MIN_LABEL_PX = 9

# What a page measures of itself: how wide the document is against the window, the tap targets
# under `tap` px (a link inside a sentence is exempt, as WCAG 2.5.8 exempts it; a checkbox counts
# with its label, which is what a finger taps), and the smallest chart label.
MEASURE = """(tap) => {
  const inSentence = (a) => {
    const box = a.closest('p, li, dd');
    if (!box) return false;
    let text = box.textContent;
    for (const link of box.querySelectorAll('a')) text = text.replace(link.textContent, '');
    return /[A-Za-z]/.test(text);
  };
  const small = [];
  let smallest = Infinity;
  for (const el of document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea')) {
    if (el.offsetParent === null && el.tagName !== 'BODY') continue;
    if (el.tagName === 'A' && inSentence(el)) continue;
    let r = el.getBoundingClientRect();
    if (el.type === 'checkbox' && el.labels.length) {
      const l = el.labels[0].getBoundingClientRect();
      const left = Math.min(r.left, l.left), top = Math.min(r.top, l.top);
      r = {width: Math.max(r.right, l.right) - left, height: Math.max(r.bottom, l.bottom) - top};
    }
    smallest = Math.min(smallest, r.width, r.height);
    if (r.width < tap || r.height < tap) {
      small.push(el.outerHTML.slice(0, 90) + ' ' + r.width.toFixed(1) + 'x' + r.height.toFixed(1));
    }
  }
  // A label's font size in the SVG's units, times the scale the chart is drawn at.
  const labels = [...document.querySelectorAll('svg.chart text')].map((t) => {
    const svg = t.ownerSVGElement;
    return parseFloat(getComputedStyle(t).fontSize) * svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
  });
  return {
    scrollWidth: document.scrollingElement.scrollWidth,
    innerWidth: window.innerWidth,
    small,
    smallestTarget: smallest === Infinity ? null : Math.round(smallest * 10) / 10,
    smallestLabel: labels.length ? Math.round(Math.min(...labels) * 10) / 10 : null,
  };
}"""


def call(server, token, method="POST", path="/api/todos"):
    return requests.request(
        method, server.url(path), json={"title": "from the phone test"}, headers={"Authorization": f"Bearer {token}"}
    )


def test_every_console_page_fits_a_phone(start_server):
    server = start_server("--default-call-limit", "1000")
    server.cli("user", "add", "root@example.com", "--admin", "--password-stdin", stdin="password123\n")
    server.add_user("ann.with.a.rather.long.address@example.com")
    client = server.add_client("https://chat.openai.com/aip/g-phone/oauth/callback")
    client_id = client["Client ID"]
    server.cli("client", "set-limit", client_id, "4", "--per", "day")
    token = server.cli("token", "issue", "--user", "ann.with.a.rather.long.address@example.com", "--client", client_id)
    token = token.strip()
    for _ in range(5):
        call(server, token)
    call(server, token, "GET", "/api/todos/nothing-here")
    ARTIFACTS.mkdir(exist_ok=True)
    figures, problems, violations = {}, [], {}

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            signed_in = browser.new_context(**WIDE)
            page = signed_in.new_page()
            page.goto(server.url("/admin/login"))
            page.fill("#email", "root@example.com")
            page.fill("#password", "password123")
            page.click('button:has-text("Sign in")')
            page.wait_for_url(server.url("/admin"))
            first_link = {}
            for listing, query in (("clients", ""), ("users", "?q=ann"), ("calls", "")):
                page.goto(server.url(f"/admin/{listing}{query}"))
                first_link[listing] = page.locator("tbody a").first.get_attribute("href")
            pages = {
                "login": "/admin/login",
                # The overview carries the audit ("Latest changes"), the near-limit table and the charts.
                "overview": "/admin",
                "clients": "/admin/clients",
                "client": first_link["clients"],
                "users": "/admin/users",
                "user": first_link["users"],
                "calls": "/admin/calls",
                "calls-429": "/admin/calls?status=429",
                "call": first_link["calls"],
                "not-found": "/admin/users/nobody",
            }
            assert pages["client"] == f"/admin/clients/{client_id}", pages

            axe = Axe()
            for size, options in (("phone", PHONE), ("wide", WIDE)):
                context = browser.new_context(**options)
                context.add_cookies(signed_in.cookies())
                signed_out = browser.new_context(**options)
                for name, path in pages.items():
                    view = (signed_out if name == "login" else context).new_page()
                    if name != "not-found":  # its 404 is the browser's console error
                        view.on("console", lambda m, n=name: m.type == "error" and problems.append(f"{n}: {m.text}"))
                    view.goto(server.url(path))
                    view.screenshot(path=ARTIFACTS / f"console-{size}-{name}.png", full_page=True)
                    measured = view.evaluate(MEASURE, TAP)
                    figures[f"{size}-{name}"] = measured
                    # A phone's browser widens its layout viewport to a page that overflows, so the
                    # window must also still be the screen's width.
                    width = options["viewport"]["width"]
                    fits = measured["scrollWidth"] <= measured["innerWidth"] == width
                    assert fits, f"{name} at {size} overflows the {width} px screen: {measured}"
                    if size == "phone":
                        assert measured["small"] == [], f"tap targets under {TAP} px on {name}: {measured['small']}"
                        label = measured["smallestLabel"]
                        assert label is None or label >= MIN_LABEL_PX, f"chart labels of {label} px on {name}"
                        found = axe.run(view).response["violations"]
                        bad = [v["id"] for v in found if v.get("impact") in ("serious", "critical")]
                        if bad:
                            violations[name] = bad
                    view.close()
                context.close()
                signed_out.close()

            # The call log names the client (its id is the link's title) and shows a whole status.
            phone = browser.new_context(**PHONE)
            phone.add_cookies(signed_in.cookies())
            view = phone.new_page()
            view.goto(server.url("/admin/calls?status=429"))
            cell = view.locator("tbody tr").first
            assert cell.locator("td").nth(2).inner_text() == "429"
            assert cell.locator(f'a[title="{client_id}"]').inner_text() == "E2E GPT"
            assert not re.search(re.escape(client_id), cell.inner_text()), cell.inner_text()
        finally:
            browser.close()

    (ARTIFACTS / "console-phone.json").write_text(json.dumps(figures, indent=2))
    assert problems == [], problems
    assert violations == {}, violations
