"""``voc followups …``: the day's 回访 list per owner, its export to CSV/XLSX, and recording
an outcome (reached or not, satisfaction 1–5, a note, whether a second 回访 is needed), on
the same store as the dashboard's 回访 page (docs/followups.md)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from cli.cases import StoreUnreachable, open_engine, print_json
from cli.common import add_common, parse_date, settings_from
from cli.exports import export_format, write_atomically
from voc.cases import CaseError
from voc.settings import Settings

REASON_NAMES = {
    "case_resolved": "工单解决后",
    "order_day5": "下单第 5 天",
    "order_day15": "下单第 15 天",
    "periodic": "定期回访",
    "second": "二次回访",
}
COLUMNS = (
    "followup_id",
    "due_on",
    "days_overdue",
    "reason",
    "reason_name",
    "owner",
    "team",
    "customer_id",
    "case_id",
    "status",
    "parent_id",
)


def add_followups_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``voc followups`` and its subcommands."""
    p = sub.add_parser(
        "followups",
        help="回访 follow-ups: the day's list, export, record an outcome",
        description="Follow-ups (回访) planned after resolved cases, orders and periodically "
        "for chosen tiers: list those due (overdue included) per owner, export the list to "
        "CSV/XLSX, record an outcome (docs/followups.md).",
    )
    fsub = p.add_subparsers(dest="followups_command", required=True)
    for command, help_text in (
        ("list", "the 回访 due on a day (default today), overdue included"),
        ("export", "the day's list to a CSV or XLSX file"),
    ):
        q = fsub.add_parser(command, help=help_text)
        if command == "export":
            q.add_argument("file", help="output file (.csv or .xlsx)")
            q.add_argument("--format", choices=("csv", "xlsx"), help="default: the suffix")
        q.add_argument("--day", type=parse_date, help="the local day (default: today)")
        q.add_argument("--owner", help="only this owner's 回访")
        if command == "list":
            q.add_argument("--json", action="store_true", help="machine-readable JSON output")
        add_common(q)
        q.set_defaults(func=cmd_followups_list if command == "list" else cmd_followups_export)
    q = fsub.add_parser("record", help="record the outcome of one 回访")
    q.add_argument("followup_id", type=int)
    reached = q.add_mutually_exclusive_group(required=True)
    reached.add_argument("--reached", dest="reached", action="store_true", help="联系上")
    reached.add_argument("--not-reached", dest="reached", action="store_false", help="未联系上")
    q.add_argument("--satisfaction", type=_score, help="1–5 (omit when not rated)")
    q.add_argument("--note", default="", help="what the customer said")
    q.add_argument("--second", action="store_true", help="a second 回访 is needed")
    q.add_argument("--who", required=True, help="your name: it goes on the outcome")
    q.add_argument("--json", action="store_true", help="print the outcome as JSON")
    add_common(q)
    q.set_defaults(func=cmd_followups_record)


def _score(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 5:
        raise argparse.ArgumentTypeError(f"满意度须为 1–5 / satisfaction must be 1–5: {text!r}")
    return value


def _day(args: argparse.Namespace, settings: Settings) -> date:
    return args.day or datetime.now(ZoneInfo(settings.timezone)).date()


def followup_record(followup, day: date) -> dict[str, Any]:
    """A 回访 as one flat row: the `COLUMNS`."""
    raw = asdict(followup)
    row = {c: raw.get(c) for c in COLUMNS}
    row["due_on"] = followup.due_on.isoformat()
    row["days_overdue"] = max((day - followup.due_on).days, 0)
    row["reason_name"] = REASON_NAMES.get(followup.reason, followup.reason)
    return row


def _followup_store(settings: Settings):
    # Imported first: its tables join the store's MetaData before the schema is created.
    from voc.followup_config import FollowupsConfig
    from warehouse.followup_store import FollowupStore

    rules = getattr(getattr(settings, "cases", None), "followups", None)
    rules = rules if isinstance(rules, FollowupsConfig) else None  # parsed once wired
    return FollowupStore(open_engine(settings), rules=rules, timezone=settings.timezone)


def _due(args: argparse.Namespace, settings: Settings) -> tuple[date, list]:
    store = _followup_store(settings)
    day = _day(args, settings)
    return day, store.due(day, owners=(args.owner,) if args.owner else ())


def _guarded(body) -> int:
    from warehouse.case_db import StoreUnavailable

    try:
        return body()
    except (StoreUnreachable, StoreUnavailable) as exc:
        print(f"错误：工单库无法连接 / error: case store unreachable: {exc}", file=sys.stderr)
        return 2
    except CaseError as exc:
        print(f"拒绝 / refused: {exc}", file=sys.stderr)
        return 1


def cmd_followups_list(args: argparse.Namespace) -> int:
    settings = settings_from(args)

    def body() -> int:
        day, due = _due(args, settings)
        rows = [followup_record(f, day) for f in due]
        if args.json:
            print_json({"day": day, "owner": args.owner, "followups": rows})
            return 0
        print(f"回访 follow-ups due {day} (overdue included): {len(rows)}")
        for r in rows:
            late = f" 逾期 {r['days_overdue']} 天" if r["days_overdue"] else ""
            print(
                f"{r['followup_id']}  {r['due_on']}{late}  {r['reason_name']}  "
                f"{r['owner'] or '—'}  {(r['customer_id'] or '—')[:12]}  {r['case_id'] or ''}"
            )
        return 0

    return _guarded(body)


def cmd_followups_export(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    path = Path(args.file)
    fmt = export_format(path, args.format)

    def body() -> int:
        from warehouse.followup_export import export_followups

        day, due = _due(args, settings)
        n = write_atomically(path, lambda out: export_followups(due, fmt, out, day))
        print(f"导出 exported {n} follow-ups due {day} to {path}")
        return 0

    return _guarded(body)


def cmd_followups_record(args: argparse.Namespace) -> int:
    settings = settings_from(args)

    def body() -> int:
        store = _followup_store(settings)
        result = store.record_outcome(
            args.followup_id,
            who=args.who,
            reached=args.reached,
            satisfaction=args.satisfaction,
            note=args.note,
            needs_second=args.second,
        )
        outcome = result.outcome
        if args.json:
            second = asdict(result.second) if result.second else None
            print_json({**asdict(outcome), "second": second})
        else:
            reached = "联系上 reached" if outcome.reached else "未联系上 not reached"
            print(
                f"{args.followup_id}: {reached}, 满意度 {outcome.satisfaction or '—'}"
                + (
                    f"，已安排二次回访 second 回访 planned on {result.second.due_on}"
                    if result.second
                    else ""
                )
            )
        return 0

    return _guarded(body)
