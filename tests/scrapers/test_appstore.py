"""App Store reviews: the parser on saved feed pages, and a real paginated crawl."""

from __future__ import annotations

import http.server
import json
import re
import threading
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from scrapers.appstore import parse_reviews_page, reviews_url
from scrapers.run import run_crawl
from voc.records import Document
from voc.settings import SourceConfig

SAMPLES = Path(__file__).parent / "samples"
PAGES = {n: f"appstore_page{n}.json" for n in (1, 2)}


def _page(name: str) -> dict:
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


def test_reviews_skip_the_app_entry_and_name_the_unreadable_one() -> None:
    reviews, problems = parse_reviews_page(_page("appstore_page1.json"))
    assert [r["external_id"] for r in reviews] == ["9001", "9002"]
    first = reviews[0]
    assert first["text"] == "闪退\n更新后一打开就闪退，客服也联系不上"
    assert (first["rating"], first["product"], first["author"]) == (1, "5.2.0", "用户1")
    assert first["created_at"] == datetime(2025, 8, 20, 10, 0, tzinfo=timezone(timedelta(hours=-7)))
    assert problems == ["review 9003: Invalid isoformat string: '昨天'"]


def test_single_entry_and_empty_pages_and_error_payloads() -> None:
    reviews, _ = parse_reviews_page(_page("appstore_page2.json"))  # entry is an object
    assert [r["external_id"] for r in reviews] == ["9004"]
    assert parse_reviews_page(_page("appstore_empty.json")) == ([], [])
    with pytest.raises(ValueError, match="not an App Store reviews feed"):
        parse_reviews_page({"errorMessage": "Invalid value(s) for key(s): [resourceType]"})
    with pytest.raises(ValueError, match="not an App Store reviews feed"):
        parse_reviews_page(["changed", "layout"])


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        m = re.fullmatch(
            r"/cn/rss/customerreviews/page=(\d+)/id=123456789/sortby=mostrecent/json", self.path
        )
        if m is None:
            self.send_response(404)
            self.end_headers()
            return
        name = PAGES.get(int(m[1]), "appstore_empty.json")
        body = (SAMPLES / name).read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.server.requested.append(int(m[1]))  # type: ignore[attr-defined]

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def itunes() -> Iterator[http.server.ThreadingHTTPServer]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.requested = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def _base(server: http.server.ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_crawl_follows_pages_until_an_empty_one(itunes, tmp_path: Path) -> None:
    source = SourceConfig("ios", "app_store", _base(itunes), {"app_id": "123456789"})
    result = run_crawl(source, date(2025, 8, 1), date(2025, 8, 31), tmp_path, "salt", timeout=120)
    docs = [
        Document.from_dict(json.loads(line))
        for line in result.jsonl_path.read_text(encoding="utf-8").splitlines()
    ]
    assert result.returncode == 0
    assert sorted(d.external_id for d in docs) == ["9001", "9002", "9004"]
    assert all(d.channel == "review" and d.source == "ios" for d in docs)
    assert {d.rating for d in docs} == {1.0, 3.0, 5.0}
    assert sorted(itunes.requested) == [1, 2, 3]  # stops at the empty page 3
    assert any("review 9003" in p for p in result.problems)


def test_crawl_stops_paging_once_reviews_are_older_than_the_window(itunes, tmp_path) -> None:
    source = SourceConfig("ios", "app_store", _base(itunes), {"app_id": "123456789"})
    result = run_crawl(source, date(2025, 8, 15), date(2025, 8, 31), tmp_path, "salt", timeout=120)
    assert result.item_count == 2  # 9001, 9002; 9004 (08-05) is on page 2, out of the window
    assert sorted(itunes.requested) == [1, 2]


def test_reviews_url_shape() -> None:
    assert reviews_url("https://itunes.apple.com/", "cn", "42", 3) == (
        "https://itunes.apple.com/cn/rss/customerreviews/page=3/id=42/sortby=mostrecent/json"
    )
