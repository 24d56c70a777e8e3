"""The README quickstart's path, with the real binary: add a user, a client, issue a token, create."""

import requests


def test_quickstart_create_then_usage_and_logs(start_server):
    server = start_server()
    server.add_user("quick@example.com")
    client = server.add_client("https://chatgpt.com/aip/g-quick/oauth/callback")
    token = server.cli("token", "issue", "--user", "quick@example.com", "--client", client["Client ID"]).strip()
    created = requests.post(
        server.url("/api/todo-demo"), json={"title": "Try gpt-todo"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert created.status_code == 200, created.text
    assert created.json()["title"] == "Try gpt-todo"
    assert "quick@example.com" in server.cli("usage")
    assert "/api/todo-demo" in server.cli("logs")
