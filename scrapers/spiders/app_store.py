"""App Store customer reviews of one app in one country, newest first."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from scrapy.http import Response

from scrapers.appstore import (
    FORMATS,
    MAX_PAGES,
    parse_reviews_page,
    parse_reviews_xml,
    reviews_url,
)
from scrapers.errors import LayoutChanged
from scrapers.spiders.base import VocSpider


class AppStoreSpider(VocSpider):
    """Reviews of ``-a app_id=`` in ``-a country=`` (default cn) from the iTunes RSS feed at
    ``-a url=`` (e.g. ``https://itunes.apple.com``), ``-a format=json`` (default) or ``xml``."""

    name = "app_store"
    channel = "review"

    def __init__(
        self, app_id: str | None = None, country: str = "cn", format: str = "json", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        if not app_id or not app_id.isdigit():
            raise ValueError(f"{self.name}: -a app_id=<digits> is required, got {app_id!r}")
        fmt = (format or "json").strip().lower()
        if fmt not in FORMATS:
            raise ValueError(f"{self.name}: -a format= must be json or xml, got {format!r}")
        self.app_id = app_id
        self.country = country or "cn"
        self.format = fmt

    def first_url(self) -> str:
        return self.page_url(1)

    def page_url(self, page: int) -> str:
        return reviews_url(self.start_url, self.country, self.app_id, page, self.format)

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        try:
            reviews, problems = self.read_page(response)
        except LayoutChanged as exc:
            self.problem("voc/layout_changed", f"{self.source_name}: {response.url}: {exc}")
            return
        except ValueError as exc:  # Apple's error payload
            self.parse_problems(response, [str(exc)])
            return
        self.parse_problems(response, problems)
        yield from self.in_window(reviews)
        page = int(m[1]) if (m := re.search(r"/page=(\d+)/", response.url)) else MAX_PAGES
        if reviews and page < MAX_PAGES and not self.older_than_window(reviews):
            yield self.request(self.page_url(page + 1), self.parse)

    def read_page(self, response: Response) -> tuple[list[dict[str, Any]], list[str]]:
        if self.format == "xml":
            return parse_reviews_xml(response.body)
        try:
            payload = response.json()
        except ValueError as exc:  # an HTML page where the feed was
            raise LayoutChanged(f"not JSON ({exc})") from None
        return parse_reviews_page(payload)
