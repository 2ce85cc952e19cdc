"""Weibo (m.weibo.cn API): parsers on saved payloads, and real crawls of every mode."""

from __future__ import annotations

import http.server
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from scrapers.parsers import CHINA_TZ
from scrapers.run import CrawlResult, run_crawl
from scrapers.spiders.weibo import WeiboSpider
from scrapers.weibo import (
    Blocked,
    LayoutChanged,
    LoginRequired,
    WeiboError,
    comments_url,
    extend_url,
    html_to_text,
    parse_card_page,
    parse_comments_page,
    parse_long_text,
    parse_post_time,
    search_url,
    timeline_url,
)
from tests.localserver import serve
from voc.records import read_documents_jsonl
from voc.settings import SourceConfig

SAMPLES = Path(__file__).parent / "samples"
#: The site's clock in every sample: 2025-08-13 12:00 in Beijing.
NOW = datetime(2025, 8, 13, 12, 0, tzinfo=CHINA_TZ)
HTTP_DATE = "Wed, 13 Aug 2025 04:00:00 GMT"
QUERY = "客声优选"
POST = "5197000000000001"  # post A, whose comments are sampled
LONG_POST, BROKEN_LONG_POST = "5197000000000002", "5197000000000008"
BRAND_UID = "2988887777"
FULL_B = (
    "【吐槽】上个月在客声优选买的空气净化器，用了不到二十天滤网就发出怪味，联系售后要求换货，"
    "客服先说要拍视频，拍了视频又说要寄回检测，检测周期十五个工作日，到现在一个月了还没有结果。\n"
    "[怒]希望官方能给个说法。"
)


def _sample(name: str) -> dict:
    return json.loads((SAMPLES / f"weibo_{name}.json").read_text(encoding="utf-8"))


def _ids(records: list[dict]) -> list[str]:
    return [r["external_id"] for r in records]


# --- parsers -------------------------------------------------------------------------


def test_html_to_text_keeps_emoji_names_link_text_and_line_breaks() -> None:
    html = (
        '太慢了<span class="url-icon"><img alt=[哭] src="https://h5.sinaimg.cn/d_ku.png" '
        'style="width:1em; height:1em;" /></span><br />等了<b>两周</b> &amp; 没人管'
        "<a href='/n/客服'>@客服</a> <span class='url-icon'><img src='link.png'></span>"
        '<span class="surl-text">网页链接</span>\u200b...<a href="/status/519">全文</a>'
    )
    assert html_to_text(html) == "太慢了[哭]\n等了两周 & 没人管@客服 网页链接..."
    assert html_to_text('<img alt="[怒]" src="x.png">生气') == "[怒]生气"


def test_search_page_reads_posts_in_card_groups_and_skips_user_and_topic_cards() -> None:
    page = parse_card_page(_sample("search_page1"), NOW)
    assert _ids(page.posts) == [POST, LONG_POST, "5197000000000003"]
    assert page.cursor == "2"
    assert page.truncated == {LONG_POST}
    assert page.problems == []
    a, b, c = page.posts
    assert a["text"] == (
        "客声优选的扫地机器人用了一周就坏了[哭]\n客服电话一直打不通，#客声优选# 到底管不管？"
        "@客声优选官方"
    )
    assert a["created_at"] == datetime(2025, 8, 13, 11, 57, tzinfo=CHINA_TZ)  # "3分钟前"
    assert (a["author"], a["repost_count"], a["comment_count"]) == ("6012345678", 2, 15)
    assert a["url"] == f"https://m.weibo.cn/detail/{POST}"
    assert a["attributes"] == {"kind": "post", "likes": 38}
    assert b["text"].endswith("检测周期十五个工作日...")  # the 全文 link is dropped
    assert b["created_at"].isoformat() == "2025-08-12T10:03:00+08:00"
    # A repost keeps its own words and points at the original.
    assert c["text"] == "同样的问题，客服踢皮球//@小明同学:客声优选的售后太慢了，等了两周"
    assert c["attributes"] == {"kind": "post", "likes": 3, "retweet_of": "5196000000000999"}
    assert c["created_at"] == datetime(2025, 8, 12, 12, 30, tzinfo=CHINA_TZ)  # "昨天 12:30"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("刚刚", datetime(2025, 8, 13, 12, 0)),
        ("3分钟前", datetime(2025, 8, 13, 11, 57)),
        ("昨天 12:30", datetime(2025, 8, 12, 12, 30)),
        ("08-12", datetime(2025, 8, 12)),
        ("2024-03-01", datetime(2024, 3, 1)),
    ],
)
def test_relative_dates_resolve_against_the_site_clock(text: str, expected: datetime) -> None:
    assert parse_post_time(text, NOW) == expected.replace(tzinfo=CHINA_TZ)


def test_month_day_dates_roll_back_a_year_and_bad_dates_are_named() -> None:
    january = datetime(2026, 1, 2, 9, 0, tzinfo=CHINA_TZ)
    assert parse_post_time("12-31", january) == datetime(2025, 12, 31, tzinfo=CHINA_TZ)
    assert parse_post_time("Tue Aug 12 10:03:00 +0800 2025", NOW).hour == 10
    with pytest.raises(ValueError, match="'13-45'"):
        parse_post_time("13-45", NOW)


def test_unreadable_post_is_named_and_the_others_kept() -> None:
    page = parse_card_page(_sample("search_page2"), NOW)
    assert page.problems == ["post 5197000000000006: unrecognised date format: '很久以前'"]
    assert "5197000000000006" not in _ids(page.posts)
    assert len(page.posts) == 5 and page.cursor == "3"
    assert page.truncated == {BROKEN_LONG_POST}


def test_timeline_pages_mark_the_pinned_post_and_carry_since_id() -> None:
    first = parse_card_page(_sample("timeline_page1"), NOW, "since_id")
    assert first.cursor == "5197000000000100"
    assert first.pinned == {"4850000000000001"}
    assert first.posts[0]["created_at"].year == 2023
    assert first.posts[2]["text"] == "#客声优选#七夕活动今晚开始[心]"
    last = parse_card_page(_sample("timeline_page3"), NOW, "since_id")
    assert (_ids(last.posts), last.cursor, last.pinned) == (["5197000000000020"], None, set())


@pytest.mark.parametrize("name", ["search_empty", "timeline_empty"])
def test_no_results_is_an_empty_page_not_an_error(name: str) -> None:
    page = parse_card_page(_sample(name), NOW)
    assert (page.posts, page.cursor, page.problems) == ([], None, [])


@pytest.mark.parametrize(
    ("name", "error", "key", "words"),
    [
        ("login", LoginRequired, "voc/login_required", "requires login"),
        ("rate_limited", Blocked, "voc/blocked", "请求过于频繁"),
        ("captcha", Blocked, "voc/blocked", r"verification \(captcha\).*/captcha\?scene=limit"),
        ("layout_changed", LayoutChanged, "voc/layout_changed", "no data.cards"),
        ("timeline_layout_changed", LayoutChanged, "voc/layout_changed", "without an mblog"),
    ],
)
def test_error_payloads_raise_with_their_stats_key(name, error, key, words) -> None:
    with pytest.raises(error, match=words) as caught:
        parse_card_page(_sample(name), NOW)
    assert type(caught.value) is error and caught.value.key == key


def test_comments_page_reads_comments_and_the_max_id_cursor() -> None:
    first = parse_comments_page(_sample("comments_page1"), POST, NOW)
    assert (first.max_id, first.max_id_type, first.problems) == ("139000000000001", 0, [])
    c1, c2, _ = first.comments
    assert c1["text"] == "我家的也是，[怒]售后一直拖"
    assert c2["text"] == "回复@爱吃橘子的猫:您好，请私信订单号，我们马上处理"
    assert c1["attributes"] == {"kind": "comment", "parent_id": POST, "likes": 12}
    assert (c1["author"], c1["comment_count"]) == ("5700001111", 1)
    assert c1["url"] == f"https://m.weibo.cn/detail/{POST}#comment-5197000100000001"
    assert c1["created_at"].isoformat() == "2025-08-13T09:10:00+08:00"
    last = parse_comments_page(_sample("comments_page2"), POST, NOW)
    assert last.max_id is None and _ids(last.comments) == ["5197000100000004"]
    assert last.problems == ["comment 5197000100000005: unrecognised date format: ''"]


def test_comments_empty_error_and_changed_layout() -> None:
    assert parse_comments_page(_sample("comments_empty"), POST, NOW).comments == []
    with pytest.raises(LayoutChanged, match=r"no data\.data"):
        parse_comments_page(_sample("comments_layout_changed"), POST, NOW)
    with pytest.raises(LoginRequired):
        parse_comments_page(_sample("login"), POST, NOW)


def test_long_text_from_extend_and_its_failures() -> None:
    assert parse_long_text(_sample("extend")) == FULL_B
    with pytest.raises(WeiboError, match="target weibo does not exist"):
        parse_long_text(_sample("extend_error"))
    with pytest.raises(LayoutChanged, match="longTextContent"):
        parse_long_text({"ok": 1, "data": {"ok": 1}})


def test_api_urls() -> None:
    assert search_url("https://m.weibo.cn/", "客声 优选", 2) == (
        "https://m.weibo.cn/api/container/getIndex?containerid=100103type%3D1%26q%3D"
        "%E5%AE%A2%E5%A3%B0%20%E4%BC%98%E9%80%89&page_type=searchall&page=2"
    )
    assert timeline_url("https://m.weibo.cn", "42", page="3").endswith(
        "containerid=10760342&page=3"
    )
    assert timeline_url("https://m.weibo.cn", "42", "99") == (
        "https://m.weibo.cn/api/container/getIndex?type=uid&value=42&containerid=10760342"
        "&since_id=99"
    )
    assert comments_url("https://m.weibo.cn", "7", "88") == (
        "https://m.weibo.cn/comments/hotflow?id=7&mid=7&max_id_type=0&max_id=88"
    )
    assert extend_url("https://m.weibo.cn", "7") == "https://m.weibo.cn/statuses/extend?id=7"


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        ({"mode": "hot"}, "mode= must be one of"),
        ({"mode": "timeline"}, "mode=timeline needs -a uid=<digits>"),
        ({"mode": "comments", "post_id": "Pn3mAbcde"}, "mode=comments needs -a post_id=<digits>"),
        ({"mode": "search"}, "needs -a query="),
        ({"query": "x", "max_pages": "many"}, "max_pages= must be a number"),
    ],
)
def test_bad_spider_arguments_are_named(arguments: dict, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        WeiboSpider(url="https://m.weibo.cn", **arguments)


def test_search_defaults_to_the_brand_and_starts_at_page_one() -> None:
    spider = WeiboSpider(url="https://m.weibo.cn", brand="客声优选")
    assert spider.first_url() == search_url("https://m.weibo.cn", "客声优选", 1)


# --- real crawls against a local m.weibo.cn ------------------------------------------

SEARCH = {
    QUERY: {"1": "search_page1", "2": "search_page2", "3": "search_empty"},
    "需要登录": {"1": "login", "2": "search_page2"},
    "改版": {"1": "layout_changed"},
    "限流": {"1": "rate_limited"},
    "验证码": {"1": "captcha"},
    "没有结果": {"1": "search_empty"},
}
TIMELINES = {
    BRAND_UID: {
        None: "timeline_page1",
        "5197000000000100": "timeline_page2",
        "5197000000000050": "timeline_page3",
    },
    "2": {None: "timeline_layout_changed"},
    # The same timeline answered with page numbers (cardlistInfo.page, no since_id).
    "3": {None: "timeline_bypage1", "page=2": "timeline_bypage2", "page=3": "timeline_bypage3"},
}
COMMENTS = {
    POST: {None: "comments_page1", "139000000000001": "comments_page2"},
    "11": {None: "comments_empty"},
}
PASSPORT = "https://passport.weibo.cn/signin/login?entry=mweibo&r=https%3A%2F%2Fm.weibo.cn%2F"


def _route(path: str, query: dict[str, str]) -> tuple[int, str | None]:
    """(status, sample name) for a request; 302 goes to passport, 432 is a refusal."""
    if path == "/api/container/getIndex" and query.get("containerid", "").startswith("100103"):
        q = parse_qs(query["containerid"][len("100103") :])["q"][0]
        if q == "跳转登录":
            return 302, None
        if q == "封禁":
            return 418, "-"  # the ban answer: an empty body
        if q == "限流403":
            return 403, "rate_limited"  # as the rate limit was seen served (SOURCES.md)
        if q == "繁忙":
            return 200, "weibo_busy.html"
        return 200, SEARCH.get(q, {}).get(query.get("page", ""))
    if path == "/api/container/getIndex" and query.get("type") == "uid":
        key = query.get("since_id") or (f"page={query['page']}" if "page" in query else None)
        return 200, TIMELINES.get(query["value"], {}).get(key)
    if path == "/comments/hotflow":
        if query.get("id") == "13":
            return 432, None
        return 200, COMMENTS.get(query.get("id", ""), {}).get(query.get("max_id"))
    if path == "/statuses/extend" and query.get("id") == LONG_POST:
        return 200, "extend"
    return 404, None


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        split = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(split.query).items()}
        if split.path != "/robots.txt":
            self.server.requested.append((split.path, query))  # type: ignore[attr-defined]
            self.server.headers.append({k.lower(): v for k, v in self.headers.items()})  # type: ignore[attr-defined]
        status, name = _route(split.path, query)
        file = name if name and "." in name else f"weibo_{name}.json"
        body = (SAMPLES / file).read_bytes() if name and name != "-" else b""
        self.send_response(status if name or status != 200 else 404)
        if status == 302:
            self.send_header("Location", PASSPORT)
        kind = "text/html" if file.endswith(".html") else "application/json"
        self.send_header("Content-Type", f"{kind}; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def date_time_string(self, timestamp: float | None = None) -> str:
        return HTTP_DATE  # relative dates ("3分钟前") resolve against the site's clock

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def weibo() -> Iterator[http.server.ThreadingHTTPServer]:
    with serve(_Handler, requested=[], headers=[]) as server:
        yield server


def _crawl(server, tmp_path: Path, since: date, **options: str) -> tuple[CrawlResult, dict]:
    source = SourceConfig(
        "weibo_test", "weibo", f"http://127.0.0.1:{server.server_address[1]}", options
    )
    result = run_crawl(source, since, date(2025, 8, 13), tmp_path, "salt", timeout=120)
    docs, bad_lines = read_documents_jsonl(result.jsonl_path, source.name)
    assert bad_lines == []
    return result, {d.external_id: d for d in docs}


def _requested(server, path: str, param: str) -> list[str | None]:
    return [q.get(param) for p, q in server.requested if p == path]


def test_search_crawl_pages_fetches_long_texts_and_sends_mobile_headers(
    weibo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEIBO_TEST_COOKIE", "SUB=_2A25test; SUBP=0033WrSXqPxfM")
    result, docs = _crawl(
        weibo, tmp_path, date(2025, 8, 1), query=QUERY, cookie_env="WEIBO_TEST_COOKIE"
    )
    assert result.returncode == 0
    # Post A appears on pages 1 and 2 but is written once; G (2024) is out of the window,
    # F has an unreadable date.
    assert sorted(docs) == [POST, LONG_POST, "5197000000000003", "5197000000000004",
                            "5197000000000005", BROKEN_LONG_POST]  # fmt: skip
    assert result.item_count == 6
    assert _requested(weibo, "/api/container/getIndex", "page") == ["1", "2", "3"]
    assert sorted(_requested(weibo, "/statuses/extend", "id")) == [LONG_POST, BROKEN_LONG_POST]
    assert docs[LONG_POST].text == FULL_B
    # The extend call for H fails (404): the cut text is kept and the failure counted.
    assert docs[BROKEN_LONG_POST].text.endswith("客服说是系统升级...")
    assert result.stats["voc/long_text_truncated"] == 1
    assert any(f"statuses/extend?id={BROKEN_LONG_POST}: HTTP 404" in p for p in result.problems)
    assert any("post 5197000000000006: unrecognised date format" in p for p in result.problems)
    assert docs["5197000000000003"].attributes == {
        "kind": "post",
        "likes": 3,
        "retweet_of": "5196000000000999",
    }
    a = docs[POST]
    assert (a.channel, a.source, a.repost_count, a.comment_count) == ("social", "weibo_test", 2, 15)
    assert a.created_at.isoformat() == "2025-08-13T11:57:00+08:00"
    assert a.author_hash and a.author_hash != "爱吃橘子的猫"
    for headers in weibo.headers:
        assert headers["mweibo-pwa"] == "1"
        assert headers["x-requested-with"] == "XMLHttpRequest"
        assert headers["referer"] == "https://m.weibo.cn/"
        assert headers["cookie"] == "SUB=_2A25test; SUBP=0033WrSXqPxfM"


def test_search_crawl_stops_once_a_page_is_older_than_the_window(weibo, tmp_path) -> None:
    result, docs = _crawl(weibo, tmp_path, date(2025, 8, 11), query=QUERY)
    assert sorted(docs) == [POST, LONG_POST, "5197000000000003"]
    # Page 2 is all before 08-11 and names page 3, which is never asked for; nor is the
    # full text of H, outside the window.
    assert _requested(weibo, "/api/container/getIndex", "page") == ["1", "2"]
    assert _requested(weibo, "/statuses/extend", "id") == [LONG_POST]
    assert result.stats["voc/out_of_range"] >= 4


def test_timeline_crawl_follows_since_id_past_an_old_pinned_post(weibo, tmp_path) -> None:
    result, docs = _crawl(weibo, tmp_path, date(2025, 8, 1), mode="timeline", uid=BRAND_UID)
    assert sorted(docs) == ["5197000000000020", "5197000000000050", "5197000000000060",
                            "5197000000000100", "5197000000000101"]  # fmt: skip
    assert "4850000000000001" not in docs  # pinned, from 2023
    assert _requested(weibo, "/api/container/getIndex", "since_id") == [
        None,
        "5197000000000100",
        "5197000000000050",
    ]
    assert {q["containerid"] for _, q in weibo.requested} == {f"107603{BRAND_UID}"}
    assert result.problems == []


def test_timeline_crawl_stops_at_the_first_post_before_the_window(weibo, tmp_path) -> None:
    result, docs = _crawl(weibo, tmp_path, date(2025, 8, 10), mode="timeline", uid=BRAND_UID)
    assert result.stats["voc/stop_reason"] == "reached the window's start (page 2)"
    assert sorted(docs) == ["5197000000000060", "5197000000000100", "5197000000000101"]
    # Page 1's pinned post is from 2023 yet paging goes on; page 2 has 08-09 and stops.
    assert _requested(weibo, "/api/container/getIndex", "since_id") == [
        None,
        "5197000000000100",
    ]


def test_comments_crawl_follows_max_id_to_the_last_page(weibo, tmp_path) -> None:
    result, docs = _crawl(weibo, tmp_path, date(2025, 8, 12), mode="comments", post_id=POST)
    # 0003 is from 08-10 (before the window) but hot comments are not in date order, so
    # page 2 is still fetched; 0005 has no date.
    assert sorted(docs) == ["5197000100000001", "5197000100000002", "5197000100000004"]
    assert _requested(weibo, "/comments/hotflow", "max_id") == [None, "139000000000001"]
    assert {q["id"] for _, q in weibo.requested} == {POST}
    assert docs["5197000100000002"].attributes == {
        "kind": "comment",
        "parent_id": POST,
        "likes": 3,
    }
    assert docs["5197000100000002"].text == "回复@爱吃橘子的猫:您好，请私信订单号，我们马上处理"
    assert [p for p in result.problems if "5197000100000005" in p]
    assert result.stats["voc/out_of_range"] == 1


#: Crawls that find nothing: (options, the query/uid/post id they ask for, stats key of the
#: one problem expected or None, words of that problem). The parser tests cover the other
#: empty and changed payloads, which take the same paths.
QUIET_CRAWLS = {
    "ok-100": ({"query": "需要登录"}, "需要登录", "voc/login_required", "set cookie_env to a"),
    "302-passport": (
        {"query": "跳转登录", "cookie_env": "WEIBO_TEST_COOKIE"},
        "跳转登录",
        "voc/login_required",
        "the cookie in $WEIBO_TEST_COOKIE was refused",
    ),
    "http-432": ({"mode": "comments", "post_id": "13"}, "13", "voc/login_required", "HTTP 432"),
    "search-layout": ({"query": "改版"}, "改版", "voc/layout_changed", "no data.cards"),
    "timeline-layout": (
        {"mode": "timeline", "uid": "2"},
        "2",
        "voc/layout_changed",
        "without an mblog",
    ),
    "rate-limited": ({"query": "限流"}, "限流", "voc/blocked", "请求过于频繁"),
    "rate-limited-403": ({"query": "限流403"}, "限流403", "voc/blocked", "请求过于频繁"),
    "captcha": ({"query": "验证码"}, "验证码", "voc/blocked", "/captcha?scene=limit"),
    "banned-418": ({"query": "封禁"}, "封禁", "voc/blocked", "HTTP 418"),
    "busy-page": ({"query": "繁忙"}, "繁忙", "voc/blocked", "系统繁忙"),
    "search-empty": ({"query": "没有结果"}, "没有结果", None, ""),
    "comments-empty": ({"mode": "comments", "post_id": "11"}, "11", None, ""),
}


def _target(path: str, query: dict[str, str]) -> str:
    """The query, uid or post id a request is about."""
    if "containerid" in query and query["containerid"].startswith("100103"):
        return parse_qs(query["containerid"][len("100103") :])["q"][0]
    return query.get("value") or query.get("id") or ""


@pytest.fixture(scope="module")
def quiet_crawls(tmp_path_factory) -> Iterator[dict[str, tuple[CrawlResult, dict, list]]]:
    """Every QUIET_CRAWLS crawl, run side by side (each is mostly waiting) on one server."""
    work = tmp_path_factory.mktemp("quiet")
    with (
        serve(_Handler, requested=[], headers=[]) as server,
        pytest.MonkeyPatch.context() as env,
        ThreadPoolExecutor(4) as pool,
    ):
        env.setenv("WEIBO_TEST_COOKIE", "SUB=expired")
        futures = {
            name: pool.submit(_crawl, server, work / name, date(2025, 8, 1), **options)
            for name, (options, *_) in QUIET_CRAWLS.items()
        }
        results = {name: future.result() for name, future in futures.items()}
    yield {
        name: (*results[name], [q for p, q in server.requested if _target(p, q) == target])
        for name, (_, target, *_) in QUIET_CRAWLS.items()
    }


@pytest.mark.parametrize("name", QUIET_CRAWLS)
def test_logins_changed_layouts_and_refusals_are_one_clear_problem_and_no_results_none(
    quiet_crawls, name: str
) -> None:
    result, docs, requests = quiet_crawls[name]
    _, _, key, words = QUIET_CRAWLS[name]
    assert docs == {} and result.returncode == 0
    assert len(requests) == 1  # nothing followed: not page 2, not passport
    if key is None:
        assert result.problems == []
        return
    assert result.stats[key] == 1
    [problem] = result.problems
    assert problem.startswith("weibo_test: http://127.0.0.1:")
    assert words in problem
    if key == "voc/login_required":
        assert "requires login" in problem
    if key == "voc/blocked":
        # The fix for a refusal is to slow down or pass the verification, never the parser.
        assert "slow down" in problem and "layout" not in problem
