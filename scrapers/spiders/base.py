"""The shared base spider: arguments, date window, pagination stop, problem accounting."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

import scrapy
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from scrapers.parsers import CHINA_TZ
from scrapers.stats import record_problem


class VocSpider(scrapy.Spider):
    """Base for VoC spiders; subclasses set `name`, `channel` and parse callbacks.

    Arguments (``-a``): ``source`` (Document.source; default the spider name), ``url``
    (start URL, required), ``since``/``until`` (YYYY-MM-DD, inclusive, in the site's
    timezone), ``brand``; the author salt comes from ``$VOC_AUTHOR_SALT``.

    Secrets never travel as arguments: ``cookie_env`` and ``proxy_env`` name environment
    variables holding a Cookie header value and a proxy URL for this source (the standard
    ``http_proxy``/``https_proxy`` variables apply to every source anyway).
    """

    channel: ClassVar[str] = ""
    #: Timezone the site prints and means its dates in.
    page_tz: ClassVar[Any] = CHINA_TZ

    def __init__(
        self,
        source: str | None = None,
        url: str | None = None,
        since: str | None = None,
        until: str | None = None,
        brand: str | None = None,
        author_salt: str = "",
        cookie_env: str | None = None,
        proxy_env: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not url:
            raise ValueError(f"{self.name}: -a url=... is required")
        self.source_name = source or self.name
        self.start_url = url
        self.since = _parse_day("since", since)
        self.until = _parse_day("until", until)
        if self.since and self.until and self.since > self.until:
            raise ValueError(f"{self.name}: since {self.since} is after until {self.until}")
        self.brand = brand or None
        # Passed in the environment by scrapers.run so it never shows in the process list.
        self.author_salt = author_salt or os.environ.get("VOC_AUTHOR_SALT", "")
        self.cookie = _from_env(self.name, "cookie_env", cookie_env)
        self.proxy = _from_env(self.name, "proxy_env", proxy_env)

    async def start(self) -> AsyncIterator[scrapy.Request]:
        yield self.request(self.first_url(), self.parse)

    def start_requests(self) -> Iterator[scrapy.Request]:  # Scrapy < 2.13
        yield self.request(self.first_url(), self.parse)

    def first_url(self) -> str:
        return self.start_url

    def request(
        self, url: str, callback: Callable[[Response], Any], **kwargs: Any
    ) -> scrapy.Request:
        """A request with this source's cookie and proxy, and problem accounting on failure."""
        headers = dict(kwargs.pop("headers", None) or {})
        if self.cookie:
            headers.setdefault("Cookie", self.cookie)
        meta = dict(kwargs.pop("meta", None) or {})
        if self.cookie:
            # Scrapy's CookiesMiddleware drops a hand-set Cookie header unless told not to
            # merge cookies for this request.
            meta.setdefault("dont_merge_cookies", True)
        if self.proxy:
            meta.setdefault("proxy", self.proxy)
        return scrapy.Request(
            url,
            callback=callback,
            errback=self.on_download_error,
            headers=headers,
            meta=meta,
            **kwargs,
        )

    def on_download_error(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        if failure.check(HttpError):
            reason = f"HTTP {failure.value.response.status}"
        else:
            reason = f"{type(failure.value).__name__}: {failure.value}"
        self.problem(
            "voc/download_error", f"{self.source_name}: could not fetch {request.url}: {reason}"
        )

    def problem(self, key: str, message: str) -> None:
        assert self.crawler.stats is not None
        record_problem(self.crawler.stats, key, message, self.logger)

    def parse_problems(self, response: Response, messages: Iterable[str]) -> None:
        """Count and keep each parse problem of a page, naming the source and URL."""
        for message in messages:
            self.problem("voc/parse_error", f"{self.source_name}: {response.url}: {message}")

    def site_now(self, response: Response) -> datetime:
        """The site's clock: the response's Date header, else ours (for relative dates)."""
        header = response.headers.get(b"Date")
        if header:
            try:
                return parsedate_to_datetime(header.decode("latin-1")).astimezone(self.page_tz)
            except (TypeError, ValueError):
                self.problem(
                    "voc/bad_date_header",
                    f"{self.source_name}: unreadable Date header {header!r} on "
                    f"{response.url}; using the crawl clock",
                )
        return datetime.now(self.page_tz)

    def day_of(self, record: dict[str, Any]) -> date:
        return record["created_at"].astimezone(self.page_tz).date()

    def in_window(self, records: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """The records dated within [since, until]; the others are counted, not kept."""
        assert self.crawler.stats is not None
        for record in records:
            day = self.day_of(record)
            if (self.since and day < self.since) or (self.until and day > self.until):
                self.crawler.stats.inc_value("voc/out_of_range")
            else:
                yield record

    def older_than_window(self, records: list[dict[str, Any]]) -> bool:
        """True if a listing page is entirely before `since`, so later pages are too."""
        return bool(self.since and records and all(self.day_of(r) < self.since for r in records))


def _from_env(spider: str, option: str, variable: str | None) -> str | None:
    if not variable:
        return None
    value = os.environ.get(variable)
    if not value:
        raise ValueError(f"{spider}: {option} names ${variable}, which is not set")
    return value


def _parse_day(name: str, value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"-a {name}= must be YYYY-MM-DD, got {value!r}") from exc
