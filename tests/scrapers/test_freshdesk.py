"""The Freshdesk connector against a local server that answers like Freshdesk's API v2:
``updated_since`` listing (oldest change first, ``per_page``/``page``, ``include``),
conversations, basic auth with the API key, rate-limit headers and a 429."""

from __future__ import annotations

import base64
import http.server
import json
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

import scrapers.freshdesk as freshdesk
from scrapers.connectors import load_source
from voc.settings import SourceConfig

SAMPLES = Path(__file__).parent / "samples"
KEY = "fd-test-key-3d9a"
MARCH = (date(2024, 3, 1), date(2024, 3, 31))


class Freshdesk(http.server.ThreadingHTTPServer):
    """Tickets from the saved sample; ``remaining`` is X-RateLimit-Remaining per answer,
    ``throttle_once`` answers the next ticket listing with one 429."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.tickets = json.loads((SAMPLES / "freshdesk_tickets.json").read_text("utf-8"))
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.remaining = 400
        self.throttle_once = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: Freshdesk

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.server.requests.append((parts.path, query))
        expected = "Basic " + base64.b64encode(f"{KEY}:X".encode()).decode()
        if self.headers.get("Authorization") != expected:
            return self._send(
                401,
                {
                    "code": "invalid_credentials",
                    "message": "You have to be logged in to perform this action.",
                },
            )
        if parts.path == "/api/v2/tickets":
            if self.server.throttle_once:
                self.server.throttle_once = False
                return self._send(429, {"message": "rate limited"}, {"Retry-After": "0"})
            since = query["updated_since"]
            rows = sorted(
                (t for t in self.server.tickets if t["updated_at"] >= since),
                key=lambda t: (t["updated_at"], t["id"]),
            )
            per_page, page = int(query.get("per_page", 30)), int(query.get("page", 1))
            include = set(query.get("include", "").split(","))
            batch = []
            for t in rows[(page - 1) * per_page : page * per_page]:
                t = dict(t)
                for embed in ("requester", "stats"):
                    if embed not in include:
                        t.pop(embed)
                if "description" not in include:
                    t.pop("description"), t.pop("description_text")
                batch.append(t)
            return self._send(200, batch)
        if parts.path.endswith("/conversations"):
            ticket = parts.path.split("/")[4]
            path = SAMPLES / f"freshdesk_conversations_{ticket}.json"
            return self._send(200, json.loads(path.read_text("utf-8")) if path.exists() else [])
        return self._send(404, {"code": "not_found"})

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode()
        self.server.remaining -= 1
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("X-RateLimit-Total", "400")
        self.send_header("X-RateLimit-Remaining", str(self.server.remaining))
        self.send_header("X-RateLimit-Used-CurrentRequest", "1")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Freshdesk]:
    monkeypatch.setenv("FD_KEY", KEY)
    srv = Freshdesk()
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield srv
    srv.shutdown()


def source(srv: Freshdesk, **options: Any) -> SourceConfig:
    defaults = {"api_key_env": "FD_KEY", "per_page": 2, "retry_backoff": 0.01, "max_wait": 0.05,
                "brand": "客声优选"}  # fmt: skip
    return SourceConfig("fd", "freshdesk", srv.url, {**defaults, **options})


def test_tickets_and_customer_messages_land_with_their_sla_times(server: Freshdesk) -> None:
    load = load_source(source(server), *MARCH, "salt")
    docs = {d.external_id: d for d in load.documents}
    # 101 and 102 are March tickets; 103 has no text (skipped, named); 104 is April's.
    assert sorted(docs) == ["101", "101:43050000002", "102"]
    assert load.n_skipped == 1 and load.problems == [
        "fd: ticket 103: subject and description_text are empty"
    ]
    t = docs["101"]
    assert (
        t.text
        == "快递三天没动，订单 20240301-8812\n下单后物流三天没有更新，客服电话打不通。请尽快处理。"
    )
    assert t.url == f"{server.url}/a/tickets/101" and t.brand == "客声优选"
    assert t.created_at == datetime(2024, 3, 1, 2, 15, tzinfo=UTC)
    assert t.attributes == {
        "status": "resolved", "priority": "high", "via": "email", "type": "Problem",
        "tags": "物流,催单", "updated_at": "2024-03-02T06:40:12Z",
        "fr_due_by": "2024-03-02T03:00:00Z", "due_by": "2024-03-04T09:00:00Z",
        "replied_at": "2024-03-01T05:02:00Z", "completed_at": "2024-03-02T06:40:12Z",
        "assignee_id": "43011100001", "response_origin": "helpdesk_stats",
    }  # fmt: skip
    # The customer's later message is a voice of its own; the agent reply and the
    # private note are not.
    follow = docs["101:43050000002"]
    assert follow.text == "还是没到，太失望了，要求退款。"
    assert follow.attributes == {"kind": "conversation", "parent_id": "101"}
    assert follow.customer_key == t.customer_key is not None  # the requester's e-mail, hashed
    assert "lin.wei@example.com" not in json.dumps(
        [d.to_dict() for d in load.documents], default=str
    )
    # Every page and side-load was asked for, oldest change first, paged by per_page.
    listing = [q for p, q in server.requests if p == "/api/v2/tickets"]
    assert [q["page"] for q in listing] == ["1", "2", "3"]
    assert {(q["order_by"], q["order_type"], q["include"]) for q in listing} == {
        ("updated_at", "asc", "description,requester,stats")
    }
    assert listing[0]["updated_since"] == "2024-02-29T16:00:00Z"  # 03-01 00:00 China time
    # The cursor stops before April's ticket, which a later run picks up.
    assert load.cursor == "updated_since:2024-04-10T02:00:00Z"


def test_the_next_run_resumes_from_the_cursor(server: Freshdesk) -> None:
    first = load_source(source(server), *MARCH, "salt")
    server.requests.clear()
    again = load_source(source(server), date(2024, 3, 1), date(2024, 4, 30), "salt", first.cursor)
    assert [d.external_id for d in again.documents] == ["104"]
    assert server.requests[0][1]["updated_since"] == "2024-04-10T02:00:00Z"


def test_rate_limit_headers_pause_and_a_429_is_waited_out(
    server: Freshdesk, monkeypatch: pytest.MonkeyPatch
) -> None:
    pauses: list[float] = []
    monkeypatch.setattr(freshdesk.time, "sleep", pauses.append)
    server.remaining = 12  # 11, 10, … after each answer: the reserve of 10 is reached
    server.throttle_once = True
    load = load_source(source(server, rate_limit_pause=7.5), *MARCH, "salt")
    assert sorted(d.external_id for d in load.documents) == ["101", "101:43050000002", "102"]
    # The 429 (11 calls left) is waited out by its Retry-After of 0 s; every later answer
    # says 10 or fewer are left, and each is followed by the configured pause.
    assert pauses == [0.0] + [7.5] * (len(server.requests) - 1)


def test_a_wrong_key_is_one_clear_problem_without_the_key(
    server: Freshdesk, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FD_KEY", "wrong-key")
    load = load_source(source(server), *MARCH, "salt")
    assert load.documents == [] and load.cursor is None
    [problem] = load.problems
    assert problem.startswith("fd: authentication failed (HTTP 401")
    assert "api_key_env" in problem and "wrong-key" not in problem
    monkeypatch.delenv("FD_KEY")
    assert load_source(source(server), *MARCH, "salt").problems == [
        "fd: environment variable FD_KEY (api_key_env) is not set"
    ]
