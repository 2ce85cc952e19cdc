"""Zendesk ticket metrics (the ``metric_sets`` side-load) as a ticket's attributes.

With ``include=metric_sets`` each incremental export page carries a ``metric_sets`` list
beside ``tickets``, one Ticket Metric object per ticket (``ticket_id``), whose durations
are ``{"calendar": minutes, "business": minutes}`` (null until the event happened):
``reply_time_in_minutes`` (to the first public agent reply),
``first_resolution_time_in_minutes`` and ``full_resolution_time_in_minutes`` (to the first
and to the latest solve), with ``solved_at``. Some clients embed it in the ticket as
``metric_set``; both are read. The ticket's attributes get the minutes as plain numbers
(`voc.response_times.ATTRIBUTE_KEYS`), so a re-exported ticket (every reply updates it)
replaces them in the warehouse like any other attribute.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Ticket Metric duration → our attribute stem (``<stem>_minutes``,
#: ``<stem>_business_minutes``).
DURATIONS = {
    "reply_time_in_minutes": "reply",
    "first_resolution_time_in_minutes": "first_resolution",
    "full_resolution_time_in_minutes": "full_resolution",
}


def metric_sets_by_ticket(payload: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Ticket id → its metric set, from a page's side-loaded ``metric_sets``."""
    found = payload.get("metric_sets")
    return {
        str(m["ticket_id"]): m
        for m in (found if isinstance(found, list) else ())
        if isinstance(m, Mapping) and m.get("ticket_id") is not None
    }


def metric_attributes(
    ticket: Mapping[str, Any], metric_sets: Mapping[str, Mapping[str, Any]] | None
) -> dict[str, Any]:
    """The response-time attributes of one ticket; {} when it has no metric set.

    A duration that is not a number (null: no reply yet, or a damaged value) is left out,
    so it reads as "not happened" rather than as zero.
    """
    metrics = (metric_sets or {}).get(str(ticket.get("id")))
    if metrics is None and isinstance(ticket.get("metric_set"), Mapping):
        metrics = ticket["metric_set"]
    if not isinstance(metrics, Mapping):
        return {}
    out: dict[str, Any] = {}
    for field, stem in DURATIONS.items():
        value = metrics.get(field)
        if not isinstance(value, Mapping):
            continue
        for part, key in (("calendar", stem), ("business", f"{stem}_business")):
            minutes = value.get(part)
            if isinstance(minutes, int | float) and not isinstance(minutes, bool) and minutes >= 0:
                out[f"{key}_minutes"] = minutes
    if isinstance(metrics.get("solved_at"), str) and metrics["solved_at"]:
        out["solved_at"] = metrics["solved_at"]
    assignee = ticket.get("assignee_id")
    if assignee is not None:
        out["assignee_id"] = str(assignee)
    # Marks a ticket whose metrics were read, so no reply yet counts as unanswered.
    out["response_origin"] = "zendesk_metrics"
    return out
