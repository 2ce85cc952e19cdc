"""The cases part of ``voc demo``: the demo's case settings, and the team history
(`demo.cases`) played through the real case and 回访 stores after the ingestion."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

from demo.cases import DEMO_CASES_TOML, DemoClock, HistoryReport, LoopMix, loop_mix, play_history
from voc.case_config import DEFAULT_SLA
from voc.followup_rules import FollowupsConfig
from voc.settings import Settings
from voc.sla import SlaConfig
from warehouse.case_db import connect_store, create_schema, store_url
from warehouse.case_store import CaseFilters, CaseStore
from warehouse.db import warehouse
from warehouse.followup_plan import plan_followups
from warehouse.followup_store import FollowupStore
from warehouse.recovery import case_recoveries

#: The demo's case settings file, written beside the warehouse.
DEMO_CONFIG_NAME = "demo-voc.toml"
#: The recovery window the summary quotes (days after the case ended).
SUMMARY_WINDOW = 30


def demo_config(config: str | None, db_path: Path) -> str | None:
    """The settings file ``voc demo`` runs with: the one given (``--config`` or
    ``VOC_CONFIG``), else the demo's case settings (`DEMO_CASES_TOML`: teams and routing)
    written beside the warehouse."""
    given = config or os.environ.get("VOC_CONFIG")
    if given:
        return given
    path = Path(db_path).parent / DEMO_CONFIG_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(DEMO_CASES_TOML, encoding="utf-8")
    return str(path)


def sla_config(settings: Settings) -> SlaConfig:
    """The configured SLA policies; the default ones when the clocks are off (the
    history's timings need a policy)."""
    sla = getattr(settings.cases, "sla", None)
    return sla if isinstance(sla, SlaConfig) and sla.policies else DEFAULT_SLA


def followup_rules(settings: Settings) -> FollowupsConfig:
    """The ``[cases.followups]`` rules (the defaults until configured)."""
    return getattr(settings.cases, "followups", None) or FollowupsConfig()


def play_demo_history(settings: Settings, clock: DemoClock) -> tuple[HistoryReport, LoopMix]:
    """Play the demo team's history on the cases the ingestion opened (once: a second
    ``voc demo`` finds the cases worked on and leaves them), then count where the loop
    stands at the clock's now."""
    engine = connect_store(store_url(settings))
    try:
        create_schema(engine)
        cases_store = CaseStore(engine)
        rules = followup_rules(settings)
        followups = FollowupStore(engine, rules, settings.timezone)

        def plan_day(day: date, at: datetime) -> object:
            # From the cases only: the demo customers' orders are from 2025, long past.
            return plan_followups(followups, cases_store, None, day, at, settings.author_salt)

        cases = cases_store.list_cases(CaseFilters(), limit=1_000_000)
        report = play_history(
            cases,
            cases_store,
            followups,
            plan_day,
            clock,
            sla_config(settings),
            rules,
            cases_store.all_events(),
        )
        cases = cases_store.list_cases(CaseFilters(), limit=1_000_000)
        histories = cases_store.histories([c.case_id for c in cases if c.is_open])
        due = followups.due(clock.today)
        outcomes = followups.outcomes()
        with warehouse(settings.db_path) as con:
            recoveries = case_recoveries(con, cases, outcomes, clock.now, rules.recovery)
        verdicts = {r.case_id: r.verdict for r in recoveries if r.window_days == SUMMARY_WINDOW}
        mix = loop_mix(cases, histories, sla_config(settings), clock.now, len(due), verdicts)
    finally:
        engine.dispose()
    return report, mix


def now_clock(clock: DemoClock) -> DemoClock:
    """The same install moment, with now the current time (after the ingestion)."""
    return replace(clock, now=datetime.now(UTC))


def mix_lines(report: HistoryReport, mix: LoopMix) -> list[str]:
    """The summary ``voc demo`` prints (Chinese / English)."""
    played = (
        f"演示团队的处理记录已写入（{report.n_actions} 步，{report.n_backlog} 个历史工单已关闭）"
        if not report.skipped
        else f"演示团队的处理记录已存在，未重复写入 / history kept: {report.skipped}"
    )
    return [
        played,
        f"工单 {mix.n_cases} 个，未结 {mix.n_open} 个：已超时 {mix.n_breached}，即将超时 "
        f"{mix.n_due_soon}，暂停 {mix.n_paused}；今日回访 {mix.n_followup_today} 个；"
        f"已挽回 {mix.n_recovered}，未挽回 {mix.n_unrecovered}",
        f"cases {mix.n_cases}, open {mix.n_open}: breached {mix.n_breached}, due soon "
        f"{mix.n_due_soon}, paused {mix.n_paused}; 回访 due today {mix.n_followup_today}; "
        f"recovered {mix.n_recovered}, not recovered {mix.n_unrecovered}",
    ]
