"""Prefect task: open and merge cases from the day's voices (docs/cases-rules.md)."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from pathlib import Path

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.tasks import StageResult
from voc.case_rules import CaseRulesConfig
from warehouse.case_candidates import read_openings
from warehouse.case_db import StoreUnavailable, connect_store, create_schema, shown_url
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
    now: datetime | None = None,
) -> StageResult:
    """Open or extend cases for the voices of local days [since, until] by the opening
    rules; the case store unreachable is reported, and the next run reads them again."""
    started = time.perf_counter()
    logger = get_run_logger()
    with warehouse(db_path) as con:
        openings = read_openings(con, since, until, rules, source_kinds, model_version)
    try:
        engine = connect_store(store_url)
        create_schema(engine)
        opened = CaseStore(engine).open_cases(openings, now or datetime.now(UTC), rules.merge_days)
    except StoreUnavailable as exc:
        logger.warning("cases: %s", exc)
        return StageResult(
            "cases",
            n_in=len(openings),
            n_errors=1,
            problems=[f"cases: {exc}"],
            seconds=time.perf_counter() - started,
        )
    logger.info(
        "cases (%s): %d openings → %d opened, %d merged, %d voices already in a case",
        shown_url(store_url),
        len(openings),
        opened.n_opened,
        opened.n_merged,
        opened.n_known,
    )
    return StageResult(
        "cases",
        n_in=len(openings),
        n_out=opened.n_opened,
        n_skipped=opened.n_known,
        seconds=time.perf_counter() - started,
    )
