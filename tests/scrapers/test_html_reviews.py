"""Config-driven HTML reviews: config validation, the page parser on saved listings, crawls."""

from __future__ import annotations

import http.server
import json
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest

from scrapers.htmlconfig import load_config, parse_listing, parse_rating, parse_review_date
from scrapers.parsers import CHINA_TZ
from scrapers.run import run_crawl
from tests.localserver import reply, serve
from voc.records import read_documents_jsonl
from voc.settings import SourceConfig

SAMPLES = Path(__file__).parent / "samples"
#: The site's clock in the saved pages (the test server's Date header).
NOW = datetime(2024, 3, 5, 12, 0, tzinfo=CHINA_TZ)
SELECTORS = {
    "item": "div.review-list > div.review-item",
    "id": "::attr(data-id)",
    "text": "p.review-words",
    "date": "span.time::text",
    "rating": "span.sml-rank-stars::attr(class)",
    "author": "a.name::text",
    "product": "xpath://h1[@class='shop-name']/text()",
    "url": "a.review-link::attr(href)",
    "next_page": "a.NextPage::attr(href)",
    "empty": "div.no-review",
}
OPTIONS = {"selectors": SELECTORS, "rating_regex": r"sml-str(\d+)", "rating_scale": 50}
PAGE1 = "http://shop.example.cn/shop/H8a9/reviews"


def _config(**changes):
    options = {**OPTIONS, **changes}
    return load_config("dianping", json.dumps(options.pop("selectors")), **options)


def _html(name: str) -> str:
    raw = (SAMPLES / name).read_bytes()
    return raw.decode("gbk") if name == "html_page2.html" else raw.decode("utf-8")


def test_listing_reads_reviews_with_relative_and_absolute_dates() -> None:
    page = parse_listing(_html("html_page1.html"), PAGE1, NOW, _config())
    assert [r["external_id"] for r in page.reviews] == ["r1001", "r1002", "r1003", "r1005", "r1006"]
    assert [r["created_at"] for r in page.reviews] == [
        NOW,
        datetime(2024, 3, 5, 9, 0, tzinfo=CHINA_TZ),
        datetime(2024, 3, 4, 21, 15, tzinfo=CHINA_TZ),
        datetime(2024, 3, 2, 15, 5, tzinfo=CHINA_TZ),
        datetime(2024, 3, 1, 10, 20, tzinfo=CHINA_TZ),
    ]
    assert [r["rating"] for r in page.reviews] == [5.0, 2.0, 4.0, 3.0, 5.0]
    second = page.reviews[1]
    assert second["text"] == "排队排了一个小时\n结账的时候还多收了一份米饭，找了经理才退。"
    assert second["author"] == "L***y"
    assert second["product"] == "客声优选旗舰店（徐汇店）"
    assert second["url"] == "http://shop.example.cn/review/r1002"
    assert page.reviews[3]["text"] == "停车不方便，周末人太多。"
    assert page.reviews[4]["url"] == f"{PAGE1}#review-r1006"  # no link: the page
    assert page.next_url == f"{PAGE1}?page=2"
    assert page.problems == ["review 4: text selector 'p.review-words' matched nothing"]
    assert (page.item_count, page.layout_changed, page.blocked, page.empty) == (
        6,
        None,
        None,
        False,
    )


def test_second_page_hashes_a_missing_id_and_links_on() -> None:
    page = parse_listing(_html("html_page2.html"), f"{PAGE1}?page=2", NOW, _config())
    ids = [r["external_id"] for r in page.reviews]
    assert ids[:2] == ["r0990", "r0991"] and ids[2].startswith("h") and len(ids[2]) == 17
    assert page.reviews[1]["created_at"] == datetime(2024, 2, 20, tzinfo=CHINA_TZ)  # 发表于 ...
    assert page.reviews[0]["rating"] == 1.0
    again = parse_listing(_html("html_page2.html"), f"{PAGE1}?page=2", NOW, _config())
    assert again.reviews[2]["external_id"] == ids[2]  # stable across crawls
    assert page.next_url == f"{PAGE1}?page=3"


def test_empty_listing_with_its_marker_is_a_quiet_end() -> None:
    page = parse_listing(_html("html_empty.html"), PAGE1, NOW, _config())
    assert (page.reviews, page.layout_changed, page.empty, page.blocked) == ([], None, False, None)


def test_first_page_without_reviews_or_marker_config_is_reported_empty() -> None:
    selectors = {k: v for k, v in SELECTORS.items() if k != "empty"}
    config = _config(selectors=selectors)
    page = parse_listing(_html("html_empty.html"), PAGE1, NOW, config)
    assert page.empty and page.layout_changed is None
    # The same page reached from a page with reviews means the item selector broke.
    later = parse_listing(_html("html_empty.html"), PAGE1, NOW, config, first_page=False)
    assert "matched nothing on a page linked from reviews" in later.layout_changed


def test_renamed_classes_are_a_changed_layout() -> None:
    page = parse_listing(_html("html_layout.html"), PAGE1, NOW, _config())
    assert page.reviews == [] and "both match nothing" in page.layout_changed
    selectors = {k: v for k, v in SELECTORS.items() if k != "empty"}
    page = parse_listing(_html("html_layout.html"), PAGE1, NOW, _config(selectors=selectors))
    assert "yet the page links a next page" in page.layout_changed
    # Items still found but every text gone: counted once as a layout change, and per item.
    html = _html("html_page1.html").replace("review-words", "review-body")
    page = parse_listing(html, PAGE1, NOW, _config())
    assert page.reviews == [] and len(page.problems) == 6
    assert page.layout_changed == "text selector matched nothing in all 6 items"


def test_json_answers_are_blocked_or_a_changed_layout_never_a_crash() -> None:
    refusal = parse_listing(_html("html_api_refusal.json"), PAGE1, NOW, _config())
    assert refusal.reviews == [] and "请求过于频繁" in refusal.blocked
    moved = parse_listing(_html("html_api_moved.json"), PAGE1, NOW, _config())
    assert moved.blocked is None and "answered JSON" in moved.layout_changed
    busy = parse_listing(_html("html_busy.html"), PAGE1, NOW, _config())
    assert "系统繁忙" in busy.blocked


def test_verification_page_is_blocked_not_empty() -> None:
    page = parse_listing(_html("html_captcha.html"), PAGE1, NOW, _config())
    assert page.reviews == [] and "verification, login or refusal page ('安全验证'" in page.blocked


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024年3月1日 下午3:05", datetime(2024, 3, 1, 15, 5)),
        ("2024-03-01 上午12:30", datetime(2024, 3, 1, 0, 30)),
        ("中午12:10", datetime(2024, 3, 5, 12, 10)),
        ("昨天 晚上9:00", datetime(2024, 3, 4, 21, 0)),
        ("评价时间：2024-02-29 08:00", datetime(2024, 2, 29, 8, 0)),
        ("3月1日", datetime(2024, 3, 1)),
        ("12月30日", datetime(2023, 12, 30)),
        ("5天前", datetime(2024, 2, 29, 12, 0)),
    ],
)
def test_review_dates(text: str, expected: datetime) -> None:
    assert parse_review_date(text, NOW) == expected.replace(tzinfo=CHINA_TZ)


def test_date_format_option_and_unreadable_dates() -> None:
    assert parse_review_date("01/03/2024 15h05", NOW, "%d/%m/%Y %Hh%M") == datetime(
        2024, 3, 1, 15, 5, tzinfo=CHINA_TZ
    )
    with pytest.raises(ValueError, match="does not match"):
        parse_review_date("2024-03-01", NOW, "%d/%m/%Y")
    with pytest.raises(ValueError, match="unrecognised date format: '很久以前'"):
        parse_review_date("很久以前", NOW)


def test_ratings_are_scaled_to_five() -> None:
    assert parse_rating("4分") == 4.0
    assert parse_rating("评分 8.6", scale=10) == 4.3
    assert parse_rating("sml-rank-stars sml-str45", scale=50) == 4.5
    with pytest.raises(ValueError, match="outside 0-5"):
        parse_rating("8")
    with pytest.raises(ValueError, match="no rating"):
        parse_rating("好评")


@pytest.mark.parametrize(
    ("selectors", "options", "message"),
    [
        ({"text": "p", "date": "span"}, {}, "dianping: selectors.item is required"),
        ({"item": "li", "date": "span"}, {}, "dianping: selectors.text is required"),
        ({"item": "li", "text": "p"}, {}, "dianping: selectors.date is required"),
        ({"item": "li[", "text": "p", "date": "s"}, {}, "dianping: selectors.item 'li\\[' is inv"),
        ({"item": "li", "text": "xpath://p[", "date": "s"}, {}, "selectors.text .* is invalid"),
        ({"item": "li", "text": "p", "date": "s", "titel": "h2"}, {}, "selectors.titel is not"),
        ({"item": "li", "text": "p", "date": "s"}, {"rating_scale": "0"}, "rating_scale must"),
        ({"item": "li", "text": "p", "date": "s"}, {"rating_regex": "("}, "rating_regex '\\('"),
        ({"item": "li", "text": "p", "date": "s"}, {"encoding": "gbkk"}, "encoding 'gbkk'"),
        ({"item": "li", "text": "p", "date": "s"}, {"date_format": "YYYY"}, "date_format 'YYYY'"),
        ({"item": "li", "text": "p", "date": "s"}, {"newest_first": "yes"}, "newest_first must"),
    ],
)
def test_config_errors_name_the_source_and_key(selectors, options, message) -> None:
    with pytest.raises(ValueError, match=message):
        load_config("dianping", json.dumps(selectors), **options)


def test_selectors_must_be_a_json_table() -> None:
    with pytest.raises(ValueError, match="dianping: selectors is not a JSON table"):
        load_config("dianping", "{item = 'li'}")
    with pytest.raises(ValueError, match="dianping: selectors is required"):
        load_config("dianping", None)


# path -> (status, sample, Content-Type)
ROUTES = {
    "/shop/H8a9/reviews": (200, "html_page1.html", "text/html; charset=utf-8"),
    "/shop/H8a9/reviews?page=2": (200, "html_page2.html", "text/html"),  # GBK, meta says utf-8
    "/shop/H8a9/reviews?page=3": (200, "html_empty.html", "text/html; charset=utf-8"),
    "/shop/new/reviews": (200, "html_empty.html", "text/html; charset=utf-8"),
    "/shop/verify/reviews": (200, "html_captcha.html", "text/html; charset=utf-8"),
    "/shop/broken/reviews": (200, "html_layout.html", "text/html; charset=utf-8"),
    "/shop/down/reviews": (500, "html_empty.html", "text/html; charset=utf-8"),
    "/shop/busy/reviews": (200, "html_busy.html", "text/html; charset=utf-8"),
    "/shop/limit/reviews": (403, "html_busy.html", "text/html; charset=utf-8"),
    "/shop/ban/reviews": (418, "html_empty.html", "text/html; charset=utf-8"),
    "/shop/api-limit/reviews": (200, "html_api_refusal.json", "application/json"),
    "/shop/moved/reviews": (200, "html_api_moved.json", "application/json"),
}


class _Handler(http.server.BaseHTTPRequestHandler):
    def date_time_string(self, timestamp: float | None = None) -> str:
        return "Tue, 05 Mar 2024 04:00:00 GMT"  # 12:00 in China, as the pages were saved

    def do_GET(self) -> None:
        if self.path != "/robots.txt":
            self.server.requested.append(self.path)  # type: ignore[attr-defined]
        route = ROUTES.get(self.path)
        if route is None:
            return reply(self, 404)
        status, name, content_type = route
        reply(self, status, (SAMPLES / name).read_bytes(), content_type)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def site() -> Iterator[http.server.ThreadingHTTPServer]:
    with serve(_Handler, requested=[]) as server:
        yield server


def _crawl(server, tmp_path: Path, path: str, since: date, until: date, **options):
    url = f"http://127.0.0.1:{server.server_address[1]}{path}"
    source = SourceConfig("dianping", "html_reviews", url, {**OPTIONS, **options})
    result = run_crawl(source, since, until, tmp_path, "salt", timeout=120)
    docs, bad = read_documents_jsonl(result.jsonl_path, "dianping")
    assert bad == []
    return result, docs


def test_crawl_follows_next_links_through_a_mislabelled_gbk_page(site, tmp_path) -> None:
    result, docs = _crawl(site, tmp_path, "/shop/H8a9/reviews", date(2024, 2, 1), date(2024, 3, 5))
    assert result.returncode == 0
    assert site.requested == [
        "/shop/H8a9/reviews",
        "/shop/H8a9/reviews?page=2",
        "/shop/H8a9/reviews?page=3",  # the empty listing (its marker) ends it quietly
    ]
    by_id = {d.external_id: d for d in docs}
    assert len(docs) == 8 and {"r1001", "r0990", "r0991"} <= set(by_id)
    assert by_id["r0990"].text == "菜里有头发，服务员态度敷衍，再也不来了。"  # read as GBK
    assert by_id["r0990"].rating == 1.0 and by_id["r0990"].product == "客声优选旗舰店（徐汇店）"
    assert by_id["r1002"].created_at == datetime(2024, 3, 5, 9, 0, tzinfo=CHINA_TZ)
    assert all(d.source == "dianping" and d.channel == "review" for d in docs)
    assert result.stats["voc/parse_error"] == 1
    assert result.problems == [
        f"dianping: http://127.0.0.1:{site.server_address[1]}/shop/H8a9/reviews: "
        "review 4: text selector 'p.review-words' matched nothing"
    ]


def test_crawl_stops_once_a_page_is_older_than_the_window(site, tmp_path) -> None:
    result, docs = _crawl(site, tmp_path, "/shop/H8a9/reviews", date(2024, 3, 1), date(2024, 3, 4))
    assert sorted(d.external_id for d in docs) == ["r1003", "r1005", "r1006"]
    assert site.requested == ["/shop/H8a9/reviews", "/shop/H8a9/reviews?page=2"]
    assert result.stats["voc/out_of_range"] == 5  # two of 3-05, three of page 2


def test_crawl_of_a_listing_not_newest_first_reads_past_old_pages(site, tmp_path) -> None:
    _, docs = _crawl(
        site, tmp_path, "/shop/H8a9/reviews", date(2024, 3, 1), date(2024, 3, 4), newest_first=False
    )
    assert len(docs) == 3 and len(site.requested) == 3


def test_crawl_honours_max_pages(site, tmp_path) -> None:
    _, docs = _crawl(
        site, tmp_path, "/shop/H8a9/reviews", date(2024, 1, 1), date(2024, 3, 5), max_pages=1
    )
    assert site.requested == ["/shop/H8a9/reviews"] and len(docs) == 5


@pytest.mark.parametrize(
    ("path", "key", "message"),
    [
        ("/shop/verify/reviews", "voc/error_page", "a verification, login or refusal page"),
        ("/shop/broken/reviews", "voc/layout_changed", "both match nothing"),
        ("/shop/down/reviews", "voc/download_error", "could not fetch"),
        ("/shop/busy/reviews", "voc/error_page", "系统繁忙"),
        ("/shop/limit/reviews", "voc/blocked", "HTTP 403: the site refuses this client"),
        ("/shop/ban/reviews", "voc/blocked", "HTTP 418"),
        ("/shop/api-limit/reviews", "voc/error_page", "请求过于频繁"),
        ("/shop/moved/reviews", "voc/layout_changed", "answered JSON (keys: ['code', 'data'])"),
    ],
)
def test_crawl_of_a_bad_page_counts_one_problem_and_keeps_nothing(
    site, tmp_path, path, key, message
) -> None:
    result, docs = _crawl(site, tmp_path, path, date(2024, 1, 1), date(2024, 3, 5), retry_times=0)
    assert docs == [] and site.requested == [path]  # the broken page's next link not followed
    assert result.stats[key] == 1
    (problem,) = result.problems
    assert problem.startswith("dianping: ") and message in problem and path in problem


def test_crawl_of_an_empty_listing_is_quiet(site, tmp_path) -> None:
    result, docs = _crawl(site, tmp_path, "/shop/new/reviews", date(2024, 1, 1), date(2024, 3, 5))
    assert (docs, result.problems, result.returncode) == ([], [], 0)
    assert site.requested == ["/shop/new/reviews"]


def test_crawl_refuses_a_config_without_a_text_selector(site, tmp_path) -> None:
    selectors = {k: v for k, v in SELECTORS.items() if k != "text"}
    result, docs = _crawl(
        site, tmp_path, "/shop/new/reviews", date(2024, 1, 1), date(2024, 3, 5), selectors=selectors
    )
    assert docs == [] and site.requested == [] and result.returncode != 0
    assert any("dianping: selectors.text is required" in p for p in result.problems)
