"""SLA alerts: open cases whose first response or resolution is due soon or breached,
sent through the existing alert delivery (routing, severity floors, quiet hours, retries)
once per case, clock and state.

The alert id is ``sla:<case id>:<clock>:<state>`` (``sla:42:first_response:breached``):
a due-soon warning and, later, the breach of the same clock are two alerts; re-runs skip
what was sent (the (alert id, channel) pairs in the warehouse's ``alert_deliveries``),
and what quiet hours held or a failure kept is sent by a later run while the state holds.

A case goes to its team's channels (``[cases.teams.<team>] channels``); a case without a
team, or a team without channels, goes where the ``[alerts]`` routes send ``kind = "sla"``.

Computing the clocks is pure (`voc.sla`); 0.07–0.2 ms per open case, so 100,000 open
cases take 7–20 s on one core.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from notify.deliver import Delivery, count_statuses, deliver
from notify.message import AlertMessage, Verbatim, drilldown_url
from voc.alert_settings import AlertConfig, Route
from voc.business_time import CalendarYearError
from voc.case_config import TeamConfig
from voc.cases import OPEN_STATUSES, Case, CaseEvent
from voc.sla import EventLike, SlaClock, SlaConfig, SlaStatus, case_sla
from warehouse import deliveries
from warehouse.case_store import CaseFilters, CaseStore
from warehouse.db import warehouse

CLOCK_NAMES = {"first_response": "首次响应", "resolution": "解决"}
STATE_NAMES = {"due_soon": "即将超时", "breached": "已超时"}
#: Most alerts sent per run (most urgent first); the rest wait for the next run, so
#: switching SLAs on over a backlog does not flood a team's channel.
DEFAULT_MAX_ALERTS = 50
_URGENCY = {"breached": 0, "due_soon": 1}


@dataclass(frozen=True)
class CaseAlert:
    """One SLA alert: which case, clock and state, the team it goes to, the message."""

    case_id: int
    clock: str
    state: str
    priority: str
    team: str | None
    message: AlertMessage
    due_at: datetime | None


def alert_id(case_id: int, clock: str, state: str) -> str:
    """The de-duplication key of an SLA alert."""
    return f"sla:{case_id}:{clock}:{state}"


def severity_of(priority: str, state: str) -> str:
    """``critical`` for a breached P1/P2 case (quiet hours let it through), else
    ``warning``."""
    return "critical" if state == "breached" and priority in ("P1", "P2") else "warning"


def _span(minutes: float) -> str:
    minutes = abs(round(minutes))
    hours, rest = divmod(minutes, 60)
    if hours and rest:
        return f"{hours} 小时 {rest} 分钟"
    return f"{hours} 小时" if hours else f"{rest} 分钟"


def case_message(
    case: Case,
    status: SlaStatus,
    clock: SlaClock,
    state: str,
    timezone: str,
    dashboard_url: str | None = None,
    excerpts: Sequence[str] = (),
) -> AlertMessage:
    """The alert message of one case's clock in `state` (``due_soon`` or ``breached``)."""
    unit = "工作时间" if status.time == "business" else "自然时间"
    label = CLOCK_NAMES[clock.clock]
    due = clock.due_at.astimezone(ZoneInfo(timezone)) if clock.due_at else None
    if state == "breached":
        statistic = f"已超时 {_span(-clock.remaining_minutes)}（{unit}）"
    else:
        statistic = f"剩余 {_span(clock.remaining_minutes)}（{unit}）"
    who = f"负责人 {case.owner or '未分配'} · 团队 {case.team or '未分配'}"
    return AlertMessage(
        alert_id=alert_id(case.case_id, clock.clock, state),
        severity=severity_of(case.priority, state),
        title=f"工单 #{case.case_id} {label}{STATE_NAMES[state]}（{case.priority}）：{case.title}",
        source=case.source or "全部",
        scope=f"工单 #{case.case_id} · {who}",
        window=f"{label}截止 {due:%Y-%m-%d %H:%M}" if due else f"{label}已暂停",
        metric=f"{label}用时（{unit}，分钟）",
        observed=round(clock.elapsed_minutes),
        expected=round(clock.limit_minutes),
        statistic=f"{statistic}，策略 {status.policy}",
        themes=[case.theme_label] if case.theme_label else [],
        aspects=[case.aspect] if case.aspect else [],
        categories=[case.category] if case.category else [],
        segments=[case.segment] if case.segment else [],
        verbatims=[Verbatim(text) for text in excerpts],
        link=drilldown_url(dashboard_url, page="cases", case=case.case_id)
        if dashboard_url
        else None,
        kind="sla",
    )


def sla_alerts(
    cases: Iterable[tuple[Case, Sequence[EventLike]]],
    sla: SlaConfig,
    now: datetime,
    dashboard_url: str | None = None,
) -> tuple[list[CaseAlert], list[str]]:
    """The due-soon and breached clocks of open cases at `now`, most urgent first.

    Args:
        cases: Open cases with their events.
        sla: The parsed ``[cases.sla]`` config (cases no policy matches have no SLA).
        now: The moment to judge at (aware).
        dashboard_url: For the case link in each message.

    Returns:
        The alerts, and one problem line per case whose clock could not be computed (a
        year the calendar does not know); the other cases are alerted regardless.
    """
    alerts: list[CaseAlert] = []
    problems: list[str] = []
    for case, events in cases:
        try:
            status = case_sla(sla, case, events, now)
        except CalendarYearError as exc:
            problems.append(f"工单 #{case.case_id}: {exc}")
            continue
        if status is None:
            continue
        for name, state in status.alert_states():
            clock = status.clock(name)
            if clock is None:
                continue
            message = case_message(case, status, clock, state, sla.calendar.timezone, dashboard_url)
            alerts.append(
                CaseAlert(
                    case.case_id, name, state, case.priority, case.team, message, clock.due_at
                )
            )
    alerts.sort(key=_urgency_key)
    return alerts, problems


def _urgency_key(alert: CaseAlert) -> tuple:
    due = alert.due_at or datetime.max.replace(tzinfo=UTC)
    return (_URGENCY[alert.state], alert.priority, due, alert.case_id)


def send_case_alerts(
    alerts: Sequence[CaseAlert],
    config: AlertConfig,
    teams: Mapping[str, TeamConfig],
    already_delivered: set[tuple[str, str]],
    now: datetime,
    env: Mapping[str, str] | None = None,
) -> list[Delivery]:
    """Deliver each alert to its team's channels (else by the ``[alerts]`` routes).

    De-duplication, severity floors, quiet hours and retries are `notify.deliver.deliver`'s.
    """
    groups: dict[tuple[str, ...] | None, list[AlertMessage]] = defaultdict(list)
    for alert in alerts:
        team = teams.get(alert.team) if alert.team else None
        channels = team.channels if team else ()
        groups[channels or None].append(alert.message)
    out: list[Delivery] = []
    for channels, messages in groups.items():
        routed = config if channels is None else replace(config, routes=(Route(channels),))
        out.extend(deliver(messages, routed, already_delivered, now, env))
    return out


@dataclass
class CaseAlertUpdate:
    """What `deliver_case_alerts` did."""

    n_open: int = 0
    n_alerts: int = 0
    n_deferred: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    failed: list[Delivery] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def open_cases_with_events(store: CaseStore) -> list[tuple[Case, list[CaseEvent]]]:
    """Every open case with its events (two queries)."""
    filters = CaseFilters(statuses=OPEN_STATUSES)
    cases = store.list_cases(filters, limit=max(store.count_cases(filters), 1))
    events = store.histories([c.case_id for c in cases]) if cases else {}
    return [(c, events[c.case_id]) for c in cases]


def deliver_case_alerts(
    store: CaseStore,
    db_path: Path,
    config: AlertConfig,
    sla: SlaConfig,
    teams: Mapping[str, TeamConfig],
    now: datetime | None = None,
    env: Mapping[str, str] | None = None,
    max_alerts: int = DEFAULT_MAX_ALERTS,
) -> CaseAlertUpdate:
    """Send the SLA alerts of the open cases in `store` not yet sent; record the outcomes
    in the warehouse at `db_path` (the same table as spike alerts).

    Args:
        store: The case store.
        db_path: The DuckDB warehouse (``alert_deliveries``).
        config: The ``[alerts]`` config (channels, routes, quiet hours).
        sla: The ``[cases.sla]`` config.
        teams: The ``[cases.teams]`` (`voc.case_config.CaseConfig.teams`): their channels.
        now: The moment to judge at (default: the current time).
        env: Where channels read their secrets (default ``os.environ``).
        max_alerts: Most alerts not yet sent to deliver in this run, most urgent first.
    """
    if not config.channels or not sla.policies:
        return CaseAlertUpdate()
    now = now or datetime.now(UTC)
    cases = open_cases_with_events(store)
    alerts, problems = sla_alerts(cases, sla, now, config.dashboard_url)
    with warehouse(db_path) as con:
        sent = deliveries.delivered_pairs(con)
    sent_ids = {alert for alert, _ in sent}
    # The cap counts alerts no channel has had yet; one already sent somewhere is given
    # again so that its held or failed channels are retried (its sent ones are skipped).
    fresh = [a for a in alerts if a.message.alert_id not in sent_ids]
    chosen = [a for a in alerts if a.message.alert_id in sent_ids] + fresh[:max_alerts]
    deferred = fresh[max_alerts:]
    # Quote the voices only of what is sent now: one store read per alerted case.
    quoted = {a.case_id: _excerpts(store, a.case_id) for a in chosen}
    chosen = [replace(a, message=_quoted(a.message, quoted[a.case_id])) for a in chosen]
    results = send_case_alerts(chosen, config, teams, sent, now, env)
    with warehouse(db_path) as con:
        deliveries.save_deliveries(con, results)
    return CaseAlertUpdate(
        n_open=len(cases),
        n_alerts=len(alerts),
        n_deferred=len(deferred),
        counts=dict(count_statuses(results)),
        failed=[r for r in results if r.status == "failed"],
        problems=problems,
    )


def _excerpts(store: CaseStore, case_id: int, limit: int = 2) -> list[str]:
    return [v.excerpt for v in store.voices(case_id)[:limit]]


def _quoted(message: AlertMessage, excerpts: Sequence[str]) -> AlertMessage:
    return replace(message, verbatims=tuple(Verbatim(t) for t in excerpts))
