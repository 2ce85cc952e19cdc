"""Prefect tasks: open and merge cases from the day's voices (docs/cases-rules.md), and send
due-soon and breached SLA clocks (docs/sla.md)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.tasks import StageResult
from signals.case_alerts import deliver_case_alerts
from voc.alert_settings import AlertConfig
from voc.case_config import TeamConfig
from voc.case_rules import CaseRulesConfig
from voc.sla import SlaConfig
from warehouse.case_candidates import read_openings
from warehouse.case_db import StoreUnavailable, connect_store, shown_url
from warehouse.case_spool import open_or_spool
from warehouse.case_store import CaseStore
from warehouse.db import warehouse


@task(cache_policy=NO_CACHE)
def open_cases(
    db_path: Path,
    store_url: str,
    rules: CaseRulesConfig,
    source_kinds: dict[str, str],
    model_version: str,
    since: date,
    until: date,
    runs_dir: Path,
    now: datetime | None = None,
) -> StageResult:
    """Open or extend cases for the voices of local days [since, until] by the opening
    rules; with the case store unreachable they are spooled and opened by the next run."""
    started = time.perf_counter()
    logger = get_run_logger()
    with warehouse(db_path) as con:
        openings = read_openings(con, since, until, rules, source_kinds, model_version)
    outcome = open_or_spool(
        store_url, openings, now or datetime.now(UTC), runs_dir, rules.merge_days
    )
    if outcome.replayed:
        r = outcome.replayed_result
        logger.info(
            "cases: %d spooled file(s) replayed: %d opened, %d merged",
            len(outcome.replayed),
            r.n_opened,
            r.n_merged,
        )
    problems = [f"cases: 无法读取的暂存文件 / unreadable spool file kept: {p}" for p in outcome.bad]
    if outcome.result is None:
        problems.insert(
            0,
            f"cases: {outcome.error}; {len(openings)} 个待开工单已暂存 / openings spooled to "
            f"{outcome.spooled} ({len(outcome.pending)} file(s) waiting)",
        )
        for problem in problems:
            logger.warning("%s", problem)
        return StageResult(
            "cases",
            n_in=len(openings),
            n_errors=len(problems),
            problems=problems,
            seconds=time.perf_counter() - started,
        )
    opened = outcome.result
    logger.info(
        "cases (%s): %d openings → %d opened, %d merged, %d voices already in a case",
        shown_url(store_url),
        len(openings),
        opened.n_opened,
        opened.n_merged,
        opened.n_known,
    )
    for problem in problems:
        logger.warning("%s", problem)
    return StageResult(
        "cases",
        n_in=len(openings),
        n_out=opened.n_opened + outcome.replayed_result.n_opened,
        n_skipped=opened.n_known,
        n_errors=len(problems),
        problems=problems,
        seconds=time.perf_counter() - started,
    )


@task(cache_policy=NO_CACHE)
def deliver_sla_alerts(
    db_path: Path,
    store_url: str,
    alerts: AlertConfig,
    sla: SlaConfig,
    teams: Mapping[str, TeamConfig],
    now: datetime | None = None,
) -> StageResult:
    """Send due-soon and breached SLA clocks of open cases (at `now`, default the current
    time) to their teams' channels, once per case, clock and state; with the case store
    down, the next run sends them."""
    started = time.perf_counter()
    logger = get_run_logger()
    engine = connect_store(store_url)
    try:
        update = deliver_case_alerts(CaseStore(engine), db_path, alerts, sla, teams, now=now)
    except StoreUnavailable as exc:
        logger.warning("sla alerts (%s): %s", shown_url(store_url), exc)
        return StageResult(
            "sla_alerts",
            n_errors=1,
            problems=[f"sla alerts: {exc}"],
            seconds=time.perf_counter() - started,
        )
    finally:
        engine.dispose()
    problems = [f"sla alerts: {r.alert_id} to {r.channel}: {r.error}" for r in update.failed]
    problems += [f"sla alerts: {p}" for p in update.problems]
    for problem in problems:
        logger.warning("%s", problem)
    logger.info(
        "sla alerts: %d open cases, %d due soon or breached (%d wait for the next run), "
        "deliveries %s",
        update.n_open,
        update.n_alerts,
        update.n_deferred,
        update.counts,
    )
    return StageResult(
        "sla_alerts",
        n_in=update.n_alerts,
        n_out=update.counts.get("sent", 0),
        n_skipped=update.counts.get("skipped", 0) + update.counts.get("held", 0),
        n_errors=len(problems),
        problems=problems,
        seconds=time.perf_counter() - started,
    )
