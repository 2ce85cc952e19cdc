"""App Store customer reviews of one app in one country, newest first."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from scrapy.http import Response

from scrapers.appstore import MAX_PAGES, parse_reviews_page, reviews_url
from scrapers.spiders.base import VocSpider


class AppStoreSpider(VocSpider):
    """Reviews of ``-a app_id=`` in ``-a country=`` (default cn) from the iTunes RSS feed at
    ``-a url=`` (e.g. ``https://itunes.apple.com``)."""

    name = "app_store"
    channel = "review"

    def __init__(self, app_id: str | None = None, country: str = "cn", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not app_id or not app_id.isdigit():
            raise ValueError(f"{self.name}: -a app_id=<digits> is required, got {app_id!r}")
        self.app_id = app_id
        self.country = country or "cn"

    def first_url(self) -> str:
        return reviews_url(self.start_url, self.country, self.app_id, 1)

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        try:
            reviews, problems = parse_reviews_page(response.json())
        except ValueError as exc:
            self.parse_problems(response, [str(exc)])
            return
        self.parse_problems(response, problems)
        yield from self.in_window(reviews)
        page = int(m[1]) if (m := re.search(r"/page=(\d+)/", response.url)) else MAX_PAGES
        if reviews and page < MAX_PAGES and not self.older_than_window(reviews):
            url = reviews_url(self.start_url, self.country, self.app_id, page + 1)
            yield self.request(url, self.parse)
