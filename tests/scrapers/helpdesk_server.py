"""A fake Zendesk-style helpdesk for the helpdesk_api tests: the incremental ticket export
(cursor and time based) on 127.0.0.1, with scripted replies and every request logged."""

from __future__ import annotations

import base64
import http.server
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

SAMPLES = Path(__file__).parent / "samples"
TOKEN = "zd-7Hq2mXv9LkP3sT8wR1yB"
EMAIL = "voc-bot@kesheng.cn"
GOOD_AUTH = "Basic " + base64.b64encode(f"{EMAIL}/token:{TOKEN}".encode()).decode()
CURSOR_PATH = "/api/v2/incremental/tickets/cursor.json"
TIME_PATH = "/api/v2/incremental/tickets.json"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def sample_tickets() -> list[dict[str, Any]]:
    pages = ("helpdesk_cursor_page1.json", "helpdesk_time_page1.json")
    return [t for name in pages for t in json.loads(sample(name))["tickets"]]


def epoch(stamp: str) -> int:
    return int(datetime.fromisoformat(stamp).timestamp())


@dataclass
class Reply:
    """A canned answer instead of the export's own page."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class Helpdesk(http.server.ThreadingHTTPServer):
    """Both Zendesk incremental exports over an in-memory ticket store."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.tickets = {t["id"]: t for t in sample_tickets()}
        self.auth = GOOD_AUTH
        self.replies: list[Reply | None] = []  # next requests' answers; None = the page
        self.fail_after_pages: int | None = None  # then HTTP 500 for good
        self.on_page: Callable[[int], None] | None = None  # called once each page is built
        self.pages_served = 0
        self.requests: list[tuple[str, dict[str, str], dict[str, str]]] = []
        # Side-loaded with include=users: requester id → user (id, name, email).
        self.users: dict[int, dict[str, Any]] = {}
        # Side-loaded with include=metric_sets: ticket id → its Ticket Metric object.
        self.metric_sets: dict[int, dict[str, Any]] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def edit(self, ticket_id: int, updated_at: str, **fields: Any) -> None:
        self.tickets[ticket_id] = {**self.tickets[ticket_id], **fields, "updated_at": updated_at}

    def ordered(self) -> list[dict[str, Any]]:
        return sorted(self.tickets.values(), key=lambda t: (epoch(t["updated_at"]), t["id"]))


def cursor_for(stamp: int, ticket_id: int) -> str:
    """The export cursor naming a position in the stream: this ticket at this time."""
    return base64.urlsafe_b64encode(f"{stamp}.{ticket_id}".encode()).decode()


class _Handler(http.server.BaseHTTPRequestHandler):
    server: Helpdesk

    def do_GET(self) -> None:
        server = self.server
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        server.requests.append((parts.path, query, dict(self.headers)))
        if self.headers.get("Authorization") != server.auth:
            return self._send(Reply(401, sample("helpdesk_error_auth.json")))
        if server.replies and (reply := server.replies.pop(0)) is not None:
            return self._send(reply)
        if server.fail_after_pages is not None and server.pages_served >= server.fail_after_pages:
            return self._send(Reply(500, b'{"error":"InternalError"}'))
        if parts.path == CURSOR_PATH:
            page = self._cursor_page(query)
        elif parts.path == TIME_PATH:
            page = self._time_page(query)
        else:
            return self._send(Reply(404, b'{"error":"InvalidEndpoint"}'))
        if page is None:
            return self._send(Reply(400, sample("helpdesk_error_pagination.json")))
        includes = query.get("include", "").split(",")
        if "users" in includes:
            ids = dict.fromkeys(t.get("requester_id") for t in page["tickets"])
            page["users"] = [server.users[i] for i in ids if i in server.users]
        if "metric_sets" in includes:
            # Zendesk side-loads one Ticket Metric object per ticket of the page.
            page["metric_sets"] = [
                server.metric_sets[t["id"]]
                for t in page["tickets"]
                if t["id"] in server.metric_sets
            ]
        server.pages_served += 1
        body = json.dumps(page, ensure_ascii=False).encode()
        # The hook runs before the page goes out: run after the send, it raced the
        # client's next request, which a threaded server can answer first.
        if server.on_page:
            server.on_page(server.pages_served)
        self._send(Reply(200, body))

    def _cursor_page(self, query: dict[str, str]) -> dict[str, Any] | None:
        size = int(query.get("per_page", 1000))
        if "cursor" in query:
            try:
                stamp, _, tid = base64.urlsafe_b64decode(query["cursor"]).decode().partition(".")
                after = (int(stamp), int(tid))
            except ValueError:
                return None
        else:
            after = (int(query["start_time"]), -1)
        rest = [t for t in self.server.ordered() if (epoch(t["updated_at"]), t["id"]) > after]
        page = rest[:size]
        last = (epoch(page[-1]["updated_at"]), page[-1]["id"]) if page else after
        after_cursor = cursor_for(*last)
        return {
            "tickets": page,
            "after_url": f"{self.server.url}{CURSOR_PATH}?cursor={after_cursor}",
            "after_cursor": after_cursor,
            "before_url": None,
            "before_cursor": cursor_for(epoch(page[0]["updated_at"]), page[0]["id"])
            if page
            else None,
            "end_of_stream": len(rest) <= size,
        }

    def _time_page(self, query: dict[str, str]) -> dict[str, Any]:
        size, start = int(query.get("per_page", 1000)), int(query["start_time"])
        # Zendesk's start_time is inclusive: a page's last ticket starts the next page too.
        page = [t for t in self.server.ordered() if epoch(t["updated_at"]) >= start][:size]
        end_time = epoch(page[-1]["updated_at"]) if page else start
        return {
            "tickets": page,
            "next_page": f"{self.server.url}{TIME_PATH}?{urlencode({'start_time': end_time})}",
            "count": len(page),
            "end_time": end_time,
            "end_of_stream": len(page) < size,
        }

    def _send(self, reply: Reply) -> None:
        time.sleep(reply.delay)
        try:
            self.send_response(reply.status)
            content_type = "text/html" if reply.body.startswith(b"<") else "application/json"
            self.send_header("Content-Type", f"{content_type}; charset=utf-8")
            self.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):  # the client timed out first
            pass

    def log_message(self, format: str, *args: Any) -> None:
        pass
