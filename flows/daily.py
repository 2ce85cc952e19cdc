"""The daily ingestion flow: sources → load → normalise → segment → sentiment → themes →
spikes, with every stage's counts and problems in the run log.

No ``from __future__ import annotations`` here: a deployment run (``voc schedule``) loads
this file from its entrypoint and Prefect builds the parameter model from the flow's
annotations; as strings, ``date`` does not resolve there and every scheduled run failed
parameter validation (`Daily_IngestModel` is not fully defined).
"""

import uuid
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from prefect import flow, get_run_logger
from prefect.futures import PrefectFuture

from flows.case_tasks import deliver_sla_alerts, open_cases
from flows.followup_tasks import deliver_followup_lists_task, plan_followups_task
from flows.tasks import (
    StageResult,
    deliver_alerts,
    fetch_source,
    find_spikes,
    find_themes,
    link_customers,
    load_documents,
    refresh_customer_aggregates,
    refresh_page_aggregates,
    run_stage,
)
from nlp.pipeline import build_pipeline
from signals.spikes import DetectorParams
from signals.theme_run import THEME_SPEC
from voc.case_rules import rules_config
from voc.run_folders import prune_run_folders
from voc.settings import Settings, SourceConfig, load_settings
from voc.stages import fingerprints
from warehouse import actions, loaders, sources
from warehouse.case_db import store_url
from warehouse.db import warehouse
from warehouse.parquet_export import export_parquet
from warehouse.snapshot import publish_snapshot


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


def _today(settings: Settings) -> date:
    return datetime.now(ZoneInfo(settings.timezone)).date()


def source_plan(
    settings: Settings,
    since: date | None,
    until: date | None,
    today: date | None = None,
) -> list[tuple[SourceConfig, date, date, str | None]]:
    """(source, since, until, cursor) for each enabled source.

    With dates (a backfill) every source covers them and connectors start afresh. Without,
    each source runs incrementally from its watermark minus its look-back (option
    ``lookback_days``, default the setting), resuming from its stored cursor.
    """
    today = today or _today(settings)
    plan = []
    with warehouse(settings.db_path) as con:
        for source in settings.sources:
            if not source.enabled:
                continue
            if since is not None and until is not None:
                plan.append((source, since, until, None))
                continue
            first, last = sources.fetch_window(
                con,
                source.name,
                today,
                settings.timezone,
                int(source.options.get("lookback_days", settings.lookback_days)),
                int(source.options.get("backfill_days", settings.backfill_days)),
            )
            plan.append((source, first, last, sources.source_cursor(con, source.name)))
    return plan


def _source_run(
    source: SourceConfig,
    since: date,
    until: date,
    mode: str,
    fetched: StageResult,
    loaded: StageResult,
) -> sources.SourceRun:
    return sources.SourceRun(
        source=source.name,
        kind=source.kind,
        since=since,
        until=until,
        mode=mode,
        fetched=fetched.n_out,
        new=loaded.new,
        updated=loaded.updated,
        unchanged=loaded.unchanged,
        skipped=fetched.n_skipped,
        errors=fetched.n_errors,
        empty_text=fetched.empty_text,
        layout_changed=fetched.layout_changed,
        blocked=fetched.blocked,
        last_error=sources.headline_problem(fetched.examples, fetched.problems),
        examples=fetched.examples,
        seconds=fetched.seconds + loaded.seconds,
        watermark=fetched.newest,
        cursor=fetched.cursor,
    )


def _sync_user_actions(con, db_path: Path, logger) -> None:
    """Copy the dashboard's alert statuses and sentiment corrections (its SQLite side store)
    into the warehouse, so the snapshot and the query page have them. A failure here is
    logged and retried by the next run; it never fails the ingestion."""
    try:
        counts = actions.sync_to_warehouse(con, db_path)
    except Exception as exc:  # the side store is the source of truth; nothing is lost
        logger.warning("could not copy dashboard actions into the warehouse: %s", exc)
    else:
        logger.info("dashboard actions copied into the warehouse: %s", counts)


def run_pipeline(
    settings: Settings,
    since: date | None = None,
    until: date | None = None,
    today: date | None = None,
    now: datetime | None = None,
) -> dict:
    """Run every stage under the current flow run; returns a summary.

    With `since`/`until` every source is fetched for those days (a backfill); without,
    each source runs incrementally up to `today` (default: today in the settings'
    timezone; `source_plan`). `now` is the case stages' clock (opening, SLA alerts, 回访
    planning and lists; default: the current time).
    """
    logger = get_run_logger()
    db_path = settings.db_path
    run_id = datetime.now().strftime("%Y%m%dT%H%M%S-") + uuid.uuid4().hex[:6]
    work_dir = settings.runs_dir / run_id
    work_dir.mkdir(parents=True, exist_ok=True)
    pruned = prune_run_folders(settings.runs_dir, settings.runs_keep_days, datetime.now(), run_id)
    if pruned.folders:
        logger.info(
            "removed %d run folders older than %d days (%.1f MB)",
            len(pruned.folders),
            settings.runs_keep_days,
            pruned.n_bytes / 1e6,
        )
    # A broken taxonomy file or a missing model fails the run before anything is crawled.
    stages = build_pipeline(settings)
    prints = fingerprints([*stages, THEME_SPEC])
    model_version = next(s.version for s in stages if s.name == "sentiment")
    mode = "incremental" if since is None and until is None else "backfill"
    plan = source_plan(settings, since, until, today)
    first_day = min((p[1] for p in plan), default=since)
    last_day = max((p[2] for p in plan), default=until)
    with warehouse(db_path) as con:
        loaders.start_run(con, run_id, "daily_ingest", first_day, last_day)
    logger.info("run %s (%s): %s..%s into %s", run_id, mode, first_day, last_day, db_path)
    status = "failed"
    source_errors = 0
    health_issues = 0
    try:
        futures = [
            (
                source,
                first,
                last,
                fetch_source.submit(source, first, last, work_dir, settings.author_salt, cursor),
            )
            for source, first, last, cursor in plan
        ]
        for source, first, last, future in futures:
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
            loaded = load_documents(
                db_path,
                fetched,
                run_id,
                settings.timezone,
                settings.mask_pii,
                settings.keep_raw_text,
            )
            _record(db_path, run_id, loaded)
            with warehouse(db_path) as con:
                issues = sources.record_source_run(
                    con, run_id, _source_run(source, first, last, mode, fetched, loaded)
                )
            for issue in issues:
                logger.warning("source health: %s (%s)", issue.message, issue.check)
            health_issues += len(issues)
        _record(db_path, run_id, link_customers(db_path))
        if settings.cluster.dask:
            # Imported here: a local run never loads distributed.
            from flows.dask_stages import run_stages_on_dask

            for result in run_stages_on_dask(settings, prints):
                _record(db_path, run_id, result)
        else:
            # Each stage starts as soon as the stages it reads from are done and one of
            # the `[cluster] stage_threads` slots is free (threads of the flow's task
            # runner; ONNX Runtime, the Rust segmenter and DuckDB release the GIL, so two
            # cores are used). Each reads and saves only its own results, so the outcome
            # is the same as one after the other.
            running: dict[str, PrefectFuture] = {}
            for stage in stages:
                upstream = [running[name] for name in stage.after if name in running]
                running[stage.name] = run_stage.submit(
                    settings, stage.name, prints, wait_for=upstream
                )
            for stage in stages:
                _record(db_path, run_id, running[stage.name].result())
        brands = frozenset(
            str(s.options["brand"]).lower() for s in settings.sources if s.options.get("brand")
        )
        _record(
            db_path,
            run_id,
            find_themes(db_path, prints, model_version, settings.theme_max_docs, run_id, brands),
        )
        _record(db_path, run_id, refresh_page_aggregates(db_path, model_version, settings.timezone))
        _record(db_path, run_id, refresh_customer_aggregates(db_path))
        params = DetectorParams(
            alpha=settings.spike_alpha,
            min_count=settings.spike_min_count,
            min_ratio=settings.spike_min_ratio,
        )
        _record(
            db_path,
            run_id,
            find_spikes(db_path, model_version, params, run_id, settings.timezone),
        )
        _record(db_path, run_id, deliver_alerts(db_path, settings.alerts))
        if first_day is not None and last_day is not None:
            opened = open_cases(
                db_path,
                store_url(settings),
                rules_config(settings.cases),
                {s.name: s.kind for s in settings.sources},
                model_version,
                first_day,
                last_day,
                settings.runs_dir,
                now,
            )
            _record(db_path, run_id, opened)
        if settings.cases.sla.policies:
            _record(
                db_path,
                run_id,
                deliver_sla_alerts(
                    db_path,
                    store_url(settings),
                    settings.alerts,
                    settings.cases.sla,
                    settings.cases.teams,
                    now,
                ),
            )
        # 回访: plan the day's calls (resolved cases, orders, periodic tiers), then send
        # each owner their list once; the case store being down never fails the run.
        _record(db_path, run_id, plan_followups_task(settings, now=now))
        _record(db_path, run_id, deliver_followup_lists_task(settings, now=now))
        status = "partial" if source_errors else "ok"
    finally:
        with warehouse(db_path) as con:
            loaders.finish_run(con, run_id, status)
            _sync_user_actions(con, db_path, logger)
        publish_snapshot(db_path)
        logger.info("run %s finished: %s; snapshot published", run_id, status)
        if settings.shared_parquet_dir:
            _publish_shared(settings, logger)
    return {
        "run_id": run_id,
        "status": status,
        "mode": mode,
        "since": str(first_day),
        "until": str(last_day),
        "source_errors": source_errors,
        "source_health_issues": health_issues,
    }


def _publish_shared(settings: Settings, logger) -> None:
    """Publish the shared Parquet warehouse; a failure leaves the previous export to its
    readers and never fails the run (the warehouse itself is complete)."""
    try:
        done = export_parquet(
            settings.db_path, settings.shared_parquet_dir, by=settings.shared_parquet_by
        )
    except Exception:
        logger.exception("shared warehouse %s not published", settings.shared_parquet_dir)
        return
    logger.info(
        "shared warehouse %s: export %s, %d partitions written, %d reused, %.1fs",
        settings.shared_parquet_dir,
        done.export_id,
        done.partitions_written,
        done.partitions_reused,
        done.seconds,
    )


@flow(name="voc-daily-ingest", log_prints=False)
def daily_ingest(
    since: date | None = None,
    until: date | None = None,
    config_path: str | None = None,
    db_path: str | None = None,
    demo_port: int | None = None,
    today: date | None = None,
    now: datetime | None = None,
) -> dict:
    """Ingest all configured sources: for [since, until] if given (a backfill), else
    incrementally from each source's watermark up to `today` (default: today; set it to
    replay a past day). `now`: the case stages' clock (default: the current time; ``voc
    demo`` opens its backlog at the demo team's install, `demo.cases`)."""
    settings = load_settings(config_path, db_path=db_path)
    if demo_port is not None:
        settings = settings.with_demo_port(demo_port)
    if since is not None and until is None:
        until = _today(settings)
    if until is not None and since is None:
        since = until - timedelta(days=settings.lookback_days)
    if since is not None and until is not None and since > until:
        raise ValueError(f"--since {since} is after --until {until}")
    return run_pipeline(settings, since, until, today, now)
