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
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from benchmarks import customer_data
from benchmarks.dashboard_data import LAST_DAY, N_DAYS, SENTIMENT_MODEL, generate_warehouse, log
from voc.case_opening import build_openings
from voc.case_rules import parse_case_rules
from warehouse.case_candidates import alert_verbatims, candidate_voices
from warehouse.case_db import connect_store, create_schema
from warehouse.case_store import CaseStore
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
    "routing": [
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
    with duckdb.connect(str(db), read_only=True) as con:
        names = [r[0] for r in con.execute("SELECT DISTINCT source FROM raw_documents").fetchall()]
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


def _timed(fn, *args):
    started, cpu = time.perf_counter(), time.process_time()
    value = fn(*args)
    return value, round(time.perf_counter() - started, 2), round(time.process_time() - cpu, 2)


def run(db: Path) -> dict:
    """Time candidates, openings and the store over the whole warehouse, then a re-run."""
    config = parse_case_rules(CASES_TABLE, "benchmarks.cases")
    kinds = source_kinds(db)
    since = LAST_DAY - timedelta(days=N_DAYS - 1)
    out: dict = {"load_average_at_start": [round(x, 1) for x in os.getloadavg()]}
    con = duckdb.connect(str(db), read_only=True)
    try:
        _, out["baseline_negative_scan_s"], _ = _timed(
            lambda: con.execute(
                "SELECT count(*) FROM raw_documents r LEFT JOIN doc_texts t ON t.doc_id = r.id "
                "JOIN doc_sentiment s ON s.doc_id = coalesce(t.duplicate_of, r.id) "
                "AND s.model_version = ? WHERE s.label = 'negative' AND r.local_day >= ?",
                [SENTIMENT_MODEL, since],
            ).fetchone()
        )

        def read() -> tuple[list, list]:
            alerts = alert_verbatims(con, since, LAST_DAY)
            ids = [d for a in alerts for d in a.doc_ids]
            found = candidate_voices(
                con, since, LAST_DAY, SENTIMENT_MODEL, config.labels_needed(), ids
            )
            return alerts, found

        (alerts, found), out["candidates_s"], out["candidates_cpu_s"] = _timed(read)
    finally:
        con.close()
    out["n_candidates"], out["n_alerts"] = len(found), len(alerts)
    openings, out["openings_s"], out["openings_cpu_s"] = _timed(
        build_openings, found, config, kinds, alerts
    )
    out["n_openings"] = len(openings)
    out["n_voices"] = sum(len(o.voices) for o in openings)
    out["by_rule"] = dict(Counter(o.rule for o in openings).most_common())
    out["by_priority"] = dict(sorted(Counter(o.priority for o in openings).items()))
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        engine = connect_store(f"sqlite:///{Path(tmp) / 'cases.sqlite'}")
        create_schema(engine)
        store = CaseStore(engine)
        opened, out["store_s"], out["store_cpu_s"] = _timed(
            store.open_cases, openings, now, config.merge_days
        )
        out["opened"] = {"opened": opened.n_opened, "merged": opened.n_merged,
                         "known": opened.n_known}  # fmt: skip
        again, out["rerun_store_s"], _ = _timed(store.open_cases, openings, now, config.merge_days)
        out["rerun"] = {"opened": again.n_opened, "merged": again.n_merged,
                        "known": again.n_known}  # fmt: skip
        assert again.n_opened == again.n_merged == 0, "a re-run opened cases"
        engine.dispose()
    out["total_s"] = round(out["candidates_s"] + out["openings_s"] + out["store_s"], 2)
    out["vs_baseline"] = round(out["total_s"] / max(out["baseline_negative_scan_s"], 0.01), 1)
    out["load_average_at_end"] = [round(x, 1) for x in os.getloadavg()]
    out["finished_at"] = datetime.now().isoformat(timespec="seconds")
    return out


if __name__ == "__main__":
    main()
