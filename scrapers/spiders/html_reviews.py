"""Reviews from any HTML listing, read with the selectors in the source's configuration."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from scrapy.http import Response, TextResponse

from scrapers.charset import decode_chinese
from scrapers.htmlconfig import load_config, parse_listing
from scrapers.spiders.base import VocSpider

#: HTTP statuses of a refusal: forbidden (often a rate limit), the 418 some Chinese sites
#: answer a banned client, too many requests.
REFUSAL_STATUSES = (403, 418, 429)


class HtmlReviewsSpider(VocSpider):
    """Reviews on the listing at ``-a url=`` and its next pages, read with ``-a selectors=``
    (JSON); options ``rating_scale``, ``rating_regex``, ``date_format``, ``max_pages``,
    ``encoding``, ``newest_first`` (see `scrapers.htmlconfig`)."""

    name = "html_reviews"
    channel = "review"

    def __init__(
        self,
        selectors: str | None = None,
        rating_scale: str | None = None,
        rating_regex: str | None = None,
        date_format: str | None = None,
        max_pages: str | None = None,
        encoding: str | None = None,
        newest_first: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.config = load_config(
            self.source_name,
            selectors,
            rating_scale=rating_scale,
            rating_regex=rating_regex,
            date_format=date_format,
            max_pages=max_pages,
            encoding=encoding,
            newest_first=newest_first,
        )

    def request(self, url: str, callback: Any, **kwargs: Any) -> Any:
        """A listing request whose refusals (403, 418, 429 after its retries) reach `parse`
        to be named blocked, not lost as a download error."""
        meta = dict(kwargs.pop("meta", None) or {})
        meta.setdefault("handle_httpstatus_list", list(REFUSAL_STATUSES))
        return super().request(url, callback, meta=meta, **kwargs)

    def page_text(self, response: Response) -> str:
        if self.config.encoding:
            return response.body.decode(self.config.encoding, errors="replace")
        # Scrapy picks the header's, then the meta tag's charset; Chinese pages often
        # declare utf-8 and send GBK, which decode_chinese notices.
        declared = response.encoding if isinstance(response, TextResponse) else None
        return decode_chinese(response.body, declared)[0]

    def parse(self, response: Response, page: int = 1, **kwargs: Any) -> Iterator[Any]:
        where = f"{self.source_name}: {response.url}"
        if response.status in REFUSAL_STATUSES:
            said = " ".join(self.page_text(response).split())[:120]
            self.problem(
                "voc/blocked",
                f"{where}: HTTP {response.status}: the site refuses this client"
                + (f", saying {said!r}" if said else "")
                + "; slow down (download_delay) or refresh the cookie",
            )
            return
        result = parse_listing(
            self.page_text(response),
            response.url,
            self.site_now(response),
            self.config,
            first_page=page == 1,
        )
        if result.blocked:
            self.problem("voc/error_page", f"{where}: {result.blocked}")
            return
        if result.layout_changed:
            self.problem("voc/layout_changed", f"{where}: {result.layout_changed}")
        elif result.empty:
            self.problem("voc/empty_page", f"{where}: no reviews on the first page")
        self.parse_problems(response, result.problems)
        yield from self.in_window(result.reviews)
        if (
            result.next_url
            and result.reviews
            and page < self.config.max_pages
            and not (self.config.newest_first and self.older_than_window(result.reviews))
        ):
            yield self.request(result.next_url, self.parse, cb_kwargs={"page": page + 1})
