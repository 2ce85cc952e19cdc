"""App Store reviews: the JSON and XML parsers on saved feed pages, and real paginated crawls."""

from __future__ import annotations

import http.server
import json
import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from scrapers.appstore import parse_reviews_page, parse_reviews_xml, reviews_url
from scrapers.errors import LayoutChanged, SourceError
from scrapers.run import run_crawl
from tests.localserver import serve
from voc.records import read_documents_jsonl
from voc.settings import SourceConfig

SAMPLES = Path(__file__).parent / "samples"
PDT = timezone(timedelta(hours=-7))
#: (format, page) -> sample served; any other page is the format's empty feed.
PAGES = {
    ("json", 1): "appstore_page1.json",
    ("json", 2): "appstore_page2.json",
    ("xml", 1): "appstore_page1.xml",
    ("xml", 2): "appstore_page2.xml",
}


def _page(name: str) -> dict:
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


def _xml(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def test_reviews_skip_the_app_entry_and_name_the_unreadable_one() -> None:
    reviews, problems = parse_reviews_page(_page("appstore_page1.json"))
    assert [r["external_id"] for r in reviews] == ["9001", "9002"]
    first = reviews[0]
    assert first["text"] == "闪退\n更新后一打开就闪退，客服也联系不上"
    assert (first["rating"], first["product"], first["author"]) == (1, "5.2.0", "用户1")
    assert first["created_at"] == datetime(2025, 8, 20, 10, 0, tzinfo=PDT)
    assert problems == ["review 9003: Invalid isoformat string: '昨天'"]


def test_single_entry_and_empty_pages_and_error_payloads() -> None:
    reviews, _ = parse_reviews_page(_page("appstore_page2.json"))  # entry is an object
    assert [r["external_id"] for r in reviews] == ["9004"]
    assert parse_reviews_page(_page("appstore_empty.json")) == ([], [])
    with pytest.raises(SourceError, match=r"App Store error: Invalid value\(s\)"):
        parse_reviews_page({"errorMessage": "Invalid value(s) for key(s): [resourceType]"})
    with pytest.raises(LayoutChanged, match="not an App Store reviews feed"):
        parse_reviews_page(["changed", "layout"])


def test_xml_reviews_read_the_text_content_and_skip_the_app_entry() -> None:
    reviews, problems = parse_reviews_xml(_xml("appstore_page1.xml"))
    assert [r["external_id"] for r in reviews] == ["9101", "9102"]
    first = reviews[0]
    # The text body only: no markup from the type="html" copy, entities decoded.
    assert first["text"] == '退款太慢\n申请退款一个星期了还没到账，客服只会说"请耐心等待"'
    assert (first["rating"], first["product"], first["author"]) == (1, "5.3.1", "不开心的小李")
    assert first["created_at"] == datetime(2025, 8, 20, 10, 0, tzinfo=PDT)
    assert reviews[1]["text"] == "界面清爽\n新版本界面清爽多了，找优惠券也方便。\n就是偶尔加载慢。"
    assert reviews[1]["rating"] == 4
    assert problems == ["review 9103: Invalid isoformat string: '上周'"]


def test_xml_and_json_records_have_the_same_shape() -> None:
    from_json, _ = parse_reviews_page(_page("appstore_page2.json"))
    from_xml, _ = parse_reviews_xml(_xml("appstore_page2.xml"))
    assert set(from_json[0]) == set(from_xml[0])
    assert from_xml[0]["url"] is None and from_xml[0]["external_id"] == "9104"


def test_xml_empty_feed_changed_layout_and_error_page() -> None:
    assert parse_reviews_xml(_xml("appstore_empty.xml")) == ([], [])
    with pytest.raises(LayoutChanged, match=r"no entry has an im:rating .*entry 9101"):
        parse_reviews_xml(_xml("appstore_changed.xml"))
    with pytest.raises(LayoutChanged, match="unreadable XML"):
        parse_reviews_xml(_xml("appstore_error.html"))
    with pytest.raises(LayoutChanged, match="root element <rss>"):
        parse_reviews_xml(b"<rss version='2.0'><channel/></rss>")


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        m = re.fullmatch(
            r"/cn/rss/customerreviews/page=(\d+)/id=123456789/sortby=mostrecent/(json|xml)",
            self.path,
        )
        if m is None:
            self.send_response(404)
            self.end_headers()
            return
        page, fmt = int(m[1]), m[2]
        pages = self.server.pages  # type: ignore[attr-defined]
        body = (SAMPLES / pages.get((fmt, page), f"appstore_empty.{fmt}")).read_bytes()
        self.send_response(200)
        kind = "application/json" if fmt == "json" else "text/xml"
        self.send_header("Content-Type", f"{kind}; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.server.requested.append((fmt, page))  # type: ignore[attr-defined]

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def itunes() -> Iterator[http.server.ThreadingHTTPServer]:
    with serve(_Handler, requested=[], pages=dict(PAGES)) as server:
        yield server


def _source(server: http.server.ThreadingHTTPServer, **options: str) -> SourceConfig:
    url = f"http://127.0.0.1:{server.server_address[1]}"
    return SourceConfig("ios", "app_store", url, {"app_id": "123456789", **options})


def test_crawl_follows_pages_until_an_empty_one(itunes, tmp_path: Path) -> None:
    result = run_crawl(
        _source(itunes), date(2025, 8, 1), date(2025, 8, 31), tmp_path, "salt", timeout=120
    )
    docs, _ = read_documents_jsonl(result.jsonl_path, "ios")
    assert result.returncode == 0
    assert sorted(d.external_id for d in docs) == ["9001", "9002", "9004"]
    assert all(d.channel == "review" and d.source == "ios" for d in docs)
    assert {d.rating for d in docs} == {1.0, 3.0, 5.0}
    assert sorted(itunes.requested) == [("json", 1), ("json", 2), ("json", 3)]
    assert any("review 9003" in p for p in result.problems)


def test_crawl_stops_paging_once_reviews_are_older_than_the_window(itunes, tmp_path) -> None:
    result = run_crawl(
        _source(itunes), date(2025, 8, 15), date(2025, 8, 31), tmp_path, "salt", timeout=120
    )
    assert result.item_count == 2  # 9001, 9002; 9004 (08-05) is on page 2, out of the window
    assert sorted(itunes.requested) == [("json", 1), ("json", 2)]


def test_xml_crawl_reads_rated_reviews_page_by_page(itunes, tmp_path: Path) -> None:
    source = _source(itunes, format="xml")
    result = run_crawl(source, date(2025, 8, 1), date(2025, 8, 31), tmp_path, "salt", timeout=120)
    docs, bad = read_documents_jsonl(result.jsonl_path, "ios")
    assert (result.returncode, bad) == (0, [])
    by_id = {d.external_id: d for d in docs}
    assert sorted(by_id) == ["9101", "9102", "9104"]
    assert (by_id["9101"].rating, by_id["9101"].product) == (1.0, "5.3.1")
    assert by_id["9104"].text == "物流快\n次日达，包装完好"
    assert by_id["9101"].author_hash and by_id["9101"].author_hash != "不开心的小李"
    assert sorted(itunes.requested) == [("xml", 1), ("xml", 2), ("xml", 3)]
    assert result.stats.get("voc/parse_error") == 1
    assert any("ios: " in p and "page=1" in p and "review 9103" in p for p in result.problems)


def test_xml_crawl_stops_at_the_window_start(itunes, tmp_path: Path) -> None:
    source = _source(itunes, format="xml")
    result = run_crawl(source, date(2025, 8, 20), date(2025, 8, 20), tmp_path, "salt", timeout=120)
    docs, _ = read_documents_jsonl(result.jsonl_path, "ios")
    # Days are China days: 9102 (08-19 22:30 in California) is 08-20, 9101 is 08-21.
    assert [d.external_id for d in docs] == ["9102"]
    assert sorted(itunes.requested) == [("xml", 1), ("xml", 2)]  # page 2 is all before 08-20
    assert result.stats.get("voc/out_of_range") == 2  # 9101 after, 9104 before


def test_xml_crawl_counts_a_changed_layout_and_stops(itunes, tmp_path: Path) -> None:
    itunes.pages[("xml", 1)] = "appstore_changed.xml"
    source = _source(itunes, format="xml")
    result = run_crawl(source, date(2025, 8, 1), date(2025, 8, 31), tmp_path, "salt", timeout=120)
    assert result.item_count == 0
    assert result.stats.get("voc/layout_changed") == 1
    assert itunes.requested == [("xml", 1)]
    assert any(p.startswith("ios: http://127.0.0.1") and "im:rating" in p for p in result.problems)


def test_json_crawl_reports_an_error_payload(itunes, tmp_path: Path) -> None:
    itunes.pages[("json", 1)] = "appstore_error.json"
    result = run_crawl(
        _source(itunes), date(2025, 8, 1), date(2025, 8, 31), tmp_path, "salt", timeout=120
    )
    assert (result.returncode, result.item_count) == (0, 0)
    assert result.stats.get("voc/parse_error") == 1 and "voc/layout_changed" not in result.stats
    assert any("page=1" in p and "App Store error: Invalid value" in p for p in result.problems)
    assert itunes.requested == [("json", 1)]


def test_an_unknown_format_fails_the_crawl_naming_the_option(itunes, tmp_path: Path) -> None:
    source = _source(itunes, format="csv")
    result = run_crawl(source, date(2025, 8, 1), date(2025, 8, 31), tmp_path, "salt", timeout=120)
    assert result.returncode != 0 and result.item_count == 0
    assert any("format= must be json or xml" in p for p in result.problems)
    assert itunes.requested == []


def test_reviews_url_shape() -> None:
    assert reviews_url("https://itunes.apple.com/", "cn", "42", 3) == (
        "https://itunes.apple.com/cn/rss/customerreviews/page=3/id=42/sortby=mostrecent/json"
    )
    assert reviews_url("https://itunes.apple.com", "us", "42", 1, "xml").endswith(
        "/us/rss/customerreviews/page=1/id=42/sortby=mostrecent/xml"
    )
