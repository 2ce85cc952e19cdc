"""Microblog search: one query, newest first, cursor pagination."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from scrapy.http import Response
from w3lib.url import add_or_replace_parameter

from scrapers.parsers import parse_search_page
from scrapers.spiders.base import VocSpider


class MicroblogSpider(VocSpider):
    """Posts matching ``-a query=`` from a weibo-style search API (``-a url=`` the endpoint)."""

    name = "microblog"
    channel = "social"

    def __init__(self, query: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not query:
            raise ValueError(f"{self.name}: -a query=... is required")
        self.query = query

    def first_url(self) -> str:
        return add_or_replace_parameter(self.start_url, "q", self.query)

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        try:
            posts, cursor, problems = parse_search_page(response.json())
        except ValueError as exc:
            self.parse_problems(response, [str(exc)])
            return
        self.parse_problems(response, problems)
        yield from self.in_window(posts)
        if cursor and not self.older_than_window(posts):
            next_url = add_or_replace_parameter(response.url, "cursor", cursor)
            yield self.request(next_url, self.parse)
