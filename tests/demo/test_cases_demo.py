"""The demo team's history (`demo.cases`) on real case stores: the planned mix of SLA
states, today's 回访 list, recovered and unrecovered customers — whatever day the demo runs
— written through the stores' API, deterministic, and played once only."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from cli.demo_cases import DEMO_CONFIG_NAME, demo_config
from demo.cases import (
    DEMO_CASES_TOML,
    HISTORY_DAYS,
    ROLES,
    DemoClock,
    HistoryReport,
    LoopMix,
    demo_clock,
    loop_mix,
    play_history,
)
from demo.data import build_corpus
from voc.case_config import DEFAULT_SLA
from voc.cases import CaseOpening, CaseVoice, cut_excerpt
from voc.followup_rules import FollowupsConfig
from voc.records import hash_customer_key
from voc.settings import load_settings
from voc.sla import SlaConfig, parse_sla_config
from warehouse.case_db import connect_store, create_schema
from warehouse.case_store import CaseFilters, CaseStore
from warehouse.db import warehouse
from warehouse.followup_plan import plan_followups
from warehouse.followup_store import FollowupStore
from warehouse.recovery import case_recoveries, overall_rate

SH = ZoneInfo("Asia/Shanghai")
#: A Thursday afternoon (the history then spans a weekend).
NOW = datetime(2025, 11, 20, 15, 0, tzinfo=SH)
N_CASES = 40
#: The mix `ROLES` plans: 2 never answered + 1 stuck; 2 due soon; 1 paused; 2 待回访 today
#: plus the 4 unhappy customers' second 回访; 8 recovered, 4 not.
PLANNED = {"breached": 3, "due_soon": 2, "paused": 1, "today": 6, "recovered": 8, "unrecovered": 4}


def demo_openings(n: int = N_CASES) -> list[CaseOpening]:
    """Openings of the demo's first negative tickets, three in four with a customer."""
    tickets = [t for t in build_corpus().tickets if t.description.strip()][:n]
    out = []
    for i, t in enumerate(tickets):
        customer = hash_customer_key(f"M{i:05d}", "demo") if i % 4 else None
        voice = CaseVoice(
            doc_id=f"demo_helpdesk:{t.ticket_id}",
            source="demo_helpdesk",
            channel="ticket",
            created_at=t.created_at.astimezone(UTC),
            excerpt=cut_excerpt(t.description),
            sentiment="negative",
            negative_score=0.9,
            customer_id=customer,
        )
        out.append(
            CaseOpening(
                merge_key=f"doc:{voice.doc_id}",
                rule="negative_ticket",
                title=cut_excerpt(t.description)[:40],
                voices=(voice,),
                priority=("P2", "P3", "P4")[i % 3],
                severity={"negative_score": 0.9},
                team="客服一组",
                owner=("张敏", "刘洋")[i % 2],
                customer_id=customer,
                source="demo_helpdesk",
                channel="ticket",
            )
        )
    return out


def play(
    engine: sa.Engine, clock: DemoClock, sla: SlaConfig = DEFAULT_SLA
) -> tuple[HistoryReport, CaseStore, FollowupStore]:
    """Open the demo openings at the install and play the history, as ``voc demo`` does."""
    cases, rules = CaseStore(engine), FollowupsConfig()
    followups = FollowupStore(engine, rules)
    cases.open_cases(demo_openings(), now=clock.installed_at)

    def plan_day(day: date, at: datetime) -> object:
        return plan_followups(followups, cases, None, day, at)

    stored = cases.list_cases(CaseFilters(), limit=10_000)
    report = play_history(stored, cases, followups, plan_day, clock, sla, rules, cases.all_events())
    return report, cases, followups


def mix_of(
    cases: CaseStore, followups: FollowupStore, clock: DemoClock, tmp_path: Path, sla=DEFAULT_SLA
) -> LoopMix:
    stored = cases.list_cases(CaseFilters(), limit=10_000)
    histories = cases.histories([c.case_id for c in stored])
    with warehouse(tmp_path / "voc.duckdb") as con:  # a real, empty warehouse
        recoveries = case_recoveries(con, stored, followups.outcomes(), clock.now)
    verdicts = {r.case_id: r.verdict for r in recoveries if r.window_days == 30}
    return loop_mix(stored, histories, sla, clock.now, len(followups.due(clock.today)), verdicts)


def assert_planned(mix: LoopMix) -> None:
    got = {
        "breached": mix.n_breached,
        "due_soon": mix.n_due_soon,
        "paused": mix.n_paused,
        "today": mix.n_followup_today,
        "recovered": mix.n_recovered,
        "unrecovered": mix.n_unrecovered,
    }
    assert got == PLANNED
    assert mix.n_cases == N_CASES and mix.n_open == 9  # the rest was the closed backlog


def test_the_history_gives_the_planned_mix_on_both_databases(
    case_engine: sa.Engine, tmp_path: Path
) -> None:
    clock = demo_clock(NOW)
    assert clock.installed_at == datetime(2025, 11, 10, 9, 0, tzinfo=SH)
    report, cases, followups = play(case_engine, clock)
    assert {role: len(ids) for role, ids in report.roles.items()} == {
        **dict(ROLES),
        "backlog": N_CASES - sum(n for _, n in ROLES),
    }
    assert_planned(mix_of(cases, followups, clock, tmp_path))
    # Today's list: the two cases whose solution went out yesterday, and the second 回访
    # of the two unhappy customers, each for the case's owner.
    due = followups.due(clock.today)
    assert sorted(f.reason for f in due) == ["case_resolved"] * 2 + ["second"] * 4
    assert {f.case_id for f in due if f.reason == "case_resolved"} == set(
        report.roles["followup_today"]
    )
    assert all(f.owner in ("张敏", "刘洋") for f in due)
    # Recovered and unrecovered cases are resolved, their 回访 scores recorded.
    scores = {f.case_id: o.satisfaction for f, o in followups.outcomes()}
    assert {scores[c] for c in report.roles["recovered"]} <= {4, 5}
    assert {scores[c] for c in report.roles["unrecovered"]} == {2}
    for role in ("recovered", "unrecovered"):
        assert {cases.get(c).status for c in report.roles[role]} == {"resolved"}
    # Twelve called back: the recovery rate is shown, with its interval (README 闭环).
    stored = cases.list_cases(CaseFilters(), limit=10_000)
    with warehouse(tmp_path / "voc.duckdb") as con:
        recoveries = case_recoveries(con, stored, followups.outcomes(), clock.now)
    rate = overall_rate(recoveries, 30)
    assert (rate["n_measured"], rate["n_recovered"], rate["enough"]) == (12, 8, True)
    assert (round(rate["rate"]), round(rate["low"]), round(rate["high"])) == (67, 39, 86)


def test_every_step_is_dated_between_the_install_and_now_in_order(
    case_engine: sa.Engine,
) -> None:
    clock = demo_clock(NOW)
    report, cases, _ = play(case_engine, clock)
    assert report.n_actions > N_CASES
    events = list(cases.all_events())
    assert all(clock.installed_at <= e.at <= clock.now for e in events)
    by_case: dict[int, list] = {}
    for e in events:
        by_case.setdefault(e.case_id, []).append(e)
    for history in by_case.values():
        assert [e.at for e in history] == sorted(e.at for e in history)
    worked = {e.case_id for e in events if e.action == "status"}
    untouched = set(report.roles["breached_new"])
    assert untouched and not untouched & worked  # never answered: only their open event
    assert {e.who for e in events if e.action != "open"} <= {"张敏", "刘洋"}


@pytest.mark.parametrize(
    "now",
    [
        datetime(2025, 11, 17, 5, 30, tzinfo=SH),  # Monday before the 06:00 planning run
        datetime(2025, 11, 23, 20, 0, tzinfo=SH),  # Sunday evening: 回访 due Friday, overdue
        datetime(2025, 10, 9, 10, 0, tzinfo=SH),  # first working day after 国庆/中秋
        datetime(2026, 2, 24, 11, 0, tzinfo=SH),  # just after the 2026 Spring Festival
        datetime(2026, 12, 31, 23, 30, tzinfo=SH),  # the last evening the calendar knows
    ],
)
def test_the_mix_holds_whatever_day_the_demo_runs(now: datetime, tmp_path: Path) -> None:
    engine = connect_store(f"sqlite:///{tmp_path / 'cases.sqlite'}")
    create_schema(engine)
    clock = demo_clock(now)
    _, cases, followups = play(engine, clock)
    assert_planned(mix_of(cases, followups, clock, tmp_path))
    engine.dispose()


def test_business_hours_policies_get_the_same_mix(tmp_path: Path) -> None:
    # A policy in working minutes (09:00–18:00, weekends and holidays off): the timings are
    # measured on the working calendar, so due soon is still due soon.
    sla = parse_sla_config(
        {"policies": [{"first_response": "4h", "resolution": "2d", "time": "business"}]},
        "voc.toml",
        now=NOW,
    )
    engine = connect_store(f"sqlite:///{tmp_path / 'cases.sqlite'}")
    create_schema(engine)
    clock = demo_clock(NOW)
    _, cases, followups = play(engine, clock, sla)
    assert_planned(mix_of(cases, followups, clock, tmp_path, sla))
    engine.dispose()


def test_the_history_is_deterministic(tmp_path: Path) -> None:
    def run(name: str) -> list[tuple]:
        engine = connect_store(f"sqlite:///{tmp_path / name}")
        create_schema(engine)
        _, cases, followups = play(engine, demo_clock(NOW))
        events = [
            (cases.get(e.case_id).merge_key, e.at, e.who, e.action, e.to_status, e.note)
            for e in cases.all_events()
        ]
        calls = [
            (f.reason, f.due_on, f.owner, o.satisfaction, o.needs_second)
            for f, o in followups.outcomes()
        ]
        engine.dispose()
        return [*events, *calls]

    assert run("a.sqlite") == run("b.sqlite")


def test_a_second_demo_run_leaves_the_history_as_it_is(case_engine: sa.Engine) -> None:
    clock = demo_clock(NOW)
    _, cases, followups = play(case_engine, clock)
    before = len(list(cases.all_events()))
    later = DemoClock(clock.now + timedelta(hours=2), clock.installed_at)
    again = play_history(
        cases.list_cases(CaseFilters(), limit=10_000),
        cases,
        followups,
        lambda day, at: None,
        later,
        DEFAULT_SLA,
        events=cases.all_events(),
    )
    assert again.skipped.startswith("case ") and again.n_actions == 0
    assert len(list(cases.all_events())) == before


def test_demo_clock_puts_the_install_days_before_today_at_nine() -> None:
    clock = demo_clock(datetime(2026, 3, 2, 1, 0, tzinfo=UTC))  # 09:00 in Shanghai
    assert clock.today == date(2026, 3, 2)
    assert clock.first_day == date(2026, 3, 2) - timedelta(days=HISTORY_DAYS)
    assert clock.installed_at.astimezone(SH).hour == 9
    with pytest.raises(ValueError, match="timezone-aware"):
        demo_clock(datetime(2026, 3, 2, 9, 0))


def test_the_demo_case_settings_load_with_teams_and_routing(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("VOC_CONFIG", raising=False)
    path = demo_config(None, tmp_path / "voc.duckdb")
    assert Path(path) == tmp_path / DEMO_CONFIG_NAME
    settings = load_settings(path, env={})
    assert set(settings.cases.teams) == {"客服一组", "舆情组", "电商客服组"}
    from voc.case_rules import rules_config

    routes = rules_config(settings.cases).routes
    assert [(r.team, r.owner) for r in routes] == [
        ("舆情组", "陈静"),
        ("电商客服组", "王芳"),
        ("客服一组", "张敏"),
    ]
    # A given settings file wins: nothing is written.
    assert demo_config("mine.toml", tmp_path / "other" / "voc.duckdb") == "mine.toml"
    assert not (tmp_path / "other").exists()


def test_the_readme_shows_the_demo_case_settings_and_the_planned_mix() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## 闭环", 1)[1].split("\n## ", 1)[0]
    assert f"```toml\n{DEMO_CASES_TOML}```" in section
    rows = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    assert sum(int(r.split("|")[1]) for r in rows[1:]) == sum(n for _, n in ROLES)
