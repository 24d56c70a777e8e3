"""The rate-limit headers of real answers, read with a Structured Fields parser nobody here wrote
(http-sf, RFC 9651), as draft-ietf-httpapi-ratelimit-headers defines them: RateLimit-Policy and
RateLimit are Lists of one String Item with Integer parameters."""

import calendar
import time

import http_sf
import requests


def parse_policy(response: requests.Response) -> tuple[str, dict]:
    [(name, params)] = http_sf.parse(response.headers["RateLimit-Policy"].encode(), tltype="list")
    assert type(name) is str, f"the policy name must be an sf-string, got {name!r}"
    return name, params


def parse_limit(response: requests.Response) -> tuple[str, dict]:
    [(name, params)] = http_sf.parse(response.headers["RateLimit"].encode(), tltype="list")
    assert type(name) is str, f"the policy name must be an sf-string, got {name!r}"
    return name, params


def seconds_to_utc_midnight() -> int:
    now = int(time.time())
    return (now // 86400 + 1) * 86400 - now


def start_with_caller(start_server, *flags: str) -> tuple[object, str, str]:
    server = start_server(*flags)
    server.add_user("limits@example.com")
    client = server.add_client("https://chatgpt.com/aip/g-limits/oauth/callback")["Client ID"]
    token = server.cli("token", "issue", "--user", "limits@example.com", "--client", client).strip()
    return server, client, token


def create(server, token: str, **headers: str) -> requests.Response:
    return requests.post(
        server.url("/api/todos"), json={"title": "counted"}, headers={"Authorization": f"Bearer {token}", **headers}
    )


def test_a_daily_default_limit_in_structured_fields(start_server):
    server, _client, token = start_with_caller(start_server, "--default-call-limit", "3", "--default-call-window", "day")
    remaining = []
    for _ in range(3):
        answer = create(server, token)
        assert answer.status_code == 201, answer.text
        assert parse_policy(answer) == ("calls", {"q": 3, "w": 86400})
        name, params = parse_limit(answer)
        assert name == "calls" and set(params) == {"r", "t"}, params
        assert abs(params["t"] - seconds_to_utc_midnight()) <= 2, f"t={params['t']} should be the time to midnight UTC"
        assert answer.headers["RateLimit-Remaining"] == str(params["r"])
        remaining.append(params["r"])
    assert remaining == [2, 1, 0]

    refused = create(server, token)
    assert refused.status_code == 429
    assert refused.json() == {"error": "You have reached the maximum number of free API calls."}
    _, params = parse_limit(refused)
    assert params["r"] == 0
    assert int(refused.headers["Retry-After"]) == params["t"], "Retry-After is the time to the reset"


def test_a_monthly_client_limit_and_a_total_one(start_server):
    server, client, token = start_with_caller(start_server)
    server.cli("client", "set-limit", client, "10", "--per", "month")
    answer = create(server, token)
    now = time.gmtime()
    days = calendar.monthrange(now.tm_year, now.tm_mon)[1]
    assert parse_policy(answer) == ("calls", {"q": 10, "w": days * 86400})
    assert parse_limit(answer)[1]["r"] == 9

    # Without --per, set-limit keeps the window in force (a month here): ask for a total.
    server.cli("client", "set-limit", client, "2", "--per", "total")
    total = create(server, token)
    # A lifetime total never resets: no window, no reset time.
    assert parse_policy(total) == ("calls", {"q": 2})
    assert parse_limit(total) == ("calls", {"r": 1})
    create(server, token)
    refused = create(server, token)
    assert refused.status_code == 429 and "Retry-After" not in refused.headers


def test_browsers_may_read_the_headers_cross_origin(start_server):
    server, _client, token = start_with_caller(start_server)
    answer = create(server, token, Origin="https://chatgpt.com")
    exposed = {h.strip().lower() for h in answer.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"ratelimit-policy", "ratelimit", "retry-after", "ratelimit-limit", "ratelimit-remaining"} <= exposed
