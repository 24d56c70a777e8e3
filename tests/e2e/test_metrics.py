"""`--metrics-listen`: a live scrape of the real server passes `promtool check metrics`
(Prometheus's own linter, Debian's prometheus package) and counts what the API did."""

import re
import shutil
import subprocess
import time

import requests


def metrics_url(server) -> str:
    """The address the server printed for its metrics, after the banner."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        line = server.process.stdout.readline()
        match = re.search(r"Prometheus metrics at (http://\S+/metrics)", line)
        if match:
            return match.group(1)
    raise AssertionError("the server did not print where its metrics are")


def test_a_live_scrape_passes_promtool_and_counts_the_calls(start_server):
    server = start_server("--metrics-listen", "127.0.0.1:0")
    url = metrics_url(server)
    assert requests.get(server.url("/api/todos")).status_code == 401
    assert requests.get(server.url("/healthz")).status_code == 200

    scrape = requests.get(url)
    assert scrape.status_code == 200
    assert scrape.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert 'gpt_todo_http_requests_total{route="/api/todos",status="401"} 1' in scrape.text, scrape.text
    assert "gpt_todo_writer_batch_jobs_count" in scrape.text

    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: scripts/e2e installs Debian's prometheus package"
    checked = subprocess.run([promtool, "check", "metrics"], input=scrape.text, capture_output=True, text=True)
    assert checked.returncode == 0, f"promtool check metrics: {checked.stdout}{checked.stderr}"
    assert requests.get(url.replace("/metrics", "/other")).status_code == 404
