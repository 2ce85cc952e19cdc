"""Item pipelines, one concern each."""

from __future__ import annotations

import logging
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from scrapers.stats import record_problem
from voc.records import RecordError, make_document

logger = logging.getLogger(__name__)


class DocumentPipeline:
    """Turns a spider's raw dict into a validated `Document` dict; drops and counts bad ones."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DocumentPipeline:
        return cls(crawler)

    # `spider` has a default so Scrapy >= 2.13 does not pass it (deprecated) and older
    # versions still can.
    def process_item(self, item: dict[str, Any], spider: Any = None) -> dict[str, Any]:
        spider = self.crawler.spider
        try:
            doc = make_document(
                source=spider.source_name,
                channel=spider.channel,
                brand=spider.brand,
                author_salt=spider.author_salt,
                **item,
            )
        except (RecordError, TypeError) as exc:
            assert self.crawler.stats is not None
            if not str(item.get("text") or "").strip():
                # Counted apart: many empty texts mean the text selector broke.
                self.crawler.stats.inc_value("voc/empty_text")
            where = item.get("url") or f"item {item.get('external_id')}"
            record_problem(
                self.crawler.stats,
                "voc/invalid_item",
                f"{spider.source_name}: dropped {where}: {exc}",
                logger,
            )
            raise DropItem(str(exc)) from exc
        return doc.to_dict()
