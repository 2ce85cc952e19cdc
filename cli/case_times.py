"""``voc cases times``: response times from the sources themselves (docs/response-times.md)
for people who live in a terminal: first-response and resolution median and p90, the
breach rate against the threshold per group (``--by``), the outcomes by speed (later
negative share and NPS of customers answered within the threshold against later and never)
and, with ``--voices N``, the slowest breaches. ``--json`` for scripts.

It reads the newest published snapshot of the warehouse (or the warehouse itself before
the first snapshot), so an ingestion writing the warehouse never blocks it.

Registered under ``voc cases`` with `add_case_times_parser` (the ``cases`` subparsers).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from cli.common import add_common, parse_date, settings_from
from voc.response_times import ResponseTimeConfig
from voc.satisfaction import INSUFFICIENT, MIN_N, csat_score

#: ``--by`` choices (`warehouse.response_times.DIMENSIONS`; ``all`` = one overall row).
BY_CHOICES = ("channel", "source", "origin", "theme", "segment", "owner", "responder", "month")
#: Speed groups of the outcome comparison, in order → their name.
SPEED_NAMES = {
    "within": "及时回复 answered in time",
    "later": "超时回复 answered late",
    "unanswered": "超时未回复 unanswered, overdue",
}


def add_case_times_parser(csub: argparse._SubParsersAction) -> None:
    """Add ``times`` to the ``voc cases`` subcommands `csub`."""
    p = csub.add_parser(
        "times",
        help="response times from the sources: median/p90, breach rate, outcomes by speed",
        description="Response times the sources record (Zendesk ticket metrics, mail threads "
        "with our_domains, complaint-platform steps): first-response and resolution median "
        "and p90 (calendar time), the breach rate against the threshold ([cases."
        "response_times] threshold_hours, 24 h) with its 95%% Wilson interval per group, and "
        "the later negative share and NPS of customers answered within the threshold against "
        "later and never (样本不足 below --min-n). Reads the published snapshot.",
    )
    p.add_argument(
        "--by",
        choices=(*BY_CHOICES, "all"),
        default="channel",
        help="group by (default channel; all = one overall row)",
    )
    p.add_argument("--since", type=parse_date, help="first local day of the voices (YYYY-MM-DD)")
    p.add_argument("--until", type=parse_date, help="last local day of the voices (YYYY-MM-DD)")
    for option, what in (
        ("--channel", "channel"),
        ("--source", "source name"),
        ("--segment", "customer segment at the time"),
        ("--owner", "account manager at the time"),
    ):
        p.add_argument(option, action="append", default=[], help=f"only this {what}, repeatable")
    p.add_argument(
        "--threshold-hours",
        type=_positive_float,
        help="a first response later than this is a breach (default: the configured, 24)",
    )
    p.add_argument(
        "--window-days",
        type=_positive_int,
        help="days after a voice counted for the outcomes (default: the configured, 90)",
    )
    p.add_argument(
        "--min-n",
        type=_positive_int,
        default=MIN_N,
        help=f"fewer answers/voices than this show 样本不足 (default {MIN_N})",
    )
    p.add_argument(
        "--voices", type=int, default=0, metavar="N", help="also list the N slowest breaches"
    )
    p.add_argument("--json", action="store_true", help="machine-readable JSON output")
    add_common(p)
    p.set_defaults(func=cmd_cases_times)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"不是数字 not a number: {text!r}") from exc
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"必须大于 0 must be positive: {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"不是整数 not a whole number: {text!r}") from exc
    if value <= 0:
        raise argparse.ArgumentTypeError(f"必须大于 0 must be positive: {text!r}")
    return value


def _records(frame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts: NaN/NaT → None, numpy scalars → Python, instants → ISO."""
    import pandas as pd

    def plain(value: Any) -> Any:
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            return None
        if isinstance(value, datetime):
            return value.isoformat()
        return value.item() if hasattr(value, "item") else value

    return [{k: plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


def _percent_to_share(value: float | None) -> float | None:
    return None if value is None else value / 100


def _share(k: int, n: int, min_n: int) -> dict[str, Any]:
    """A share with its Wilson interval (0–1) and whether the sample is enough."""
    s = csat_score(int(k), int(n), min_n)
    return {
        "value": _percent_to_share(s.value),
        "low": _percent_to_share(s.low),
        "high": _percent_to_share(s.high),
        "enough": s.enough,
    }


def times_report(con, args: argparse.Namespace, config: ResponseTimeConfig, now: datetime) -> dict:
    """What ``voc cases times`` reports, from the warehouse read functions."""
    from warehouse.response_times import (
        ResponseFilters,
        outcomes_by_speed,
        response_time_summary,
        response_time_voices,
    )

    threshold_h = args.threshold_hours or config.threshold_hours
    window = args.window_days or config.outcome_window_days
    filters = ResponseFilters(
        start=args.since,
        end=args.until,
        channels=tuple(args.channel),
        sources=tuple(args.source),
        segments=tuple(args.segment),
        owners=tuple(args.owner),
    )
    threshold = threshold_h * 60
    by = None if args.by == "all" else args.by
    groups = response_time_summary(con, by, threshold, filters, now=now)
    overall = response_time_summary(con, None, threshold, filters, now=now)
    outcomes = outcomes_by_speed(con, threshold, window, filters, now=now, min_n=args.min_n)
    report: dict[str, Any] = {
        "threshold_hours": threshold_h,
        "window_days": window,
        "min_n": args.min_n,
        "now": now.isoformat(),
        "by": args.by,
        "overall": _records(overall)[0] if len(overall) else None,
        "groups": _records(groups.rename(columns={by or "group": "group"})),
        "outcomes": _records(outcomes),
    }
    for row in [report["overall"], *report["groups"]]:
        if row is not None:
            row["breach"] = _share(row["n_breached"], row["n_due"], args.min_n)
    for row in report["outcomes"]:
        row["negative_enough"] = row["n_later_voices"] >= args.min_n
    if args.voices > 0:
        voices = response_time_voices(con, threshold, filters, now=now, limit=args.voices)
        report["voices"] = _records(voices)
    return report


def cmd_cases_times(args: argparse.Namespace) -> int:
    from warehouse.db import WarehouseError, read_only
    from warehouse.snapshot import readable_path

    settings = settings_from(args)
    configured = getattr(settings.cases, "response_times", None)
    config = configured if isinstance(configured, ResponseTimeConfig) else ResponseTimeConfig()
    now = datetime.now(UTC)
    try:
        with read_only(readable_path(settings.db_path)) as con:
            report = times_report(con, args, config, now)
    except WarehouseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print_report(report, settings.timezone)
    return 0


def minutes_text(minutes: float | None) -> str:
    """Minutes as ``45m`` / ``2.5h`` / ``3.2d`` (``—`` without a value)."""
    if minutes is None:
        return "—"
    if minutes < 60:
        return f"{minutes:.0f}m"
    if minutes < 48 * 60:
        return f"{minutes / 60:.1f}h"
    return f"{minutes / 1440:.1f}d"


def _rate_text(share: dict[str, Any]) -> str:
    if share["value"] is None:
        return "—"
    if not share["enough"]:
        return INSUFFICIENT
    return f"{share['value']:.1%} [{share['low']:.1%}, {share['high']:.1%}]"


def print_report(r: dict[str, Any], timezone: str) -> None:
    """Print a `times_report` for people."""
    hours = f"{r['threshold_hours']:g}"
    print(f"回复时效 response times (超时 breach > {hours} h, 自然时间 calendar time)")
    if r["overall"] is None:
        print("  没有记录回复时间的声音 no voices with recorded response times")
        return
    head = (
        f"  {'group':<20} {'voices':>6} {'ans':>5} {'1st med':>8} {'1st p90':>8} "
        f"{'res':>5} {'res med':>8} {'res p90':>8} {'due':>5} {'late':>5}  breach rate [95%]"
    )
    print(head)
    rows = [("全部 all", r["overall"])] + [
        ("—" if g["group"] is None else str(g["group"]), g) for g in r["groups"]
    ]
    if r["by"] == "all":
        rows = rows[:1]
    for label, g in rows:
        print(
            f"  {label:<20} {g['n_voices']:>6} {g['n_answered']:>5} "
            f"{minutes_text(g['first_response_median']):>8} "
            f"{minutes_text(g['first_response_p90']):>8} {g['n_resolved']:>5} "
            f"{minutes_text(g['resolution_median']):>8} {minutes_text(g['resolution_p90']):>8} "
            f"{g['n_due']:>5} {g['n_breached']:>5}  {_rate_text(g['breach'])}"
        )
    print(
        f"回复速度与后续结果 outcomes by speed ({r['window_days']} 天 days after, "
        f"min n {r['min_n']})"
    )
    for o in r["outcomes"]:
        negative = (
            "—"
            if o["negative_share"] is None
            else INSUFFICIENT
            if not o["negative_enough"]
            else f"{o['negative_share']:.1%} [{o['negative_low']:.1%}, {o['negative_high']:.1%}]"
        )
        nps = (
            "—"
            if o["nps"] is None
            else INSUFFICIENT
            if not o["nps_enough"]
            else f"{o['nps']:.1f} [{max(o['nps_low'], -100):.1f}, {min(o['nps_high'], 100):.1f}]"
        )
        print(
            f"  {SPEED_NAMES[o['speed']]:<32} voices {o['n_voices']:>4}  customers "
            f"{o['n_customers']:>4}  later {o['n_later_voices']:>4} negative {negative}  "
            f"NPS n={o['n_nps']} {nps}"
        )
    if "voices" in r:
        zone = ZoneInfo(timezone)
        print(f"最慢的超时 slowest breaches ({len(r['voices'])})")
        for v in r["voices"]:
            opened = datetime.fromisoformat(v["opened_at"]).astimezone(zone)
            print(
                f"  {opened:%Y-%m-%d %H:%M}  {v['source']:<10} {v['speed']:<10} "
                f"{minutes_text(v['first_response_minutes']):>7}  {v['doc_id']}  "
                f"{(v['text'] or '')[:40]}"
            )
