"""A reverse proxy on 127.0.0.1 that adds a bearer token to every request it passes to gpt-todo,
the way a new user points a tool that cannot sign in (the MCP conformance suite) at a server
that wants OAuth. Everything else goes through unchanged, the Host and Origin headers included,
so the server's own checks (DNS rebinding, the MCP headers) see what the tool sent.

    python token_proxy.py UPSTREAM_BASE TOKEN      (prints "listening on http://127.0.0.1:PORT")
"""

import http.client
import http.server
import sys
import threading
from urllib.parse import urlparse

# Hop-by-hop headers (RFC 9110 §7.6.1) are the proxy's own business, not the server's.
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}


def make_handler(upstream: str, token: str):
    target = urlparse(upstream)

    class Forward(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def forward(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            if not any(k.lower() == "authorization" for k in headers):
                headers["Authorization"] = f"Bearer {token}"
            connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
            try:
                # skip_host: the client's Host header is sent as it came.
                connection.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for name, value in headers.items():
                    connection.putheader(name, value)
                connection.endheaders(body)
                answer = connection.getresponse()
                payload = answer.read()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            finally:
                connection.close()

        do_GET = do_POST = do_DELETE = do_OPTIONS = do_PUT = do_PATCH = forward

        def log_message(self, *args):
            pass

    return Forward


class ProxyServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that hangs up mid-request (the suite does, on purpose) is not an error here.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


def start(upstream: str, token: str) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Starts the proxy on a free port in a daemon thread; returns it and its base URL."""
    server = ProxyServer(("127.0.0.1", 0), make_handler(upstream, token))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def reserve() -> tuple[http.server.ThreadingHTTPServer, str]:
    """Binds the proxy's port before the upstream is known (the server's public URL names it)."""
    server = ProxyServer(("127.0.0.1", 0), make_handler("http://127.0.0.1:1", ""))
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def serve(server: http.server.ThreadingHTTPServer, upstream: str, token: str) -> None:
    """Points a reserved proxy at its upstream with a token, and serves in a daemon thread."""
    server.RequestHandlerClass = make_handler(upstream, token)
    threading.Thread(target=server.serve_forever, daemon=True).start()


if __name__ == "__main__":
    proxy, base = start(sys.argv[1], sys.argv[2])
    print(f"listening on {base}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        proxy.shutdown()
