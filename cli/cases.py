"""``voc cases …``: the 工单 queue for people who live in a terminal: list, show, export,
move and assign cases in the case store (docs/cases.md), with ``--json`` for scripts.

The commands read and write the same store as the dashboard's 工单 page (the SQLite side
store beside the warehouse, or the PostgreSQL database of ``[cases] database_url``), so a
change made here shows there at once and lands in the case's event history with ``--who``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from cli.case_recovery import add_case_recovery_parser
from cli.case_sla import SLA_COLUMNS, sla_fields
from cli.case_times import add_case_times_parser
from cli.common import add_common, parse_date, settings_from
from cli.exports import EXPORT_FORMATS, export_format, write_rows
from voc.cases import (
    OPEN_STATUSES,
    PRIORITIES,
    STATUS_NAMES,
    TRANSITIONS,
    Case,
    CaseError,
    ConflictError,
)
from voc.settings import Settings

#: Columns of ``list`` and ``export``, in order.
COLUMNS = (
    "case_id",
    "priority",
    "status",
    "status_name",
    "title",
    "team",
    "owner",
    "channel",
    "source",
    "segment",
    "province",
    "customer_id",
    "theme_label",
    "aspect",
    "category",
    "n_voices",
    "opened_at",
    "updated_at",
    "first_response_at",
    "resolved_at",
    "closed_at",
    "version",
)
#: Cases read per store call while exporting (the store pages with limit/offset).
EXPORT_CHUNK = 5000


class StoreUnreachable(RuntimeError):
    """The case store could not be reached (PostgreSQL down, a bad URL)."""


def open_engine(settings: Settings):
    """The case store's `sqlalchemy.Engine` for `settings`, schema created.

    Raises:
        StoreUnreachable: the database did not answer.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from warehouse.case_db import StoreUnavailable, connect_store, create_schema, store_url

    try:
        engine = connect_store(store_url(settings))
        create_schema(engine)
    except (StoreUnavailable, SQLAlchemyError) as exc:
        raise StoreUnreachable(short_error(exc)) from exc
    return engine


def open_store(settings: Settings):
    """The case store of `settings` (`warehouse.case_store.CaseStore`)."""
    from warehouse.case_store import CaseStore

    return CaseStore(open_engine(settings))


def short_error(exc: BaseException) -> str:
    """The database's own first line (SQLAlchemy appends the statement and a help link,
    and a URL may carry a password)."""
    inner = getattr(exc, "orig", None) or exc
    return (str(inner).strip().splitlines() or [type(inner).__name__])[0][:300]


def status_code(text: str) -> str:
    """A status given as its code (``in_progress``) or its name (``处理中``)."""
    if text in STATUS_NAMES:
        return text
    by_name = {v: k for k, v in STATUS_NAMES.items()}
    if text in by_name:
        return by_name[text]
    known = ", ".join(f"{k} ({v})" for k, v in STATUS_NAMES.items())
    raise argparse.ArgumentTypeError(f"未知状态 unknown status {text!r}; 可用 known: {known}")


def _add_filters(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--status",
        action="append",
        type=status_code,
        default=[],
        help="status code or name, repeatable (default: the open statuses)",
    )
    p.add_argument("--all", action="store_true", help="every status, also resolved and closed")
    p.add_argument("--priority", action="append", choices=PRIORITIES, default=[])
    p.add_argument("--team", action="append", default=[], help="team, repeatable")
    p.add_argument("--owner", action="append", default=[], help="owner, repeatable")
    p.add_argument("--channel", action="append", default=[], help="channel, repeatable")
    p.add_argument("--segment", action="append", default=[], help="customer segment")
    p.add_argument("--since", type=parse_date, help="opened on or after this local day")
    p.add_argument("--until", type=parse_date, help="opened on or before this local day")


def add_cases_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``voc cases`` and its subcommands."""
    p = sub.add_parser(
        "cases",
        help="工单 the case queue: list, show, export, move, assign; response times, recovery",
        description="Cases (工单) opened from negative voices: list the queue, show one case "
        "with its voices and history, export to CSV/XLSX, move a case through the workflow "
        "(新建 → 已受理 → 处理中 → 待回访 → 已解决/已关闭) or assign it (docs/cases.md); "
        "response times from the sources and whether recovery worked "
        "(docs/service-outcomes.md).",
    )
    csub = p.add_subparsers(dest="cases_command", required=True)
    p = csub.add_parser("list", help="the queue (open cases unless --status/--all)")
    _add_filters(p)
    p.add_argument("--limit", type=int, default=50, help="rows (default 50)")
    p.add_argument("--offset", type=int, default=0, help="skip this many rows first")
    p.add_argument("--json", action="store_true", help="machine-readable JSON output")
    add_common(p)
    p.set_defaults(func=cmd_cases_list)
    p = csub.add_parser("show", help="one case: fields, voices and the full event history")
    p.add_argument("case_id", type=int)
    p.add_argument("--json", action="store_true", help="machine-readable JSON output")
    add_common(p)
    p.set_defaults(func=cmd_cases_show)
    p = csub.add_parser("export", help="every matching case to a CSV or XLSX file")
    p.add_argument("file", help="output file (.csv or .xlsx)")
    p.add_argument("--format", choices=EXPORT_FORMATS, help="default: from the file's suffix")
    p.add_argument(
        "--sla", action="store_true", help="add the SLA clocks (reads every case's history)"
    )
    _add_filters(p)
    add_common(p)
    p.set_defaults(func=cmd_cases_export)
    p = csub.add_parser("move", help="move a case to another status")
    p.add_argument("case_id", type=int)
    p.add_argument("status", type=status_code, help="the new status (code or name)")
    _add_change_options(p)
    p.set_defaults(func=cmd_cases_move)
    p = csub.add_parser("assign", help="give a case an owner and/or a team")
    p.add_argument("case_id", type=int)
    p.add_argument("--owner", help="the new owner (default: keep)")
    p.add_argument("--team", help="the new team (default: keep)")
    _add_change_options(p)
    p.set_defaults(func=cmd_cases_assign)
    add_case_times_parser(csub)
    add_case_recovery_parser(csub)


def _add_change_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--who", required=True, help="your name: it goes on the case's event")
    p.add_argument("--note", default="", help="a note for the event")
    p.add_argument(
        "--expect-version",
        type=int,
        help="refuse if the case is no longer at this version (what you last saw); "
        "default: its current version",
    )
    p.add_argument("--json", action="store_true", help="print the changed case as JSON")
    add_common(p)


def filters_from(args: argparse.Namespace, settings: Settings):
    """The `CaseFilters` of the command's filter options (local days → UTC instants)."""
    from warehouse.case_store import CaseFilters

    statuses = tuple(args.status) or (() if args.all else OPEN_STATUSES)
    zone = ZoneInfo(settings.timezone)
    since = datetime.combine(args.since, time(), zone) if args.since else None
    until = (
        datetime.combine(date.fromordinal(args.until.toordinal() + 1), time(), zone)
        if args.until
        else None
    )
    return CaseFilters(
        statuses=statuses,
        priorities=tuple(args.priority),
        teams=tuple(args.team),
        owners=tuple(args.owner),
        channels=tuple(args.channel),
        segments=tuple(args.segment),
        opened_from=since,
        opened_to=until,
    )


def case_record(case: Case, timezone: str) -> dict[str, Any]:
    """A case as one flat row: the `COLUMNS`, times in local wall-clock ISO form."""
    zone = ZoneInfo(timezone)
    raw = asdict(case)
    row: dict[str, Any] = {}
    for column in COLUMNS:
        if column == "status_name":
            row[column] = STATUS_NAMES.get(case.status, case.status)
            continue
        value = raw.get(column)
        if isinstance(value, datetime):
            value = value.astimezone(zone).isoformat(timespec="seconds")
        row[column] = value
    return row


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def print_json(value: Any) -> None:
    """`value` as indented JSON (dates as ISO text, Chinese as is)."""
    print(json.dumps(_jsonable(value), ensure_ascii=False, indent=2))


def _run(args: argparse.Namespace, body) -> int:
    """Run `body(settings, store)`; the store's refusals and faults as exit codes."""
    from warehouse.case_db import StoreUnavailable

    settings = settings_from(args)
    try:
        store = open_store(settings)
        return body(settings, store)
    except (StoreUnreachable, StoreUnavailable) as exc:
        print(f"错误：工单库无法连接 / error: case store unreachable: {exc}", file=sys.stderr)
        return 2
    except ConflictError as exc:
        print(f"冲突 / conflict: {exc}", file=sys.stderr)
        return 1
    except CaseError as exc:
        print(f"拒绝 / refused: {exc}", file=sys.stderr)
        return 1


def cmd_cases_list(args: argparse.Namespace) -> int:
    def body(settings: Settings, store) -> int:
        filters = filters_from(args, settings)
        total = store.count_cases(filters)
        cases = store.list_cases(filters, limit=args.limit, offset=args.offset)
        sla = sla_fields(store, cases, settings, datetime.now(UTC))
        rows = [{**case_record(c, settings.timezone), **sla[c.case_id]} for c in cases]
        if args.json:
            print_json({"total": total, "offset": args.offset, "cases": rows})
            return 0
        print(f"工单 cases: {total} matching, showing {len(rows)} from {args.offset + 1}")
        for r in rows:
            print(
                f"{r['case_id']}  {r['priority']}  {r['status_name']:<4}  "
                f"{(r['team'] or '—')}/{(r['owner'] or '—')}  {r['channel'] or '—'}  "
                f"{r['opened_at'][:16]}  ×{r['n_voices']}  {_sla_text(r)}  {r['title']}"
            )
        return 0

    return _run(args, body)


def _sla_text(row: dict[str, Any]) -> str:
    if row["sla_state"] == "none":
        return "SLA —"
    due = row["first_response_due"] or row["resolution_due"]
    return f"SLA {row['sla_state']}" + (f" (due {due[5:16].replace('T', ' ')})" if due else "")


def cmd_cases_show(args: argparse.Namespace) -> int:
    def body(settings: Settings, store) -> int:
        case = store.get(args.case_id)
        if case is None:
            print(f"错误：没有工单 {args.case_id} / error: no case {args.case_id}", file=sys.stderr)
            return 1
        zone = ZoneInfo(settings.timezone)
        voices = store.voices(args.case_id)
        events = store.history(args.case_id)
        if args.json:
            print_json(
                {
                    "case": {**asdict(case), "severity": dict(case.severity)},
                    "allowed_moves": list(TRANSITIONS.get(case.status, ())),
                    "sla": sla_fields(store, [case], settings, datetime.now(UTC))[case.case_id],
                    "voices": [asdict(v) for v in voices],
                    "events": [{**asdict(e), "data": dict(e.data or {})} for e in events],
                }
            )
            return 0
        row = case_record(case, settings.timezone)
        print(f"{case.case_id}  {case.priority}  {row['status_name']}  v{case.version}")
        print(f"  {case.title}")
        for label, key in (
            ("团队/负责人 team/owner", None),
            ("渠道 channel", "channel"),
            ("来源 source", "source"),
            ("客户 customer", "customer_id"),
            ("客户分层 segment", "segment"),
            ("主题 theme", "theme_label"),
            ("开单 opened", "opened_at"),
            ("首次响应 first response", "first_response_at"),
            ("解决 resolved", "resolved_at"),
        ):
            value = f"{case.team or '—'}/{case.owner or '—'}" if key is None else row[key]
            print(f"  {label}: {value if value not in (None, '') else '—'}")
        moves = ", ".join(
            f"{m} ({STATUS_NAMES.get(m, m)})" for m in TRANSITIONS.get(case.status, ())
        )
        print(f"  可流转到 allowed moves: {moves or '—'}")
        print(f"声音 voices ({len(voices)}):")
        for v in voices:
            print(
                f"  {v.created_at.astimezone(zone):%Y-%m-%d %H:%M}  {v.source}/{v.channel}  "
                f"{v.excerpt}"
            )
        print(f"处理记录 history ({len(events)}):")
        for e in events:
            move = f"{e.from_status or ''}→{e.to_status}" if e.to_status else ""
            print(
                f"  #{e.seq} {e.at.astimezone(zone):%Y-%m-%d %H:%M}  {e.who}  {e.action}  "
                f"{move}  {e.note}".rstrip()
            )
        return 0

    return _run(args, body)


def iter_chunks(store, filters) -> Iterator[list[Case]]:
    """Every case matching `filters`, in chunks of `EXPORT_CHUNK`."""
    offset = 0
    while True:
        chunk = store.list_cases(filters, limit=EXPORT_CHUNK, offset=offset)
        if chunk:
            yield chunk
        if len(chunk) < EXPORT_CHUNK:
            return
        offset += EXPORT_CHUNK


def cmd_cases_export(args: argparse.Namespace) -> int:
    path = Path(args.file)
    fmt = export_format(path, args.format)

    def body(settings: Settings, store) -> int:
        filters = filters_from(args, settings)
        now = datetime.now(UTC)

        def rows():
            for chunk in iter_chunks(store, filters):
                sla = sla_fields(store, chunk, settings, now) if args.sla else {}
                for case in chunk:
                    yield {**case_record(case, settings.timezone), **sla.get(case.case_id, {})}

        columns = (*COLUMNS, *SLA_COLUMNS) if args.sla else COLUMNS
        n = write_rows(path, fmt, columns, rows())
        print(f"导出 exported {n} cases to {path}")
        return 0

    return _run(args, body)


def _current_version(store, case_id: int, expected: int | None) -> int:
    if expected is not None:
        return expected
    case = store.get(case_id)
    if case is None:
        raise CaseError(f"没有工单 {case_id} / no case {case_id}")
    return case.version


def _changed(args: argparse.Namespace, settings: Settings, case: Case) -> int:
    if args.json:
        print_json(case_record(case, settings.timezone))
    else:
        row = case_record(case, settings.timezone)
        print(
            f"{case.case_id}: {row['status_name']} · {case.team or '—'}/{case.owner or '—'} "
            f"· v{case.version}"
        )
    return 0


def cmd_cases_move(args: argparse.Namespace) -> int:
    def body(settings: Settings, store) -> int:
        version = _current_version(store, args.case_id, args.expect_version)
        case = store.move(args.case_id, args.status, args.who, version, note=args.note)
        return _changed(args, settings, case)

    return _run(args, body)


def check_assignment(settings: Settings, owner: str | None, team: str | None) -> None:
    """With ``[cases.teams]`` configured: `CaseError` for an unknown team, or an owner
    outside the team's listed people (as the dashboard refuses them)."""
    teams = dict(getattr(settings.cases, "teams", None) or {})
    if not teams or team is None:
        return
    if team not in teams:
        known = "、".join(teams)
        raise CaseError(f"未知团队 {team}；已配置：{known} / unknown team {team}; known: {known}")
    people = tuple(teams[team].owners or ())
    if owner is not None and people and owner not in people:
        known = "、".join(people)
        raise CaseError(
            f"{owner} 不是团队 {team} 的成员：{known} / {owner} is not in team {team}: {known}"
        )


def cmd_cases_assign(args: argparse.Namespace) -> int:
    if args.owner is None and args.team is None:
        print("错误：请给出 --owner 或 --team / error: give --owner or --team", file=sys.stderr)
        return 2

    def body(settings: Settings, store) -> int:
        version = _current_version(store, args.case_id, args.expect_version)
        current = store.get(args.case_id)
        if current is None:
            raise CaseError(f"没有工单 {args.case_id} / no case {args.case_id}")
        owner = current.owner if args.owner is None else args.owner
        team = current.team if args.team is None else args.team
        check_assignment(settings, owner, team)
        case = store.assign(args.case_id, owner, team, args.who, version, note=args.note)
        return _changed(args, settings, case)

    return _run(args, body)
