"""RSS/Atom feeds: the items of one feed URL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from scrapy.http import Response

from scrapers.feeds import parse_feed
from scrapers.spiders.base import VocSpider


class FeedSpider(VocSpider):
    """Items of the RSS 2.0 or Atom feed at ``-a url=`` (news, forums, blogs)."""

    name = "feed"
    channel = "social"

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        try:
            records, problems = parse_feed(response.body)
        except ValueError as exc:
            self.parse_problems(response, [str(exc)])
            return
        self.parse_problems(response, problems)
        if not records:
            self.problem("voc/empty_page", f"{self.source_name}: {response.url}: feed has no items")
        yield from self.in_window(records)
