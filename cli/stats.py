"""``voc stats``: warehouse counts, themes, alerts and the last run's problems."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cli.common import add_common, settings_from


def add_stats_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``voc stats``."""
    p = sub.add_parser(
        "stats",
        help="print warehouse counts, themes and alerts",
        description="Summarise the warehouse: documents by channel and voices, "
        "sentiment, themes with lifecycle states, spike alerts and episodes with their "
        "explanations, categories, aspects, emotion, satisfaction (NPS by month with "
        "intervals, the top driver), the last run's stages and problems, "
        "each source's state and open source-health alerts (--json for all of it).",
    )
    add_common(p)
    p.add_argument("--json", action="store_true", help="machine-readable JSON output")
    p.set_defaults(func=cmd_stats)


def cmd_stats(args: argparse.Namespace) -> int:
    from warehouse.db import WarehouseError, read_only
    from warehouse.queries import warehouse_summary

    settings = settings_from(args)
    try:
        with read_only(settings.db_path) as con:
            summary = warehouse_summary(con)
    except WarehouseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2, default=str))
    else:
        print_summary(summary)
    return 0


def print_stats(db_path: Path) -> None:
    """Print the summary of the warehouse at `db_path`."""
    from warehouse.db import read_only
    from warehouse.queries import warehouse_summary

    with read_only(db_path) as con:
        print_summary(warehouse_summary(con))


def print_summary(s: dict) -> None:
    """Print a `warehouse_summary` for people."""
    docs = s["documents"]
    print(
        f"文档 documents: {docs['total']}  "
        + "  ".join(f"{k}={v}" for k, v in docs["by_channel"].items())
        + f"  (exact duplicates {docs['exact_duplicates']})"
    )
    print(
        f"情感 sentiment ({s['sentiment']['model_version']}): "
        + "  ".join(f"{k}={v}" for k, v in s["sentiment"]["by_label"].items())
    )
    print(f"主题 themes: {len(s['themes'])}")
    for t in s["themes"][:5]:
        print(f"  {t['size']:>5}  {t['label']}  ({' '.join(t['keywords'][:6])})")
    print(f"预警 alerts: {len(s['alerts'])}")
    for a in s["alerts"]:
        print(
            f"  {a['date']}  {a['source']}  {a['metric']}  observed {a['observed']:.2f} "
            f"expected {a['expected']:.2f}  theme {a['theme_label']}"
        )
    _print_satisfaction(s.get("satisfaction"))
    errors = s["last_run"]["errors"]
    if errors:
        print(f"最近一次运行的问题 problems in the last run: {len(errors)}")
        for e in errors[:10]:
            print(f"  - {e}")


def _print_satisfaction(sat: dict | None) -> None:
    """NPS by month with its interval, and the top driver."""
    if not sat or not sat["responses"]:
        return
    print(f"满意度 satisfaction: {sat['responses']} responses (min n {sat['min_n']})")
    for m in sat["nps_by_month"][-6:]:
        interval = f" [{m['low']:.1f}, {m['high']:.1f}]" if m["value"] is not None else ""
        print(f"  {m['month']}  NPS {m['display']}{interval}  n={m['n']}")
    top = sat["top_driver"]
    if top:
        print(
            f"  top driver 关键驱动: {top['label']} ({top['kind']}): NPS {top['nps_mention']} vs "
            f"{top['nps_other']}, costs {top['impact']} points"
        )
