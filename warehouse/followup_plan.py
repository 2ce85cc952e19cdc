"""The daily 回访 planning run: follow-ups from cases that were resolved, from orders (the
customer file's dates or an order export), and from the periodic rules of the tiers.

`plan_followups` is what the flow calls once a day (``flows.followup_tasks``); it is
idempotent (one follow-up per plan key) and reads only the case events since its last run.
A reopened case's planned 回访 are cancelled: the customer is called after the case is
resolved again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import duckdb

from voc.cases import Case, CaseEvent
from voc.followup_rules import (
    FollowupsConfig,
    IsWorkday,
    PlannedFollowup,
    Window,
    china_workday,
    plan_after_case,
    plan_after_order,
    plan_periodic,
)
from warehouse.followup_orders import Order, customer_file_orders, read_order_export
from warehouse.followup_store import FollowupStore

#: The watermark name of the case-event reader.
CASE_READER = "case_events"
_CLOSED = ("resolved", "closed")


@dataclass
class PlanReport:
    """What one planning run did.

    Attributes:
        n_planned: New follow-ups, per reason.
        n_known: Follow-ups the rules asked for that were already planned.
        n_cancelled: Planned 回访 cancelled because their case was reopened.
        n_unmatched_orders: Order export rows whose key is no known customer.
        problems: Order export rows left out (file and row named).
    """

    n_planned: dict[str, int] = field(default_factory=dict)
    n_known: int = 0
    n_cancelled: int = 0
    n_unmatched_orders: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        """New follow-ups of every reason."""
        return sum(self.n_planned.values())


def case_followups(
    events: Iterable[CaseEvent],
    get_case: Callable[[int], Case | None],
    rules: FollowupsConfig,
    window: Window,
    timezone: str,
    is_workday: IsWorkday = china_workday,
) -> tuple[list[PlannedFollowup], list[CaseEvent]]:
    """The 回访 of the status events that entered ``rules.case_statuses`` from an open
    status, due from the window's first day on, and the events that took a case back to
    work (重新打开, or 待回访 → 处理中), whose planned 回访 no longer hold."""
    zone = ZoneInfo(timezone)
    done = {*rules.case_statuses, *_CLOSED}
    planned, reopened = [], []
    for e in events:
        if e.action != "status" or e.to_status == e.from_status:
            continue
        if e.from_status in done and e.to_status not in done:
            # A 回访 planned earlier in this batch is for a resolution that no longer holds.
            planned = [p for p in planned if p.case_id != e.case_id]
            reopened.append(e)
            continue
        if e.to_status not in rules.case_statuses or e.from_status in done:
            continue
        case = get_case(e.case_id)
        if case is None:
            continue
        p = plan_after_case(
            e.case_id,
            e.seq,
            e.at.astimezone(zone).date(),
            case.owner,
            case.team,
            case.customer_id,
            rules,
            is_workday,
        )
        if p.due_on >= window.first:
            planned.append(p)
    return planned, reopened


def order_followups(
    orders: Iterable[Order],
    rules: FollowupsConfig,
    window: Window,
    is_workday: IsWorkday = china_workday,
) -> list[PlannedFollowup]:
    """The day-N 回访 of `orders` that fall due in `window`."""
    out = []
    for o in orders:
        out.extend(plan_after_order(o.customer_id, o.day, o.owner, rules, window, is_workday))
    return out


def periodic_followups(
    con: duckdb.DuckDBPyConnection,
    rules: FollowupsConfig,
    window: Window,
    is_workday: IsWorkday = china_workday,
) -> list[tuple[PlannedFollowup, int]]:
    """The periodic 回访 due in `window` of the customers whose current tier has a rule,
    each with its cycle in days (before `drop_near_contacts`)."""
    segments = sorted({s for r in rules.periodic for s in r.segments})
    if not segments:
        return []
    rows = con.execute(
        "SELECT customer_id, segment, owner FROM customers WHERE list_contains(?, segment) "
        "ORDER BY customer_id",
        [segments],
    ).fetchall()
    out = []
    for customer_id, segment, owner in rows:
        for p in plan_periodic(customer_id, segment, owner, rules, window, is_workday):
            out.append((p, _cycle(rules, segment)))
    return out


def _cycle(rules: FollowupsConfig, segment: str | None) -> int:
    return next((r.every_days for r in rules.periodic if segment in r.segments), 0)


def drop_near_contacts(
    periodic: list[tuple[PlannedFollowup, int]], store: FollowupStore
) -> list[PlannedFollowup]:
    """The periodic 回访 without another 回访 of the customer (a case's, an order's)
    less than half a cycle away: a customer just called about a case is not called again
    "just to keep in touch" three days later."""
    if not periodic:
        return []
    longest = max(cycle for _, cycle in periodic)
    first = min(p.due_on for p, _ in periodic) - timedelta(days=longest)
    last = max(p.due_on for p, _ in periodic) + timedelta(days=longest)
    near = store.contact_days([p.customer_id for p, _ in periodic], first, last)
    return [
        p
        for p, cycle in periodic
        if all(abs((p.due_on - d).days) >= cycle / 2 for d in near.get(p.customer_id, ()))
    ]


def plan_followups(
    store: FollowupStore,
    case_store,
    con: duckdb.DuckDBPyConnection | None,
    today: date,
    now: datetime,
    salt: str = "",
    who: str = "system",
) -> PlanReport:
    """Plan the day's 回访 from every rule (idempotent).

    Args:
        store: The follow-up store (its rules, timezone and calendar apply).
        case_store: The `warehouse.case_store.CaseStore` on the same database.
        con: The warehouse (customers, customer keys), or None to plan from cases only.
        today: The local day planned for.
        now: The run's time (aware).
        salt: The customer-key salt (for an order export's keys).
        who: Who cancels a reopened case's 回访.

    Raises:
        OrderFileError: the configured order export cannot be read.
    """
    rules, report = store.rules, PlanReport()
    window = Window.around(today, rules)
    since = store.watermark(CASE_READER)
    events = list(case_store.all_events(since_seq=since))
    # The cases of the status events, in one query (a first run reads every event ever).
    wanted = {
        e.case_id for e in events if e.action == "status" and e.to_status in rules.case_statuses
    }
    cases = case_store.get_many(list(wanted)) if wanted else {}
    planned, reopened = case_followups(
        events, cases.get, rules, window, str(store.zone), store.is_workday
    )
    periodic: list[tuple[PlannedFollowup, int]] = []
    if con is not None:
        orders = customer_file_orders(con, rules, window) if rules.order_dates else []
        if rules.order_export:
            read = read_order_export(rules.order_export, rules, salt, con)
            orders += read.orders
            report.n_unmatched_orders, report.problems = read.n_unmatched, read.problems
        planned += order_followups(orders, rules, window, store.is_workday)
        periodic = periodic_followups(con, rules, window, store.is_workday)
    # Cancel before planning: a case reopened and resolved again in this batch keeps the
    # 回访 of its new resolution.
    for e in reopened:
        report.n_cancelled += store.cancel_planned_for_case(
            e.case_id, who, f"工单重新打开 / case reopened (event {e.seq})", at=now
        )
    # Cases' and orders' 回访 first, so the periodic ones near them are left out.
    results = [store.plan(planned, now)]
    results.append(store.plan(drop_near_contacts(periodic, store), now))
    for result in results:
        report.n_known += result.n_known
        for p in result.new:
            report.n_planned[p.reason] = report.n_planned.get(p.reason, 0) + 1
    if events:
        store.set_watermark(CASE_READER, max(e.seq for e in events))
    return report
