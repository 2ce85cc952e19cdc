"""Complaint cases and 回访 follow-ups: the records, the workflow and its refusals.

Pure records: `warehouse.case_store` keeps them (SQLite or PostgreSQL), the opening rules
produce `CaseOpening`s, the SLA clock reads `Case` and `CaseEvent`s. Every datetime is an
aware UTC datetime. The workflow (``docs/cases.md``)::

    new 新建 → acknowledged 已受理 → in_progress 处理中 → follow_up 待回访
      → resolved 已解决 / closed 已关闭
    waiting_customer 等待客户 (SLA clock paused), from acknowledged / in_progress
    重新打开: resolved / closed → in_progress
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

NEW = "new"
ACKNOWLEDGED = "acknowledged"
IN_PROGRESS = "in_progress"
WAITING_CUSTOMER = "waiting_customer"
FOLLOW_UP = "follow_up"
RESOLVED = "resolved"
CLOSED = "closed"

#: Stored status code → the name shown to people.
STATUS_NAMES: dict[str, str] = {
    NEW: "新建",
    ACKNOWLEDGED: "已受理",
    IN_PROGRESS: "处理中",
    WAITING_CUSTOMER: "等待客户",
    FOLLOW_UP: "待回访",
    RESOLVED: "已解决",
    CLOSED: "已关闭",
}
STATUSES = tuple(STATUS_NAMES)
OPEN_STATUSES = (NEW, ACKNOWLEDGED, IN_PROGRESS, WAITING_CUSTOMER, FOLLOW_UP)
DONE_STATUSES = (RESOLVED, CLOSED)

#: The moves allowed from each status. Closing is possible from every open status (a
#: duplicate or spam voice needs no handling); resolved/closed → in_progress is 重新打开.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    NEW: (ACKNOWLEDGED, IN_PROGRESS, CLOSED),
    ACKNOWLEDGED: (IN_PROGRESS, WAITING_CUSTOMER, CLOSED),
    IN_PROGRESS: (WAITING_CUSTOMER, FOLLOW_UP, RESOLVED, CLOSED),
    WAITING_CUSTOMER: (IN_PROGRESS, CLOSED),
    FOLLOW_UP: (RESOLVED, CLOSED, IN_PROGRESS),
    RESOLVED: (CLOSED, IN_PROGRESS),
    CLOSED: (IN_PROGRESS,),
}

PRIORITIES = ("P1", "P2", "P3", "P4")  # P1 highest

#: Event actions: `reply` is a response to the customer (the first one ends the first
#: response clock).
ACTIONS = ("open", "merge", "status", "assign", "note", "reply", "priority")

FOLLOWUP_REASONS = ("case_resolved", "order_day5", "order_day15", "periodic", "second")
FOLLOWUP_STATUSES = ("planned", "done", "cancelled")

#: Stored excerpts are cut to this many characters.
EXCERPT_CHARS = 300


class CaseError(ValueError):
    """A refused case action; the message (Chinese and English) says why."""


class ConflictError(CaseError):
    """The case changed since the caller read it (a stale ``expected_version``)."""

    def __init__(self, case_id: int, expected: int, version: int, status: str) -> None:
        self.case_id, self.expected, self.version, self.status = case_id, expected, version, status
        super().__init__(
            f"工单 {case_id} 已被他人修改（当前版本 {version}，状态 "
            f"{STATUS_NAMES.get(status, status)}），请刷新后重试 / case {case_id} was changed "
            f"by someone else (now version {version}, status {status}; you had version "
            f"{expected}): reload it and try again"
        )


def status_name(status: str) -> str:
    """The shown name of a status code (the code itself when unknown)."""
    return STATUS_NAMES.get(status, status)


def check_status(status: str) -> str:
    """`status` when it is a known status code, else `CaseError` naming the codes."""
    if status not in STATUS_NAMES:
        raise CaseError(
            f"未知状态 {status!r}，可用：{', '.join(STATUSES)} / "
            f"unknown status {status!r}; known: {', '.join(STATUSES)}"
        )
    return status


def check_priority(priority: str) -> str:
    """`priority` when it is one of `PRIORITIES`, else `CaseError`."""
    if priority not in PRIORITIES:
        raise CaseError(
            f"未知优先级 {priority!r}，可用：{', '.join(PRIORITIES)} / "
            f"unknown priority {priority!r}; known: {', '.join(PRIORITIES)}"
        )
    return priority


def check_transition(from_status: str, to_status: str) -> None:
    """Raise `CaseError` unless ``from_status → to_status`` is an allowed move.

    The message names the moves that are allowed from `from_status`.
    """
    check_status(from_status)
    check_status(to_status)
    allowed = TRANSITIONS[from_status]
    if to_status not in allowed:
        zh = "、".join(f"{STATUS_NAMES[s]}" for s in allowed)
        raise CaseError(
            f"不能从 {STATUS_NAMES[from_status]} 改为 {STATUS_NAMES[to_status]}；"
            f"可改为：{zh} / cannot move a case from {from_status} to {to_status}; "
            f"allowed: {', '.join(allowed)}"
        )


def is_reopen(from_status: str, to_status: str) -> bool:
    """Whether a move is 重新打开 (a resolved or closed case back to in_progress)."""
    return from_status in DONE_STATUSES and to_status == IN_PROGRESS


def cut_excerpt(text: str) -> str:
    """A stored excerpt: the (already PII-masked) text cut to `EXCERPT_CHARS` characters."""
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


@dataclass(frozen=True)
class CaseVoice:
    """One voice (document) of a case, as it was when the case took it in.

    Attributes:
        doc_id: The warehouse document id (a voice is in at most one case).
        excerpt: The stored, PII-masked text, cut to 300 characters.
        negative_score: P(negative), 0–1, by the sentiment model of the time.
        anger: Anger score 0–1 from the emotion model, when known.
        reach: Reposts + comments + likes, when the source has them.
        customer_id: The hashed customer id (raw customer keys are never stored).
        dup_group: The near-duplicate group of the document, when it has one.
    """

    doc_id: str
    source: str
    channel: str
    created_at: datetime
    excerpt: str
    url: str | None = None
    sentiment: str | None = None
    negative_score: float | None = None
    anger: float | None = None
    reach: int = 0
    theme_id: str | None = None
    theme_label: str | None = None
    aspect: str | None = None
    category: str | None = None
    customer_id: str | None = None
    segment: str | None = None
    province: str | None = None
    dup_group: str | None = None


@dataclass(frozen=True)
class CaseOpening:
    """What an opening rule asks for: a case for these voices, or their merge into one.

    ``merge_key`` says what belongs together: ``cust:<customer_id>:<theme>``,
    ``dup:<group>``, ``doc:<doc_id>``; an open case with the same key whose newest voice
    is recent enough takes the voices in (`warehouse.case_store.CaseStore.open_cases`).
    """

    merge_key: str
    rule: str
    title: str
    voices: tuple[CaseVoice, ...]
    priority: str
    severity: Mapping[str, float | str | None] = field(default_factory=dict)
    team: str | None = None
    owner: str | None = None
    customer_id: str | None = None
    segment: str | None = None
    province: str | None = None
    source: str | None = None
    channel: str | None = None
    theme_id: str | None = None
    theme_label: str | None = None
    aspect: str | None = None
    category: str | None = None


@dataclass(frozen=True)
class Case:
    """The current state of a case (its events are the history).

    ``version`` goes up with every workflow change (status, assign, note, reply,
    priority), which is what an ``expected_version`` guards; a ``merge`` (new voices from
    an ingestion) leaves it alone so that it never invalidates what a user is looking at.
    """

    case_id: int
    merge_key: str
    rule: str
    title: str
    status: str
    priority: str
    team: str | None
    owner: str | None
    customer_id: str | None
    segment: str | None
    province: str | None
    source: str | None
    channel: str | None
    theme_id: str | None
    theme_label: str | None
    aspect: str | None
    category: str | None
    severity: Mapping[str, Any]
    opened_at: datetime
    updated_at: datetime
    version: int
    n_voices: int
    first_response_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None

    @property
    def is_open(self) -> bool:
        """Whether the case still needs work (not resolved or closed)."""
        return self.status in OPEN_STATUSES

    @property
    def status_name(self) -> str:
        """The shown name of the status (新建, 已受理 …)."""
        return status_name(self.status)


@dataclass(frozen=True)
class CaseEvent:
    """One append-only entry of a case's history.

    ``seq`` is global and increasing across all cases (`CaseStore.all_events`);
    ``from_status``/``to_status`` are set on ``open`` (to only) and ``status`` events.
    """

    case_id: int
    seq: int
    at: datetime
    who: str
    action: str
    from_status: str | None
    to_status: str | None
    note: str
    data: Mapping[str, Any]


@dataclass(frozen=True)
class Followup:
    """A planned 回访 (follow-up contact) of a customer, for a case or not."""

    followup_id: int
    case_id: int | None
    customer_id: str | None
    owner: str | None
    team: str | None
    due_on: date
    reason: str
    status: str
    created_at: datetime
    parent_id: int | None = None


@dataclass(frozen=True)
class FollowupOutcome:
    """What a 回访 found (append-only): reached or not, satisfaction 1–5, a second one?"""

    followup_id: int
    at: datetime
    who: str
    reached: bool
    satisfaction: int | None
    note: str
    needs_second: bool
