"""A real HTTP server on loopback standing in for a Slack incoming webhook (tests only)."""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "T0ZAIRYU/B0SYNC/s3cr3tW3bh00kT0k3n"


@dataclass
class Webhook:
    """What the stand-in webhook received, and what it answers next."""

    port: int
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    script: deque[tuple[int, dict[str, str], str]] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/services/{TOKEN}"

    def answer(self, status: int, times: int = 1, body: str = "", **headers: str) -> None:
        for _ in range(times):
            self.script.append((status, headers, body or f"error {status}"))


def make_handler(webhook: Webhook) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the stdlib's hook name
            length = int(self.headers.get("Content-Length", "0"))
            payload = json.loads(self.rfile.read(length).decode("utf-8"))
            with webhook.lock:
                webhook.requests.append((self.path, payload))
                status, headers, text = (
                    webhook.script.popleft() if webhook.script else (200, {}, "ok")
                )
            data = text.encode("utf-8")
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    return Handler


@contextmanager
def running_webhook() -> Iterator[Webhook]:
    """Serve a :class:`Webhook` on a free loopback port until the block ends."""
    state = Webhook(port=0)
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    state.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
