"""The code flow as a ChatGPT Action runs it, with a third-party OAuth client (Authlib): authorize
(no PKCE), exchange the code with each of the GPT editor's token exchange methods, refresh, then
call the API with the refreshed token."""

from urllib.parse import parse_qs, urlparse

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session

from oauth_pages import sign_in_and_allow

CALLBACK = "https://chatgpt.com/aip/g-e2e/oauth/callback"


@pytest.mark.parametrize("method", ["client_secret_post", "client_secret_basic"])
def test_chatgpt_code_flow_then_refresh_then_api(start_server, method):
    server = start_server()
    server.add_user("gpt@example.com")
    client = server.add_client(CALLBACK)
    oauth = OAuth2Session(
        client["Client ID"],
        client["Client Secret"],
        scope=client["Scope"],
        redirect_uri=CALLBACK,
        token_endpoint_auth_method=method,
    )
    authorize_url, state = oauth.create_authorization_url(client["Authorization URL"])

    location = sign_in_and_allow(authorize_url, "gpt@example.com", "password123")
    assert location.startswith(CALLBACK + "?"), location
    query = parse_qs(urlparse(location).query)
    assert query["state"] == [state]
    assert query["iss"] == [server.base]

    token = oauth.fetch_token(client["Token URL"], authorization_response=location, state=state)
    assert token["token_type"].lower() == "bearer"
    assert token["expires_in"] == 3600
    assert token["scope"] == "todos"
    first = requests.post(
        server.url("/api/todo-demo"),
        json={"title": f"first via {method}"},
        headers={"Authorization": f"Bearer {token['access_token']}"},
    )
    assert first.status_code == 200, first.text

    refreshed = oauth.refresh_token(client["Token URL"], refresh_token=token["refresh_token"])
    assert refreshed["access_token"] != token["access_token"]
    assert refreshed["refresh_token"] != token["refresh_token"]
    # The session now sends the refreshed access token.
    created = oauth.post(server.url("/api/todo-demo"), json={"title": f"after refresh via {method}"})
    assert created.status_code == 200, created.text
    assert created.json()["title"] == f"after refresh via {method}"
    me = oauth.get(server.url("/api/oauth2/userinfo"))
    assert me.json()["email"] == "gpt@example.com" and me.json()["cid"] == client["Client ID"]

    # The rotated-out refresh token is dead, and replaying it kills the new one too.
    replay = requests.post(
        client["Token URL"],
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        auth=(client["Client ID"], client["Client Secret"]),
    )
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert oauth.post(server.url("/api/todo-demo"), json={"title": "after replay"}).status_code == 401

    # `gpt-todo logs` shows the two calls the GPT made, and the refused one (its caller unknown).
    assert server.cli("logs", "--client", client["Client ID"], "--status", "200").count("/api/todo-demo") == 2
    assert "/api/todo-demo" in server.cli("logs", "--status", "401")


def test_metadata_advertises_what_chatgpt_uses(start_server):
    server = start_server("--public-url", "https://todo.example")
    metadata = requests.get(server.url("/.well-known/oauth-authorization-server")).json()
    assert metadata["issuer"] == "https://todo.example"
    assert metadata["token_endpoint"] == "https://todo.example/api/oauth2/token"
    assert {"client_secret_post", "client_secret_basic"} <= set(metadata["token_endpoint_auth_methods_supported"])
