"""Downloader middlewares."""

from __future__ import annotations

import asyncio
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.http import Response


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retries, spaced out: the n-th retry of a request waits
    ``RETRY_BACKOFF_BASE * 2**(n-1)`` seconds (at most ``RETRY_BACKOFF_MAX``), or what the
    server's ``Retry-After`` asks for on 429/503 (also capped), so a struggling site is
    not hammered by immediate re-requests."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler.settings)
        self.crawler = crawler
        self.base = crawler.settings.getfloat("RETRY_BACKOFF_BASE", 1.0)
        self.cap = crawler.settings.getfloat("RETRY_BACKOFF_MAX", 30.0)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BackoffRetryMiddleware:
        return cls(crawler)

    async def process_response(  # type: ignore[override]
        self, request: Request, response: Response, spider: Any = None
    ) -> Request | Response:
        result = super().process_response(request, response)
        if isinstance(result, Request):
            await asyncio.sleep(self._delay(result, response))
        return result

    async def process_exception(  # type: ignore[override]
        self, request: Request, exception: Exception, spider: Any = None
    ) -> Request | Response | None:
        result = super().process_exception(request, exception)
        if isinstance(result, Request):
            await asyncio.sleep(self._delay(result, None))
        return result

    def _delay(self, retry: Request, response: Response | None) -> float:
        if response is not None and response.status in (429, 503):
            header = response.headers.get(b"Retry-After")
            if header and header.strip().isdigit():
                return min(float(header.strip()), self.cap)
        attempt = int(retry.meta.get("retry_times", 1))
        return min(self.base * 2 ** (attempt - 1), self.cap)
