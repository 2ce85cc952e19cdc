"""A recording webhook receiver on a real local port, and alert messages to send to it."""

from __future__ import annotations

import http.server
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from notify.message import AlertMessage, Verbatim
from tests.localserver import serve, url_of

HOSTILE = "<script>alert(1)</script> **bold** [link](http://evil.example) @all"


@dataclass
class Received:
    """One request as the receiver saw it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


@dataclass
class Receiver:
    """What the test scripts (answers, a judge) and what the server recorded."""

    url: str
    requests: list[Received] = field(default_factory=list)
    #: Answers given in turn, (status, body); then `default` for every further request.
    answers: list[tuple[int, bytes]] = field(default_factory=list)
    default: tuple[int, bytes] = (200, b'{"errcode": 0, "errmsg": "ok"}')
    #: Decides the answer from the request instead (a robot checking a signature).
    judge: Callable[[Received], tuple[int, bytes]] | None = None


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        receiver: Receiver = self.server.receiver  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length", 0))
        parts = urlsplit(self.path)
        received = Received(
            "POST",
            parts.path,
            parse_qs(parts.query),
            {k.lower(): v for k, v in self.headers.items()},
            self.rfile.read(length),
        )
        receiver.requests.append(received)
        if receiver.judge:
            status, body = receiver.judge(received)
        elif receiver.answers:
            status, body = receiver.answers.pop(0)
        else:
            status, body = receiver.default
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def make_receiver() -> Iterator[Callable[[], Receiver]]:
    """Start as many receivers on 127.0.0.1 as a test needs (one per channel)."""
    with ExitStack() as stack:

        def start() -> Receiver:
            state = Receiver(url="")
            state.url = url_of(stack.enter_context(serve(_Handler, receiver=state)))
            return state

        yield start


@pytest.fixture()
def receiver(make_receiver: Callable[[], Receiver]) -> Receiver:
    """One webhook receiver recording every request."""
    return make_receiver()


def make_message(alert_id: str = "a1", severity: str = "warning", **kw: Any) -> AlertMessage:
    """A spike alert on demo_weibo with a hostile verbatim among ordinary ones."""
    values: dict[str, Any] = dict(
        alert_id=alert_id,
        severity=severity,
        title="物流慢 负面声量激增",
        source="demo_weibo",
        scope="主题 物流慢",
        window="2025-09-30",
        metric="negative_volume",
        observed=42,
        expected=8,
        statistic="z = 5.1，5.3 倍",
        themes=["物流慢", "客服不回复"],
        aspects=["物流"],
        key_phrases=["三天没发货"],
        verbatims=[
            ("下单三天了还没发货", 12, "https://weibo.example/p/1"),
            Verbatim(HOSTILE, 3, None),
        ],
        link="http://dash.example:8501/?alert=" + alert_id,
    )
    values.update(kw)
    return AlertMessage(**values)
