"""Prefect tasks of the 回访 loop: plan the day's follow-ups, send each owner's list; and a
small flow running both (``followups_flow``), for a schedule of its own or by hand. The
daily pipeline calls `plan_followups_task` then `deliver_followup_lists_task` after the
cases are opened.

The case store being unreachable (PostgreSQL down) is logged and reported, never fatal:
ingestion carries on and the next run plans what this one could not (planning is
idempotent and reads the case events from where it last stopped).
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.tasks import StageResult
from signals.followup_digest import deliver_followup_lists
from voc.alert_settings import AlertConfig
from voc.followup_rules import FollowupsConfig
from voc.settings import Settings
from warehouse.case_db import StoreUnavailable, connect_store, create_schema, store_url
from warehouse.case_store import CaseStore
from warehouse.db import WarehouseError, warehouse
from warehouse.followup_orders import OrderFileError
from warehouse.followup_plan import plan_followups
from warehouse.followup_store import FollowupStore
from warehouse.followup_views import todays_list


def followup_rules(settings: Settings) -> FollowupsConfig:
    """The ``[cases.followups]`` rules of the settings (the defaults until configured)."""
    cases = getattr(settings, "cases", None)
    return getattr(cases, "followups", None) or FollowupsConfig()


def local_today(settings: Settings, now: datetime) -> date:
    """`now`'s day in the settings' timezone."""
    return now.astimezone(ZoneInfo(settings.timezone)).date()


def _store(settings: Settings, rules: FollowupsConfig, url: str | None):
    engine = connect_store(url or store_url(settings))
    create_schema(engine)
    return engine, FollowupStore(engine, rules, settings.timezone)


@task(cache_policy=NO_CACHE)
def plan_followups_task(
    settings: Settings,
    rules: FollowupsConfig | None = None,
    url: str | None = None,
    now: datetime | None = None,
) -> StageResult:
    """Plan the day's 回访 from resolved cases, orders and the periodic tiers."""
    started, now = time.perf_counter(), now or datetime.now(UTC)
    rules = rules or followup_rules(settings)
    logger = get_run_logger()
    today, problems = local_today(settings, now), []
    try:
        engine, store = _store(settings, rules, url)
        try:
            try:
                with warehouse(settings.db_path) as con:
                    report = plan_followups(
                        store, CaseStore(engine), con, today, now, salt=settings.author_salt
                    )
            except WarehouseError as exc:
                # Another writer holds the warehouse: plan from the cases now; orders and
                # tiers are planned by the next run (their grace days cover it).
                problems.append(f"followups: {exc}; orders and tiers next run")
                report = plan_followups(store, CaseStore(engine), None, today, now)
        finally:
            engine.dispose()
    except (StoreUnavailable, OrderFileError) as exc:
        logger.warning("followups: %s", exc)
        return StageResult(
            "followups", n_errors=1, problems=[str(exc)], seconds=time.perf_counter() - started
        )
    logger.info(
        "followups: planned %s, %d known, %d cancelled",
        report.n_planned,
        report.n_known,
        report.n_cancelled,
    )
    problems += report.problems
    for problem in problems:
        logger.warning("followups: %s", problem)
    return StageResult(
        "followups",
        n_in=report.total + report.n_known,
        n_out=report.total,
        n_skipped=report.n_known + report.n_unmatched_orders,
        problems=problems,
        seconds=time.perf_counter() - started,
    )


@task(cache_policy=NO_CACHE)
def deliver_followup_lists_task(
    settings: Settings,
    config: AlertConfig | None = None,
    url: str | None = None,
    now: datetime | None = None,
) -> StageResult:
    """Send each owner's 回访 list of the day to their channel, once."""
    started, now = time.perf_counter(), now or datetime.now(UTC)
    config = config or settings.alerts
    logger = get_run_logger()
    try:
        engine, store = _store(settings, followup_rules(settings), url)
        try:
            daily = todays_list(store, CaseStore(engine), local_today(settings, now))
        finally:
            engine.dispose()
    except StoreUnavailable as exc:
        logger.warning("followup lists: %s", exc)
        return StageResult("followup_lists", n_errors=1, problems=[str(exc)])
    teams = getattr(getattr(settings, "cases", None), "teams", None)
    update = deliver_followup_lists(Path(settings.db_path), daily, config, now, teams)
    for r in update.failed:
        logger.warning("followup list %s to %s failed: %s", r.alert_id, r.channel, r.error)
    return StageResult(
        "followup_lists",
        n_in=update.n_events,
        n_out=update.counts.get("sent", 0),
        n_skipped=update.counts.get("skipped", 0) + update.counts.get("held", 0),
        n_errors=len(update.failed),
        problems=[f"followup lists: {r.channel}: {r.error}" for r in update.failed],
        seconds=time.perf_counter() - started,
    )


@flow(name="followups")
def followups_flow(
    settings: Settings,
    rules: FollowupsConfig | None = None,
    url: str | None = None,
    now: datetime | None = None,
) -> list[StageResult]:
    """Plan the day's 回访 and send each owner's list."""
    planned = plan_followups_task(settings, rules, url, now)
    sent = deliver_followup_lists_task(settings, None, url, now)
    return [planned, sent]
