from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import timedelta
from email.utils import parsedate_to_datetime

import pytest

from demo.data import GBK_MONTH, PRODUCTS, build_corpus
from demo.events import DEMO_NOW
from demo.server import DemoServer, decode_cursor, render_relative_time


def get(server: DemoServer, path: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(server.base_url + path, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


@pytest.mark.parametrize(
    ("ago", "expected"),
    [
        (timedelta(seconds=20), "刚刚"),
        (timedelta(minutes=7, seconds=10), "7分钟前"),
        (timedelta(hours=5, minutes=40), "6小时前"),
        (timedelta(hours=23, minutes=10), "23小时前"),
        (timedelta(hours=25), "昨天 08:30"),
        (timedelta(days=3, hours=2), "3天前"),
        (timedelta(days=8), "2025-09-23 09:30"),
    ],
)
def test_dates_render_like_a_chinese_site(ago: timedelta, expected: str) -> None:
    assert render_relative_time(DEMO_NOW - ago, DEMO_NOW) == expected


def test_every_response_carries_the_demo_clock(demo_server: DemoServer) -> None:
    for path in ("/shop/", "/api/search?q=x", "/helpdesk/exports/index.json", "/nope"):
        _, headers, _ = get(demo_server, path)
        assert parsedate_to_datetime(headers["Date"]) == DEMO_NOW


def test_unknown_paths_are_404_and_robots_allows_crawling(demo_server: DemoServer) -> None:
    assert get(demo_server, "/nope")[0] == 404
    assert get(demo_server, "/shop/product/99999/reviews")[0] == 404
    assert get(demo_server, "/helpdesk/exports/../../etc/passwd")[0] == 404
    status, _, body = get(demo_server, "/robots.txt")
    assert status == 200 and b"Allow: /" in body


def test_shop_pages_walk_every_review_newest_first(demo_server: DemoServer) -> None:
    pid = PRODUCTS[-1][0]
    expected = build_corpus().reviews_for(pid)
    seen, page = [], 1
    while True:
        status, _, body = get(demo_server, f"/shop/product/{pid}/reviews?page={page}")
        html = body.decode("utf-8")
        assert status == 200 and '<meta charset="utf-8">' in html
        seen += [chunk.split('"')[0] for chunk in html.split('data-review-id="')[1:]]
        if "下一页" not in html:
            break
        page += 1
    assert seen == [r.review_id for r in expected]


def test_search_cursor_walks_every_post_newest_first(demo_server: DemoServer) -> None:
    ids, cursor, pages = [], "", 0
    while True:
        status, _, body = get(demo_server, f"/api/search?q=%E5%AE%A2&cursor={cursor}")
        payload = json.loads(body)
        assert status == 200 and payload["ok"] == 1
        ids += [s["id"] for s in payload["data"]["statuses"]]
        pages += 1
        cursor = payload["data"]["next_cursor"]
        if cursor is None:
            break
        decode_cursor(cursor)
    posts = sorted(build_corpus().posts, key=lambda p: (p.created_at, p.post_id), reverse=True)
    assert ids == [p.post_id for p in posts]


def test_search_rejects_missing_query_and_forged_cursor(demo_server: DemoServer) -> None:
    status, _, body = get(demo_server, "/api/search")
    assert status == 400 and json.loads(body)["ok"] == 0
    status, _, body = get(demo_server, "/api/search?q=x&cursor=bm9wZQ")
    assert status == 400 and "invalid cursor" in json.loads(body)["msg"]


def test_ticket_exports_are_bom_utf8_except_the_legacy_gbk_month(demo_server: DemoServer) -> None:
    _, _, body = get(demo_server, "/helpdesk/exports/index.json")
    exports = json.loads(body)["exports"]
    assert [e["month"] for e in exports] == ["2025-06", "2025-07", "2025-08", "2025-09"]
    for entry in exports:
        status, _, raw = get(demo_server, f"/helpdesk/exports/{entry['url']}")
        assert status == 200
        if entry["month"] == GBK_MONTH:
            assert not raw.startswith(b"\xef\xbb\xbf")
            with pytest.raises(UnicodeDecodeError):
                raw.decode("utf-8")
            text = raw.decode("gbk")
        else:
            assert raw.startswith(b"\xef\xbb\xbf")
            text = raw.decode("utf-8-sig")
        assert text.startswith("工单号,创建时间,客户,渠道,问题描述,处理结果,会员号\r\n")
        assert text.count("\r\n") - 1 == entry["rows"]
