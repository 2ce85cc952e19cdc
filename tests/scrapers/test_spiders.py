"""Real crawls: Scrapy subprocesses against the demo server on localhost."""

from __future__ import annotations

import json
import math
import socket
from datetime import date
from pathlib import Path

import pytest

from demo.data import build_corpus
from demo.events import DEMO_NOW
from demo.server import POSTS_PER_PAGE, DemoServer, render_relative_time
from scrapers.run import CrawlResult, crawl_command, run_crawl
from voc.records import Document
from voc.settings import SourceConfig, demo_sources

SINCE, UNTIL = date(2025, 9, 20), date(2025, 9, 30)
SALT = "test-salt"


def in_window(stamp) -> bool:
    return SINCE <= stamp.date() <= UNTIL


@pytest.fixture(scope="module")
def crawls(demo_server: DemoServer, tmp_path_factory) -> dict[str, CrawlResult]:
    work = tmp_path_factory.mktemp("crawl")
    shop, weibo, *_ = demo_sources(demo_server.base_url)
    return {
        src.name: run_crawl(src, SINCE, UNTIL, work, SALT, timeout=120) for src in (shop, weibo)
    }


def read_documents(result: CrawlResult) -> list[Document]:
    lines = result.jsonl_path.read_text(encoding="utf-8").splitlines()
    return [Document.from_dict(json.loads(line)) for line in lines]


def test_shop_crawl_returns_exactly_the_window_minus_the_broken_review(crawls) -> None:
    result = crawls["demo_shop"]
    corpus = build_corpus()
    expected = {
        r.review_id for r in corpus.reviews if in_window(r.created_at) and not r.broken_date
    }
    docs = read_documents(result)
    assert result.returncode == 0
    assert {d.external_id for d in docs} == expected
    assert len(docs) == len(expected) == result.item_count


def test_shop_documents_carry_rating_product_brand_and_hashed_author(crawls) -> None:
    reviews = {r.review_id: r for r in build_corpus().reviews}
    for doc in read_documents(crawls["demo_shop"]):
        review = reviews[doc.external_id]
        assert (doc.source, doc.channel, doc.brand) == ("demo_shop", "review", "客声优选")
        assert doc.rating == review.rating
        assert doc.product == review.product_id
        assert doc.text == review.text
        assert doc.author_hash and review.nickname not in doc.author_hash
        assert doc.url and doc.url.endswith(f"#review-{doc.external_id}")


def rendered_kind(text: str) -> str:
    if text.endswith(("小时前", "分钟前")) or text == "刚刚":
        return "hours"
    if text.startswith("昨天"):
        return "yesterday"
    return "days" if text.endswith("天前") else "absolute"


def test_relative_shop_dates_resolve_to_the_right_day(crawls) -> None:
    reviews = {r.review_id: r for r in build_corpus().reviews}
    kinds = set()
    for doc in read_documents(crawls["demo_shop"]):
        true_time = reviews[doc.external_id].created_at
        assert doc.created_at.date() == true_time.date(), doc.external_id
        kinds.add(rendered_kind(render_relative_time(true_time, DEMO_NOW)))
    # The window really went through every way the shop prints a date.
    assert kinds == {"hours", "yesterday", "days", "absolute"}


def test_malformed_review_is_counted_and_the_crawl_carries_on(crawls) -> None:
    result = crawls["demo_shop"]
    broken = next(r for r in build_corpus().reviews if r.broken_date)
    assert result.stats["voc/parse_error"] == 1
    assert result.stats["finish_reason"] == "finished"
    [problem] = result.problems
    assert problem.startswith("demo_shop: http://127.0.0.1:")
    assert f"review {broken.review_id}" in problem and "0000-00-00 00:00" in problem


def test_weibo_crawl_returns_the_window_with_raw_text(crawls) -> None:
    result = crawls["demo_weibo"]
    posts = {p.post_id: p for p in build_corpus().posts if in_window(p.created_at)}
    docs = read_documents(result)
    assert result.returncode == 0 and result.problems == []
    assert {d.external_id for d in docs} == set(posts)
    assert len(docs) == result.item_count
    for doc in docs:
        post = posts[doc.external_id]
        assert doc.text == post.text  # markup and all: the normaliser cleans, not the spider
        assert doc.created_at == post.created_at
        assert (doc.repost_count, doc.comment_count) == (post.reposts_count, post.comments_count)
        assert doc.channel == "social" and doc.rating is None
    assert any("<br />" in d.text or "<a href=" in d.text for d in docs)


def test_weibo_crawl_stops_paging_once_past_since(crawls) -> None:
    newer = sum(1 for p in build_corpus().posts if p.created_at.date() >= SINCE)
    pages = math.ceil(newer / POSTS_PER_PAGE) + 1  # plus the one page entirely older
    # + robots.txt; the whole stream would be ~330 pages.
    assert crawls["demo_weibo"].stats["downloader/request_count"] <= pages + 1


def test_unreachable_source_gives_no_items_and_a_problem_naming_it(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on the port once the socket is closed.
    url = f"http://127.0.0.1:{port}/shop/"
    source = SourceConfig("dead_shop", "shop_reviews", url)
    result = run_crawl(source, SINCE, UNTIL, tmp_path, SALT, timeout=120)
    assert result.item_count == 0
    assert result.jsonl_path.read_text(encoding="utf-8") == ""
    assert any(p.startswith("dead_shop: ") and url in p for p in result.problems)
    assert result.stats["voc/download_error"] == 1


def test_crawl_command_maps_kind_to_spider_and_passes_the_window(tmp_path: Path) -> None:
    _, weibo, tickets, _ = demo_sources("http://127.0.0.1:1")
    argv = crawl_command(weibo, SINCE, UNTIL, tmp_path / "o.jsonl", tmp_path / "s.json")
    assert argv[1:5] == ["-m", "scrapy", "crawl", "microblog"]
    assert "query=客声优选" in argv and "since=2025-09-20" in argv and "until=2025-09-30" in argv
    assert f"{tmp_path / 'o.jsonl'}:jsonlines" in argv
    assert not any("salt" in a for a in argv)  # secrets never go on the command line
    with pytest.raises(ValueError, match="ticket_export"):
        crawl_command(tickets, SINCE, UNTIL, tmp_path / "o", tmp_path / "s")


def test_source_options_become_spider_arguments_or_scrapy_settings(tmp_path: Path) -> None:
    source = SourceConfig(
        "polite",
        "html_reviews",
        "http://127.0.0.1:1/",
        {
            "brand": "客声",
            "download_delay": 2.5,
            "obey_robots": False,
            "cookie_env": "POLITE_COOKIE",
            "selectors": {"item": "div.review", "text": "p::text"},
        },
    )
    argv = crawl_command(source, SINCE, UNTIL, tmp_path / "o", tmp_path / "s")
    args = [argv[i + 1] for i, a in enumerate(argv) if a == "-a"]
    settings = [argv[i + 1] for i, a in enumerate(argv) if a == "-s"]
    assert "brand=客声" in args and "cookie_env=POLITE_COOKIE" in args
    assert 'selectors={"item": "div.review", "text": "p::text"}' in args
    assert "DOWNLOAD_DELAY=2.5" in settings and "ROBOTSTXT_OBEY=false" in settings


def test_cookie_and_proxy_come_from_the_named_environment_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from scrapers.spiders.feed import FeedSpider

    monkeypatch.setenv("SHOP_COOKIE", "SUB=abc")
    monkeypatch.setenv("SHOP_PROXY", "http://proxy.local:3128")
    spider = FeedSpider(url="http://x/", cookie_env="SHOP_COOKIE", proxy_env="SHOP_PROXY")
    request = spider.request("http://x/feed", spider.parse)
    assert request.headers["Cookie"] == b"SUB=abc"
    assert request.meta["proxy"] == "http://proxy.local:3128"
    assert "Cookie" not in FeedSpider(url="http://x/").request("http://x/", spider.parse).headers
    with pytest.raises(ValueError, match=r"cookie_env names \$MISSING_COOKIE, which is not set"):
        FeedSpider(url="http://x/", cookie_env="MISSING_COOKIE")
