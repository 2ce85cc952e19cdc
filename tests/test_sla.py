"""SLA clocks against hand-computed values: working minutes over 国庆 2025 and its 调休
Saturday, the clock paused while waiting on the customer, the first-response rule, a
reopened case, calendar-time policies; and the ``[cases.sla]`` config's errors.

Working hours 09:00–12:00 and 13:00–18:00 (480 minutes a day, so a business ``2d`` is
960 minutes). 2025: Sun 09-28 and Sat 10-11 are 调休 workdays, Oct 1–8 are off.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from voc.business_time import CalendarYearError, parse_calendar_config
from voc.case_config import parse_case_config
from voc.cases import Case, CaseEvent
from voc.sla import (
    SlaConfig,
    case_sla,
    first_response_at,
    parse_duration,
    parse_sla_config,
    sla_status,
)

CST = timezone(timedelta(hours=8))
LOAD = datetime(2025, 9, 29, 9, 0, tzinfo=CST)

CONFIG = """
[cases.sla]
due_soon = "25%"

[cases.calendar]
timezone = "Asia/Shanghai"
working_hours = ["09:00-12:00", "13:00-18:00"]

[[cases.sla.policies]]
name = "投诉平台"
source = "complaints_*"
first_response = "2h"
time = "calendar"

[[cases.sla.policies]]
name = "工单 P1/P2"
channel = "ticket"
priority = ["P1", "P2"]
first_response = "4h"
resolution = "2d"

[[cases.sla.policies]]
name = "社媒"
channel = ["social", "review"]
first_response = "1h"
resolution = "24h"
time = "calendar"
due_soon = "15m"
"""


def at(day: str, hm: str) -> datetime:
    return datetime.fromisoformat(f"{day}T{hm}:00").replace(tzinfo=CST)


def load(text: str = CONFIG, now: datetime = LOAD) -> SlaConfig:
    raw = tomllib.loads(text).get("cases", {})
    calendar = parse_calendar_config(raw.get("calendar"), "voc.toml", now)
    return parse_sla_config(raw.get("sla"), "voc.toml", calendar=calendar, now=now)


@pytest.fixture(scope="module")
def sla() -> SlaConfig:
    return load()


def make_case(opened: datetime, status: str = "new", **kw: Any) -> Case:
    values: dict[str, Any] = dict(
        case_id=7,
        merge_key="doc:d1",
        rule="negative_ticket",
        title="下单三天未发货",
        status=status,
        priority="P2",
        team="售后",
        owner="张三",
        customer_id=None,
        segment=None,
        province=None,
        source="demo_helpdesk",
        channel="ticket",
        theme_id=None,
        theme_label=None,
        aspect=None,
        category=None,
        severity={},
        opened_at=opened,
        updated_at=opened,
        version=1,
        n_voices=1,
        first_response_at=None,
        resolved_at=None,
        closed_at=None,
    )
    values.update(kw)
    return Case(**values)


@dataclass
class Log:
    """A case's event log, written the way the store writes it."""

    opened: datetime
    status: str = "new"
    events: list[CaseEvent] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._add(self.opened, "open", None, "new")

    def _add(self, moment: datetime, action: str, frm: str | None, to: str | None) -> None:
        seq = len(self.events) + 1
        self.events.append(
            CaseEvent(7, seq, moment.astimezone(UTC), "张三", action, frm, to, "", {})
        )

    def move(self, moment: datetime, to: str) -> Log:
        self._add(moment, "status", self.status, to)
        self.status = to
        return self

    def reply(self, moment: datetime) -> Log:
        self._add(moment, "reply", None, None)
        return self

    def case(self, **kw: Any) -> Case:
        return make_case(self.opened, self.status, **kw)


def status_at(sla: SlaConfig, log: Log, now: datetime, **kw: Any):
    status = case_sla(sla, log.case(**kw), log.events, now)
    assert status is not None
    return status


def test_running_clocks_count_working_minutes_across_the_holiday(sla: SlaConfig) -> None:
    log = Log(at("2025-09-30", "16:00"))
    status = status_at(sla, log, at("2025-10-09", "10:00"))
    assert (status.policy, status.time) == ("工单 P1/P2", "business")
    first, resolution = status.clocks
    # Tue 16:00–18:00 = 120, Oct 1–8 off, Thu 09:00–10:00 = 60.
    assert (first.elapsed_minutes, first.remaining_minutes) == (180, 60)
    assert first.due_at == at("2025-10-09", "11:00")
    assert first.due_soon and first.state == "due_soon"  # 60 left ≤ 25% of 240
    # 960 − 180 = 780 left: Thu 10–12 (120), 13–18 (300), Fri 09–12 (180), 13–16 (180).
    assert resolution.remaining_minutes == 780
    assert resolution.due_at == at("2025-10-10", "16:00")
    assert resolution.state == "running"
    assert status.due_soon and not status.breached
    assert status.next_due_at == at("2025-10-09", "11:00")
    assert status.alert_states() == [("first_response", "due_soon")]


def test_breach_is_dated_when_the_target_was_reached(sla: SlaConfig) -> None:
    status = status_at(sla, Log(at("2025-09-30", "16:00")), at("2025-10-09", "11:30"))
    first = status.clock("first_response")
    assert first.breached and first.state == "breached"
    assert first.due_at == at("2025-10-09", "11:00")  # Tue 120 + Thu 09:00–11:00
    assert first.remaining_minutes == -30
    assert status.alert_states() == [("first_response", "breached")]


def test_first_response_is_the_earliest_reply_or_move_out_of_new(sla: SlaConfig) -> None:
    opened, now = at("2025-09-30", "16:00"), at("2025-10-09", "15:00")
    acked = Log(opened).move(at("2025-10-09", "10:50"), "acknowledged")
    assert first_response_at(acked.case(), acked.events) == at("2025-10-09", "10:50")
    first = status_at(sla, acked, now).clock("first_response")
    assert first.met and not first.breached and first.state == "met"
    assert first.stopped_at == at("2025-10-09", "10:50") and first.elapsed_minutes == 230

    # A reply after the acknowledgement does not move the response (the clock never
    # changes its verdict afterwards, and it agrees with the case's first_response_at).
    replied = (
        Log(opened).move(at("2025-10-09", "10:50"), "acknowledged").reply(at("2025-10-09", "11:40"))
    )
    assert first_response_at(replied.case(), replied.events) == at("2025-10-09", "10:50")
    first = status_at(sla, replied, now).clock("first_response")
    assert first.met and not first.breached and first.remaining_minutes == 10
    # A reply before any move is the response; a later acknowledgement changes nothing.
    early = (
        Log(opened).reply(at("2025-10-09", "09:30")).move(at("2025-10-09", "10:50"), "acknowledged")
    )
    assert first_response_at(early.case(), early.events) == at("2025-10-09", "09:30")
    assert status_at(sla, early, now).alert_states() == []  # stopped clocks alert no one


def test_a_reply_after_hours_is_late_even_though_the_clock_stood_still(sla: SlaConfig) -> None:
    # Opened Mon 09-29 14:00: four working hours end at 18:00 the same day.
    on_time = Log(at("2025-09-29", "14:00")).reply(at("2025-09-29", "18:00"))
    late = Log(at("2025-09-29", "14:00")).reply(at("2025-09-29", "19:00"))
    now = at("2025-09-30", "09:00")
    assert not status_at(sla, on_time, now).clock("first_response").breached
    late_clock = status_at(sla, late, now).clock("first_response")
    assert late_clock.elapsed_minutes == 240 and late_clock.breached
    assert late_clock.due_at == at("2025-09-29", "18:00")


def test_waiting_on_the_customer_pauses_the_clock(sla: SlaConfig) -> None:
    log = (
        Log(at("2025-09-30", "16:00"))
        .move(at("2025-10-09", "09:30"), "acknowledged")
        .move(at("2025-10-09", "14:00"), "waiting_customer")
    )
    paused = status_at(sla, log, at("2025-10-10", "15:00"))
    resolution = paused.clock("resolution")
    # Counted: Tue 16–18 (120), Thu 09–12 (180) and 13–14 (60).
    assert resolution.elapsed_minutes == 360 and resolution.remaining_minutes == 600
    assert resolution.paused and not resolution.running and resolution.due_at is None
    assert resolution.state == "paused"
    # Paused: Thu 14–18 (240), Fri 09–12 (180), 13–15 (120).
    assert paused.paused and paused.paused_minutes == 540
    assert paused.next_due_at is None
    assert paused.clock("first_response").met  # acknowledged at 09:30: 150 minutes

    # Resumed on the 调休 Saturday at 10:00; at 12:00 two more hours have counted.
    log.move(at("2025-10-11", "10:00"), "in_progress")
    running = status_at(sla, log, at("2025-10-11", "12:00"))
    resolution = running.clock("resolution")
    assert resolution.elapsed_minutes == 480 and resolution.paused_minutes == 780
    # 480 left: Sat 13–18 (300), Sun off, Mon 09:00–12:00 (180), due at that window's end.
    assert resolution.due_at == at("2025-10-13", "12:00")
    assert not running.paused and running.paused_minutes == 780


def test_resolution_stops_when_resolved_and_resumes_when_reopened(sla: SlaConfig) -> None:
    log = (
        Log(at("2025-09-30", "16:00"))
        .move(at("2025-10-09", "09:30"), "acknowledged")
        .move(at("2025-10-09", "14:00"), "waiting_customer")
        .move(at("2025-10-11", "10:00"), "in_progress")
        .move(at("2025-10-13", "11:00"), "resolved")
    )
    done = status_at(sla, log, at("2025-10-13", "17:00")).clock("resolution")
    # 480 by Sat 12:00, Sat 13–18 (300), Mon 09–11 (120).
    assert done.elapsed_minutes == 900 and done.met and not done.breached
    assert done.stopped_at == at("2025-10-13", "11:00") and done.state == "met"

    log.move(at("2025-10-14", "09:00"), "in_progress")  # 重新打开
    reopened = status_at(sla, log, at("2025-10-14", "10:30")).clock("resolution")
    # The night and the resolved time are not counted: 900 + Tue 09:00–10:30 (90).
    assert reopened.elapsed_minutes == 990 and reopened.breached
    assert reopened.due_at == at("2025-10-14", "10:00")


def test_a_case_closed_unanswered_stops_its_clocks(sla: SlaConfig) -> None:
    log = Log(at("2025-09-30", "16:00")).move(at("2025-10-09", "10:00"), "closed")
    status = status_at(sla, log, at("2025-10-20", "10:00"))
    first, resolution = status.clocks
    assert first.stopped_at == at("2025-10-09", "10:00") and not first.met
    assert first.state == "stopped" and first.elapsed_minutes == 180
    assert resolution.met and resolution.state == "met"
    assert status.alert_states() == []


def test_calendar_time_counts_the_night_and_holidays(sla: SlaConfig) -> None:
    log = Log(at("2025-10-01", "23:30"))
    kw = {"channel": "social", "source": "demo_weibo", "priority": "P3"}
    soon = status_at(sla, log, at("2025-10-02", "00:20"), **kw)
    assert soon.policy == "社媒" and soon.time == "calendar"
    assert soon.clock("first_response").remaining_minutes == 10
    assert soon.clock("first_response").due_soon  # 10 left ≤ 15 minutes
    late = status_at(sla, log, at("2025-10-02", "00:45"), **kw)
    first, resolution = late.clocks
    assert first.breached and first.due_at == at("2025-10-02", "00:30")
    assert resolution.due_at == at("2025-10-02", "23:30") and not resolution.due_soon


def test_the_first_matching_policy_applies(sla: SlaConfig) -> None:
    opened = at("2025-09-30", "10:00")
    complaint = make_case(opened, channel="social", source="complaints_heimao", priority="P1")
    assert sla.policy_for(complaint).name == "投诉平台"
    assert sla.policy_for(make_case(opened, priority="P1")).name == "工单 P1/P2"
    low = make_case(opened, priority="P4")
    assert sla.policy_for(low) is None
    assert case_sla(sla, low, [], at("2025-10-20", "10:00")) is None
    policy = sla.policy_for(complaint)
    status = sla_status(complaint, [], policy, sla.calendar, at("2025-09-30", "13:00"))
    assert [c.clock for c in status.clocks] == ["first_response"] and status.breached


def test_events_after_now_and_naive_now() -> None:
    sla = load()
    log = Log(at("2025-09-30", "16:00")).reply(at("2025-10-09", "10:00"))
    before = status_at(sla, log, at("2025-10-09", "09:30"))
    assert before.first_response_at is None and before.clock("first_response").running
    with pytest.raises(ValueError, match="timezone-aware"):
        case_sla(sla, log.case(), log.events, datetime(2025, 10, 9, 10))
    # Judged at 10:30, a reply at 11:40 has not happened: the 10:20 acknowledgement counts.
    log = (
        Log(at("2025-09-30", "16:00"))
        .move(at("2025-10-09", "10:20"), "acknowledged")
        .reply(at("2025-10-09", "11:40"))
    )
    assert status_at(sla, log, at("2025-10-09", "10:30")).first_response_at == at(
        "2025-10-09", "10:20"
    )


def test_without_events_the_case_fields_are_used() -> None:
    sla = load()
    closed = make_case(
        at("2025-09-30", "16:00"),
        "closed",
        updated_at=at("2025-10-09", "10:00"),
        first_response_at=at("2025-10-09", "09:30"),
    )
    status = case_sla(sla, closed, [], at("2025-10-20", "10:00"))
    first, resolution = status.clocks
    assert first.met and first.stopped_at == at("2025-10-09", "09:30")
    assert first.elapsed_minutes == 150
    assert resolution.met and resolution.stopped_at == at("2025-10-09", "10:00")
    assert resolution.elapsed_minutes == 180 and status.alert_states() == []


def test_durations() -> None:
    assert parse_duration("1h30m", "x").total(480) == 90
    assert parse_duration("2d", "x").total(480) == 960
    assert parse_duration("2d", "x").total(1440) == 2880
    assert parse_duration(45, "x").total(480) == 45
    assert parse_duration("1.5h", "x").total(480) == 90


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ('first_response = "-4h"', "第 2 条 first_response: 时长不能为负 / must not be negative"),
        ("resolution = -30", "第 2 条 resolution: 时长不能为负 / must not be negative"),
        ('first_response = "0m"', "第 2 条 first_response: 时长必须大于 0"),
        ('first_response = "4 hours"', '第 2 条 first_response: 时长格式应为 "30m"'),
        (
            'first_response = "4h"\nchannel = "phone"',
            "第 2 条 channel: 未知取值 / unknown value 'phone'",
        ),
        ('first_response = "4h"\npriority = "P0"', "第 2 条 priority: 未知取值"),
        ('first_response = "4h"\ntime = "wall"', "第 2 条 time: 应为 business 或 calendar"),
        ('first_response = "4h"\ndue_soon = "150%"', "第 2 条 due_soon: 比例不能超过 100%"),
        ('first_response = "4h"\nowner = "x"', "第 2 条: 未知键 / unknown key(s): owner"),
        ('name = "空"', "第 2 条: 至少需要 first_response 或 resolution"),
    ],
)
def test_bad_policies_are_named(policy: str, message: str) -> None:
    first = '[[cases.sla.policies]]\nfirst_response = "1h"\n'
    text = f"[cases.sla]\n{first}[[cases.sla.policies]]\n{policy}\n"
    with pytest.raises(ValueError) as err:
        load(text)
    assert str(err.value).startswith("voc.toml: [[cases.sla.policies]] 第 2 条")
    assert message in str(err.value)


def test_bad_sla_tables_are_named() -> None:
    with pytest.raises(
        ValueError, match=r"voc.toml: \[cases.sla\]: 未知键 / unknown key\(s\): polices"
    ):
        load('[cases.sla]\n[[cases.sla.polices]]\nfirst_response = "1h"\n')
    with pytest.raises(ValueError, match=r"voc.toml: \[cases.sla\] due_soon: 时长不能为负"):
        load('[cases.sla]\ndue_soon = "-5m"\n')
    with pytest.raises(ValueError, match=r"voc.toml: \[cases.calendar\]: working_hours"):
        load('[cases.calendar]\nworking_hours = ["9-18"]\n')
    with pytest.raises(ValueError, match=r"voc.toml: \[cases.sla\]: 未知键 .*: calendar"):
        load('[cases.sla.calendar]\nworking_hours = ["9-18"]\n')
    assert load("[cases.sla]\n").policies == ()
    # Without a calendar table: the default one (09:00–18:00, Chinese holidays).
    default = parse_sla_config({"policies": [{"first_response": "1d"}]}, "voc.toml", now=LOAD)
    assert default.policies[0].first_response == 540 and default.calendar.holidays == "cn"


def test_a_due_time_in_a_year_the_package_does_not_know_fails_at_load() -> None:
    text = '[cases.sla]\n[[cases.sla.policies]]\nfirst_response = "4h"\nresolution = "10d"\n'
    # Loaded on Thu 2026-12-24, ten working days run into January 2027.
    with pytest.raises(CalendarYearError) as err:
        load(text, datetime(2026, 12, 24, 10, 0, tzinfo=CST))
    message = str(err.value)
    assert message.startswith("voc.toml: [[cases.sla.policies]] 第 1 条 resolution: ")
    assert "2027" in message and "extra_holidays" in message
    assert load(text, datetime(2026, 12, 1, 10, 0, tzinfo=CST)).policies  # fits in 2026

    # Running in 2027 is refused for the calendar itself, before any policy.
    with pytest.raises(CalendarYearError, match=r"^voc.toml: \[cases.calendar\]: .*2027"):
        load("[cases.sla]\n", datetime(2027, 3, 1, tzinfo=CST))
    with pytest.raises(CalendarYearError, match=r"^voc.toml: \[cases.calendar\]: .*2027"):
        parse_sla_config({}, "voc.toml", now=datetime(2027, 3, 1, tzinfo=CST))

    # Giving 2027's days in the config lets it load, and they are used.
    given = text.replace(
        "[cases.sla]\n",
        '[cases.calendar]\nextra_holidays = ["2027-01-01"]\n[cases.sla]\n',
    )
    sla = load(given, datetime(2026, 12, 24, 10, 0, tzinfo=CST))
    assert not sla.calendar.is_workday(date(2027, 1, 1))
    assert sla.calendar.is_workday(date(2027, 1, 4))


def test_the_documented_example_loads() -> None:
    docs = Path(__file__).resolve().parents[1] / "docs" / "sla.md"
    block = re.search(r"```toml\n(.*?)```", docs.read_text(encoding="utf-8"), re.S)[1]
    raw = tomllib.loads(block)["cases"]
    calendar = parse_calendar_config(raw["calendar"], "docs/sla.md", LOAD)
    sla = parse_sla_config(raw["sla"], "docs/sla.md", calendar=calendar, now=LOAD)
    assert [p.name for p in sla.policies] == ["投诉平台", "工单 P1/P2", "其他"]
    assert sla.calendar.minutes_per_day == 450
    assert [p.first_response for p in sla.policies] == [120, 240, 450]
    assert sla.policies[1].due_soon.window(240) == 60
    assert not sla.calendar.is_workday(date(2025, 12, 31))
    cases = parse_case_config(raw, "docs/sla.md", channel_names={"cx_feishu"})
    assert cases.teams["售后"].channels == ("cx_feishu",)
