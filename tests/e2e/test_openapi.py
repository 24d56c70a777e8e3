"""The OpenAPI document a GPT imports and the server agree, checked by tools nobody here wrote:
openapi-spec-validator validates the document, and schemathesis generates requests from it against
the live binary, with every one of its checks."""

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import requests
from openapi_spec_validator import validate

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
CONFIG = Path(__file__).with_name("schemathesis.toml")
# Fixed, so CI is repeatable; set GPT_TODO_FUZZ_SEED to explore other corners.
SEED = os.environ.get("GPT_TODO_FUZZ_SEED", "20261127")
MIN_TEST_CASES = 1000


def test_document_is_valid_openapi_3_1_and_names_the_public_url(start_server):
    server = start_server("--public-url", "https://todo.example/")
    response = requests.get(server.url("/openapi.json"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    document = response.json()
    validate(document)
    assert document["openapi"] == "3.1.0"
    assert document["servers"][0]["url"] == "https://todo.example"
    flow = document["components"]["securitySchemes"]["oauth2"]["flows"]["authorizationCode"]
    assert flow["authorizationUrl"] == "https://todo.example/api/oauth2/authorize"
    assert flow["tokenUrl"] == "https://todo.example/api/oauth2/token"
    operations = [op for item in document["paths"].values() for key, op in item.items() if key != "parameters"]
    assert {op["operationId"] for op in operations} == {
        "listTodos", "createTodo", "getTodo", "updateTodo", "deleteTodo", "createTodoDemo"
    }
    for op in operations:
        for field in ("operationId", "summary", "description"):
            assert 0 < len(op[field]) <= 300, (op["operationId"], field)
        assert op["x-openai-isConsequential"] is (op["operationId"] == "deleteTodo")
    with sqlite3.connect(server.db) as db:
        assert db.execute("SELECT count(*) FROM api_calls").fetchone()[0] == 0, "not an API call"


def test_schemathesis_finds_no_disagreement_with_the_live_server(start_server, tmp_path):
    server = start_server()
    server.add_user("fuzz@example.com")
    client = server.add_client("https://chatgpt.com/aip/g-fuzz/oauth/callback", "--call-limit", "1000000")
    token = server.cli("token", "issue", "--user", "fuzz@example.com", "--client", client["Client ID"]).strip()
    report_dir = tmp_path / "schemathesis"
    command = [
        str(SCHEMATHESIS), "--config-file", str(CONFIG), "run", server.url("/openapi.json"),
        "--url", server.base,
        "--header", f"Authorization: Bearer {token}",
        "--checks", "all",
        "--max-examples", "150",
        "--seed", SEED,
        "--workers", "2",
        "--request-timeout", "30",
        "--report", "json",
        "--report-dir", str(report_dir),
    ]
    # Run from tmp_path: schemathesis keeps a .schemathesis/ cache in its working directory.
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-20000:] + done.stderr[-5000:]

    report = json.loads(next(report_dir.glob("*.json")).read_text())
    assert report["complete"] and report["operations"]["tested"] == 6, report["operations"]
    assert report["failures"] == [] and report["errors"] == [], report
    generated = report["test_cases"]["generated"]
    with sqlite3.connect(server.db) as db:
        requests_made = db.execute("SELECT count(*) FROM api_calls").fetchone()[0]
        server_errors = db.execute("SELECT count(*) FROM api_calls WHERE status >= 500").fetchone()[0]
    print(f"schemathesis: {generated} test cases, {requests_made} API requests logged by the server")
    assert generated >= MIN_TEST_CASES, f"only {generated} test cases"
    assert requests_made >= generated, "every generated request reached the server and was logged"
    assert server_errors == 0
