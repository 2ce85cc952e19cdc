"""The case store: open and merge cases in bulk, move them through the workflow, read them.

Every change appends one ``case_events`` row and updates the case's current-state row in
the same transaction, guarded by ``version = expected_version`` (optimistic locking: a
stale version is a `voc.cases.ConflictError`, nothing is written). Events are never
updated or deleted (`warehouse.case_db.append_only`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from voc.cases import (
    ACKNOWLEDGED,
    CLOSED,
    IN_PROGRESS,
    NEW,
    RESOLVED,
    Case,
    CaseError,
    CaseEvent,
    CaseOpening,
    CaseVoice,
    ConflictError,
    check_priority,
    check_status,
    check_transition,
    is_reopen,
)
from warehouse.action_store import ActionError, checked_note, checked_who, utc_now
from warehouse.case_db import (
    case_cases,
    case_events,
    case_voices,
    in_values,
    read_connection,
    write_transaction,
)
from warehouse.case_merge import OpenResult, open_cases

_CASE_FIELDS = [f.name for f in fields(Case)]
_VOICE_FIELDS = [f.name for f in fields(CaseVoice)]


@dataclass(frozen=True)
class CaseFilters:
    """Which cases `CaseStore.list_cases` returns (empty tuple = any)."""

    statuses: tuple[str, ...] = ()
    priorities: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    customer_ids: tuple[str, ...] = ()  # a customer's cases (the 回访 screen)
    opened_from: datetime | None = None
    opened_to: datetime | None = None  # exclusive


def _checked(fn):  # ActionError (who/note checks) is a refused case action too
    @functools.wraps(fn)
    def wrapper(*args, **kw):
        try:
            return fn(*args, **kw)
        except ActionError as exc:
            raise CaseError(str(exc)) from exc

    return wrapper


class CaseStore:
    """Cases on one engine (`warehouse.case_db.connect_store`), schema already created."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- opening ---------------------------------------------------------------------

    def open_cases(
        self,
        openings: Iterable[CaseOpening],
        now: datetime,
        merge_days: int = 7,
        who: str = "system",
    ) -> OpenResult:
        """Open cases for `openings`, merging what belongs together, in one transaction.

        A voice whose doc_id is already in any case is skipped (``n_known``), so re-running
        a day opens nothing. An opening whose ``merge_key`` matches an open case whose
        newest voice is at most `merge_days` older than the opening's first voice joins
        that case (event ``merge``, voices appended, priority raised to the higher one);
        otherwise it opens a new case (event ``open``). See `warehouse.case_merge`.
        """
        return open_cases(self.engine, openings, now, merge_days, who)

    # -- reading ---------------------------------------------------------------------

    def get(self, case_id: int) -> Case | None:
        """The case's current state, or None when there is no such case."""
        with read_connection(self.engine) as con:
            row = con.execute(_select_cases().where(case_cases.c.case_id == case_id)).first()
        return _case(row) if row else None

    def get_many(self, case_ids: Sequence[int]) -> dict[int, Case]:
        """The current state of each of `case_ids` that exists, by id (one query)."""
        with read_connection(self.engine) as con:
            query = _select_cases().where(in_values(con, case_cases.c.case_id, list(case_ids)))
            return {r.case_id: _case(r) for r in con.execute(query)}

    def histories(self, case_ids: Sequence[int]) -> dict[int, list[CaseEvent]]:
        """The events of each of `case_ids`, oldest first (one query: SLA clocks of a
        whole queue)."""
        out: dict[int, list[CaseEvent]] = {case_id: [] for case_id in case_ids}
        with read_connection(self.engine) as con:
            query = (
                sa.select(case_events)
                .where(in_values(con, case_events.c.case_id, list(out)))
                .order_by(case_events.c.case_id, case_events.c.seq)
            )
            for row in con.execute(query):
                out[row.case_id].append(_event(row))
        return out

    def history(self, case_id: int) -> list[CaseEvent]:
        """The case's events, oldest first."""
        query = (
            sa.select(case_events)
            .where(case_events.c.case_id == case_id)
            .order_by(case_events.c.seq)
        )
        with read_connection(self.engine) as con:
            return [_event(r) for r in con.execute(query)]

    def voices(self, case_id: int) -> list[CaseVoice]:
        """The case's voices, oldest post first."""
        cols = [case_voices.c[n] for n in _VOICE_FIELDS]
        query = (
            sa.select(*cols)
            .where(case_voices.c.case_id == case_id)
            .order_by(case_voices.c.created_at, case_voices.c.doc_id)
        )
        with read_connection(self.engine) as con:
            return [CaseVoice(**r._mapping) for r in con.execute(query)]

    def case_of_doc(self, doc_id: str) -> int | None:
        """The case holding a voice, or None."""
        query = sa.select(case_voices.c.case_id).where(case_voices.c.doc_id == doc_id)
        with read_connection(self.engine) as con:
            return con.execute(query).scalar()

    def list_cases(self, filters: CaseFilters, limit: int = 200, offset: int = 0) -> list[Case]:
        """Cases matching `filters`, highest priority first, then oldest first."""
        query = (
            _filtered(_select_cases(), filters)
            .order_by(case_cases.c.priority, case_cases.c.opened_at, case_cases.c.case_id)
            .limit(limit)
            .offset(offset)
        )
        with read_connection(self.engine) as con:
            return [_case(r) for r in con.execute(query)]

    def count_cases(self, filters: CaseFilters) -> int:
        """How many cases match `filters`."""
        query = _filtered(sa.select(sa.func.count()).select_from(case_cases), filters)
        with read_connection(self.engine) as con:
            return int(con.execute(query).scalar_one())

    def all_events(self, since_seq: int = 0, batch: int = 10_000) -> Iterator[CaseEvent]:
        """Every event with ``seq > since_seq``, in seq order, read in batches."""
        while True:
            query = (
                sa.select(case_events)
                .where(case_events.c.seq > since_seq)
                .order_by(case_events.c.seq)
                .limit(batch)
            )
            with read_connection(self.engine) as con:
                rows = [_event(r) for r in con.execute(query)]
            yield from rows
            if len(rows) < batch:
                return
            since_seq = rows[-1].seq

    # -- changes ---------------------------------------------------------------------

    @_checked
    def move(
        self,
        case_id: int,
        to_status: str,
        who: str,
        expected_version: int,
        note: str = "",
        at: datetime | None = None,
    ) -> Case:
        """Move the case to `to_status` (`voc.cases.TRANSITIONS`); refused moves name the
        allowed ones, a stale `expected_version` raises `ConflictError`."""
        who, note, at = checked_who(who), checked_note(note), at or utc_now()
        check_status(to_status)
        with write_transaction(self.engine) as con:
            case = _current(con, case_id, expected_version)
            check_transition(case.status, to_status)
            values: dict[str, Any] = {"status": to_status}
            if (
                case.first_response_at is None
                and case.status == NEW
                and to_status in (ACKNOWLEDGED, IN_PROGRESS)
            ):
                values["first_response_at"] = at
            if to_status == RESOLVED:
                values["resolved_at"] = at
            elif to_status == CLOSED:
                values["closed_at"] = at
            elif is_reopen(case.status, to_status):
                values.update(resolved_at=None, closed_at=None)
            data = {"reopen": True} if is_reopen(case.status, to_status) else {}
            return _change(con, case, values, at, who, "status", note, data, to_status)

    @_checked
    def assign(
        self,
        case_id: int,
        owner: str | None,
        team: str | None,
        who: str,
        expected_version: int,
        note: str = "",
    ) -> Case:
        """Give the case to `owner` in `team` (None clears either)."""
        who, note, at = checked_who(who), checked_note(note), utc_now()
        owner, team = _optional(owner, "owner", "处理人"), _optional(team, "team", "团队")
        with write_transaction(self.engine) as con:
            case = _current(con, case_id, expected_version)
            data = {"owner": owner, "team": team, "from_owner": case.owner, "from_team": case.team}
            values = {"owner": owner, "team": team}
            return _change(con, case, values, at, who, "assign", note, data)

    @_checked
    def add_note(self, case_id: int, who: str, note: str, expected_version: int) -> Case:
        """Add a note to the case's history (the note must not be empty)."""
        who, note, at = checked_who(who), checked_note(note), utc_now()
        if not note.strip():
            raise CaseError("备注 note 不能为空 / note must not be empty")
        with write_transaction(self.engine) as con:
            case = _current(con, case_id, expected_version)
            return _change(con, case, {}, at, who, "note", note, {})

    @_checked
    def record_reply(
        self,
        case_id: int,
        who: str,
        expected_version: int,
        note: str = "",
        at: datetime | None = None,
    ) -> Case:
        """Record a response to the customer; the first one sets ``first_response_at``."""
        who, note, at = checked_who(who), checked_note(note), at or utc_now()
        with write_transaction(self.engine) as con:
            case = _current(con, case_id, expected_version)
            values = {"first_response_at": at} if case.first_response_at is None else {}
            return _change(con, case, values, at, who, "reply", note, {})

    @_checked
    def set_priority(
        self, case_id: int, priority: str, who: str, expected_version: int, note: str = ""
    ) -> Case:
        """Change the case's priority (P1–P4)."""
        who, note, at = checked_who(who), checked_note(note), utc_now()
        check_priority(priority)
        with write_transaction(self.engine) as con:
            case = _current(con, case_id, expected_version)
            data = {"priority": priority, "from_priority": case.priority}
            return _change(con, case, {"priority": priority}, at, who, "priority", note, data)


# -- helpers -------------------------------------------------------------------------


def _optional(value: str | None, field: str, zh: str) -> str | None:
    if value is None or not str(value).strip():
        return None
    if len(value) > 200:
        raise CaseError(f"{zh} {field} 过长（最多 200 个字符） / {field} is too long")
    return value.strip()


def _select_cases() -> sa.Select:
    return sa.select(*(case_cases.c[n] for n in _CASE_FIELDS))


def _case(row: sa.Row) -> Case:
    return Case(**row._mapping)


def _event(row: sa.Row) -> CaseEvent:
    return CaseEvent(
        case_id=row.case_id,
        seq=row.seq,
        at=row.at,
        who=row.who,
        action=row.action,
        from_status=row.from_status,
        to_status=row.to_status,
        note=row.note,
        data=row.data or {},
    )


def _filtered(query: sa.Select, f: CaseFilters) -> sa.Select:
    c = case_cases.c
    for column, values in (
        (c.status, f.statuses),
        (c.priority, f.priorities),
        (c.team, f.teams),
        (c.owner, f.owners),
        (c.channel, f.channels),
        (c.segment, f.segments),
        (c.customer_id, f.customer_ids),
    ):
        if values:
            query = query.where(column.in_(list(values)))
    if f.opened_from is not None:
        query = query.where(c.opened_at >= f.opened_from)
    if f.opened_to is not None:
        query = query.where(c.opened_at < f.opened_to)
    return query


def _current(con: Connection, case_id: int, expected_version: int) -> Case:
    """The case as stored now; `ConflictError` when its version is not the expected one."""
    row = con.execute(_select_cases().where(case_cases.c.case_id == case_id)).first()
    if row is None:
        raise CaseError(f"工单 {case_id} 不存在 / no case {case_id}")
    case = _case(row)
    if case.version != expected_version:
        raise ConflictError(case_id, expected_version, case.version, case.status)
    return case


def _change(
    con: Connection,
    case: Case,
    values: dict[str, Any],
    at: datetime,
    who: str,
    action: str,
    note: str,
    data: dict[str, Any],
    to_status: str | None = None,
) -> Case:
    """Apply one change: the guarded current-state update and its event, then the new state."""
    c = case_cases.c
    result = con.execute(
        case_cases.update()
        .where(c.case_id == case.case_id, c.version == case.version)
        .values(version=c.version + 1, updated_at=at, **values)
    )
    if result.rowcount != 1:
        # A concurrent writer got in between the read and the update (PostgreSQL re-checks
        # the WHERE after waiting for the row lock).
        now = con.execute(sa.select(c.version, c.status).where(c.case_id == case.case_id)).one()
        raise ConflictError(case.case_id, case.version, now.version, now.status)
    con.execute(
        case_events.insert().values(
            case_id=case.case_id,
            at=at,
            who=who,
            action=action,
            from_status=case.status if to_status else None,
            to_status=to_status,
            note=note,
            data=data,
        )
    )
    row = con.execute(_select_cases().where(c.case_id == case.case_id)).one()
    return _case(row)


__all__ = ["CaseFilters", "CaseStore", "OpenResult"]
