"""Weibo paging by page number and the four states of ``voc sources check``, against the
same local server and real-shaped answers as test_weibo.py."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest

from scrapers.check import STATES, check_source
from tests.localserver import serve
from tests.scrapers.test_weibo import QUERY, _crawl, _Handler, _requested
from voc.settings import SourceConfig


@pytest.fixture
def weibo() -> Iterator:
    with serve(_Handler, requested=[], headers=[]) as server:
        yield server


def test_timeline_crawl_follows_page_numbers_when_the_answer_has_no_since_id(
    weibo, tmp_path
) -> None:
    """Answers that page a timeline by number (cardlistInfo.page) were followed for one
    page only; every page is read to the listing's end, which is recorded as the reason."""
    result, docs = _crawl(weibo, tmp_path, date(2025, 8, 1), mode="timeline", uid="3")
    assert sorted(docs) == ["5197000000000020", "5197000000000050", "5197000000000060",
                            "5197000000000100", "5197000000000101"]  # fmt: skip
    assert _requested(weibo, "/api/container/getIndex", "page") == [None, "2", "3"]
    assert result.stats["voc/stop_reason"] == "the listing's last page (no next cursor) (page 3)"
    assert result.problems == []


def test_sources_check_tells_blocked_changed_empty_and_failed_apart(weibo) -> None:
    """``voc sources check`` on real-shaped answers: the four states, each with its fix."""
    base = f"http://127.0.0.1:{weibo.server_address[1]}"
    cases = {
        "partial": {"query": QUERY},  # posts, and an undated post the parser names
        "blocked": {"query": "验证码"},
        "changed": {"query": "改版"},
        "empty": {"query": "没有结果"},
    }
    sources = {
        state: SourceConfig(f"wb_{state}", "weibo", base, options)
        for state, options in cases.items()
    }
    sources["failed"] = SourceConfig("wb_failed", "weibo", "http://127.0.0.1:9", {"query": QUERY})
    window = (date(2025, 8, 1), date(2025, 8, 13))
    with ThreadPoolExecutor(3) as pool:
        futures = {
            state: pool.submit(check_source, source, *window, "salt")
            for state, source in sources.items()
        }
        checks = {state: future.result() for state, future in futures.items()}
    assert {state: c.state for state, c in checks.items()} == {s: s for s in checks}
    assert checks["partial"].items > 0 and checks["partial"].problems
    assert checks["blocked"].blocked == 1 and "captcha" in checks["blocked"].problems[0]
    assert (
        checks["changed"].layout_changed == 1 and "no data.cards" in checks["changed"].problems[0]
    )
    assert checks["empty"].items == 0 and checks["empty"].problems == []
    assert "ConnectionRefused" in (checks["failed"].error or "")
    assert len({STATES[c.state] for c in checks.values()}) == 5  # five distinct messages
