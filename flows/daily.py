"""The daily ingestion flow: sources → load → normalise → segment → sentiment → themes →
spikes, with every stage's counts and problems in the run log."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from prefect import flow, get_run_logger

from flows.tasks import (
    StageResult,
    fetch_source,
    find_spikes,
    find_themes,
    load_documents,
    normalise_documents,
    score_sentiment,
    segment_documents,
)
from nlp.spikes import SpikeParams
from voc.settings import Settings, load_settings
from warehouse import loaders
from warehouse.db import warehouse

#: How far back a scheduled run looks when no dates are given (late posts, edits).
DEFAULT_LOOKBACK_DAYS = 2


def _record(db_path: Path, run_id: str, result: StageResult) -> None:
    with warehouse(db_path) as con:
        loaders.record_stage(
            con,
            run_id,
            result.stage,
            source=result.source,
            n_in=result.n_in,
            n_out=result.n_out,
            n_skipped=result.n_skipped,
            n_errors=result.n_errors,
            seconds=result.seconds,
        )
        loaders.record_errors(con, run_id, result.stage, result.source, result.problems)


def default_window(settings: Settings, today: date | None = None) -> tuple[date, date]:
    """The dates a run with no --since/--until covers: the last few days up to today."""
    today = today or datetime.now(ZoneInfo(settings.timezone)).date()
    return today - timedelta(days=DEFAULT_LOOKBACK_DAYS), today


def run_pipeline(settings: Settings, since: date, until: date) -> dict:
    """Run every stage for [since, until] under the current flow run; returns a summary."""
    logger = get_run_logger()
    db_path = settings.db_path
    run_id = datetime.now().strftime("%Y%m%dT%H%M%S-") + uuid.uuid4().hex[:6]
    work_dir = settings.runs_dir / run_id
    work_dir.mkdir(parents=True, exist_ok=True)
    with warehouse(db_path) as con:
        loaders.start_run(con, run_id, "daily_ingest", since, until)
    logger.info("run %s: %s..%s into %s", run_id, since, until, db_path)
    status = "failed"
    source_errors = 0
    try:
        sources = [s for s in settings.sources if s.enabled]
        futures = [
            (s, fetch_source.submit(s, since, until, work_dir, settings.author_salt))
            for s in sources
        ]
        for source, future in futures:
            try:
                fetched = future.result()
            except Exception as exc:  # one broken source never stops the others
                fetched = StageResult(
                    "fetch",
                    source.name,
                    n_errors=1,
                    problems=[f"{source.name}: fetch failed: {exc}"],
                )
            _record(db_path, run_id, fetched)
            source_errors += fetched.n_errors
            _record(
                db_path,
                run_id,
                load_documents(db_path, fetched, run_id, settings.timezone, settings.mask_pii),
            )
        _record(db_path, run_id, normalise_documents(db_path))
        _record(
            db_path,
            run_id,
            segment_documents(db_path, settings.user_dict_paths, settings.stopword_paths),
        )
        scored, model_version = score_sentiment(
            db_path, settings.sentiment_model_dir, settings.sentiment_int8
        )
        _record(db_path, run_id, scored)
        brands = frozenset(
            str(s.options["brand"]).lower() for s in settings.sources if s.options.get("brand")
        )
        _record(
            db_path,
            run_id,
            find_themes(db_path, model_version, settings.theme_max_docs, run_id, brands),
        )
        params = SpikeParams(
            baseline_days=settings.spike_baseline_days,
            min_count=settings.spike_min_count,
            ratio=settings.spike_ratio,
            z=settings.spike_z,
        )
        _record(db_path, run_id, find_spikes(db_path, model_version, params, run_id))
        status = "partial" if source_errors else "ok"
    finally:
        with warehouse(db_path) as con:
            loaders.finish_run(con, run_id, status)
        logger.info("run %s finished: %s", run_id, status)
    return {
        "run_id": run_id,
        "status": status,
        "since": str(since),
        "until": str(until),
        "source_errors": source_errors,
    }


@flow(name="voc-daily-ingest", log_prints=False)
def daily_ingest(
    since: date | None = None,
    until: date | None = None,
    config_path: str | None = None,
    db_path: str | None = None,
    demo_port: int | None = None,
) -> dict:
    """Ingest all configured sources for [since, until] (default: the last few days)."""
    settings = load_settings(config_path, db_path=db_path)
    if demo_port is not None:
        settings = settings.with_demo_port(demo_port)
    if since is None or until is None:
        default_since, default_until = default_window(settings)
        since, until = since or default_since, until or default_until
    if since > until:
        raise ValueError(f"--since {since} is after --until {until}")
    return run_pipeline(settings, since, until)
