"""The SLA of cases for ``voc cases``: each clock's state, due time and minutes left under
the configured ``[cases.sla]`` policies (`voc.sla`), as flat fields for text and JSON."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from voc.cases import Case
from voc.settings import Settings

#: The fields `sla_fields` adds to a case row.
SLA_COLUMNS = (
    "sla_state",
    "first_response_state",
    "first_response_due",
    "first_response_left_min",
    "resolution_state",
    "resolution_due",
    "resolution_left_min",
)


def sla_config(settings: Settings):
    """The configured policies (`voc.sla.SlaConfig`), or None when there are none."""
    config = getattr(getattr(settings, "cases", None), "sla", None)
    return config if config is not None and getattr(config, "policies", ()) else None


def overall_state(status) -> str:
    """``none`` (no policy), ``breached``, ``due_soon``, ``paused``, ``running`` or ``met``."""
    if status is None:
        return "none"
    if status.breached:
        return "breached"
    if status.due_soon:
        return "due_soon"
    if status.paused:
        return "paused"
    return "running" if any(c.running for c in status.clocks) else "met"


def sla_fields(
    store, cases: Sequence[Case], settings: Settings, now: datetime
) -> dict[int, dict[str, Any]]:
    """Case id → the `SLA_COLUMNS` (empty values without policies); due times in local
    wall-clock ISO form, minutes left negative once overdue (in the policy's time)."""
    config = sla_config(settings)
    empty = dict.fromkeys(SLA_COLUMNS)
    if config is None:
        return {c.case_id: {**empty, "sla_state": "none"} for c in cases}
    from voc.sla import case_sla

    zone = ZoneInfo(settings.timezone)
    events = store.histories([c.case_id for c in cases])
    out = {}
    for case in cases:
        status = case_sla(config, case, events[case.case_id], now)
        row = {**empty, "sla_state": overall_state(status)}
        for name in ("first_response", "resolution"):
            clock = status.clock(name) if status else None
            if clock is None:
                continue
            row[f"{name}_state"] = clock.state
            row[f"{name}_due"] = (
                clock.due_at.astimezone(zone).isoformat(timespec="minutes")
                if clock.due_at
                else None
            )
            row[f"{name}_left_min"] = round(clock.remaining_minutes)
        out[case.case_id] = row
    return out
