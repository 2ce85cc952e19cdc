"""Complaint platforms (黑猫投诉 style): a keyword or company list, then each complaint's page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from scrapy.http import Response
from twisted.python.failure import Failure

from scrapers.complaints import (
    detail_url,
    list_url,
    merge_detail,
    parse_detail_page,
    parse_list_page,
    with_customer_key,
)
from scrapers.errors import LayoutChanged
from scrapers.spiders.base import VocSpider


class ComplaintsSpider(VocSpider):
    """Complaints matching ``-a keywords=`` or received by ``-a company_id=`` on the site at
    ``-a url=``; ``-a details=false`` keeps the list's summaries instead of reading each page."""

    name = "complaints"
    # Public complaints are public exposure, like posts; helpdesk tickets are private.
    channel = "social"

    def __init__(
        self,
        keywords: str | None = None,
        company_id: str | None = None,
        details: str = "true",
        page_size: str = "10",
        max_pages: str = "50",
        customer_key: str = "none",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if bool(keywords) == bool(company_id):
            raise ValueError(f"{self.name}: give one of -a keywords=... or -a company_id=...")
        if str(details).lower() not in ("true", "false"):
            raise ValueError(f"{self.name}: -a details= must be true or false, got {details!r}")
        self.keywords = keywords or None
        self.company_id = company_id or None
        self.details = str(details).lower() == "true"
        self.page_size = _positive(self.name, "page_size", page_size)
        self.max_pages = _positive(self.name, "max_pages", max_pages)
        if customer_key not in ("none", "author", "phone_in_text", "email_in_text"):
            raise ValueError(f"{self.name}: -a customer_key= is not a known key: {customer_key!r}")
        self.customer_key = customer_key

    def first_url(self) -> str:
        return self.page_url(1)

    def page_url(self, page: int) -> str:
        return list_url(
            self.start_url,
            page,
            keywords=self.keywords,
            company_id=self.company_id,
            page_size=self.page_size,
        )

    def parse(self, response: Response, page: int = 1, **kwargs: Any) -> Iterator[Any]:
        try:
            complaints, pager, problems = parse_list_page(
                self.read_json(response), self.site_now(response)
            )
        except LayoutChanged as exc:
            self.problem("voc/layout_changed", f"{self.source_name}: {response.url}: {exc}")
            return
        except ValueError as exc:  # the site's error answer
            self.parse_problems(response, [str(exc)])
            return
        self.parse_problems(response, problems)
        for complaint in self.in_window(complaints):
            if self.details and complaint["url"]:
                yield self.detail_request(complaint)
            else:
                yield self.keyed(complaint)
        # No pager (a variant endpoint): go on until an empty page or max_pages.
        last = min(pager.page_amount if pager else self.max_pages, self.max_pages)
        if complaints and page < last and not self.older_than_window(complaints):
            yield self.request(self.page_url(page + 1), self.parse, cb_kwargs={"page": page + 1})

    def read_json(self, response: Response) -> Any:
        try:
            return response.json()
        except ValueError as exc:  # an HTML page where the API answer was
            raise LayoutChanged(f"not JSON ({exc})") from None

    def detail_request(self, complaint: dict[str, Any]) -> Any:
        url = detail_url(self.start_url, complaint["url"])
        request = self.request(url, self.parse_detail, cb_kwargs={"complaint": complaint})
        return request.replace(errback=self.on_detail_error)

    def parse_detail(self, response: Response, complaint: dict[str, Any]) -> Iterator[Any]:
        """The complaint completed from its page; on any trouble, the list's version."""
        try:
            detail, problems = parse_detail_page(
                response.text, response.url, self.site_now(response)
            )
            merged = merge_detail(complaint, detail)
        except LayoutChanged as exc:
            self.problem(
                "voc/layout_changed",
                f"{self.source_name}: {response.url}: {exc}; kept the list's summary",
            )
            yield self.keyed(complaint)
            return
        except ValueError as exc:  # a login page, another complaint's page
            self.parse_problems(response, [f"{exc}; kept the list's summary"])
            yield self.keyed(complaint)
            return
        self.parse_problems(response, problems)
        yield self.keyed(merged)

    def on_detail_error(self, failure: Failure) -> Iterator[Any]:
        self.on_download_error(failure)
        yield self.keyed(failure.request.cb_kwargs["complaint"])  # type: ignore[attr-defined]

    def keyed(self, complaint: dict[str, Any]) -> dict[str, Any]:
        """The complaint with its customer key (option customer_key), from its full text."""
        return with_customer_key(complaint, self.customer_key)


def _positive(spider: str, name: str, value: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number < 1:
        raise ValueError(f"{spider}: -a {name}= must be a positive integer, got {value!r}")
    return number
