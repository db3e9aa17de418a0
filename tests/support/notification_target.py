"""A notification target: a real HTTP server on loopback that records what it receives."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class NotificationTarget:
    """A notification target that fails its first ``failures`` requests with a 500."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.attempts = 0
        self.received: list[tuple[dict[str, Any], str]] = []
        self.lock = threading.Lock()
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                target.attempts += 1
                if target.attempts <= target.failures:
                    self.send_response(500)
                else:
                    with target.lock:
                        target.received.append((json.loads(body), self.headers["Idempotency-Key"]))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def states(self) -> list[tuple[str, str]]:
        """(alert_id, state) of every payload received, in order."""
        with self.lock:
            return [(payload["alert_id"], payload["state"]) for payload, _ in self.received]
