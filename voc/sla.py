"""SLA clocks of a case: policies per channel × priority, and where a case stands on them.

Two clocks run per case (both optional per policy):

- ``first_response``: from opening to the first response — the earliest ``reply`` event or
  move out of ``new`` to ``acknowledged``/``in_progress`` (受理 tells the customer the case
  is taken on), as the case store keeps it. It stops without a response when the case is
  resolved or closed first.
- ``resolution``: from opening until the case reaches ``follow_up``, ``resolved`` or
  ``closed``; a reopened case's clock resumes with the minutes it had already used.

Both are paused while the case is ``waiting_customer``. Time is counted in working minutes
of the working calendar (`voc.business_time`) or in plain calendar minutes, per policy.
`sla_status` is pure: it reads a case and its events and never touches a store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from voc.business_time import WorkingCalendar
from voc.sla_policy import (
    ALERT_STATES,
    CLOCKS,
    COUNTING,
    PAUSED,
    PRIORITIES,
    RESOLVED,
    TIME_BASES,
    CaseLike,
    DueSoon,
    Duration,
    SlaConfig,
    SlaPolicy,
    parse_duration,
    parse_sla_config,
)

# The policy records and the config parser live in voc.sla_policy (module size); they are
# part of this module's API.
__all__ = [
    "ALERT_STATES",
    "CLOCKS",
    "COUNTING",
    "PAUSED",
    "PRIORITIES",
    "RESOLVED",
    "TIME_BASES",
    "CaseLike",
    "DueSoon",
    "Duration",
    "EventLike",
    "SlaClock",
    "SlaConfig",
    "SlaPolicy",
    "SlaStatus",
    "case_sla",
    "first_response_at",
    "parse_duration",
    "parse_sla_config",
    "sla_status",
    "status_segments",
]


class EventLike(Protocol):
    """What the clocks read of a case event (`voc.cases.CaseEvent`)."""

    seq: int
    at: datetime
    action: str
    from_status: str | None
    to_status: str | None


@dataclass(frozen=True)
class SlaClock:
    """Where one clock stands at `now`.

    Attributes:
        clock: ``first_response`` or ``resolution``.
        limit_minutes: The target.
        elapsed_minutes: Minutes counted so far (pauses excluded), in the policy's time.
        remaining_minutes: `limit_minutes` − `elapsed_minutes` (negative once overdue).
        paused_minutes: Minutes spent waiting on the customer, in the policy's time.
        due_at: When the target is (or was) reached: the crossing moment once breached,
            the projected moment while running; None while paused or when met in time.
        stopped_at: When the clock stopped (the response, or the resolution); None while
            it runs or is paused.
        met: The clock stopped by its target event (response or resolution).
        running: Counting at `now`.
        paused: Paused at `now` (waiting on the customer).
        breached: The due time passed before the clock stopped (or, still open, before now).
        due_soon: Running, not breached, and within the due-soon window.
    """

    clock: str
    limit_minutes: float
    elapsed_minutes: float
    remaining_minutes: float
    paused_minutes: float
    due_at: datetime | None
    stopped_at: datetime | None
    met: bool
    running: bool
    paused: bool
    breached: bool
    due_soon: bool

    @property
    def state(self) -> str:
        """``breached``, ``due_soon``, ``met``, ``stopped``, ``paused`` or ``running``."""
        if self.breached:
            return "breached"
        if self.due_soon:
            return "due_soon"
        if self.met:
            return "met"
        if self.stopped_at is not None:
            return "stopped"
        return "paused" if self.paused else "running"


@dataclass(frozen=True)
class SlaStatus:
    """A case's SLA at `now`: its clocks and what they add up to.

    Attributes:
        case_id: The case.
        policy: The policy's name.
        time: ``business`` or ``calendar``.
        at: The `now` it was computed for.
        first_response_at: The first response (see the module doc), if any.
        clocks: The policy's clocks, first_response before resolution.
        paused: The case is waiting on the customer at `now`.
        paused_minutes: Minutes spent waiting on the customer so far.
        due_soon: Some clock is due soon.
        breached: Some clock is breached.
        next_due_at: The earliest due time of the clocks still running.
    """

    case_id: str
    policy: str
    time: str
    at: datetime
    first_response_at: datetime | None
    clocks: tuple[SlaClock, ...]
    paused: bool
    paused_minutes: float
    due_soon: bool
    breached: bool
    next_due_at: datetime | None

    def clock(self, name: str) -> SlaClock | None:
        """The clock called `name`, if the policy has it."""
        return next((c for c in self.clocks if c.clock == name), None)

    def alert_states(self) -> list[tuple[str, str]]:
        """(clock, state) pairs worth an alert: ``due_soon`` or ``breached`` clocks of an
        open case (a stopped clock alerts no one)."""
        return [
            (c.clock, c.state)
            for c in self.clocks
            if c.state in ALERT_STATES and c.stopped_at is None
        ]


def first_response_at(case: CaseLike, events: Iterable[EventLike]) -> datetime | None:
    """The earliest ``reply`` event or move out of ``new`` to ``acknowledged`` or
    ``in_progress`` (the rule `warehouse.case_store` keeps in the case's state, so the queue
    and the clock agree); the case's own ``first_response_at`` when there are no events."""
    events = list(events)
    if not events:
        return case.first_response_at
    responses = [
        e.at
        for e in events
        if e.action == "reply"
        or (e.from_status == "new" and e.to_status in ("acknowledged", "in_progress"))
    ]
    return min(responses) if responses else None


def status_segments(
    case: CaseLike, events: Iterable[EventLike], now: datetime
) -> list[tuple[datetime, datetime, str]]:
    """(start, end, status) spans from opening to `now`, from the events' status moves.

    The events are the record; only when they carry no status move at all (none were
    given) is the case's own status taken to hold since its ``updated_at``.
    """
    spans: list[tuple[datetime, str]] = [(case.opened_at, "new")]
    for event in sorted(events, key=lambda e: e.seq):
        if event.to_status and event.to_status != spans[-1][1] and event.at <= now:
            spans.append((max(event.at, spans[-1][0]), event.to_status))
    changed = getattr(case, "updated_at", None) or now
    if len(spans) == 1 and case.status != "new" and changed <= now:
        spans.append((max(changed, spans[-1][0]), case.status))
    ends = [start for start, _ in spans[1:]] + [max(now, spans[-1][0])]
    return [(start, end, status) for (start, status), end in zip(spans, ends, strict=True)]


def sla_status(
    case: CaseLike,
    events: Sequence[EventLike],
    policy: SlaPolicy,
    calendar: WorkingCalendar,
    now: datetime,
) -> SlaStatus:
    """Where `case` stands on `policy`'s clocks at `now`.

    Args:
        case: The case (its opening time, status, priority and channel).
        events: Its events (any order; ``seq`` orders them).
        policy: The policy that applies (`SlaConfig.policy_for`).
        calendar: The working calendar (used when ``policy.time`` is ``business``).
        now: The moment to judge at (aware).

    Raises:
        ValueError: `now` is naive.
        CalendarYearError: the clock runs through a year the calendar does not know.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    business = policy.time == "business"
    measured: dict[tuple[datetime, datetime], float] = {}

    def measure(start: datetime, end: datetime) -> float:
        # Both clocks and the paused total read the same spans: count each once.
        key = (start, end)
        if key not in measured:
            if business:
                measured[key] = calendar.business_minutes(start, end)
            else:
                seconds = (end.astimezone(UTC) - start.astimezone(UTC)).total_seconds()
                measured[key] = max(0.0, seconds / 60)
        return measured[key]

    def add(start: datetime, minutes: float) -> datetime:
        if business:
            return calendar.add_business_minutes(start, max(minutes, 0.0))
        return start + timedelta(minutes=max(minutes, 0.0))

    events = [e for e in events if e.at <= now]  # judged as things stood at `now`
    segments = status_segments(case, events, now)
    responded = first_response_at(case, events)
    if responded is not None and responded > now:
        responded = None
    clocks = []
    for name in CLOCKS:
        limit = policy.target(name)
        if limit is not None:
            clocks.append(_clock(name, limit, segments, responded, policy, now, measure, add))
    current = segments[-1][2]
    running = [c.due_at for c in clocks if c.running and c.due_at is not None]
    paused_minutes = sum(measure(s, e) for s, e, status in segments if status in PAUSED)
    return SlaStatus(
        case_id=case.case_id,
        policy=policy.name,
        time=policy.time,
        at=now,
        first_response_at=responded,
        clocks=tuple(clocks),
        paused=current in PAUSED,
        paused_minutes=paused_minutes,
        due_soon=any(c.due_soon for c in clocks),
        breached=any(c.breached for c in clocks),
        next_due_at=min(running) if running else None,
    )


def _clock(
    name: str,
    limit: float,
    segments: list[tuple[datetime, datetime, str]],
    responded: datetime | None,
    policy: SlaPolicy,
    now: datetime,
    measure: Callable[[datetime, datetime], float],
    add: Callable[[datetime, float], datetime],
) -> SlaClock:
    elapsed = paused_minutes = 0.0
    crossed: datetime | None = None
    stopped_at: datetime | None = None
    met = False
    for start, end, status in segments:
        if name == "first_response" and responded is not None:
            if start >= responded:
                break
            end = min(end, responded)
        if status in COUNTING:
            minutes = measure(start, end)
            if crossed is None and elapsed + minutes >= limit:
                crossed = add(start, limit - elapsed)
            elapsed += minutes
        elif status in PAUSED:
            paused_minutes += measure(start, end)
    current = segments[-1][2]
    if name == "first_response" and responded is not None:
        stopped_at, met = responded, True
    elif current in RESOLVED:
        stopped_at = segments[-1][0]
        met = name == "resolution"
    paused = stopped_at is None and current in PAUSED
    running = stopped_at is None and not paused
    # A due time reached exactly when the clock stopped is met in time.
    breached = crossed is not None and (crossed < stopped_at if stopped_at else crossed <= now)
    remaining = limit - elapsed
    if breached:
        due_at = crossed
    elif running:
        due_at = add(now, remaining)
    else:
        due_at = None
    due_soon = running and not breached and remaining <= policy.due_soon.window(limit)
    return SlaClock(
        clock=name,
        limit_minutes=limit,
        elapsed_minutes=elapsed,
        remaining_minutes=remaining,
        paused_minutes=paused_minutes,
        due_at=due_at,
        stopped_at=stopped_at,
        met=met,
        running=running,
        paused=paused,
        breached=breached,
        due_soon=due_soon,
    )


def case_sla(
    config: SlaConfig, case: CaseLike, events: Sequence[EventLike], now: datetime
) -> SlaStatus | None:
    """`sla_status` under the case's policy (`SlaConfig.policy_for`); None when none matches."""
    policy = config.policy_for(case)
    if policy is None:
        return None
    return sla_status(case, events, policy, config.calendar, now)
