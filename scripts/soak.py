"""The soak test's driver (run it through scripts/soak, which builds the release binary).

Serves a fresh database with the release binary on 127.0.0.1, signs a user in through the real
OAuth pages, then sends a fixed rate of mixed todo calls (create, list, get, update, delete) and
refreshes the OAuth tokens on a fixed period, for a configurable time. Once a minute it samples
the server's resident memory, its open file descriptors, the size of the write-ahead log and the
minute's p99 latency, and prints a row of the table. At the end it judges the samples:

- RSS keeps growing: the peak of the last half is more than 10% (and 4 MiB) above the peak of the
  first half (after the warm-up minute, when caches and pools fill);
- fds keep growing: the peak of the last half is more than 4 above the peak of the first half;
- the WAL is not bounded: it ever exceeds WAL_BOUND, or its last-half peak is more than twice its
  first-half peak (and 1 MiB);
- p99 drifts: the median p99 of the last three minutes is more than 50% above (or below) the
  median p99 of the first three minutes after warm-up;
- and any call answered other than as expected (a 5xx, a refused token...) is a failure.

Standard library only, so it runs on a bare machine with python3.
"""

import argparse
import http.client
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from html.parser import HTMLParser
from urllib.parse import urlencode, urlsplit, parse_qs

WAL_BOUND = 64 * 1024 * 1024
PASSWORD = "soak-password-1"
EMAIL = "soak@example.com"
REDIRECT_URI = "https://soak.example/cb"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", required=True)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=50.0, help="todo calls per second, all workers together")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--refresh-every", type=float, default=5.0, help="seconds between token refreshes")
    parser.add_argument("--sample-every", type=float, default=60.0, help="seconds between samples")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="gpt-todo-soak-") as work:
        db = os.path.join(work, "soak.db")
        server = Server(args.binary, db)
        try:
            return soak(args, server, db)
        finally:
            server.stop()


class Server:
    def __init__(self, binary: str, db: str):
        self.binary, self.db = binary, db
        self.cli("user", "add", EMAIL, "--name", "Soak", "--password-stdin", stdin=PASSWORD + "\n")
        out = self.cli("client", "add", "Soak GPT", "--redirect-uri", REDIRECT_URI, "--call-limit", "1000000000")
        self.client_id = re.search(r"Client ID:\s+(\S+)", out).group(1)
        self.client_secret = re.search(r"Client Secret:\s+(\S+)", out).group(1)
        self.log = open(db + ".log", "w")
        self.process = subprocess.Popen(
            [binary, "--db", db, "serve", "--listen", "127.0.0.1:0"],
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        line = self.process.stdout.readline()
        match = re.search(r"listening on http://(\S+)", line)
        if not match:
            self.process.kill()
            raise SystemExit(f"soak: the server did not start: {line!r}")
        host, port = match.group(1).rsplit(":", 1)
        self.host, self.port = host, int(port)

    def cli(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run([self.binary, "--db", self.db, *args], input=stdin, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"soak: gpt-todo {' '.join(args)} failed: {done.stderr}")
        return done.stdout

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=30)

    def rss_kib(self) -> int:
        with open(f"/proc/{self.process.pid}/status") as status:
            return int(re.search(r"VmRSS:\s+(\d+)", status.read()).group(1))

    def open_fds(self) -> int:
        return len(os.listdir(f"/proc/{self.process.pid}/fd"))

    def wal_bytes(self) -> int:
        try:
            return os.path.getsize(self.db + "-wal")
        except FileNotFoundError:
            return 0

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


class HiddenFields(HTMLParser):
    def __init__(self, html: str):
        super().__init__()
        self.fields = {}
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("type") == "hidden" and attrs.get("name") != "action":
            self.fields.setdefault(attrs["name"], attrs.get("value", ""))


def request(conn, method, path, body=None, headers=None):
    """One request on a kept-alive connection: (status, headers, body bytes)."""
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    return response.status, response.headers, response.read()


def sign_in(server: Server) -> dict:
    """The authorization code flow through the real pages, as a browser and a GPT would do it."""
    conn = server.connect()
    query = urlencode(
        {"response_type": "code", "client_id": server.client_id, "redirect_uri": REDIRECT_URI, "state": "soak"}
    )
    status, headers, body = request(conn, "GET", f"/api/oauth2/authorize?{query}")
    assert status == 200, (status, body)
    cookie = headers["Set-Cookie"].split(";")[0]
    form = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
    fields = {**HiddenFields(body.decode()).fields, "action": "login", "email": EMAIL, "password": PASSWORD}
    status, headers, body = request(conn, "POST", "/api/oauth2/authorize", urlencode(fields), form)
    assert status == 303, (status, body)
    form["Cookie"] = headers["Set-Cookie"].split(";")[0]
    status, _, body = request(conn, "GET", headers["Location"], headers={"Cookie": form["Cookie"]})
    assert status == 200, (status, body)
    fields = {**HiddenFields(body.decode()).fields, "action": "consent", "decision": "allow"}
    status, headers, body = request(conn, "POST", "/api/oauth2/authorize", urlencode(fields), form)
    assert status == 303, (status, body)
    code = parse_qs(urlsplit(headers["Location"]).query)["code"][0]
    return token_grant(server, conn, {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI})


def token_grant(server: Server, conn, grant: dict) -> dict:
    fields = {**grant, "client_id": server.client_id, "client_secret": server.client_secret}
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    status, _, body = request(conn, "POST", "/api/oauth2/token", urlencode(fields), headers)
    if status != 200:
        raise RuntimeError(f"token endpoint answered {status}: {body[:200]!r}")
    return json.loads(body)


class Shared:
    """What the threads share: the current tokens, this minute's latencies, unexpected answers."""

    def __init__(self, tokens: dict):
        self.lock = threading.Lock()
        self.tokens = tokens
        self.latencies: list[float] = []
        self.calls = 0
        self.refreshes = 0
        self.failures: list[str] = []
        self.stop = threading.Event()

    def access_token(self) -> str:
        with self.lock:
            return self.tokens["access_token"]

    def record(self, seconds: float, failure: str | None = None):
        with self.lock:
            self.latencies.append(seconds)
            self.calls += 1
            if failure and len(self.failures) < 1000:
                self.failures.append(failure)

    def take_minute(self) -> tuple[list[float], int, int]:
        with self.lock:
            latencies, self.latencies = self.latencies, []
            calls, refreshes = self.calls, self.refreshes
            self.calls = self.refreshes = 0
            return latencies, calls, refreshes


def worker(server: Server, shared: Shared, period: float, seed: int):
    """Sends one call every `period` seconds on a fixed schedule, keeping its own todos bounded."""
    rng = random.Random(seed)
    conn = server.connect()
    mine: list[int] = []
    next_at = time.monotonic() + rng.random() * period
    while not shared.stop.is_set():
        delay = next_at - time.monotonic()
        if delay > 0:
            shared.stop.wait(delay)
        next_at += period
        op = "create" if len(mine) < 20 else rng.choices(
            ["create", "list", "get", "update", "delete"], weights=[2, 3, 2, 2, 2]
        )[0]
        if len(mine) > 200:
            op = "delete"
        headers = {"Authorization": f"Bearer {shared.access_token()}", "Content-Type": "application/json"}
        target = rng.choice(mine) if mine else 0
        method, path, body, expected = {
            "create": ("POST", "/api/todos", json.dumps({"title": f"soak {rng.random()}", "description": "x" * 200}), 201),
            "list": ("GET", f"/api/todos?limit={rng.randint(1, 50)}", None, 200),
            "get": ("GET", f"/api/todos/{target}", None, 200),
            "update": ("PATCH", f"/api/todos/{target}", json.dumps({"status": rng.choice(["done", "pending"])}), 200),
            "delete": ("DELETE", f"/api/todos/{target}", None, 204),
        }[op]
        started = time.monotonic()
        try:
            status, _, answer = request(conn, method, path, body, headers)
        except (OSError, http.client.HTTPException) as e:
            shared.record(time.monotonic() - started, f"{method} {path}: {e!r}")
            conn.close()
            conn = server.connect()
            continue
        elapsed = time.monotonic() - started
        if status != expected:
            shared.record(elapsed, f"{method} {path}: expected {expected}, got {status} {answer[:120]!r}")
            continue
        shared.record(elapsed)
        if op == "create":
            mine.append(json.loads(answer)["id"])
        elif op == "delete":
            mine.remove(target)


def refresher(server: Server, shared: Shared, period: float):
    """Rotates the refresh token every `period` seconds; the workers pick up the new access token."""
    conn = server.connect()
    while not shared.stop.wait(period):
        with shared.lock:
            refresh_token = shared.tokens["refresh_token"]
        try:
            tokens = token_grant(server, conn, {"grant_type": "refresh_token", "refresh_token": refresh_token})
        except (OSError, http.client.HTTPException, RuntimeError) as e:
            with shared.lock:
                shared.failures.append(f"refresh: {e!r}")
            conn.close()
            conn = server.connect()
            continue
        with shared.lock:
            shared.tokens = tokens
            shared.refreshes += 1


def p99(latencies: list[float]) -> float:
    if not latencies:
        return float("nan")
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def soak(args, server: Server, db: str) -> int:
    shared = Shared(sign_in(server))
    period = args.workers / args.rate
    threads = [threading.Thread(target=worker, args=(server, shared, period, i), daemon=True) for i in range(args.workers)]
    threads.append(threading.Thread(target=refresher, args=(server, shared, args.refresh_every), daemon=True))
    for thread in threads:
        thread.start()
    print(f"soak: {args.rate:g} calls/s from {args.workers} connections, a refresh every {args.refresh_every:g} s, "
          f"for {args.minutes:g} min against pid {server.process.pid}", flush=True)
    header = f"{'min':>5} {'calls':>7} {'refresh':>7} {'p50 ms':>8} {'p99 ms':>8} {'RSS MiB':>8} {'fds':>5} {'WAL KiB':>9}"
    print(header, flush=True)
    samples = []
    started = time.monotonic()
    deadline = started + args.minutes * 60
    next_sample = started + args.sample_every
    while time.monotonic() < deadline and server.process.poll() is None:
        time.sleep(max(0.0, min(next_sample, deadline) - time.monotonic()))
        if time.monotonic() < next_sample:
            break
        next_sample += args.sample_every
        latencies, calls, refreshes = shared.take_minute()
        sample = {
            "minute": round((time.monotonic() - started) / 60, 1),
            "calls": calls,
            "refreshes": refreshes,
            "p50": statistics.median(latencies) * 1000 if latencies else float("nan"),
            "p99": p99(latencies) * 1000,
            "rss": server.rss_kib() / 1024,
            "fds": server.open_fds(),
            "wal": server.wal_bytes() / 1024,
        }
        samples.append(sample)
        print(f"{sample['minute']:>5} {calls:>7} {refreshes:>7} {sample['p50']:>8.2f} {sample['p99']:>8.2f} "
              f"{sample['rss']:>8.1f} {sample['fds']:>5} {sample['wal']:>9.0f}", flush=True)
    shared.stop.set()
    for thread in threads:
        thread.join(timeout=35)
    if server.process.poll() is not None:
        print(f"soak: FAIL: the server exited with status {server.process.returncode}")
        return 1
    problems = judge(samples, shared.failures)
    for problem in problems:
        print(f"soak: FAIL: {problem}")
    if not problems:
        print(f"soak: PASS ({len(samples)} samples)")
    return 1 if problems else 0


def judge(samples: list[dict], failures: list[str]) -> list[str]:
    problems = [f"{len(failures)} unexpected answers, first: {failures[0]}"] if failures else []
    steady = samples[1:]  # the first minute warms caches and pools
    if len(steady) < 4:
        return problems + [f"too few samples to judge ({len(samples)}); run at least 5 minutes"]
    first, last = steady[: len(steady) // 2], steady[len(steady) // 2 :]
    peak = lambda rows, key: max(row[key] for row in rows)
    if peak(last, "rss") > peak(first, "rss") * 1.10 and peak(last, "rss") > peak(first, "rss") + 4:
        problems.append(f"RSS keeps growing: peak {peak(first, 'rss'):.1f} MiB, then {peak(last, 'rss'):.1f} MiB")
    if peak(last, "fds") > peak(first, "fds") + 4:
        problems.append(f"open fds keep growing: peak {peak(first, 'fds')}, then {peak(last, 'fds')}")
    if peak(steady, "wal") * 1024 > WAL_BOUND:
        problems.append(f"the WAL reached {peak(steady, 'wal'):.0f} KiB (bound {WAL_BOUND // 1024} KiB)")
    if peak(last, "wal") > 2 * peak(first, "wal") and peak(last, "wal") > peak(first, "wal") + 1024:
        problems.append(f"the WAL keeps growing: peak {peak(first, 'wal'):.0f} KiB, then {peak(last, 'wal'):.0f} KiB")
    before = statistics.median(row["p99"] for row in steady[:3])
    after = statistics.median(row["p99"] for row in steady[-3:])
    if abs(after - before) > 0.5 * before:
        problems.append(f"p99 drifted by more than 50%: {before:.2f} ms at the start, {after:.2f} ms at the end")
    return problems


if __name__ == "__main__":
    sys.exit(main())
