"""A real HTTP server on a free localhost port, for tests that crawl saved responses."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def serve(
    handler: type[http.server.BaseHTTPRequestHandler], **state: Any
) -> Iterator[http.server.ThreadingHTTPServer]:
    """Serve `handler` on 127.0.0.1 in a daemon thread until the block ends.

    Keyword arguments become attributes of the server (what the handler reads, such as
    the pages to serve, and what it records, such as the paths requested).
    """
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    for name, value in state.items():
        setattr(server, name, value)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def url_of(server: http.server.HTTPServer) -> str:
    """The server's base URL."""
    return f"http://127.0.0.1:{server.server_address[1]}"


def reply(
    handler: http.server.BaseHTTPRequestHandler,
    status: int,
    body: bytes = b"",
    content_type: str | None = None,
    headers: dict[str, str] | None = None,
) -> None:
    """Answer a request with a status, an optional content type and headers, and a body."""
    handler.send_response(status)
    if content_type:
        handler.send_header("Content-Type", content_type)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)
