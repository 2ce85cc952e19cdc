"""RSS/Atom feeds: the items of one feed URL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from scrapy.http import Response

from scrapers.feeds import parse_feed, without_forbidden_characters
from scrapers.spiders.base import VocSpider


class FeedSpider(VocSpider):
    """Items of the RSS 2.0 or Atom feed at ``-a url=`` (news, forums, blogs)."""

    name = "feed"
    channel = "social"

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        body, n_removed = without_forbidden_characters(response.body)
        if n_removed:
            # Counted and named, not a skipped item: every item of the feed is still read.
            self.problem(
                "voc/repaired",
                f"{self.source_name}: {response.url}: {n_removed} control character(s) "
                "that XML forbids removed before parsing",
            )
        try:
            records, problems = parse_feed(body)
        except ValueError as exc:
            self.parse_problems(response, [str(exc)])
            return
        self.parse_problems(response, problems)
        if not records:
            self.problem("voc/empty_page", f"{self.source_name}: {response.url}: feed has no items")
        yield from self.in_window(records)
