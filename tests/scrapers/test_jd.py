"""JD product comments: decoding, the parser on saved answers, and real paginated crawls."""

from __future__ import annotations

import http.server
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from scrapers.charset import decode_chinese
from scrapers.jd import (
    JdErrorPage,
    JdLayoutChanged,
    comments_url,
    load_payload,
    parse_comments_page,
)
from scrapers.parsers import CHINA_TZ
from scrapers.run import run_crawl
from tests.localserver import reply, serve
from voc.records import read_documents_jsonl
from voc.settings import SourceConfig

SAMPLES = Path(__file__).parent / "samples"
PRODUCT = "100012043978"
GBK = "text/html;charset=GBK"


def _load(name: str, charset: str | None = None) -> object:
    text, _ = decode_chinese((SAMPLES / name).read_bytes(), charset)
    return load_payload(text)


def test_decoding_reads_declared_gbk_undeclared_gbk_and_utf8() -> None:
    assert decode_chinese("追评".encode("gbk"), "GBK") == ("追评", "gb18030")
    assert decode_chinese("追评".encode("gbk"), None) == ("追评", "gb18030")
    assert decode_chinese("追评".encode(), None) == ("追评", "utf-8")
    # A page that says utf-8 but is GBK (a common mislabel) is still read right.
    assert decode_chinese("好评".encode("gbk"), "utf-8") == ("好评", "gb18030")
    assert decode_chinese(b"\xef\xbb\xbf{}", "gbk") == ("{}", "utf-8")
    # ...and so is UTF-8 labelled GBK; "追评" in GBK happens to be valid UTF-8, not Chinese.
    assert decode_chinese("请求过于频繁".encode(), "GBK") == ("请求过于频繁", "utf-8")
    assert decode_chinese(b"\xd7\xb7\xc6\xc0", "gbk") == ("追评", "gb18030")


def test_jsonp_page_in_gbk_gives_comments_with_follow_up_and_attributes() -> None:
    page = parse_comments_page(_load("jd_page0.txt", "GBK"), PRODUCT)
    assert [c["external_id"] for c in page.comments] == ["15301001", "15301002", "15301003"]
    assert page.max_page == 4 and page.problems == [] and page.raw_count == 3
    second = page.comments[1]
    assert second["text"] == (
        "用了两天左耳就有电流声，联系客服说要寄回检测，太麻烦了。\n"
        "追评：换了新的以后没有电流声了，客服态度还行。"
    )
    assert second["created_at"] == datetime(2024, 3, 4, 9, 0, 12, tzinfo=CHINA_TZ)
    assert (second["rating"], second["author"]) == (2, "小***猫")
    assert second["product"] == "客声优选 无线降噪耳机 Pro 2 星空黑"
    assert second["attributes"] == {"useful_votes": 7, "replies": 1, "product_id": PRODUCT}
    assert second["url"] == f"https://item.jd.com/{PRODUCT}.html#comment"


def test_unreadable_comment_is_named_and_the_rest_kept() -> None:
    page = parse_comments_page(_load("jd_page1.json"), PRODUCT)  # GBK, no charset
    assert [c["external_id"] for c in page.comments] == ["15300990", "15300992"]
    assert page.problems == ["comment 15300991: no readable creationTime: ''"]


def test_product_falls_back_to_the_id_and_bad_scores_are_dropped() -> None:
    item = {"id": 7, "content": "好", "creationTime": "2024-03-01 00:00:00", "score": 9}
    (comment,) = parse_comments_page({"comments": [item]}, PRODUCT).comments
    assert (comment["product"], comment["rating"]) == (PRODUCT, None)


def test_empty_page_has_no_comments_and_no_problems() -> None:
    page = parse_comments_page(_load("jd_empty.json"), PRODUCT)
    assert (page.comments, page.problems, page.raw_count) == ([], [], 0)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("jd_error_empty.txt", "empty response"),
        ("jd_error_login.html", "HTML page instead of comments .*京东-欢迎登录"),
        ("jd_error_payload.json", "error payload: 请求过于频繁"),
    ],
)
def test_error_answers_raise_a_clear_error(name: str, message: str) -> None:
    with pytest.raises(JdErrorPage, match=message):
        parse_comments_page(_load(name), PRODUCT)


def test_changed_layout_is_told_apart_from_an_error() -> None:
    with pytest.raises(JdLayoutChanged, match=r"no 'comments' list.*'result'"):
        parse_comments_page(_load("jd_layout.json"), PRODUCT)
    renamed = {"comments": [{"commentId": 1, "commentData": "好"}], "maxPage": 1}
    page = parse_comments_page(renamed, PRODUCT)
    assert page.comments == [] and page.raw_count == 1 and page.problems == ["comment #1: no id"]


def test_comments_url_shape() -> None:
    url = comments_url("https://club.jd.com/comment/productPageComments.action", PRODUCT, 2)
    assert url == (
        "https://club.jd.com/comment/productPageComments.action?productId=100012043978"
        "&score=0&sortType=6&page=2&pageSize=10&isShadowSku=0&fold=1"
    )
    assert "?callback=fetchJSON_comment98&productId=" in comments_url(
        "u", "1", 0, callback="fetchJSON_comment98"
    )


# (productId, page) -> (sample, Content-Type or None for no header)
ROUTES: dict[tuple[str, int], tuple[str, str | None]] = {
    (PRODUCT, 0): ("jd_page0.txt", GBK),
    (PRODUCT, 1): ("jd_page1.json", None),
    (PRODUCT, 2): ("jd_empty.json", GBK),
    ("100012043979", 0): ("jd_page0.txt", GBK),
    ("100012043979", 1): ("jd_last.json", "application/json;charset=utf-8"),
    ("100000000001", 0): ("jd_error_empty.txt", GBK),
    ("100000000002", 0): ("jd_error_login.html", "text/html; charset=utf-8"),
    ("100000000003", 0): ("jd_error_payload.json", GBK),
    ("100000000004", 0): ("jd_layout.json", None),
}


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        route = None
        if parts.path == "/comment/productPageComments.action":
            self.server.requested.append(query)  # type: ignore[attr-defined]
            route = ROUTES.get((query.get("productId", ""), int(query.get("page", -1))))
        if route is None:
            return reply(self, 404)
        name, content_type = route
        reply(self, 200, (SAMPLES / name).read_bytes(), content_type)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def club() -> Iterator[http.server.ThreadingHTTPServer]:
    with serve(_Handler, requested=[]) as server:
        yield server


def _crawl(server, tmp_path: Path, product: str, since: date, until: date, **options):
    url = f"http://127.0.0.1:{server.server_address[1]}/comment/productPageComments.action"
    source = SourceConfig("jd", "jd_comments", url, {"product_id": product, **options})
    result = run_crawl(source, since, until, tmp_path, "salt", timeout=120)
    docs, bad = read_documents_jsonl(result.jsonl_path, "jd")
    assert result.returncode == 0 and bad == []
    return result, docs


def _pages(server) -> list[int]:
    return [int(q["page"]) for q in server.requested]


def test_crawl_pages_through_jsonp_and_gbk_until_an_empty_page(club, tmp_path) -> None:
    result, docs = _crawl(
        club, tmp_path, PRODUCT, date(2024, 1, 1), date(2024, 3, 31), callback="fetchJSON_comment98"
    )
    assert sorted(d.external_id for d in docs) == [
        "15300990",
        "15300992",
        "15301001",
        "15301002",
        "15301003",
    ]
    assert _pages(club) == [0, 1, 2]  # page 2 is empty although maxPage says 4
    assert all(
        q["callback"] == "fetchJSON_comment98" and q["sortType"] == "6" for q in club.requested
    )
    by_id = {d.external_id: d for d in docs}
    assert by_id["15301002"].text.endswith("追评：换了新的以后没有电流声了，客服态度还行。")
    assert by_id["15301002"].attributes == {"useful_votes": 7, "replies": 1, "product_id": PRODUCT}
    assert (by_id["15300990"].rating, by_id["15300990"].channel) == (3.0, "review")
    assert by_id["15300990"].product == "客声优选 无线降噪耳机 Pro 2 星空黑"
    assert result.stats["voc/parse_error"] == 1
    assert any("page=1" in p and "comment 15300991" in p for p in result.problems)


def test_crawl_stops_at_max_page(club, tmp_path) -> None:
    _, docs = _crawl(club, tmp_path, "100012043979", date(2024, 1, 1), date(2024, 3, 31))
    assert _pages(club) == [0, 1]  # page 1 says maxPage 2
    assert len(docs) == 4


def test_crawl_stops_once_a_page_is_older_than_the_window(club, tmp_path) -> None:
    result, docs = _crawl(club, tmp_path, PRODUCT, date(2024, 3, 3), date(2024, 3, 4), page_size=10)
    assert sorted(d.external_id for d in docs) == ["15301002", "15301003"]
    assert _pages(club) == [0, 1]  # page 1 (03-02 and older) is all before the window
    assert result.stats["voc/out_of_range"] == 3  # 03-05, and page 1's two


def test_crawl_in_another_order_reads_on_past_old_pages(club, tmp_path) -> None:
    _, docs = _crawl(club, tmp_path, PRODUCT, date(2024, 3, 3), date(2024, 3, 4), sort=5)
    assert len(docs) == 2
    assert _pages(club) == [0, 1, 2]  # not newest first: an old page 1 proves nothing
    assert {q["sortType"] for q in club.requested} == {"5"}


@pytest.mark.parametrize(
    ("product", "key", "message"),
    [
        ("100000000001", "voc/error_page", "empty response"),
        ("100000000002", "voc/error_page", "京东-欢迎登录"),
        ("100000000003", "voc/error_page", "请求过于频繁"),
        ("100000000004", "voc/layout_changed", "no 'comments' list"),
    ],
)
def test_crawl_of_an_error_or_changed_answer_reports_it(club, tmp_path, product, key, message):
    result, docs = _crawl(club, tmp_path, product, date(2024, 1, 1), date(2024, 3, 31))
    assert docs == [] and _pages(club) == [0]
    assert result.stats[key] == 1
    (problem,) = result.problems
    assert problem.startswith(f"jd: http://127.0.0.1:{club.server_address[1]}/comment/")
    assert message in problem and f"productId={product}" in problem
