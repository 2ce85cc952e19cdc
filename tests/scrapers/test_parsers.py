from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scrapers.parsers import (
    CHINA_TZ,
    parse_chinese_datetime,
    parse_review_page,
    parse_search_page,
    parse_shop_index,
    parse_weibo_time,
)

FIXTURES = Path(__file__).parent.parent / "fixtures"
NOW = datetime(2025, 10, 1, 9, 30, tzinfo=CHINA_TZ)
PAGE_URL = "http://shop.test/shop/product/10023/reviews"


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=CHINA_TZ)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("刚刚", NOW),
        ("30秒前", NOW - timedelta(seconds=30)),
        ("5分钟前", NOW - timedelta(minutes=5)),
        ("3小时前", at(2025, 10, 1, 6, 30)),
        ("今天 08:01", at(2025, 10, 1, 8, 1)),
        ("昨天 12:30", at(2025, 9, 30, 12, 30)),
        ("前天 8:05", at(2025, 9, 29, 8, 5)),
        ("3天前", at(2025, 9, 28, 9, 30)),
        ("2025-03-01 12:30", at(2025, 3, 1, 12, 30)),
        ("2025-03-01 12:30:15", at(2025, 3, 1, 12, 30, 15)),
        ("2025/3/1 12:30", at(2025, 3, 1, 12, 30)),
        ("2025年3月1日", at(2025, 3, 1)),
        ("2025年3月1日 12:30", at(2025, 3, 1, 12, 30)),
        ("03-01 12:30", at(2025, 3, 1, 12, 30)),
        ("  昨天   12:30 ", at(2025, 9, 30, 12, 30)),
    ],
)
def test_chinese_dates_resolve_against_now(text: str, expected: datetime) -> None:
    got = parse_chinese_datetime(text, NOW)
    assert got == expected
    assert got.utcoffset() == timedelta(hours=8)


def test_month_day_without_year_in_january_is_last_year() -> None:
    now = at(2026, 1, 2, 10, 0)
    assert parse_chinese_datetime("12-31 23:00", now) == at(2025, 12, 31, 23, 0)
    assert parse_chinese_datetime("01-01 08:00", now) == at(2026, 1, 1, 8, 0)


def test_result_is_in_the_timezone_of_now() -> None:
    now_utc = datetime(2025, 10, 1, 1, 30, tzinfo=UTC)
    assert parse_chinese_datetime("昨天 12:30", now_utc) == datetime(
        2025, 9, 30, 12, 30, tzinfo=UTC
    )


@pytest.mark.parametrize(
    "text", ["0000-00-00 00:00", "2025-02-30 10:00", "很久以前", "", "昨天", "3周前", "25:00"]
)
def test_unreadable_dates_raise_naming_the_text(text: str) -> None:
    with pytest.raises(ValueError, match=repr(text).replace("[", r"\[")):
        parse_chinese_datetime(text, NOW)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        parse_chinese_datetime("刚刚", datetime(2025, 10, 1))


def test_weibo_time_keeps_its_offset() -> None:
    got = parse_weibo_time("Tue Aug 12 10:03:00 +0800 2025")
    assert got == at(2025, 8, 12, 10, 3)
    assert parse_weibo_time("Mon Aug 11 23:00:00 -0130 2025").utcoffset() == -timedelta(
        hours=1, minutes=30
    )
    with pytest.raises(ValueError, match="昨天 09:00"):
        parse_weibo_time("昨天 09:00")
    with pytest.raises(ValueError, match="Foo"):
        parse_weibo_time("Tue Foo 12 10:03:00 +0800 2025")


def test_review_page_yields_every_review_with_resolved_dates() -> None:
    html = (FIXTURES / "shop_reviews_page.html").read_text(encoding="utf-8")
    reviews, next_url, problems = parse_review_page(html, PAGE_URL, NOW)
    assert problems == []
    assert [r["external_id"] for r in reviews] == ["70032012", "70031990", "70031492", "70028811"]
    assert [r["created_at"] for r in reviews] == [
        at(2025, 10, 1, 4, 30),
        at(2025, 9, 30, 12, 30),
        at(2025, 9, 28, 9, 30),
        at(2025, 3, 1, 12, 30),
    ]
    # data-score on three, only the star-4 class on the third.
    assert [r["rating"] for r in reviews] == [5, 1, 4, 2]
    assert {r["product"] for r in reviews} == {"10023"}
    assert reviews[1]["author"] == "q***c"
    assert reviews[1]["text"] == "盖子拧不紧，包里全是水&还漏到电脑上了，差评！"
    assert reviews[2]["text"] == "颜色好看，就是有点重。"
    assert reviews[0]["url"] == f"{PAGE_URL}#review-70032012"
    assert next_url == "http://shop.test/shop/product/10023/reviews?page=2"


def test_malformed_reviews_are_reported_not_returned() -> None:
    html = (FIXTURES / "shop_reviews_malformed.html").read_text(encoding="utf-8")
    url = f"{PAGE_URL}?page=2"
    reviews, next_url, problems = parse_review_page(html, url, NOW)
    assert [r["external_id"] for r in reviews] == ["70031431"]
    assert reviews[0]["created_at"].date() == at(2025, 9, 27).date()
    assert len(problems) == 3
    assert problems[0].startswith(f"{url} review 70031425: ")
    assert "'0000-00-00 00:00'" in problems[0]
    assert problems[1] == f"{url} review 70031419: no date"
    assert problems[2] == f"{url} review #4: no review id"
    assert next_url is not None


def test_empty_review_page_has_nothing_and_no_next_page() -> None:
    html = (FIXTURES / "shop_reviews_empty.html").read_text(encoding="utf-8")
    assert parse_review_page(html, f"{PAGE_URL}?page=99", NOW) == ([], None, [])


def test_shop_index_links_are_absolute_and_unique() -> None:
    html = (
        '<ul><li><a class="product-link" href="/shop/product/1/reviews">A</a></li>'
        '<li><a class="product-link" href="/shop/product/1/reviews">A again</a></li>'
        '<li><a class="product-link" href="product/2/reviews">B</a></li>'
        '<li><a href="/about">about</a></li></ul>'
    )
    assert parse_shop_index(html, "http://shop.test/shop/") == [
        "http://shop.test/shop/product/1/reviews",
        "http://shop.test/shop/product/2/reviews",
    ]


def test_search_page_keeps_raw_text_and_reports_bad_posts() -> None:
    payload = json.loads((FIXTURES / "weibo_search_page.json").read_text(encoding="utf-8"))
    posts, cursor, problems = parse_search_page(payload)
    assert cursor == "djE6MjA"
    assert [p["external_id"] for p in posts] == ["5180000006585687", "5180000006584237"]
    first = posts[0]
    assert first["text"].startswith("<a href='/n/客声优选'>@客声优选</a> 快递三天了")
    assert "<br />" in first["text"]
    assert first["author"] == "1802185644"
    assert first["created_at"] == at(2025, 8, 12, 10, 3)
    assert (first["repost_count"], first["comment_count"]) == (3, 12)
    assert posts[1]["comment_count"] == 7
    assert len(problems) == 1
    assert "5180000006583001" in problems[0] and "昨天 09:00" in problems[0]


def test_last_search_page_has_no_cursor() -> None:
    payload = json.loads((FIXTURES / "weibo_search_last_page.json").read_text(encoding="utf-8"))
    assert parse_search_page(payload) == ([], None, [])


def test_search_error_payload_raises_with_the_message() -> None:
    with pytest.raises(ValueError, match="q is required"):
        parse_search_page({"ok": 0, "msg": "q is required"})
