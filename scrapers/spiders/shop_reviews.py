"""Shop product reviews: the shop index, then each product's paginated review pages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from scrapy.http import Response

from scrapers.parsers import parse_review_page, parse_shop_index
from scrapers.spiders.base import VocSpider


class ShopReviewsSpider(VocSpider):
    """Reviews of every product linked from the shop index (``-a url=`` the index)."""

    name = "shop_reviews"
    channel = "review"

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        links = parse_shop_index(response.text, response.url)
        if not links:
            self.problem(
                "voc/parse_error", f"{self.source_name}: no product links on {response.url}"
            )
        for link in links:
            yield self.request(link, self.parse_reviews)

    def parse_reviews(self, response: Response) -> Iterator[Any]:
        # Pages say "3天前"; the Date header says when that page was rendered.
        reviews, next_url, problems = parse_review_page(
            response.text, response.url, self.site_now(response)
        )
        for message in problems:
            self.problem("voc/parse_error", f"{self.source_name}: {message}")
        yield from self.in_window(reviews)
        if next_url and not self.older_than_window(reviews):
            yield self.request(next_url, self.parse_reviews)
