"""Case opening at scale: the candidate voices and case openings of 1,000,000 documents.

    python -m benchmarks.cases [--docs 1000000] [--customers 200000] [--db PATH]
        [--regenerate]

The warehouse is the dashboard benchmark's (`benchmarks.dashboard_data`: two years, 50
sources, ~25 % negative, themes, categories, aspects, emotion, exact and near duplicates,
spike episodes with verbatims) with its customers (`benchmarks.customer_data`: tiers,
segment history, ~40 % of voices linked); social posts get repost and comment counts
(the generator leaves them empty). It is cached at ``--db`` (default
``benchmarks/.cache/cases-<N>.duckdb``, ignored by git) and reused unless ``--regenerate``.

Timed, over the whole two years in one call as a backfill would (the daily run reads a
few days): reading the candidate voices (`warehouse.case_candidates`), turning them into
openings by the rules below (`voc.case_opening`), and opening them in a fresh SQLite case
store (`warehouse.case_store.CaseStore.open_cases`); then the same again, which must open
nothing. Target (issue 16): candidates + openings + store under 60 s on 2 cores. The
baseline is one plain scan counting the negative documents by the current model.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from benchmarks import customer_data
from benchmarks.dashboard_data import LAST_DAY, N_DAYS, SENTIMENT_MODEL, generate_warehouse, log
from warehouse.db import open_warehouse

#: Benchmark source-name prefixes → the source kind a real deployment would configure.
KINDS = {
    "weibo": "microblog",
    "shop": "shop_reviews",
    "douyin": "complaints",
    "tmall": "jd_comments",
    "helpdesk": "ticket_export",
}

#: The rules a deployment would write (docs/cases-rules.md), as a ``[cases]`` table.
CASES_TABLE = {
    "merge_days": 7,
    "teams": {"物流组": {}, "售后组": {}, "客服组": {}, "舆情组": {}},
    "rules": [
        {"name": "alert_verbatims", "from": "alerts", "min_severity": "medium"},
        {"name": "complaint_platform", "source_kind": ["complaints"], "min_priority": "P2"},
        {"name": "negative_ticket", "channel": ["ticket"]},
        {"name": "vip_negative", "segment": ["高价值"], "channel": ["review", "social"]},
        {"name": "viral_post", "channel": ["social"], "min_reach": 500},
    ],
    "routes": [
        {"category": ["物流配送", "包装破损"], "team": "物流组"},
        {"category": ["退款售后", "安装维修"], "team": "售后组"},
        {"channel": ["social"], "team": "舆情组"},
        {"team": "客服组"},
    ],
}


def cache_path(n_docs: int) -> Path:
    """Where the warehouse of `n_docs` documents is cached."""
    return Path(__file__).parent / ".cache" / f"cases-{n_docs}.duckdb"


def build_warehouse(db: Path, n_docs: int, n_customers: int) -> dict:
    """The dashboard benchmark's warehouse with customers and social reach; returns its
    generation timings."""
    db.parent.mkdir(parents=True, exist_ok=True)
    meta = generate_warehouse(db, n_docs)
    con = open_warehouse(db)
    try:
        meta["customers"] = customer_data.add_customers(con, n_customers)
        # Reach is Zipf-like: most posts are seen by few, a handful by many.
        con.execute(
            "UPDATE raw_documents SET "
            " repost_count = floor(pow(2, (hash(id, 'rp') % 1400) / 100.0) - 1)::INTEGER, "
            " comment_count = floor(pow(2, (hash(id, 'cm') % 1200) / 100.0) - 1)::INTEGER "
            "WHERE channel = 'social'"
        )
        con.execute("CHECKPOINT")
    finally:
        con.close()
    db.with_suffix(".json").write_text(json.dumps(meta, indent=1, ensure_ascii=False))
    return meta


def source_kinds(db: Path) -> dict[str, str]:
    """Each benchmark source's kind (by its name's prefix)."""
    con = open_warehouse(db)
    try:
        names = [r[0] for r in con.execute("SELECT DISTINCT source FROM raw_documents").fetchall()]
    finally:
        con.close()
    return {name: KINDS[name.split("_")[0]] for name in names}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--db", type=Path)
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--generate-only", action="store_true")
    args = parser.parse_args()
    db = args.db or cache_path(args.docs)
    out: dict = {"docs": args.docs, "cores": os.cpu_count()}
    if args.regenerate or not db.exists():
        log(f"generating {args.docs:,} documents into {db}")
        out["generate"] = build_warehouse(db, args.docs, args.customers)
    if args.generate_only:
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return
    out.update(run(db))
    print(json.dumps(out, ensure_ascii=False, indent=2))
    verdict = "OK" if out["total_s"] < 60 else "OVER TARGET"
    print(
        f"candidates + openings + store over {args.docs:,} documents: {out['total_s']:.1f}s "
        f"(target < 60s, {out['total_s'] / 60:.2f} of it; {out['vs_baseline']}× the plain "
        f"scan) {verdict}",
        file=sys.stderr,
    )


def run(db: Path) -> dict:
    """Time candidates, openings and the store over the whole warehouse, then a re-run."""
    raise NotImplementedError  # filled in below once the pieces exist


if __name__ == "__main__":
    main()
