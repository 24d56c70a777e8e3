"""Driving gpt-todo's sign-in and consent pages without a browser, the way a person's browser
would: keep the cookie, send back each form's hidden fields (the CSRF token and the request)."""

from html.parser import HTMLParser
from urllib.parse import urljoin

import requests


class _HiddenFields(HTMLParser):
    def __init__(self):
        super().__init__()
        self.fields = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("type") == "hidden" and attrs.get("name") != "action":
            self.fields.setdefault(attrs["name"], attrs.get("value", ""))


def hidden_fields(html: str) -> dict:
    parser = _HiddenFields()
    parser.feed(html)
    assert "csrf" in parser.fields, "every form must carry a CSRF token"
    return parser.fields


def sign_in_and_allow(authorize_url: str, email: str, password: str) -> str:
    """Opens the authorization URL, signs in, allows, and returns where the server redirects."""
    browser = requests.Session()
    login = browser.get(authorize_url)
    assert login.status_code == 200, login.text
    form_url = urljoin(login.url, "/api/oauth2/authorize")
    signed_in = browser.post(
        form_url,
        data={**hidden_fields(login.text), "action": "login", "email": email, "password": password},
        allow_redirects=False,
    )
    assert signed_in.status_code == 303, signed_in.text
    consent = browser.get(urljoin(login.url, signed_in.headers["Location"]))
    assert consent.status_code == 200 and "Allow" in consent.text, consent.text
    allowed = browser.post(
        form_url, data={**hidden_fields(consent.text), "action": "consent", "decision": "allow"}, allow_redirects=False
    )
    assert allowed.status_code == 303, allowed.text
    return allowed.headers["Location"]
