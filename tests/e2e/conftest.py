"""Fixtures for end-to-end checks: the real gpt-todo binary, on 127.0.0.1 with a temp database,
set up through its own admin commands as an operator would."""

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("GPT_TODO_BIN", ROOT / "target" / "debug" / "gpt-todo"))


class Server:
    def __init__(self, db: Path, *flags: str):
        self.db = db
        self.process = subprocess.Popen(
            [str(BINARY), "--db", str(db), "serve", "--listen", "127.0.0.1:0", *flags],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        deadline = time.monotonic() + 30
        self.base = None
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            match = re.search(r"listening on (http://\S+)", line)
            if match:
                self.base = match.group(1)
                break
        if self.base is None:
            self.process.kill()
            raise RuntimeError("gpt-todo did not start")

    def url(self, path: str) -> str:
        return self.base + path

    def cli(self, *args: str, stdin: str | None = None) -> str:
        """Runs an admin command on this server's database and returns its standard output."""
        done = subprocess.run(
            [str(BINARY), "--db", str(self.db), *args], input=stdin, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, f"gpt-todo {' '.join(args)} failed: {done.stderr}"
        return done.stdout

    def add_user(self, email: str, password: str = "password123") -> None:
        self.cli("user", "add", email, "--name", "E2E User", "--password-stdin", stdin=password + "\n")

    def add_client(self, redirect_uri: str, *flags: str) -> dict:
        """Registers a client and returns the fields `client add` prints for the GPT editor."""
        out = self.cli("client", "add", "E2E GPT", "--redirect-uri", redirect_uri, "--public-url", self.base, *flags)
        fields = {}
        for line in out.splitlines():
            match = re.match(r"\s+([A-Za-z ]+):\s+(\S+)", line)
            if match:
                fields[match.group(1).strip()] = match.group(2)
        return fields

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


@pytest.fixture
def start_server(tmp_path):
    """Starts gpt-todo with extra `serve` flags; every server is stopped after the test."""
    servers = []

    def start(*flags: str) -> Server:
        server = Server(tmp_path / f"e2e-{len(servers)}.db", *flags)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
