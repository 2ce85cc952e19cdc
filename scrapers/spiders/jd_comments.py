"""JD product comments, newest first, page by page until the window or the comments end."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from scrapy.http import Response

from scrapers.charset import decode_chinese
from scrapers.jd import (
    CALLBACK_NAME,
    MAX_PAGES,
    JdErrorPage,
    JdLayoutChanged,
    comments_url,
    load_payload,
    parse_comments_page,
)
from scrapers.spiders.base import VocSpider


def _int_arg(spider: str, name: str, value: Any, low: int, high: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = low - 1
    if not low <= number <= high:
        raise ValueError(f"{spider}: -a {name}= must be a whole number {low}-{high}, got {value!r}")
    return number


class JdCommentsSpider(VocSpider):
    """Comments on ``-a product_id=`` from the comments API at ``-a url=``; options
    ``page_size`` (10), ``score`` (0 = all), ``sort`` (6 = newest), ``callback`` (JSONP),
    ``max_pages`` (100)."""

    name = "jd_comments"
    channel = "review"

    def __init__(
        self,
        product_id: str | None = None,
        page_size: str = "10",
        score: str = "0",
        sort: str = "6",
        callback: str | None = None,
        max_pages: str = str(MAX_PAGES),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not product_id or not product_id.isdigit():
            raise ValueError(f"{self.name}: -a product_id=<digits> is required, got {product_id!r}")
        if callback and not CALLBACK_NAME.match(callback):
            raise ValueError(f"{self.name}: -a callback= must be a JS name, got {callback!r}")
        self.product_id = product_id
        self.page_size = _int_arg(self.name, "page_size", page_size, 1, 100)
        self.score = _int_arg(self.name, "score", score, 0, 7)
        self.sort = _int_arg(self.name, "sort", sort, 0, 10)
        self.max_pages = _int_arg(self.name, "max_pages", max_pages, 1, 1000)
        self.callback = callback or None

    def page_url(self, page: int) -> str:
        return comments_url(
            self.start_url,
            self.product_id,
            page,
            self.page_size,
            self.score,
            self.sort,
            self.callback,
        )

    def first_url(self) -> str:
        return self.page_url(0)

    def parse(self, response: Response, page: int = 0, **kwargs: Any) -> Iterator[Any]:
        content_type = response.headers.get(b"Content-Type", b"").decode("latin-1")
        charset = m[1] if (m := re.search(r"charset=([\w-]+)", content_type, re.I)) else None
        text, _ = decode_chinese(response.body, charset)
        try:
            result = parse_comments_page(load_payload(text), self.product_id)
        except JdErrorPage as exc:
            self.problem("voc/error_page", f"{self.source_name}: {response.url}: {exc}")
            return
        except JdLayoutChanged as exc:
            self.problem("voc/layout_changed", f"{self.source_name}: {response.url}: {exc}")
            return
        self.parse_problems(response, result.problems)
        if result.raw_count and not result.comments:
            self.problem(
                "voc/layout_changed",
                f"{self.source_name}: {response.url}: none of {result.raw_count} comments "
                "could be read",
            )
            return
        yield from self.in_window(result.comments)
        last_page = min(self.max_pages, result.max_page or self.max_pages)
        # Only the newest-first order (sortType=6) makes an old page mean older pages follow.
        past_window = self.sort == 6 and self.older_than_window(result.comments)
        if result.comments and page + 1 < last_page and not past_window:
            yield self.request(self.page_url(page + 1), self.parse, cb_kwargs={"page": page + 1})
