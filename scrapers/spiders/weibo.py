"""Weibo through the m.weibo.cn JSON API: search results, a user's posts, a post's comments."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy
from scrapy.http import Response
from twisted.python.failure import Failure

from scrapers.spiders.base import VocSpider
from scrapers.weibo import (
    API_HEADERS,
    Blocked,
    LayoutChanged,
    LoginRequired,
    WeiboError,
    comments_url,
    extend_url,
    parse_card_page,
    parse_comments_page,
    parse_long_text,
    refusal_of_page,
    search_url,
    timeline_url,
)

MODES = ("search", "timeline", "comments")


class WeiboSpider(VocSpider):
    """``-a mode=search`` (``-a query=``, default the brand), ``timeline`` (``-a uid=``) or
    ``comments`` (``-a post_id=``, the numeric mid) from ``-a url=https://m.weibo.cn``;
    ``-a max_pages=`` (default 50) caps the pages of one listing."""

    name = "weibo"
    channel = "social"

    def __init__(
        self,
        mode: str = "search",
        query: str | None = None,
        uid: str | None = None,
        post_id: str | None = None,
        max_pages: str | int = 50,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.cookie_env = kwargs.get("cookie_env")
        self.mode = mode or "search"
        if self.mode not in MODES:
            raise ValueError(f"{self.name}: -a mode= must be one of {MODES}, got {mode!r}")
        self.query = query or self.brand or ""
        if self.mode == "search" and not self.query:
            raise ValueError(f"{self.name}: mode=search needs -a query=... (or a brand)")
        for option, value in (("uid", uid), ("post_id", post_id)):
            needed = (self.mode, option) in (("timeline", "uid"), ("comments", "post_id"))
            if needed and not (value and value.isdigit()):
                raise ValueError(
                    f"{self.name}: mode={self.mode} needs -a {option}=<digits>, got {value!r}"
                )
        self.uid, self.post_id = uid or "", post_id or ""
        try:
            self.max_pages = int(max_pages)
        except ValueError:
            raise ValueError(f"{self.name}: -a max_pages= must be a number") from None
        self.seen: set[str] = set()

    def first_url(self) -> str:
        if self.mode == "timeline":
            return timeline_url(self.start_url, self.uid)
        if self.mode == "comments":
            return comments_url(self.start_url, self.post_id)
        return search_url(self.start_url, self.query, 1)

    def api_request(self, url: str, callback: Any, **kwargs: Any) -> scrapy.Request:
        """A request as the mobile site's XHR makes it; a login redirect reaches the callback."""
        # 302 is how the API sends an anonymous client to passport or to a verification
        # page, 432 how it refuses one, 403/429 its rate limit and 418 its ban: each must
        # reach the callback to be named for what it is (login required, blocked).
        meta: dict[str, Any] = {"handle_httpstatus_list": [302, 403, 418, 429, 432]}
        if self.cookie:
            # Scrapy's CookiesMiddleware drops a hand-set Cookie header unless told not to.
            meta["dont_merge_cookies"] = True
        return self.request(url, callback, headers=API_HEADERS, meta=meta, **kwargs)

    async def start(self) -> AsyncIterator[scrapy.Request]:
        yield self.api_request(self.first_url(), self.parse, cb_kwargs={"page": 1})

    def start_requests(self) -> Iterator[scrapy.Request]:  # Scrapy < 2.13
        yield self.api_request(self.first_url(), self.parse, cb_kwargs={"page": 1})

    def parse(self, response: Response, page: int = 1, **kwargs: Any) -> Iterator[Any]:
        try:
            payload = self.payload(response)
            if self.mode == "comments":
                yield from self.parse_comments(response, payload, page)
            else:
                yield from self.parse_cards(response, payload, page)
        except WeiboError as exc:
            self.report(response, exc)

    def parse_cards(self, response: Response, payload: Any, page: int) -> Iterator[Any]:
        timeline = self.mode == "timeline"
        listing = parse_card_page(
            payload, self.site_now(response), "since_id" if timeline else "page"
        )
        self.parse_problems(response, listing.problems)
        # Posts already seen say nothing about where this page sits in time (search
        # re-shows hot posts), and a page of nothing new ends the listing.
        fresh = self.unseen(listing.posts)
        for post in self.in_window(fresh):
            if post["external_id"] in listing.truncated:
                url = extend_url(self.start_url, post["external_id"])
                request = self.api_request(url, self.parse_long_text, cb_kwargs={"post": post})
                yield request.replace(errback=self.on_long_text_error)
            else:
                yield post
        dated = [p for p in fresh if p["external_id"] not in listing.pinned]
        if timeline:
            # A timeline is newest first once past the pinned post: one post before the
            # window means every later page is before it too.
            stop = any(self.older_than_window([p]) for p in dated)
        else:
            stop = self.older_than_window(dated)  # search mixes hot and new posts
        # A timeline pages by since_id, or (older answers) by page number; search by page.
        cursor = listing.cursor or (listing.next_page if timeline else None)
        if not fresh:
            self.stopped("a page with nothing new", page)
        elif stop:
            self.stopped("reached the window's start", page)
        elif not cursor:
            self.stopped("the listing's last page (no next cursor)", page)
        elif self.more_pages(page):
            if timeline and listing.cursor:
                url = timeline_url(self.start_url, self.uid, listing.cursor)
            elif timeline:
                url = timeline_url(self.start_url, self.uid, page=cursor)
            else:
                url = search_url(self.start_url, self.query, cursor)
            yield self.api_request(url, self.parse, cb_kwargs={"page": page + 1})

    def parse_comments(self, response: Response, payload: Any, page: int) -> Iterator[Any]:
        listing = parse_comments_page(payload, self.post_id, self.site_now(response))
        self.parse_problems(response, listing.problems)
        # Comments come hottest first, so dates say nothing about later pages.
        fresh = self.unseen(listing.comments)
        yield from self.in_window(fresh)
        if not fresh:
            self.stopped("a page with nothing new", page)
        elif not listing.max_id:
            self.stopped("the listing's last page (max_id 0)", page)
        if fresh and listing.max_id and self.more_pages(page):
            url = comments_url(self.start_url, self.post_id, listing.max_id, listing.max_id_type)
            yield self.api_request(url, self.parse, cb_kwargs={"page": page + 1})

    def parse_long_text(self, response: Response, post: dict[str, Any]) -> Iterator[Any]:
        try:
            text = parse_long_text(self.payload(response))
        except WeiboError as exc:
            self.report(response, exc, "full text not available, keeping the cut text")
            self.crawler.stats.inc_value("voc/long_text_truncated")  # type: ignore[union-attr]
            yield post
            return
        yield {**post, "text": text}

    def on_long_text_error(self, failure: Failure) -> Iterator[Any]:
        self.on_download_error(failure)
        self.crawler.stats.inc_value("voc/long_text_truncated")  # type: ignore[union-attr]
        yield failure.request.cb_kwargs["post"]  # type: ignore[attr-defined]

    def payload(self, response: Response) -> Any:
        """The decoded JSON answer, or the reason there is none as a `WeiboError`."""
        location = response.headers.get(b"Location", b"").decode("latin-1")
        if "passport." in response.url or "/captcha" in response.url:
            location = location or response.url
        refusal = refusal_of_page(response.status, response.body, location)
        if refusal is not None:
            raise refusal
        if response.status != 200:
            raise WeiboError(f"unexpected HTTP {response.status} {location}".strip())
        try:
            return json.loads(response.body)
        except ValueError:
            preview = response.body[:100].decode("utf-8", "replace")
            raise LayoutChanged(f"not JSON: {preview!r}") from None

    def report(self, response: Response, exc: WeiboError, consequence: str = "") -> None:
        message = f"{self.source_name}: {response.url}: {exc}"
        if isinstance(exc, Blocked):
            message += (
                ": slow down (a larger download_delay, fewer pages per run) and wait; a "
                "verification page must be passed once in a browser with the same cookie"
            )
        elif isinstance(exc, LoginRequired):
            if self.cookie:
                message += f": the cookie in ${self.cookie_env} was refused; refresh it"
            else:
                message += ": set cookie_env to a variable holding your m.weibo.cn cookie"
        self.problem(exc.key, f"{message}; {consequence}" if consequence else message)

    def unseen(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Records not yielded before in this crawl (search pages repeat posts)."""
        fresh = [r for r in records if r["external_id"] not in self.seen]
        self.seen.update(r["external_id"] for r in fresh)
        return fresh

    def more_pages(self, page: int) -> bool:
        if page < self.max_pages:
            return True
        self.crawler.stats.inc_value("voc/max_pages_reached")  # type: ignore[union-attr]
        self.stopped(f"max_pages ({self.max_pages}) reached", page)
        return False

    def stopped(self, reason: str, page: int) -> None:
        """Record why the listing stopped and on which page (``voc/stop_reason``): paging
        never ends without saying so."""
        stats = self.crawler.stats
        assert stats is not None
        stats.set_value("voc/stop_reason", f"{reason} (page {page})")
        stats.set_value("voc/pages", page)
