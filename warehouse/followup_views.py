"""What the 回访 page, the CLI and the lead's report call: today's list per owner with the
cases it belongs to, one customer's history on one page (voices and survey answers from
the warehouse, cases from the case store, 回访 and their outcomes), and the recovery
report (per-case verdicts, rates, churn risk) over the case store's closed cases."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import duckdb
import pandas as pd

from voc.cases import Case, Followup, FollowupOutcome
from voc.followup_rules import RecoveryConfig
from warehouse.case_store import CaseFilters, CaseStore
from warehouse.churn_risk import churn_risk
from warehouse.customer_voices import customer_timeline
from warehouse.followup_store import FollowupStore
from warehouse.recovery import (
    CLOSED_STATUSES,
    CaseRecovery,
    case_recoveries,
    overall_rate,
    recovery_rates,
)

_PAGE = 1000


def load_cases(case_store: CaseStore, statuses: Sequence[str] = ()) -> list[Case]:
    """Every case with one of `statuses` (all when empty), read page by page."""
    out: list[Case] = []
    filters = CaseFilters(statuses=tuple(statuses))
    while True:
        page = case_store.list_cases(filters, limit=_PAGE, offset=len(out))
        out.extend(page)
        if len(page) < _PAGE:
            return out


def cases_of(case_store: CaseStore, case_ids: Sequence[int | None]) -> dict[int, Case]:
    """Case id → case, for the ids that exist (one query)."""
    ids = list(dict.fromkeys(i for i in case_ids if i is not None))
    return case_store.get_many(ids) if ids else {}


def customer_cases(case_store: CaseStore, customer_id: str, limit: int = 500) -> list[Case]:
    """A customer's cases, newest opened first."""
    cases = case_store.list_cases(CaseFilters(customer_ids=(customer_id,)), limit=limit)
    return sorted(cases, key=lambda c: (c.opened_at, c.case_id), reverse=True)


@dataclass(frozen=True)
class DailyList:
    """The 回访 due on a day (overdue ones included), per owner, and their cases."""

    day: date
    by_owner: dict[str, list[Followup]]
    cases: dict[int, Case]

    @property
    def followups(self) -> list[Followup]:
        """Every follow-up of the list, owner by owner."""
        return [f for items in self.by_owner.values() for f in items]


def todays_list(
    store: FollowupStore,
    case_store: CaseStore,
    day: date,
    owners: Sequence[str] = (),
    teams: Sequence[str] = (),
) -> DailyList:
    """The daily 回访 list of `day` for some owners or teams (all when empty)."""
    items = store.due(day, owners=owners, teams=teams)
    by_owner: dict[str, list[Followup]] = {}
    for f in items:
        by_owner.setdefault(f.owner or "", []).append(f)
    return DailyList(day, by_owner, cases_of(case_store, [f.case_id for f in items]))


@dataclass(frozen=True)
class CustomerHistory:
    """One customer on one page.

    Attributes:
        customer_id: The hashed id.
        customer: Current attributes from the customer file (no raw key), or None.
        voices: Voices newest first (time, source, channel, segment then, sentiment, the
            masked text, url) from the warehouse.
        responses: Survey answers newest first (time, source, segment then, NPS, CSAT).
        cases: The customer's cases, newest first.
        followups: Its 回访, newest due first.
        outcomes: Their outcomes, oldest first.
    """

    customer_id: str
    customer: dict[str, Any] | None
    voices: pd.DataFrame
    responses: pd.DataFrame
    cases: list[Case]
    followups: list[Followup]
    outcomes: list[tuple[Followup, FollowupOutcome]]


def customer_history(
    con: duckdb.DuckDBPyConnection | None,
    case_store: CaseStore,
    store: FollowupStore,
    customer_id: str,
    limit: int = 200,
) -> CustomerHistory | None:
    """Everything known of one customer (`con` may be a read-only snapshot, or None when
    the warehouse is not there: voices and answers are then empty); None when nothing is
    known at all."""
    timeline = customer_timeline(con, customer_id, limit) if con is not None else None
    cases = customer_cases(case_store, customer_id)
    followups = store.list_followups(customer_ids=[customer_id])
    outcomes = store.outcomes(followup_ids=[f.followup_id for f in followups]) if followups else []
    if timeline is None and not cases and not followups:
        return None
    timeline = timeline or {"customer": None, "voices": pd.DataFrame(), "responses": None}
    responses = timeline["responses"] if timeline["responses"] is not None else pd.DataFrame()
    return CustomerHistory(
        customer_id,
        timeline["customer"],
        timeline["voices"],
        responses,
        cases,
        followups,
        outcomes,
    )


@dataclass(frozen=True)
class RecoveryReport:
    """The recovery of every closed case, and the churn-risk list.

    Attributes:
        recoveries: One row per closed case with a customer and window.
        churn: `warehouse.churn_risk.churn_risk`'s frame.
        config: The settings used.
    """

    recoveries: list[CaseRecovery]
    churn: pd.DataFrame
    config: RecoveryConfig

    def rates(self, by: str, window_days: int | None = None) -> pd.DataFrame:
        """`warehouse.recovery.recovery_rates` by `by` in one window (the first when
        None)."""
        window = window_days or self.config.windows[0]
        return recovery_rates(self.recoveries, by, window, self.config.min_n)

    def as_dict(self, window_days: int | None = None) -> dict[str, Any]:
        """The report as plain JSON-able values (for ``--json``): the window, the rate of
        all closed cases, the rates per dimension, and the churn-risk rows."""
        window = window_days or self.config.windows[0]
        return {
            "window_days": window,
            "overall": dict(overall_rate(self.recoveries, window, self.config.min_n)),
            "rates": {
                by: _records(self.rates(by, window))
                for by in ("theme", "owner", "channel", "segment")
            },
            "churn_risk": _records(self.churn),
        }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for row in frame.to_dict("records"):
        out.append({k: _plain(v) for k, v in row.items()})
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if value is None or (isinstance(value, float) and value != value):  # NaN
        return None
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def recovery_report(
    con: duckdb.DuckDBPyConnection,
    case_store: CaseStore,
    store: FollowupStore,
    as_of: datetime,
    config: RecoveryConfig | None = None,
    timezone: str = "Asia/Shanghai",
) -> RecoveryReport:
    """Measure every closed case's recovery and list the customers at risk, as of `as_of`."""
    config = config or RecoveryConfig()
    cases = load_cases(case_store)
    closed = [c for c in cases if c.status in CLOSED_STATUSES]
    ids = {c.case_id for c in closed}
    outcomes = [(f, o) for f, o in store.outcomes() if f.case_id in ids]
    recoveries = case_recoveries(con, closed, outcomes, as_of, config)
    churn = churn_risk(con, cases, recoveries, as_of, config, timezone)
    return RecoveryReport(recoveries, churn, config)
