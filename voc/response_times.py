"""Response times the sources themselves record: the records and the settings.

A helpdesk's ticket metrics (Zendesk's ``metric_sets`` side-load) and a complaint
platform's 商家回复 / 已完成 steps travel in the voice's own attributes (`ATTRIBUTE_KEYS`);
a mailbox's replies from our own domain are separate `MailReply` records, because the
reply usually arrives in a later run than the customer's mail it answers. The warehouse
derives one row per voice from both (`warehouse.response_times`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = [
    "ATTRIBUTE_KEYS",
    "MailReply",
    "ResponseTimeConfig",
    "parse_response_times",
]

#: Attribute keys a source sets on a voice for its response times (all optional):
#: Zendesk's metric set (calendar and business minutes, solved_at, the assignee), the
#: complaint platforms' merchant-reply and completion step times, and
#: ``response_origin`` (``zendesk_metrics``, ``complaint_steps``, ``helpdesk_stats``: a
#: Freshdesk ticket's ``first_responded_at`` / ``resolved_at``, ``mail_thread``): the
#: source tracks responses for this voice, so none yet means unanswered.
ATTRIBUTE_KEYS = (
    "reply_minutes",
    "reply_business_minutes",
    "first_resolution_minutes",
    "first_resolution_business_minutes",
    "full_resolution_minutes",
    "full_resolution_business_minutes",
    "solved_at",
    "assignee_id",
    "replied_at",
    "completed_at",
    "response_origin",
)


@dataclass(frozen=True, slots=True)
class MailReply:
    """A mail from our own domain that answers customers' mails.

    Attributes:
        message_id: The reply's Message-ID.
        source: The mailbox source that read it.
        replied_at: Its Date (aware).
        replier: Our sender's address (staff, not a customer).
        refs: Message-IDs it answers: In-Reply-To first, then References.
    """

    message_id: str
    source: str
    replied_at: datetime
    replier: str | None
    refs: tuple[str, ...]


@dataclass(frozen=True)
class ResponseTimeConfig:
    """How response times are judged (``[cases.response_times]``).

    Attributes:
        threshold_hours: A first response later than this is a breach (default 24 h).
        outcome_window_days: Later voices and survey answers counted for the outcome
            comparison fall within this many days after the voice (default 90).
    """

    threshold_hours: float = 24.0
    outcome_window_days: int = 90

    @property
    def threshold_minutes(self) -> float:
        """The threshold in minutes."""
        return self.threshold_hours * 60


def parse_response_times(value: Mapping[str, Any] | None, origin: str) -> ResponseTimeConfig:
    """The ``[cases.response_times]`` table as a `ResponseTimeConfig`.

    Raises:
        ValueError: naming `origin` and the key (unknown key, not a number, not positive).
    """
    if value is None:
        return ResponseTimeConfig()
    if not isinstance(value, Mapping):
        raise ValueError(
            f"{origin}: [cases.response_times] 必须是表 / must be a table, "
            f"got {type(value).__name__}"
        )
    known = {"threshold_hours", "outcome_window_days"}
    unknown = sorted(set(value) - known)
    if unknown:
        raise ValueError(
            f"{origin}: [cases.response_times] 未知的键 / unknown key(s): {', '.join(unknown)} "
            f"(可用 / known: {', '.join(sorted(known))})"
        )
    hours = _positive(value.get("threshold_hours", 24.0), origin, "threshold_hours", float)
    days = _positive(value.get("outcome_window_days", 90), origin, "outcome_window_days", int)
    return ResponseTimeConfig(threshold_hours=float(hours), outcome_window_days=int(days))


def _positive(raw: Any, origin: str, key: str, kind: type) -> float:
    where = f"{origin}: [cases.response_times] {key}"
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ValueError(f"{where}: 必须是数字 / must be a number, got {raw!r}")
    if kind is int and not float(raw).is_integer():
        raise ValueError(f"{where}: 必须是整数天 / must be a whole number of days, got {raw!r}")
    if raw <= 0:
        raise ValueError(f"{where}: 必须大于 0 / must be positive, got {raw!r}")
    return raw
