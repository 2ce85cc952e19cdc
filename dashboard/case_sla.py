"""SLA countdowns for the 工单 page: each case's clocks under the configured policies
(``[cases.sla]``, `voc.sla`), computed from the case and its events at the moment the page
is drawn, and the short texts the queue and the detail show."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

import pandas as pd

from dashboard.i18n import t
from voc.cases import Case
from voc.settings import Settings
from voc.sla import SlaClock, SlaConfig, SlaStatus, case_sla
from warehouse.case_store import CaseStore

CLOCK_NAMES = {"first_response": "首次响应", "resolution": "解决"}


def sla_config(settings: Settings) -> SlaConfig | None:
    """The configured SLA policies, or None when there are none."""
    config = getattr(getattr(settings, "cases", None), "sla", None)
    return config if isinstance(config, SlaConfig) and config.policies else None


def sla_of(
    store: CaseStore, cases: Sequence[Case], config: SlaConfig | None, now: datetime
) -> dict[int, SlaStatus | None]:
    """Each case's SLA at `now` (None: no policy matches it), from its event history."""
    if config is None:
        return {c.case_id: None for c in cases}
    events = store.histories([c.case_id for c in cases])  # one query for the whole page
    return {c.case_id: case_sla(config, c, events[c.case_id], now) for c in cases}


def duration(minutes: float) -> str:
    """Minutes as "2 小时 5 分" (or "3 天 4 小时" past two days)."""
    minutes = abs(round(minutes))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days >= 2:
        return t("{d} 天 {h} 小时", d=days, h=hours)
    hours += days * 24
    return t("{h} 小时 {m} 分", h=hours, m=mins) if hours else t("{m} 分", m=mins)


def clock_text(clock: SlaClock | None, tz: str) -> str:
    """A clock in the queue: met, breached by how much, paused, or the time left and when
    it is due (working minutes for a business-hours policy)."""
    if clock is None:
        return "—"
    if clock.breached:
        return t("已超时 {d}", d=duration(clock.remaining_minutes))
    if clock.met:
        return t("已达成")
    if clock.stopped_at is not None:
        return "—"
    if clock.paused:
        return t("已暂停（剩 {d}）", d=duration(clock.remaining_minutes))
    due = clock.due_at.astimezone(ZoneInfo(tz)).strftime("%m-%d %H:%M") if clock.due_at else "—"
    left = t("剩 {d}，{due} 截止", d=duration(clock.remaining_minutes), due=due)
    return t("即将超时：{left}", left=left) if clock.due_soon else left


def state_text(status: SlaStatus | None) -> str:
    """The case's SLA in one word."""
    if status is None:
        return t("无 SLA")
    if status.breached:
        return t("已超时")
    if status.due_soon:
        return t("即将超时")
    if status.paused:
        return t("已暂停")
    running = any(c.running for c in status.clocks)
    return t("正常") if running else t("已达成")


def queue_columns(
    cases: Sequence[Case], statuses: dict[int, SlaStatus | None], tz: str
) -> dict[str, list[str]]:
    """The queue's SLA columns: the state, and the two clocks' countdowns."""
    out: dict[str, list[str]] = {t("SLA"): [], t("首次响应"): [], t("解决"): []}
    for case in cases:
        status = statuses.get(case.case_id)
        out[t("SLA")].append(state_text(status))
        for name, label in CLOCK_NAMES.items():
            out[t(label)].append(clock_text(status.clock(name) if status else None, tz))
    return out


def detail_frame(status: SlaStatus, tz: str) -> pd.DataFrame:
    """One case's clocks: target, used, left, due, paused time and state."""
    zone = ZoneInfo(tz)
    rows = []
    for c in status.clocks:
        rows.append(
            {
                t("时钟"): t(CLOCK_NAMES.get(c.clock, c.clock)),
                t("目标"): duration(c.limit_minutes),
                t("已用"): duration(c.elapsed_minutes),
                t("截止"): c.due_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
                if c.due_at
                else "—",
                t("暂停时长"): duration(c.paused_minutes),
                t("状态"): clock_text(c, tz),
            }
        )
    return pd.DataFrame(rows)
