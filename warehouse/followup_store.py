"""The 回访 store: planned follow-ups and their outcomes, in the case store's database
(SQLite side store by default, PostgreSQL when configured; the tables sit on
`warehouse.case_db`'s MetaData and are created with the case tables).

- ``followups``: one row per plan key (`voc.followup_rules`), so planning is idempotent;
  its status moves once, ``planned`` → ``done`` (an outcome was recorded) or ``cancelled``,
  by a guarded ``UPDATE … WHERE status = 'planned'``: of two people recording the same call
  one wins and the other is told who was first.
- ``followup_outcomes``: append-only (never updated or deleted): reached or not, the 1–5
  satisfaction, the note, whether a second 回访 is needed — which plans it in the same
  transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from voc.cases import CaseError, Followup, FollowupOutcome
from voc.followup_rules import (
    FollowupsConfig,
    IsWorkday,
    PlannedFollowup,
    china_workday,
    plan_second,
)
from warehouse.action_store import ActionError, checked_note, checked_who
from warehouse.case_db import (
    METADATA,
    UTCDateTime,
    append_only,
    in_values,
    read_connection,
    write_transaction,
)

_CHUNK = 500


followups = sa.Table(
    "followups",
    METADATA,
    sa.Column(
        "followup_id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("plan_key", sa.String(400), nullable=False, unique=True),
    sa.Column("case_id", sa.ForeignKey("case_cases.case_id"), nullable=True, index=True),
    sa.Column("customer_id", sa.String(200), nullable=True, index=True),
    sa.Column("owner", sa.String(64), nullable=True),
    sa.Column("team", sa.String(64), nullable=True),
    sa.Column("due_on", sa.Date, nullable=False),
    sa.Column("reason", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("parent_id", sa.ForeignKey("followups.followup_id"), nullable=True),
    sa.Column("closed_at", UTCDateTime, nullable=True),
    sa.Column("closed_by", sa.String(64), nullable=True),
    sa.Column("close_note", sa.Text, nullable=True),
    sa.Index("followups_due", "status", "due_on", "owner"),
)

followup_outcomes = sa.Table(
    "followup_outcomes",
    METADATA,
    sa.Column(
        "outcome_id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("followup_id", sa.ForeignKey("followups.followup_id"), nullable=False, index=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("who", sa.String(64), nullable=False),
    sa.Column("reached", sa.Boolean, nullable=False),
    sa.Column("satisfaction", sa.SmallInteger, nullable=True),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("needs_second", sa.Boolean, nullable=False),
)
append_only(followup_outcomes)

#: How far planning has read the case events (``case_events`` seq), per reader.
followup_state = sa.Table(
    "followup_state",
    METADATA,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("last_seq", sa.BigInteger, nullable=False),
)

_F = followups.c
_O = followup_outcomes.c


class FollowupConflictError(CaseError):
    """The follow-up was already done or cancelled by someone else (named with the time)."""


@dataclass(frozen=True, slots=True)
class PlanResult:
    """What `FollowupStore.plan` did: the follow-ups new now, and how many of those asked
    for were planned before."""

    new: tuple[PlannedFollowup, ...]
    n_known: int

    @property
    def n_planned(self) -> int:
        """How many are new."""
        return len(self.new)


@dataclass(frozen=True, slots=True)
class RecordResult:
    """A recorded outcome, the follow-up as it is now, and the second 回访 it planned."""

    outcome: FollowupOutcome
    followup: Followup
    second: Followup | None


def _followup(row: sa.Row) -> Followup:
    return Followup(
        followup_id=row.followup_id,
        case_id=row.case_id,
        customer_id=row.customer_id,
        owner=row.owner,
        team=row.team,
        due_on=row.due_on,
        reason=row.reason,
        status=row.status,
        created_at=row.created_at,
        parent_id=row.parent_id,
    )


def _outcome(row: sa.Row) -> FollowupOutcome:
    return FollowupOutcome(
        followup_id=row.followup_id,
        at=row.at,
        who=row.who,
        reached=bool(row.reached),
        satisfaction=row.satisfaction,
        note=row.note,
        needs_second=bool(row.needs_second),
    )


def _insert_ignoring_known(engine: sa.Engine) -> sa.Insert:
    """INSERT … ON CONFLICT (plan_key) DO NOTHING: a planner racing another loses quietly."""
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    return dialect.insert(followups).on_conflict_do_nothing(index_elements=["plan_key"])


def _row(p: PlannedFollowup, now: datetime) -> dict:
    return {
        "plan_key": p.plan_key,
        "case_id": p.case_id,
        "customer_id": p.customer_id,
        "owner": p.owner,
        "team": p.team,
        "due_on": p.due_on,
        "reason": p.reason,
        "status": "planned",
        "created_at": now,
        "parent_id": p.parent_id,
    }


def _who_note(who: str, note: str | None) -> tuple[str, str]:
    # The side store's field checks raise ActionError; here a refused action is a CaseError.
    try:
        return checked_who(who), checked_note(note)
    except ActionError as exc:
        raise CaseError(str(exc)) from None


def checked_satisfaction(reached: bool, satisfaction: int | None) -> int | None:
    """A 1–5 satisfaction, None, or `CaseError` (also when the customer was not reached)."""
    if satisfaction is None:
        return None
    if isinstance(satisfaction, bool) or not isinstance(satisfaction, int):
        raise CaseError("满意度 satisfaction 必须是 1–5 的整数 / satisfaction must be 1–5")
    if not 1 <= satisfaction <= 5:
        raise CaseError(
            f"满意度 satisfaction 必须在 1–5 之间，收到 {satisfaction} / "
            f"satisfaction must be 1–5, got {satisfaction}"
        )
    if not reached:
        raise CaseError(
            "未联系上客户时不能填写满意度 / satisfaction needs a reached customer (reached=False)"
        )
    return satisfaction


class FollowupStore:
    """Planned 回访 and their outcomes on the case store's engine.

    Args:
        engine: `warehouse.case_db.connect_store`'s engine (schema created).
        rules: The follow-up rules (for the second 回访's due day).
        timezone: The zone whose calendar days follow-ups are due on.
        is_workday: The working-day calendar.
    """

    def __init__(
        self,
        engine: sa.Engine,
        rules: FollowupsConfig | None = None,
        timezone: str = "Asia/Shanghai",
        is_workday: IsWorkday = china_workday,
    ) -> None:
        self.engine = engine
        self.rules = rules or FollowupsConfig()
        self.zone = ZoneInfo(timezone)
        self.is_workday = is_workday

    # --- planning ---------------------------------------------------------------------

    def plan(self, planned: Iterable[PlannedFollowup], now: datetime) -> PlanResult:
        """Store the follow-ups not planned before (by plan key); idempotent."""
        wanted = {p.plan_key: p for p in planned}
        keys = list(wanted)
        n_known, new = 0, []
        with write_transaction(self.engine) as con:
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                known = set(
                    con.execute(sa.select(_F.plan_key).where(_F.plan_key.in_(chunk))).scalars()
                )
                n_known += len(known)
                fresh = [wanted[k] for k in chunk if k not in known]
                if fresh:
                    con.execute(_insert_ignoring_known(self.engine), [_row(p, now) for p in fresh])
                new.extend(fresh)
        return PlanResult(tuple(new), n_known)

    def known_keys(self, prefix: str) -> set[str]:
        """Plan keys starting with `prefix` (``case_resolved:`` …)."""
        with read_connection(self.engine) as con:
            return set(
                con.execute(
                    sa.select(_F.plan_key).where(_F.plan_key.startswith(prefix, autoescape=True))
                ).scalars()
            )

    def watermark(self, name: str) -> int:
        """The last case event seq reader `name` planned from (0 before the first run)."""
        with read_connection(self.engine) as con:
            value = con.execute(
                sa.select(followup_state.c.last_seq).where(followup_state.c.name == name)
            ).scalar()
        return int(value or 0)

    def set_watermark(self, name: str, last_seq: int) -> None:
        """Remember that reader `name` has planned from every event up to `last_seq`."""
        with write_transaction(self.engine) as con:
            done = con.execute(
                sa.update(followup_state)
                .where(followup_state.c.name == name, followup_state.c.last_seq < last_seq)
                .values(last_seq=last_seq)
            )
            if done.rowcount == 0:
                exists = con.execute(
                    sa.select(followup_state.c.name).where(followup_state.c.name == name)
                ).first()
                if exists is None:
                    con.execute(sa.insert(followup_state).values(name=name, last_seq=last_seq))

    # --- reads ------------------------------------------------------------------------

    def get(self, followup_id: int) -> Followup | None:
        """One follow-up, or None."""
        with read_connection(self.engine) as con:
            row = con.execute(sa.select(followups).where(_F.followup_id == followup_id)).first()
        return _followup(row) if row else None

    def due(
        self,
        day: date,
        owners: Sequence[str] = (),
        teams: Sequence[str] = (),
        include_overdue: bool = True,
        limit: int = 5000,
    ) -> list[Followup]:
        """The planned follow-ups due on `day` (and, by default, still open from before),
        by owner, then due day (oldest first), then id."""
        q = sa.select(followups).where(_F.status == "planned")
        q = q.where(_F.due_on <= day if include_overdue else _F.due_on == day)
        if owners:
            q = q.where(_F.owner.in_(list(owners)))
        if teams:
            q = q.where(_F.team.in_(list(teams)))
        q = q.order_by(_F.owner, _F.due_on, _F.followup_id).limit(limit)
        with read_connection(self.engine) as con:
            return [_followup(r) for r in con.execute(q)]

    def due_by_owner(self, day: date, teams: Sequence[str] = ()) -> dict[str, list[Followup]]:
        """`due` grouped per owner (the daily 回访 list of each person; "" for none)."""
        out: dict[str, list[Followup]] = {}
        for f in self.due(day, teams=teams):
            out.setdefault(f.owner or "", []).append(f)
        return out

    def list_followups(
        self,
        customer_ids: Sequence[str] = (),
        case_ids: Sequence[int] = (),
        statuses: Sequence[str] = (),
        due_from: date | None = None,
        due_to: date | None = None,
        limit: int = 5000,
    ) -> list[Followup]:
        """Follow-ups narrowed by customer, case, status and due days, newest due first."""
        q = sa.select(followups)
        if customer_ids:
            q = q.where(_F.customer_id.in_(list(customer_ids)))
        if case_ids:
            q = q.where(_F.case_id.in_(list(case_ids)))
        if statuses:
            q = q.where(_F.status.in_(list(statuses)))
        if due_from is not None:
            q = q.where(_F.due_on >= due_from)
        if due_to is not None:
            q = q.where(_F.due_on <= due_to)
        q = q.order_by(_F.due_on.desc(), _F.followup_id).limit(limit)
        with read_connection(self.engine) as con:
            return [_followup(r) for r in con.execute(q)]

    def contact_days(
        self, customer_ids: Sequence[str], first: date, last: date
    ) -> dict[str, list[date]]:
        """Customer → due days of its other (not periodic, not cancelled) 回访 between
        `first` and `last`."""
        out: dict[str, list[date]] = {}
        with read_connection(self.engine) as con:
            rows = con.execute(
                sa.select(_F.customer_id, _F.due_on).where(
                    in_values(con, _F.customer_id, list(dict.fromkeys(customer_ids))),
                    _F.reason != "periodic",
                    _F.status != "cancelled",
                    _F.due_on.between(first, last),
                )
            )
            for customer_id, due_on in rows:
                out.setdefault(customer_id, []).append(due_on)
        return out

    def outcomes(
        self, followup_ids: Sequence[int] = (), case_ids: Sequence[int] = ()
    ) -> list[tuple[Followup, FollowupOutcome]]:
        """Outcomes (with their follow-up) of some follow-ups or cases (all when neither is
        given), oldest first."""
        q = sa.select(followups, *[c for c in followup_outcomes.c if c.name != "followup_id"])
        q = q.join_from(followups, followup_outcomes, _O.followup_id == _F.followup_id)
        q = q.order_by(_O.at, _O.outcome_id)
        with read_connection(self.engine) as con:
            # One bound parameter however long the list (`in_values`).
            if followup_ids:
                q = q.where(in_values(con, _F.followup_id, list(followup_ids)))
            if case_ids:
                q = q.where(in_values(con, _F.case_id, list(case_ids)))
            return [(_followup(r), _outcome(r)) for r in con.execute(q)]

    # --- changes ----------------------------------------------------------------------

    def _close(
        self, con: sa.Connection, followup_id: int, status: str, who: str, note: str, at: datetime
    ) -> None:
        done = con.execute(
            sa.update(followups)
            .where(_F.followup_id == followup_id, _F.status == "planned")
            .values(status=status, closed_at=at, closed_by=who, close_note=note)
        )
        if done.rowcount == 1:
            return
        row = con.execute(sa.select(followups).where(_F.followup_id == followup_id)).first()
        if row is None:
            raise CaseError(f"没有回访 {followup_id} / no follow-up {followup_id}")
        raise FollowupConflictError(
            f"回访 {followup_id} 已被 {row.closed_by} 于 {row.closed_at:%Y-%m-%d %H:%M} UTC "
            f"标记为 {row.status} / follow-up {followup_id} was already {row.status} by "
            f"{row.closed_by} at {row.closed_at.isoformat()}"
        )

    def record_outcome(
        self,
        followup_id: int,
        who: str,
        reached: bool,
        satisfaction: int | None = None,
        note: str = "",
        needs_second: bool = False,
        at: datetime | None = None,
        second_due_on: date | None = None,
    ) -> RecordResult:
        """Record a call's outcome (append-only) and close the follow-up; with
        `needs_second` plan the second 回访 (on `second_due_on`, else `second_after_days`
        working days later) in the same transaction.

        Raises:
            CaseError: a bad field, or no such follow-up.
            FollowupConflictError: the follow-up was already done or cancelled (by whom, when).
        """
        who, note = _who_note(who, note)
        if not isinstance(reached, bool):
            raise CaseError("是否联系上 reached 必须是 true/false / reached must be a boolean")
        satisfaction = checked_satisfaction(reached, satisfaction)
        at = at or datetime.now(UTC)
        with write_transaction(self.engine) as con:
            self._close(con, followup_id, "done", who, note, at)
            con.execute(
                sa.insert(followup_outcomes).values(
                    followup_id=followup_id,
                    at=at,
                    who=who,
                    reached=reached,
                    satisfaction=satisfaction,
                    note=note,
                    needs_second=needs_second,
                )
            )
            row = con.execute(sa.select(followups).where(_F.followup_id == followup_id)).one()
            second = None
            if needs_second:
                planned = plan_second(
                    followup_id,
                    at.astimezone(self.zone).date(),
                    row.owner,
                    row.team,
                    row.case_id,
                    row.customer_id,
                    self.rules,
                    due_on=second_due_on,
                    is_workday=self.is_workday,
                )
                con.execute(_insert_ignoring_known(self.engine), [_row(planned, at)])
                second = _followup(
                    con.execute(sa.select(followups).where(_F.plan_key == planned.plan_key)).one()
                )
        outcome = FollowupOutcome(followup_id, at, who, reached, satisfaction, note, needs_second)
        return RecordResult(outcome, _followup(row), second)

    def cancel(
        self, followup_id: int, who: str, note: str = "", at: datetime | None = None
    ) -> Followup:
        """Cancel a planned follow-up (a reopened case, a customer who asked not to be
        called).

        Raises:
            CaseError: no such follow-up. FollowupConflictError: it is no longer planned.
        """
        who, note = _who_note(who, note)
        with write_transaction(self.engine) as con:
            self._close(con, followup_id, "cancelled", who, note, at or datetime.now(UTC))
            row = con.execute(sa.select(followups).where(_F.followup_id == followup_id)).one()
        return _followup(row)

    def cancel_planned_for_case(
        self, case_id: int, who: str, note: str, at: datetime | None = None
    ) -> int:
        """Cancel the planned 回访 of a case (it was reopened); returns how many."""
        who, note = _who_note(who, note)
        with write_transaction(self.engine) as con:
            done = con.execute(
                sa.update(followups)
                .where(_F.case_id == case_id, _F.status == "planned")
                .values(
                    status="cancelled",
                    closed_at=at or datetime.now(UTC),
                    closed_by=who,
                    close_note=note,
                )
            )
        return done.rowcount
