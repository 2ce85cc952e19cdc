"""Each owner's daily 回访 list as a message to their channel: one `AlertMessage` (kind
``followup``) per owner and day, sent through the existing channels with their dedup
(once per owner, day and channel, recorded in ``alert_deliveries``) and quiet hours.

Routing: a team's list goes to its ``[cases.teams.<team>] channels`` when it has some;
otherwise the ``[alerts]`` routes decide: a route with ``kind = ["followup"]`` takes every
list, and as the scope is ``团队 <team> · 负责人 <owner>``, ``scope = ["团队 售后*"]`` sends
one team's lists to its own group.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from notify.deliver import count_statuses, deliver
from notify.message import AlertMessage, Verbatim, drilldown_url
from signals.alert_run import AlertUpdate
from voc.alert_settings import AlertConfig, Route
from voc.followup_rules import reason_label
from warehouse import deliveries
from warehouse.db import warehouse
from warehouse.followup_views import DailyList

#: Follow-ups quoted in one message (the rest are counted).
MAX_LINES = 10


def followup_messages(daily: DailyList, dashboard_url: str | None = None) -> list[AlertMessage]:
    """One message per owner of the list: how many are due and overdue, the oldest first."""
    out = []
    for owner, items in daily.by_owner.items():
        if not items:
            continue
        overdue = sum(1 for f in items if f.due_on < daily.day)
        team = Counter(f.team for f in items).most_common(1)[0][0] or "未分配"
        who = owner or "未分配"
        lines = []
        for f in sorted(items, key=lambda f: (f.due_on, f.followup_id))[:MAX_LINES]:
            case = daily.cases.get(f.case_id) if f.case_id is not None else None
            about = case.title if case else (f.customer_id or "")
            late = f"（逾期 {(daily.day - f.due_on).days} 天）" if f.due_on < daily.day else ""
            lines.append(Verbatim(f"{reason_label(f.reason)}：{about}{late}"))
        segments = sorted({c.segment for c in daily.cases.values() if c.segment})
        out.append(
            AlertMessage(
                alert_id=f"followup:{daily.day.isoformat()}:{who}",
                severity="info",
                title=f"{who} 今日回访 {len(items)} 个（逾期 {overdue} 个）",
                source="全部",
                scope=f"团队 {team} · 负责人 {who}",
                window=daily.day.isoformat(),
                metric="followups_due",
                observed=len(items),
                expected=0,
                statistic=f"逾期 {overdue} 个" if overdue else "",
                verbatims=tuple(lines),
                link=drilldown_url(dashboard_url, page="followups", owner=who)
                if dashboard_url
                else None,
                kind="followup",
                segments=tuple(segments),
            )
        )
    return out


def _glob_literal(text: str) -> str:
    # Route scopes are shell globs: a team called "[VIP]" must match itself only.
    return re.sub(r"([*?\[])", r"[\1]", text)


def with_team_routes(config: AlertConfig, teams: Mapping[str, Any] | None) -> AlertConfig:
    """`config` with a first route per team that has channels (``[cases.teams.<team>]
    channels``): that team's 回访 lists go there."""
    routes = tuple(
        Route(tuple(team.channels), kind=("followup",), scope=(f"团队 {_glob_literal(name)} · *",))
        for name, team in (teams or {}).items()
        if getattr(team, "channels", ())
    )
    return dataclasses.replace(config, routes=routes + config.routes) if routes else config


def deliver_followup_lists(
    db_path: Path,
    daily: DailyList,
    config: AlertConfig,
    now: datetime,
    teams: Mapping[str, Any] | None = None,
) -> AlertUpdate:
    """Send each owner's list of `daily` once per channel (team channels first, see the
    module); deliveries are recorded in the warehouse like alerts' (failed ones are
    retried on the next run of the same day)."""
    if not config.channels or not daily.by_owner:
        return AlertUpdate()
    config = with_team_routes(config, teams)
    messages = followup_messages(daily, config.dashboard_url)
    with warehouse(db_path) as con:
        sent = deliveries.delivered_pairs(con)
    results = deliver(messages, config, sent, now)
    with warehouse(db_path) as con:
        deliveries.save_deliveries(con, results)
    return AlertUpdate(
        len(messages), dict(count_statuses(results)), [r for r in results if r.status == "failed"]
    )
