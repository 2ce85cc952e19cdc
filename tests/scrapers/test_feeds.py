"""RSS/Atom feeds: the parser on saved feeds, and a real crawl against a local server."""

from __future__ import annotations

import http.server
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from scrapers.feeds import parse_feed, without_forbidden_characters
from scrapers.run import run_crawl
from tests.localserver import serve, url_of
from voc.records import Document
from voc.settings import SourceConfig

SAMPLES = Path(__file__).parent / "samples"
CN = timezone(timedelta(hours=8))


def test_rss_items_become_records_and_bad_items_are_named() -> None:
    records, problems = parse_feed((SAMPLES / "forum_rss.xml").read_bytes())
    assert [r["external_id"] for r in records] == [
        "thread-1001",
        "https://bbs.example.com/thread-1002-1-1.html",  # no guid: the link
        "thread-0900",
    ]
    first = records[0]
    assert first["text"].startswith("快递三天没动了\n<p>下单后<b>物流</b>")
    assert first["author"] == "小王"
    assert first["created_at"] == datetime(2025, 8, 12, 9, 30, tzinfo=CN)
    assert first["url"] == "https://bbs.example.com/thread-1001-1-1.html"
    assert records[1]["text"] == "新品体验不错\n做工很好，续航比上一代长。"
    assert records[1]["created_at"] == datetime(2025, 8, 11, 20, 0, tzinfo=UTC)
    assert problems == ["item 3: thread-1003 has no date"]


def test_atom_entries_use_published_then_updated() -> None:
    records, problems = parse_feed((SAMPLES / "news_atom.xml").read_bytes())
    assert problems == []
    assert [r["url"] for r in records] == ["https://news.example.com/a/1.html", None]
    assert records[0]["created_at"] == datetime(2025, 8, 12, 8, 0, tzinfo=CN)
    assert records[0]["author"] == "记者 李"
    assert records[1]["created_at"] == datetime(2025, 8, 12, 2, 0, tzinfo=UTC)
    assert records[1]["text"] == "只有更新时间\n<p>正文</p>"


def test_empty_feed_has_no_items_and_error_pages_are_refused() -> None:
    assert parse_feed((SAMPLES / "empty_rss.xml").read_bytes()) == ([], [])
    with pytest.raises(ValueError, match="unreadable XML"):
        parse_feed(b"<html><body>502 Bad Gateway")
    with pytest.raises(ValueError, match="root element <html>"):
        parse_feed(b"<html><body><p>new layout</p></body></html>")


def test_control_characters_xml_forbids_are_counted_and_removed() -> None:
    body = (
        "<rss><channel><item><title>a\x08b&#8;c&#x1F;d&#10;e&#x4E2D;</title></item></channel></rss>"
    )
    cleaned, n = without_forbidden_characters(body.encode())
    assert n == 3
    assert (
        cleaned.decode()
        == "<rss><channel><item><title>abcd&#10;e&#x4E2D;</title></item></channel></rss>"
    )
    # A clean feed and a UTF-16 one (NUL bytes are its spelling) are left as they are.
    sample = (SAMPLES / "forum_rss.xml").read_bytes()
    assert without_forbidden_characters(sample) == (sample, 0)
    utf16 = "\ufeff<rss/>".encode("utf-16-le")
    assert without_forbidden_characters(utf16) == (utf16, 0)


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        routes = {
            "/forum.rss": ("forum_rss.xml", "application/rss+xml; charset=utf-8"),
            "/news.atom": ("news_atom.xml", "application/atom+xml"),
        }
        if self.path == "/robots.txt":
            self.send_response(404)
            self.end_headers()
            return
        if self.path == "/controls.rss":
            # The saved forum feed with a raw backspace and a &#8; in its texts, as the
            # shared review corpora carry them (a conforming parser rejects the whole feed).
            body = (SAMPLES / "forum_rss.xml").read_bytes()
            body = body.replace("物流".encode(), "物\x08流".encode(), 1)
            body = body.replace("客服".encode(), "客&#8;服".encode(), 1)
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
        elif self.path not in routes:
            body = b"<html><body>gone</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
        else:
            name, kind = routes[self.path]
            body = (SAMPLES / name).read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def feed_server() -> Iterator[str]:
    with serve(_Handler) as server:
        yield url_of(server)


def test_feed_crawl_lands_items_in_the_window_and_names_the_broken_one(
    feed_server: str, tmp_path: Path
) -> None:
    source = SourceConfig("forum", "feed", f"{feed_server}/forum.rss", {"brand": "客声优选"})
    result = run_crawl(source, date(2025, 8, 1), date(2025, 8, 31), tmp_path, "salt", timeout=120)
    lines = result.jsonl_path.read_text(encoding="utf-8").splitlines()
    docs = [Document.from_dict(json.loads(line)) for line in lines]
    assert result.returncode == 0
    assert sorted(d.external_id for d in docs) == sorted(
        ["thread-1001", "https://bbs.example.com/thread-1002-1-1.html"]
    )  # thread-0900 is before the window
    assert all(d.source == "forum" and d.channel == "social" for d in docs)
    assert all(d.brand == "客声优选" for d in docs)
    assert all(d.author_hash != "小王" for d in docs)
    assert any("thread-1003 has no date" in p for p in result.problems)


def test_a_feed_that_turned_into_a_web_page_is_reported(feed_server: str, tmp_path: Path) -> None:
    source = SourceConfig("moved", "feed", f"{feed_server}/moved.rss")
    result = run_crawl(source, date(2025, 8, 1), date(2025, 8, 31), tmp_path, "salt", timeout=120)
    assert result.item_count == 0
    assert any("moved" in p and "not an RSS/Atom feed" in p for p in result.problems)


def test_a_feed_with_control_characters_still_lands_every_item(
    feed_server: str, tmp_path: Path
) -> None:
    clean = SourceConfig("forum", "feed", f"{feed_server}/forum.rss")
    dirty = SourceConfig("dirty", "feed", f"{feed_server}/controls.rss")
    window = (date(2025, 8, 1), date(2025, 8, 31))
    expected = run_crawl(clean, *window, tmp_path / "clean", "salt", timeout=120).item_count
    result = run_crawl(dirty, *window, tmp_path / "dirty", "salt", timeout=120)
    assert expected > 0 and result.item_count == expected
    assert any("dirty" in p and "2 control character(s)" in p for p in result.problems)
    assert not any("unreadable XML" in p for p in result.problems)
