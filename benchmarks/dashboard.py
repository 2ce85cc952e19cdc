"""Dashboard speed at scale: generate a warehouse of N documents, then time every page's
data queries the way the dashboard calls them.

    python -m benchmarks.dashboard --docs 5000000 [--customers 1000000] [--db PATH] [--runs 20]
        [--regenerate] [--pages 客户]

The warehouse is built by `benchmarks.dashboard_data` with the real migrations, realistic
distributions over two years, the flow's aggregates and a published snapshot. It is cached
at ``--db`` (default ``benchmarks/.cache/dashboard-<N>.duckdb``, ignored by git) and reused
unless ``--regenerate``. Customers, their voice links and survey responses
(`benchmarks.customer_data`, ``--customers`` of them) are added to a warehouse that has none.

Each page is timed over ``--runs`` runs with varied filters (full range, last 30 days, one
source, one product, one channel), each call on a fresh short read-only connection to the
snapshot, as the dashboard does. The target is p95 ≤ 1 s per page. The baseline is the same
pages counted straight from the base tables (`aggregate_reader.from_base_tables`), and for
Explore the plain full scan the search did before its prefilter.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from benchmarks import customer_data
from benchmarks.dashboard_data import SENTIMENT_MODEL, TIMEZONE, generate_warehouse, log
from warehouse import (
    aggregate_reader,
    aggregates,
    alert_pages,
    customer_aggregates,
    customer_voices,
    page_filters,
    pages,
    queries,
    satisfaction,
    search,
    sql_console,
    theme_pages,
)
from warehouse.db import open_warehouse, read_only, shared_read_only
from warehouse.page_filters import Filters
from warehouse.snapshot import publish_snapshot, snapshot_path

QUERIES = ("物流太慢", "退款", "客服态度", "电池续航", "包装破损")
VIEW_QUERIES = (
    "SELECT local_day, sum(n_docs) AS docs, sum(n_negative) AS neg FROM v_daily "
    "WHERE local_day >= DATE '{since}' GROUP BY local_day ORDER BY local_day",
    "SELECT label, n_docs, negativity FROM v_themes WHERE last_seen >= DATE '{since}' "
    "ORDER BY n_docs DESC LIMIT 20",
    "SELECT source, count(*) AS docs, count(*) FILTER (WHERE sentiment = 'negative') AS neg "
    "FROM v_documents WHERE local_day >= DATE '{since}' AND duplicate_of IS NULL "
    "GROUP BY source ORDER BY neg DESC",
)


def filter_sets(snapshot: Path) -> list[tuple[str, Filters]]:
    """Full range, last 30 days, one source, one product, one channel; one customer segment
    and one city when documents are linked to customers."""
    with read_only(snapshot) as con:
        options = page_filters.filter_options(con)
    last = options["last_day"]
    biggest = max(options["sources"], key=lambda s: s["n_docs"])["source"]
    # With customer links: one segment (aggregated) and one city (from the base tables).
    customers = [
        (name, Filters(**{field: (options[field][0],)}))
        for name, field in (("one segment", "segments"), ("one city", "cities"))
        if options.get(field)
    ]
    return [
        ("full range", Filters()),
        ("last 30 days", Filters(start=last - timedelta(days=29), end=last)),
        ("one source", Filters(sources=(biggest,))),
        ("one product", Filters(products=(options["products"][3],))),
        (
            "one channel",
            Filters(start=last - timedelta(days=89), channels=("social",)),
        ),
        *customers,
    ]


def _call(snapshot: Path, fn: Callable, *args, **kwargs):
    """One call on a cursor of the kept snapshot connection, as the dashboard makes it
    (`dashboard.data.read_only`)."""
    with shared_read_only(snapshot) as con:
        return fn(con, *args, **kwargs)


@dataclass
class Page:
    name: str
    run: Callable[[Path, Filters, int], None]


def _overview(snap: Path, f: Filters, k: int) -> None:
    _call(snap, page_filters.filter_options)
    resolved = _call(snap, page_filters.resolve, f)
    _call(snap, pages.kpis, resolved)
    _call(snap, pages.kpis, page_filters.previous_period(resolved))
    _call(snap, pages.daily_trend, resolved)
    _call(snap, pages.hourly_trend, resolved)
    _call(snap, alert_pages.spike_markers, resolved)


def _alerts(snap: Path, f: Filters, k: int) -> None:
    alerts = _call(snap, alert_pages.alert_list, f)
    if len(alerts):
        _call(snap, alert_pages.alert_detail, alerts["episode_id"].iloc[k % len(alerts)])


def _themes_page(snap: Path, f: Filters, k: int) -> None:
    ranking = _call(snap, theme_pages.theme_ranking, f, ("volume", "growth", "negativity")[k % 3])
    if len(ranking):
        _call(snap, theme_pages.theme_detail, ranking["theme_id"].iloc[k % min(5, len(ranking))], f)
    _call(snap, pages.category_overview, f)


def _explore(snap: Path, f: Filters, k: int) -> None:
    """One page view: a search (its count and one page), the first page or a later one,
    over the whole history or narrowed by the run's filters."""
    from nlp.segment import Segmenter

    seg = _segmenter.get("s") or _segmenter.setdefault("s", Segmenter())
    query = QUERIES[k % len(QUERIES)]
    filters = f.search() if k % 2 else search.SearchFilters()
    with shared_read_only(snap) as con:
        model = queries.current_model_version(con)
        search.search_documents(
            con, query, seg.tokens(query), model, filters, page=1 if k % 4 < 2 else 3
        )


_segmenter: dict = {}


def _query(snap: Path, f: Filters, k: int) -> None:
    since = f.start or date(2025, 10, 1)
    sql = VIEW_QUERIES[k % len(VIEW_QUERIES)].format(since=since.isoformat())
    sql_console.run_query(snap, sql, timeout_s=30)


def _sources(snap: Path, f: Filters, k: int) -> None:
    _call(snap, pages.source_overview)
    _call(snap, pages.source_linking)


def _quality(snap: Path, f: Filters, k: int) -> None:
    _call(snap, pages.low_confidence_by_day, f)
    _call(snap, pages.low_confidence_texts, f)


def _customers(snap: Path, f: Filters, k: int) -> None:
    """One 客户 page view: filter options, segments, the NPS trend (split by segment every
    other run), drivers and the top driver's verbatims, the most negative customers and
    the first one's timeline; every third run narrowed to one segment."""
    options = _call(snap, customer_voices.customer_options)
    resolved = _call(snap, page_filters.resolve, f)
    segments = (options["segments"][k % len(options["segments"])],) if k % 3 == 2 else ()
    cf = satisfaction.CustomerFilters(resolved.start, resolved.end, segments)
    _call(snap, customer_voices.segment_overview, cf)
    history = satisfaction.CustomerFilters(None, None, segments)
    grain = ("month", "week", "quarter")[k % 3]
    _call(snap, satisfaction.satisfaction_series, history, grain, "segment" if k % 2 else None)
    drivers = _call(snap, satisfaction.satisfaction_drivers, cf)
    if len(drivers):
        top = drivers.iloc[0]
        _call(snap, satisfaction.driver_verbatims, cf, top["kind"], top["value"])
    worst = _call(snap, customer_voices.negative_customers, cf)
    if len(worst):
        _call(snap, customer_voices.customer_timeline, worst["customer_id"].iloc[0])


PAGES = (
    Page("总览 Overview", _overview),
    Page("预警 Alerts", _alerts),
    Page("主题 Themes", _themes_page),
    Page("客户 Customers", _customers),
    Page("检索 Explore", _explore),
    Page("查询 Query", _query),
    Page("数据源 Sources", _sources),
    Page("质量 Quality", _quality),
)
_AGGREGATED = {"总览 Overview", "主题 Themes", "质量 Quality"}


def measure(snap: Path, runs: int, baseline_runs: int, only: tuple[str, ...] = ()) -> list[dict]:
    """p50/p95 seconds per page over `runs` runs cycling through the filter sets, and the
    baseline's over `baseline_runs`; only the pages whose name contains one of `only`."""
    sets = filter_sets(snap)
    results = []
    for page in PAGES:
        if only and not any(o in page.name for o in only):
            continue
        page.run(snap, sets[0][1], 0)  # the first call loads the segmenter, not timed
        times = []
        for k in range(runs):
            t = time.perf_counter()
            page.run(snap, sets[k % len(sets)][1], k)
            times.append(time.perf_counter() - t)
        base = []
        if page.name in _AGGREGATED or (page.name == "检索 Explore"):
            for k in range(baseline_runs):
                t = time.perf_counter()
                if page.name == "检索 Explore":
                    with search.without_search_table():
                        page.run(snap, sets[k % len(sets)][1], k)
                else:
                    with aggregate_reader.from_base_tables():
                        page.run(snap, sets[k % len(sets)][1], k)
                base.append(time.perf_counter() - t)
        row = {
            "page": page.name,
            "runs": runs,
            "p50": float(np.percentile(times, 50)),
            "p95": float(np.percentile(times, 95)),
            "max": max(times),
            "base_p50": float(np.percentile(base, 50)) if base else None,
            "base_p95": float(np.percentile(base, 95)) if base else None,
        }
        results.append(row)
        log(f"  {page.name}: p50 {row['p50']:.3f}s p95 {row['p95']:.3f}s")
    return results


def print_table(results: list[dict], meta: dict) -> None:
    print(
        f"\n{meta['n_docs']:,} documents, {meta['file_mb']:,} MB; generated in "
        f"{meta['generate_s']}s, aggregates full {meta['aggregates_full_s']}s, incremental "
        f"{meta['aggregates_incremental_s']}s ({meta['incremental_days']} days), "
        f"snapshot {meta['snapshot_s']}s; {os.cpu_count()} cores"
    )
    print(
        f"{'page':<16} {'runs':>4} {'p50 s':>7} {'p95 s':>7} {'≤1 s':>5} "
        f"{'base p50':>9} {'base p95':>9} {'speed-up p95':>13}"
    )
    for r in results:
        verdict = "PASS" if r["p95"] <= 1.0 else "FAIL"
        base50 = f"{r['base_p50']:.3f}" if r["base_p50"] is not None else "—"
        base95 = f"{r['base_p95']:.3f}" if r["base_p95"] is not None else "—"
        ratio = f"{r['base_p95'] / r['p95']:.1f}×" if r["base_p95"] else "—"
        print(
            f"{r['page']:<16} {r['runs']:>4} {r['p50']:>7.3f} {r['p95']:>7.3f} {verdict:>5} "
            f"{base50:>9} {base95:>9} {ratio:>13}"
        )


def _add_customers(db: Path, n_customers: int) -> dict | None:
    """Customers, links and survey responses into a warehouse without them, and the 客户
    page's aggregates when they do not hold (then a new snapshot); the sizes added, or None
    when nothing was added."""
    con = open_warehouse(db)
    try:
        if customer_data.has_customers(con):
            if customer_aggregates.customer_relations(con).aggregated:
                return None
            sizes = None
        else:
            log(f"adding {n_customers:,} customers, voice links and survey responses")
            sizes = customer_data.add_customers(con, n_customers)
        # As the flow does after linking: the page aggregates (which carry the segment
        # dimensions of linked documents), then the 客户 page's own.
        aggregates.refresh_aggregates(con, SENTIMENT_MODEL, TIMEZONE)
        result = customer_aggregates.refresh_customer_aggregates(con)
        log(f"customer aggregates: {result.n_voice_rows:,} rows in {result.seconds:.1f}s")
    finally:
        con.close()
    publish_snapshot(db)
    log(json.dumps(sizes, ensure_ascii=False))
    return sizes


def _bring_up_to_date(db: Path) -> None:
    """A cached warehouse from an older checkout: newer migrations, aggregates refreshed by
    the flow's code (a rebuild when a migration asks for one), a new snapshot."""
    with read_only(snapshot_path(db)) as snap:
        published = snap.execute("SELECT max(version) FROM schema_migrations").fetchone()[0]
    con = open_warehouse(db)  # applies pending migrations
    try:
        result = aggregates.refresh_aggregates(con, SENTIMENT_MODEL, TIMEZONE)
        current = con.execute("SELECT max(version) FROM schema_migrations").fetchone()[0]
    finally:
        con.close()
    if result.n_days or current != published:
        log(
            f"migrations {published} → {current}; aggregates refreshed ({result.n_days} days, "
            f"full={result.full}, {result.seconds:.1f}s); publishing a new snapshot"
        )
        publish_snapshot(db)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=5_000_000)
    parser.add_argument("--db", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--baseline-runs", type=int, default=5)
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument(
        "--pages", nargs="*", default=(), help="only pages whose name contains one of these"
    )
    args = parser.parse_args(argv)
    db = args.db or Path(__file__).parent / ".cache" / f"dashboard-{args.docs}.duckdb"
    meta_path = db.with_suffix(".json")
    if args.regenerate or not snapshot_path(db).exists() or not meta_path.exists():
        log(f"generating {args.docs:,} documents into {db}")
        meta = generate_warehouse(db, args.docs, args.seed)
    else:
        meta = json.loads(meta_path.read_text())
        log(f"reusing {db} (--regenerate to rebuild)")
        _bring_up_to_date(db)
    sizes = _add_customers(db, args.customers)
    if sizes is not None:
        meta["customers"] = sizes
        meta_path.write_text(json.dumps(meta, indent=1))
    log(json.dumps(meta, ensure_ascii=False))
    results = measure(snapshot_path(db), args.runs, args.baseline_runs, tuple(args.pages))
    print_table(results, meta)
    return 0 if all(r["p95"] <= 1.0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
