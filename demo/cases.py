"""The demo team's history: what a small service team did with the cases VoC Monitor opened
from the demo's voices, so that ``voc demo`` shows the loop (case → SLA → 回访 → recovery)
working *now*.

The demo's voices are dated 2025-06-01..2025-09-30, but the 工单 and 回访 screens judge SLA
clocks and today's 回访 list by the wall clock. So the **demo clock is the wall clock** of
``voc demo``, and the team's history is placed in the days before it (`DemoClock`):

- The team "installed" VoC Monitor `HISTORY_DAYS` days before today, at 09:00 local time.
  ``voc demo`` runs its daily flow with that moment as the case clock, so the opening rules
  open the backlog's cases then, as a first backfill would.
- `play_history` replays the team's days from the install up to now through the real case
  and 回访 stores (``move``, ``record_reply``, ``record_outcome``, each dated in that span),
  and plans each day's 回访 at 06:00 as the schedule would. Nothing is written any other way.

Every case gets a `ROLES` part, chosen deterministically (priority, then merge key):
breached, due soon, on track, paused, 回访 due today, recovered and unrecovered; the rest
is the backlog that was handled before the install (closed on day 0). Timings come from the
case's own SLA policy (calendar or business minutes), so the states hold for whatever
policy is configured. This module only needs `voc`: the stores are passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from voc.cases import (
    ACKNOWLEDGED,
    CLOSED,
    FOLLOW_UP,
    IN_PROGRESS,
    NEW,
    RESOLVED,
    WAITING_CUSTOMER,
    Case,
    CaseEvent,
)
from voc.followup_rules import FollowupsConfig, add_workdays, china_workday
from voc.sla import SlaConfig, SlaPolicy, case_sla

#: Days from the install to today.
HISTORY_DAYS = 10
#: The demo's time zone (the settings' default; the demo sources speak it too).
DEMO_ZONE = "Asia/Shanghai"
#: When the daily flow runs (``Settings.schedule_cron``: 06:00): the day's 回访 are planned.
PLAN_AT = time(6, 0)
#: Who acts when a case has no owner.
SUPERVISOR = "客服主管"

#: Role → how many cases play it, in the order they are given out.
ROLES: tuple[tuple[str, int], ...] = (
    # 12 called back: enough for the recovery rate to be shown (`RecoveryConfig.min_n`).
    ("recovered", 8),  # resolved in time, 回访 reached, satisfied (5, 4, 5, …)
    ("unrecovered", 4),  # resolved, 回访 reached, still unhappy (2): a second 回访 is due
    ("followup_today", 2),  # solution delivered yesterday (待回访): its 回访 is due today
    ("breached_new", 2),  # never answered: first response and resolution breached
    ("breached_stuck", 1),  # answered on day 0, still in progress: resolution breached
    ("due_soon", 2),  # waited on the customer for days; resolution due within the window
    ("on_track", 1),  # same, with time to spare
    ("waiting", 1),  # waiting on the customer now: the clock is paused
)
#: Roles that need a customer (a 回访 calls someone; recovery is measured per customer).
CUSTOMER_ROLES = frozenset({"recovered", "unrecovered", "followup_today"})
#: What the recovered and unrecovered customers said in their 回访.
SATISFIED = (5, 4, 5)
UNSATISFIED = 2
HAPPY_NOTE = "客户确认问题已解决，表示满意"
UNHAPPY_NOTE = "客户仍不满意补发时效，需再次回访"
#: The example configuration ``voc demo`` uses when given none: teams and routing, so the
#: opened cases have owners (the SLA policy is the default one, ``voc.case_config``).
DEMO_CASES_TOML = """\
# 演示用的工单设置（voc demo 在没有 --config 时写出并使用）/ the demo's case settings
[cases.teams."客服一组"]
owners = ["张敏", "刘洋"]

[cases.teams."舆情组"]
owners = ["陈静"]

[cases.teams."电商客服组"]
owners = ["王芳"]

[[cases.routing]]              # 微博上的声音 → 舆情组
source = "demo_weibo"
team = "舆情组"
owner = "陈静"

[[cases.routing]]              # 店铺评价 → 电商客服组
source = "demo_shop"
team = "电商客服组"
owner = "王芳"

[[cases.routing]]              # 其余（工单、问卷）→ 客服一组
team = "客服一组"
owner = "张敏"
"""


@dataclass(frozen=True)
class DemoClock:
    """The demo's time: the install moment and now (both aware).

    Attributes:
        now: The wall clock when the history is played.
        installed_at: 09:00 local, `HISTORY_DAYS` days before now's local day.
        zone: The local time zone.
    """

    now: datetime
    installed_at: datetime
    zone: str = DEMO_ZONE

    @property
    def today(self) -> date:
        """Now's local day."""
        return self.now.astimezone(ZoneInfo(self.zone)).date()

    @property
    def first_day(self) -> date:
        """The install's local day (day 0)."""
        return self.installed_at.astimezone(ZoneInfo(self.zone)).date()

    def on(self, day: date, hour: int, minute: int = 0) -> datetime:
        """A local time of `day`, as UTC."""
        local = datetime.combine(day, time(hour, minute), ZoneInfo(self.zone))
        return local.astimezone(UTC)

    def day(self, n: int) -> date:
        """Day `n` after the install."""
        return self.first_day + timedelta(days=n)


def demo_clock(now: datetime | None = None, zone: str = DEMO_ZONE) -> DemoClock:
    """The demo clock at `now` (default: the current time).

    Raises:
        ValueError: `now` is naive.
    """
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    today = now.astimezone(ZoneInfo(zone)).date()
    first = today - timedelta(days=HISTORY_DAYS)
    installed = datetime.combine(first, time(9, 0), ZoneInfo(zone)).astimezone(UTC)
    return DemoClock(now.astimezone(UTC), installed, zone)


@dataclass(frozen=True)
class Action:
    """One scripted step: at `at`, do `kind` to a case (``move`` to `status`, ``reply``,
    or ``outcome``: record the case's planned 回访)."""

    at: datetime
    case_id: int
    kind: str
    status: str | None = None
    note: str = ""
    outcome: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class HistoryReport:
    """What `play_history` did.

    Attributes:
        roles: Role → the case ids that play it.
        n_backlog: Cases closed as handled before the install.
        n_actions: Store calls made (moves, replies, outcomes).
        n_plans: 回访 planning runs.
        skipped: Why nothing was played (the history was played before), else "".
    """

    roles: dict[str, list[int]] = field(default_factory=dict)
    n_backlog: int = 0
    n_actions: int = 0
    n_plans: int = 0
    skipped: str = ""


def assign_roles(cases: Sequence[Case]) -> dict[str, list[int]]:
    """Give `ROLES` out to open, untouched cases (priority, then merge key): the
    customer roles to cases with a customer first; the rest are ``backlog``."""
    fresh = sorted((c for c in cases if c.status == NEW), key=lambda c: (c.priority, c.merge_key))
    taken: set[int] = set()
    roles: dict[str, list[int]] = {}
    for customer_first in (True, False):
        for role, count in ROLES:
            if (role in CUSTOMER_ROLES) != customer_first:
                continue
            pool = [
                c for c in fresh if c.case_id not in taken and (c.customer_id or not customer_first)
            ]
            roles[role] = [c.case_id for c in pool[:count]]
            taken.update(roles[role])
    roles["backlog"] = [c.case_id for c in fresh if c.case_id not in taken]
    return {role: roles[role] for role, _ in (*ROLES, ("backlog", 0))}


def _minutes(policy: SlaPolicy | None, sla: SlaConfig, start: datetime, end: datetime) -> float:
    if policy is not None and policy.time == "business":
        return sla.calendar.business_minutes(start, end)
    return max(0.0, (end - start).total_seconds() / 60)


def _back(policy: SlaPolicy | None, sla: SlaConfig, end: datetime, minutes: float) -> datetime:
    """The moment from which the policy counts `minutes` up to `end`."""
    if policy is None or policy.time != "business":
        return end - timedelta(minutes=minutes)
    lo, hi = end - timedelta(days=400), end  # business minutes from t to end fall as t grows
    for _ in range(40):
        mid = lo + (hi - lo) / 2
        if sla.calendar.business_minutes(mid, end) >= minutes:
            lo = mid
        else:
            hi = mid
    return hi.replace(microsecond=0)


def _resolved_day(clock: DemoClock, rules: FollowupsConfig, latest: bool) -> date | None:
    """The day a 回访 role's case enters 待回访: the earliest day whose 回访 falls due
    before today, or (latest) the latest day before today whose 回访 is due by today
    (today itself when it can be)."""
    days = [clock.day(n) for n in range(HISTORY_DAYS)]
    due = {d: add_workdays(d, rules.after_case_days, china_workday) for d in days}
    if latest:
        window = clock.today - timedelta(days=rules.grace_days)
        fits = [d for d in days[1:] if window <= due[d] <= clock.today]
        exact = [d for d in fits if due[d] == clock.today]
        return max(exact or fits, default=None)
    # After a long holiday every 回访 falls due today: then the install day.
    return next((d for d in days if due[d] < clock.today), days[0])


def script(
    cases: Mapping[int, Case],
    roles: Mapping[str, Sequence[int]],
    clock: DemoClock,
    sla: SlaConfig,
    rules: FollowupsConfig,
) -> list[Action]:
    """The scripted steps of every case, oldest first (pure: nothing is written)."""
    d0 = clock.installed_at
    out: list[Action] = []

    def step(
        at: datetime, case_id: int, kind: str, status: str | None = None, note: str = "", **outcome
    ) -> None:
        out.append(Action(at, case_id, kind, status, note, outcome))

    def taken_on(case_id: int, minutes: int = 30) -> None:
        step(d0 + timedelta(minutes=minutes), case_id, "move", ACKNOWLEDGED, "已受理")
        step(d0 + timedelta(minutes=minutes + 10), case_id, "reply", note="已联系客户，正在核实")
        step(d0 + timedelta(minutes=minutes + 20), case_id, "move", IN_PROGRESS, "开始处理")

    for i, case_id in enumerate(roles.get("backlog", ())):
        note = "安装前的历史声音，已在原系统处理 / handled before VoC Monitor"
        step(d0 + timedelta(hours=3, seconds=i), case_id, "move", CLOSED, note)
    for case_id in roles.get("breached_stuck", ()):
        taken_on(case_id, 40)
    waits = [("due_soon", share) for share in (0.5, 0.3)]
    waits = list(zip(roles.get("due_soon", ()), waits, strict=False))
    waits += [(cid, ("on_track", 0.0)) for cid in roles.get("on_track", ())]
    for case_id, (role, share) in waits:
        taken_on(case_id, 30)
        paused = d0 + timedelta(minutes=60)
        step(paused, case_id, "move", WAITING_CUSTOMER, "等待客户补充订单截图")
        policy = sla.policy_for(cases[case_id])
        limit = (policy.resolution if policy else None) or 3 * 24 * 60
        window = policy.due_soon.window(limit) if policy else limit * 0.25
        left = window * share if role == "due_soon" else window + (limit - window) / 2
        used = _minutes(policy, sla, d0, paused)
        resumed = max(_back(policy, sla, clock.now, limit - used - left), paused)
        step(resumed, case_id, "move", IN_PROGRESS, "客户已补充材料，继续处理")
    for case_id in roles.get("waiting", ()):
        taken_on(case_id, 50)
        step(d0 + timedelta(hours=2), case_id, "move", WAITING_CUSTOMER, "等待客户寄回商品")
    early = _resolved_day(clock, rules, latest=False)
    late = _resolved_day(clock, rules, latest=True)
    for role, day in (("recovered", early), ("unrecovered", early), ("followup_today", late)):
        for i, case_id in enumerate(roles.get(role, ())):
            if day is None:
                continue
            taken_on(case_id, 20 + i)
            step(d0 + timedelta(hours=1), case_id, "move", WAITING_CUSTOMER, "等待客户寄回商品")
            step(clock.on(day, 13, 30 + i), case_id, "move", IN_PROGRESS, "已收到退货")
            note = "已退款并补发，待回访确认"
            step(clock.on(day, 15, i), case_id, "move", FOLLOW_UP, note)
            if role == "followup_today":
                continue
            due = add_workdays(day, rules.after_case_days, china_workday)
            called = clock.on(due, 10, 30 + i)
            if called > clock.now - timedelta(hours=1):
                # Due today (a long holiday just ended): the team called on the next day.
                due = day + timedelta(days=1)
                called = clock.on(due, 10, 30 + i)
            happy = role == "recovered"
            # The second call is promised for the usual day, or today when that is later
            # (a long holiday): either way it is on today's list.
            second = add_workdays(due, rules.second_after_days, china_workday)
            step(
                called,
                case_id,
                "outcome",
                note=HAPPY_NOTE if happy else UNHAPPY_NOTE,
                reached=True,
                satisfaction=SATISFIED[i % len(SATISFIED)] if happy else UNSATISFIED,
                needs_second=not happy,
                second_due_on=None if happy or second <= clock.today else clock.today,
            )
            step(clock.on(due, 11, i), case_id, "move", RESOLVED, "回访完成")
    return sorted((a for a in out if a.at <= clock.now), key=lambda a: (a.at, a.case_id))


def play_history(
    cases: Sequence[Case],
    case_store: Any,
    followup_store: Any,
    plan_day: Callable[[date, datetime], object],
    clock: DemoClock,
    sla: SlaConfig,
    rules: FollowupsConfig | None = None,
    events: Iterable[CaseEvent] = (),
) -> HistoryReport:
    """Play the team's history on `cases` (the demo's opened cases) through the stores.

    Args:
        cases: Every case in the store.
        case_store: A `warehouse.case_store.CaseStore`.
        followup_store: A `warehouse.followup_store.FollowupStore` on the same database.
        plan_day: Plans the 回访 of a local day at a moment (`warehouse.followup_plan.
            plan_followups` over the stores).
        clock: The demo clock.
        sla: The SLA policies the timings are made for.
        rules: The 回访 rules (due days).
        events: The store's events so far: played once only, so any event other than an
            ``open`` or ``merge`` means the history (or a person) was there first.
    """
    rules = rules or FollowupsConfig()
    report = HistoryReport()
    worked = next((e for e in events if e.action not in ("open", "merge")), None)
    if worked is not None:
        report.skipped = f"case {worked.case_id} was already worked on ({worked.action})"
        return report
    by_id = {c.case_id: c for c in cases}
    report.roles = assign_roles(cases)
    report.n_backlog = len(report.roles["backlog"])
    actions = script(by_id, report.roles, clock, sla, rules)
    plans = [clock.on(clock.day(n), PLAN_AT.hour) for n in range(1, HISTORY_DAYS + 1)]
    plans = [p for p in plans if p <= clock.now]
    versions = {c.case_id: c.version for c in cases}
    for action in actions:
        while plans and plans[0] <= action.at:
            moment = plans.pop(0)
            plan_day(moment.astimezone(ZoneInfo(clock.zone)).date(), moment)
            report.n_plans += 1
        case = by_id[action.case_id]
        who = case.owner or SUPERVISOR
        if action.kind == "move":
            version = versions[action.case_id]
            done = case_store.move(
                action.case_id, action.status, who, version, action.note, at=action.at
            )
            versions[action.case_id] = done.version
        elif action.kind == "reply":
            done = case_store.record_reply(
                action.case_id, who, versions[action.case_id], action.note, at=action.at
            )
            versions[action.case_id] = done.version
        else:
            planned = followup_store.list_followups(case_ids=[action.case_id], statuses=["planned"])
            if not planned:
                continue  # its 回访 fell outside the planning window: nothing to record
            followup = planned[-1]
            followup_store.record_outcome(
                followup.followup_id,
                followup.owner or who,
                note=action.note,
                at=action.at,
                **action.outcome,
            )
        report.n_actions += 1
    for moment in [*plans, clock.now]:
        plan_day(moment.astimezone(ZoneInfo(clock.zone)).date(), moment)
        report.n_plans += 1
    return report


@dataclass(frozen=True)
class LoopMix:
    """Where the demo's cases stand at a moment: the numbers the README quotes."""

    n_cases: int
    n_open: int
    n_breached: int
    n_due_soon: int
    n_paused: int
    n_followup_today: int
    n_recovered: int
    n_unrecovered: int


def loop_mix(
    cases: Sequence[Case],
    histories: Mapping[int, Sequence[CaseEvent]],
    sla: SlaConfig,
    now: datetime,
    n_followup_today: int,
    verdicts: Mapping[int, str | None],
) -> LoopMix:
    """Count the open cases breached / due soon / paused at `now` (SLA clocks of
    `voc.sla`), the 回访 due today, and the closed cases whose recovery verdict
    (`warehouse.recovery`: case → ``recovered``, ``not_recovered`` or None) is known."""
    open_cases = [c for c in cases if c.is_open]
    states = [case_sla(sla, c, list(histories.get(c.case_id, ())), now) for c in open_cases]
    return LoopMix(
        n_cases=len(cases),
        n_open=len(open_cases),
        n_breached=sum(1 for s in states if s is not None and s.breached),
        n_due_soon=sum(1 for s in states if s is not None and s.due_soon and not s.breached),
        n_paused=sum(1 for s in states if s is not None and s.paused),
        n_followup_today=n_followup_today,
        n_recovered=sum(1 for v in verdicts.values() if v == "recovered"),
        n_unrecovered=sum(1 for v in verdicts.values() if v == "not_recovered"),
    )
