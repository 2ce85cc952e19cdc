"""Crawl problems as stats, and the stats written out for the calling flow.

Problems are counted under stable keys (``voc/parse_error``, ``voc/download_error``,
``voc/invalid_item``...) and described, capped, in ``voc/problems``; nothing is raised.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.statscollectors import StatsCollector

#: Most problem messages kept in the stats; the rest are only counted.
MAX_PROBLEMS = 100


def record_problem(
    stats: StatsCollector,
    key: str,
    message: str,
    logger: logging.Logger | logging.LoggerAdapter[Any],
) -> None:
    """Count a problem under `key`, keep its message (up to `MAX_PROBLEMS`) and the first
    message of each key (``voc/first/<key>``, what a health alert of that kind quotes), and
    log it."""
    stats.inc_value(key)
    if stats.get_value(f"voc/first/{key}") is None:
        stats.set_value(f"voc/first/{key}", message)
    problems = list(stats.get_value("voc/problems", []))
    if len(problems) < MAX_PROBLEMS:
        stats.set_value("voc/problems", [*problems, message])
    else:
        stats.inc_value("voc/problems_not_kept")
    logger.warning(message)


class StatsFileExtension:
    """Writes the crawl stats as JSON to the ``VOC_STATS_FILE`` setting when the spider closes."""

    def __init__(self, crawler: Crawler, path: Path) -> None:
        self.crawler = crawler
        self.path = path

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StatsFileExtension:
        path = crawler.settings.get("VOC_STATS_FILE")
        if not path:
            raise NotConfigured("VOC_STATS_FILE not set")
        ext = cls(crawler, Path(path))
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(ext.spider_error, signal=signals.spider_error)
        return ext

    def spider_error(self, failure: Any, response: Any, spider: Any) -> None:
        """A callback that raised (a page nobody foresaw): a named problem, not just a log
        line, so the run log and source health see it."""
        assert self.crawler.stats is not None
        source = getattr(spider, "source_name", spider.name)
        error = failure.value
        record_problem(
            self.crawler.stats,
            "voc/spider_error",
            f"{source}: {response.url}: cannot read the page "
            f"({type(error).__name__}: {str(error)[:200]})",
            logging.getLogger(__name__),
        )

    def spider_closed(self, spider: Any, reason: str) -> None:
        assert self.crawler.stats is not None
        stats = dict(self.crawler.stats.get_stats())
        # spider_closed fires before the stats collector closes; CoreStats has set these
        # already, but not when it is disabled.
        stats.setdefault("finish_reason", reason)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        tmp.write_text(
            json.dumps(stats, ensure_ascii=False, indent=1, sort_keys=True, default=str),
            encoding="utf-8",
        )
        tmp.replace(self.path)
