"""Politeness on a real crawl against a local server: robots.txt obeyed, a descriptive user
agent, retries spaced out with backoff (and Retry-After honoured)."""

from __future__ import annotations

import http.server
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from scrapers.run import run_crawl
from tests.localserver import reply, serve
from voc.settings import SourceConfig

FEED = (Path(__file__).parent / "samples" / "forum_rss.xml").read_bytes()
SINCE, UNTIL = date(2020, 1, 1), date(2030, 12, 31)


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        server = self.server
        server.log.append((self.path, time.monotonic(), self.headers.get("User-Agent")))  # type: ignore[attr-defined]
        server.cookies.append(self.headers.get("Cookie"))  # type: ignore[attr-defined]
        if self.path == "/robots.txt":
            body = server.robots.encode()  # type: ignore[attr-defined]
            reply(self, 200 if body else 404, body, "text/plain")
        elif server.failures:  # type: ignore[attr-defined]
            status = server.failures.pop(0)  # type: ignore[attr-defined]
            reply(self, status, headers={"Retry-After": "2"} if status == 429 else None)
        else:
            reply(self, 200, FEED, "application/rss+xml; charset=utf-8")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def site() -> Iterator[http.server.ThreadingHTTPServer]:
    with serve(_Handler, log=[], failures=[], robots="", cookies=[]) as server:
        yield server


def _source(server: http.server.ThreadingHTTPServer, **options: object) -> SourceConfig:
    url = f"http://127.0.0.1:{server.server_address[1]}/forum/rss"
    return SourceConfig("forum", "feed", url, options)


def _feed_requests(server) -> list[tuple[str, float, str]]:
    return [r for r in server.log if r[0] == "/forum/rss"]


def test_robots_txt_is_obeyed_unless_the_source_opts_out(site, tmp_path: Path) -> None:
    site.robots = "User-agent: *\nDisallow: /forum/\n"
    blocked = run_crawl(_source(site), SINCE, UNTIL, tmp_path / "a", "salt", timeout=120)
    assert blocked.item_count == 0 and _feed_requests(site) == []
    assert blocked.stats.get("robotstxt/forbidden") == 1

    opted_out = run_crawl(
        _source(site, obey_robots=False), SINCE, UNTIL, tmp_path / "b", "salt", timeout=120
    )
    assert opted_out.item_count > 0
    agent = _feed_requests(site)[0][2]
    assert agent.startswith("VoCMonitor/") and "+http" in agent


def test_retries_back_off_and_then_succeed(site, tmp_path: Path) -> None:
    site.failures = [500, 500]
    result = run_crawl(
        _source(site, retry_backoff=1.0), SINCE, UNTIL, tmp_path, "salt", timeout=120
    )
    assert result.item_count > 0
    assert not any("could not fetch" in p for p in result.problems)
    times = [t for _, t, _ in _feed_requests(site)]
    assert len(times) == 3
    # 1 s before the first retry, 2 s before the second.
    assert times[1] - times[0] >= 0.9 and times[2] - times[1] >= 1.9


def test_retry_after_is_honoured_and_exhausted_retries_are_a_named_problem(
    site, tmp_path: Path
) -> None:
    site.failures = [429]
    result = run_crawl(
        _source(site, retry_backoff=0.1), SINCE, UNTIL, tmp_path / "a", "salt", timeout=120
    )
    times = [t for _, t, _ in _feed_requests(site)]
    assert result.item_count > 0 and times[1] - times[0] >= 1.9

    site.failures = [503, 503, 503]
    failed = run_crawl(
        _source(site, retry_backoff=0.1, retry_times=2),
        SINCE,
        UNTIL,
        tmp_path / "b",
        "salt",
        timeout=120,
    )
    assert failed.item_count == 0
    assert any(p.startswith("forum: could not fetch") and "HTTP 503" in p for p in failed.problems)


def test_the_cookie_from_the_environment_goes_over_the_wire(
    site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORUM_COOKIE", "SUB=secret-value; SUBP=2")
    result = run_crawl(
        _source(site, cookie_env="FORUM_COOKIE"), SINCE, UNTIL, tmp_path, "salt", timeout=120
    )
    assert result.item_count > 0
    assert site.cookies[-1] == "SUB=secret-value; SUBP=2"
    # Neither the command line nor the crawl log carries it.
    assert "secret-value" not in result.log_path.read_text(encoding="utf-8")
