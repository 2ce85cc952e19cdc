"""`voc demo` closes the loop: the daily flow's opening rules open the cases of the demo's
voices at the demo team's install, routed to the demo teams, and the team's history leaves
breached and due-soon SLAs, a paused case, today's 回访 list and recovered and unrecovered
customers, judged at the wall clock."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from cli.demo_cases import DEMO_CONFIG_NAME, SUMMARY_WINDOW, followup_rules, sla_config
from demo.cases import ROLES, demo_clock, loop_mix
from voc.settings import load_settings
from warehouse.case_db import connect_store, store_url
from warehouse.case_store import CaseFilters, CaseStore
from warehouse.db import read_only
from warehouse.followup_store import FollowupStore
from warehouse.recovery import case_recoveries, overall_rate

pytestmark = pytest.mark.e2e

RULE_NAMES = {"alert_verbatims", "complaint_platform", "negative_ticket", "vip_negative"}


def test_demo_opens_its_cases_by_the_rules_at_the_install_and_plays_the_history(
    e2e_db: Path,
) -> None:
    config = e2e_db.parent / DEMO_CONFIG_NAME
    assert config.exists()  # voc demo ran with its case settings (teams, routing)
    settings = load_settings(config, env={}, db_path=e2e_db)
    engine = connect_store(store_url(settings, env={}))
    try:
        cases_store = CaseStore(engine)
        followups = FollowupStore(engine, followup_rules(settings), settings.timezone)
        cases = cases_store.list_cases(CaseFilters(), limit=100_000)
        now = datetime.now(UTC)
        clock = demo_clock(now)
        # Opened by the flow's rules, all at the install (the flow's case clock), routed.
        assert len(cases) > 100
        assert {c.rule for c in cases} <= RULE_NAMES and "negative_ticket" in {
            c.rule for c in cases
        }
        opened = {c.opened_at for c in cases}
        assert len(opened) == 1 and (now - opened.pop()).days in (9, 10)
        routed = {(c.source, c.team, c.owner) for c in cases}
        assert ("demo_helpdesk", "客服一组", "张敏") in routed
        assert all(team is not None for _, team, _ in routed)
        # The history: the planned roles worked, the rest closed as the old backlog.
        featured = sum(n for _, n in ROLES)
        assert sum(c.status == "closed" for c in cases) == len(cases) - featured
        histories = cases_store.histories([c.case_id for c in cases if c.is_open])
        with read_only(e2e_db) as con:
            recoveries = case_recoveries(con, cases, followups.outcomes(), now)
        verdicts = {r.case_id: r.verdict for r in recoveries if r.window_days == SUMMARY_WINDOW}
        due = followups.due(clock.today)
        mix = loop_mix(cases, histories, sla_config(settings), now, len(due), verdicts)
    finally:
        engine.dispose()
    assert mix.n_open == 9
    assert (mix.n_breached, mix.n_due_soon, mix.n_paused) == (3, 2, 1)
    assert mix.n_followup_today == 6 and {f.owner for f in due} <= {"张敏", "刘洋", "陈静"}
    assert (mix.n_recovered, mix.n_unrecovered) == (8, 4)
    # Enough called-back customers for the 成效 page to show the rate with its interval.
    rate = overall_rate(recoveries, SUMMARY_WINDOW)
    assert rate["n_measured"] == 12 and rate["enough"] and round(rate["rate"]) == 67
