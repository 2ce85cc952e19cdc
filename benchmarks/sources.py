"""Source throughput against the local demo server, and an incremental day versus a backfill.

1. Items/s of the real crawls (Scrapy subprocess, with the polite defaults and with
   AutoThrottle off), against a baseline measured in the same run: a plain sequential
   urllib loop over the same pages with the same pure parsers (no Scrapy, no politeness).
2. The daily flow (Prefect, every stage) into fresh warehouses: a full backfill of the demo
   period, versus a backfill up to the day before followed by one incremental run on the
   last day (no dates: each source from its watermark minus the look-back), and a second
   incremental run that should add nothing.

    python -m benchmarks.sources
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from demo.events import DEMO_END, DEMO_START
from demo.server import start_demo_server
from scrapers.parsers import CHINA_TZ, parse_review_page, parse_search_page, parse_shop_index
from scrapers.run import run_crawl
from voc.settings import demo_sources

UNTHROTTLED = {"AUTOTHROTTLE_ENABLED": "false", "CONCURRENT_REQUESTS_PER_DOMAIN": "8"}


def _get(url: str) -> tuple[bytes, datetime]:
    with urllib.request.urlopen(url, timeout=30) as response:
        stamp = response.headers.get("Date")
        body = response.read()
    from email.utils import parsedate_to_datetime

    return body, parsedate_to_datetime(stamp).astimezone(CHINA_TZ)


def baseline_shop(index_url: str) -> tuple[int, int]:
    """(items, pages) of a sequential urllib crawl of every product's review pages."""
    body, _ = _get(index_url)
    items = pages = 0
    for link in parse_shop_index(body.decode("utf-8"), index_url):
        url: str | None = link
        while url:
            body, now = _get(url)
            reviews, url, _ = parse_review_page(body.decode("utf-8"), link, now)
            items, pages = items + len(reviews), pages + 1
    return items, pages + 1


def baseline_search(api_url: str, query: str) -> tuple[int, int]:
    """(items, pages) of a sequential urllib walk of the search cursor."""
    items = pages = 0
    url = f"{api_url}?q={urllib.request.quote(query)}"
    while True:
        body, _ = _get(url)
        posts, cursor, _ = parse_search_page(json.loads(body))
        items, pages = items + len(posts), pages + 1
        if not cursor:
            return items, pages
        url = f"{api_url}?q={urllib.request.quote(query)}&cursor={cursor}"


def crawl_throughput(work: Path, base_url: str) -> None:
    shop, weibo, _ = demo_sources(base_url)
    print("\n== items/s against the local demo server (whole demo period) ==")
    print(f"{'source':<12} {'mode':<22} {'items':>7} {'seconds':>8} {'items/s':>9} {'ratio':>7}")
    for source, baseline in (
        (shop, lambda: baseline_shop(shop.url)),
        (weibo, lambda: baseline_search(weibo.url, str(weibo.options["query"]))),
    ):
        started = time.perf_counter()
        items, pages = baseline()
        base_seconds = time.perf_counter() - started
        base_rate = items / base_seconds
        print(
            f"{source.name:<12} {'baseline urllib':<22} {items:>7} {base_seconds:>8.2f} "
            f"{base_rate:>9.0f} {1.0:>7.2f}   ({pages} pages)"
        )
        for label, settings in (("scrapy polite default", {}), ("scrapy unthrottled", UNTHROTTLED)):
            started = time.perf_counter()
            result = run_crawl(
                source,
                DEMO_START,
                DEMO_END,
                work / label.replace(" ", "_"),
                "bench",
                extra_settings=settings,
            )
            seconds = time.perf_counter() - started
            rate = result.item_count / seconds
            print(
                f"{source.name:<12} {label:<22} {result.item_count:>7} {seconds:>8.2f} "
                f"{rate:>9.0f} {rate / base_rate:>7.2f}"
            )


def _ingest(
    db: Path, port: int, since=None, until=None, today=None
) -> tuple[float, dict, list[tuple]]:
    from flows.daily import daily_ingest
    from warehouse.db import read_only

    started = time.perf_counter()
    result = daily_ingest(since=since, until=until, db_path=str(db), demo_port=port, today=today)
    wall = time.perf_counter() - started
    with read_only(db) as con:
        rows = con.execute(
            "SELECT sum(fetched), sum(new), sum(updated), sum(unchanged), sum(seconds) "
            "FROM source_runs WHERE run_id = ?",
            [result["run_id"]],
        ).fetchall()
    return wall, result, rows[0]


def incremental_vs_backfill(work: Path, port: int) -> None:
    print("\n== the daily flow: an incremental day versus a full backfill ==")
    print(
        f"{'run':<34} {'window':<24} {'wall s':>7} {'fetch+load s':>12} {'fetched':>8} "
        f"{'new':>6} {'updated':>7} {'ratio':>6}"
    )

    def show(label: str, wall: float, result: dict, row: tuple, base: float) -> None:
        fetched, new, updated, _, seconds = row
        window = f"{result['since']}…{result['until']}"
        print(
            f"{label:<34} {window:<24} {wall:>7.1f} {seconds:>12.1f} {fetched:>8} {new:>6} "
            f"{updated:>7} {wall / base:>6.2f}"
        )

    full = work / "full.duckdb"
    wall, result, row = _ingest(full, port, DEMO_START, DEMO_END)
    base = wall
    show("backfill (whole period)", wall, result, row, base)

    incr = work / "incremental.duckdb"
    _ingest(incr, port, DEMO_START, DEMO_END - timedelta(days=1))
    wall, result, row = _ingest(incr, port, today=DEMO_END)
    show("incremental (last day + look-back)", wall, result, row, base)
    wall, result, row = _ingest(incr, port, today=DEMO_END)
    show("incremental again (nothing new)", wall, result, row, base)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    from prefect.testing.utilities import prefect_test_harness

    with tempfile.TemporaryDirectory(prefix="voc-bench-") as tmp, start_demo_server() as server:
        work = Path(tmp)
        crawl_throughput(work, server.base_url)
        with prefect_test_harness(server_startup_timeout=180):
            incremental_vs_backfill(work, server.port)


if __name__ == "__main__":
    main()
