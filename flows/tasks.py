"""Prefect tasks: each a few lines around a library function. Tasks take paths and plain
values, never a DuckDB connection (unhashable, and not shareable across threads)."""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from nlp.pii import mask_documents
from nlp.pipeline import build_pipeline
from scrapers.fetch import fetch_documents
from signals.alert_run import deliver_events
from signals.spike_run import update_spikes
from signals.spikes import DetectorParams
from signals.theme_run import update_themes
from voc.alert_settings import AlertConfig
from voc.customers import SurveyResponse
from voc.memory import release_free_memory
from voc.records import Document, read_document_batches
from voc.response_times import MailReply
from voc.settings import Settings, SourceConfig
from warehouse import (
    aggregates,
    customer_aggregates,
    customers,
    enrichment,
    loaders,
    response_times,
    surveys,
)
from warehouse.db import warehouse

#: Documents masked and upserted per transaction by `load_documents`.
LOAD_BATCH = 50_000


@dataclass
class StageResult:
    """Counts one stage reports to the run log."""

    stage: str
    source: str = ""
    n_in: int = 0
    n_out: int = 0
    n_skipped: int = 0
    n_errors: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    #: Fetch only: the JSONL file of the fetched documents (read by the load in batches,
    #: so neither this task's result nor the flow holds a source's documents), how many,
    #: and the newest one's time.
    documents_path: Path | None = None
    newest: datetime | None = None
    #: Fetch only: survey responses' scores (their open answers are among `documents`).
    responses: list[SurveyResponse] = field(default_factory=list, repr=False)
    #: Fetch only: our replies to customers' mails (their first response times).
    replies: list[MailReply] = field(default_factory=list, repr=False)
    #: Fetch only: the connector's resume point, items with empty text, pages whose
    #: structure no longer matched, pages that were a login wall, captcha or rate limit.
    cursor: str | None = None
    empty_text: int = 0
    layout_changed: int = 0
    blocked: int = 0
    #: Fetch only: the first message of each kind of problem (blocked, layout_changed).
    examples: dict[str, str] = field(default_factory=dict)
    #: Load only: documents inserted, changed and already stored as they are.
    new: int = 0
    updated: int = 0
    unchanged: int = 0


@task(retries=2, retry_delay_seconds=3, cache_policy=NO_CACHE)
def fetch_source(
    source: SourceConfig,
    since: date,
    until: date,
    work_dir: Path,
    author_salt: str,
    cursor: str | None = None,
) -> StageResult:
    """Fetch one source's documents for [since, until] (a connector resumes from `cursor`);
    problems are reported, not raised."""
    logger = get_run_logger()
    started = time.perf_counter()
    got = fetch_documents(source, since, until, work_dir, author_salt, cursor)
    result = StageResult(
        "fetch",
        source.name,
        n_in=got.n_in,
        n_skipped=got.n_skipped,
        n_out=got.n_documents,
        problems=got.problems,
        documents_path=got.documents_path,
        newest=got.newest,
        cursor=got.cursor,
        empty_text=got.empty_text,
        layout_changed=got.layout_changed,
        blocked=got.blocked,
        examples=got.examples,
        responses=got.responses,
        replies=got.replies,
    )
    result.n_errors = len(result.problems)
    for problem in result.problems[:20]:
        logger.warning("%s", problem)
    logger.info(
        "%s: %d documents, %d skipped, %d problems%s",
        source.name,
        result.n_out,
        result.n_skipped,
        result.n_errors,
        f"; paging stopped: {got.stop_reason}" if got.stop_reason else "",
    )
    result.seconds = time.perf_counter() - started
    return result


@task(cache_policy=NO_CACHE)
def load_documents(
    db_path: Path,
    fetched: StageResult,
    run_id: str,
    timezone: str,
    mask_pii: bool = True,
    keep_raw_text: bool = False,
) -> StageResult:
    """Upsert one source's documents into raw_documents (personal data masked first), a
    survey's responses with their open answers, a mailbox's replies, and rebuild the
    source's response times (`warehouse.response_times`).

    The documents are read from the fetch's file `LOAD_BATCH` at a time, each batch in its
    own transaction: memory stays bounded whatever the source's size, and a load stopped
    half-way is completed by the next run (the source's watermark moves only after it).
    """
    started = time.perf_counter()
    new = updated = unchanged = 0
    masked: Counter[str] = Counter()
    doc_ids: list[str] = []
    # A survey's open answers are matched to its responses within one load: its documents
    # are read at once (a survey export is small).
    batch_size = sys.maxsize if fetched.responses else LOAD_BATCH
    batches = (
        read_document_batches(fetched.documents_path, fetched.source, batch_size)
        if fetched.documents_path is not None
        else iter(())
    )
    docs: list[Document] = []
    with warehouse(db_path) as con:
        for originals in batches:
            docs, found = mask_documents(originals) if mask_pii else (originals, Counter())
            masked.update(found)
            counts = loaders.upsert_documents(
                con, docs, run_id, timezone, originals=originals if keep_raw_text else None
            )
            new += counts.new
            updated += counts.updated
            unchanged += counts.unchanged
            doc_ids.extend(d.id for d in docs)
        # `docs`: a survey's documents, all in the one batch (see batch_size).
        scored = surveys.upsert_survey_responses(con, fetched.responses, docs, run_id, timezone)
        response_times.upsert_mail_replies(con, fetched.replies, run_id)
        timed = response_times.refresh_response_times(
            con,
            doc_ids=doc_ids,
            reply_refs=[ref for reply in fetched.replies for ref in reply.refs],
        )
    if fetched.responses:
        get_run_logger().info(
            "%s: survey responses %d new, %d updated, %d unchanged, %d without a customer "
            "key; %d open answers",
            fetched.source,
            scored.new,
            scored.updated,
            scored.unchanged,
            scored.unlinked,
            scored.answers,
        )
    get_run_logger().info(
        "%s: %d new, %d updated, %d unchanged; personal data masked: %s; %d replies, "
        "%d response times",
        fetched.source,
        new,
        updated,
        unchanged,
        dict(masked) or "none",
        len(fetched.replies),
        timed,
    )
    return StageResult(
        "load",
        fetched.source,
        n_in=len(doc_ids),
        n_out=new + updated,
        n_skipped=unchanged,
        seconds=time.perf_counter() - started,
        new=new,
        updated=updated,
        unchanged=unchanged,
    )


@task(cache_policy=NO_CACHE)
def link_customers(db_path: Path) -> StageResult:
    """Link the voices to imported customers (full after a customer import, else new ones)."""
    with warehouse(db_path) as con:
        linked = customers.link_documents(con)
    get_run_logger().info(
        "customers: %d of %d documents linked (%s), %d survey responses",
        linked.n_linked_total,
        linked.n_documents,
        "full rebuild" if linked.full else f"{linked.n_linked} new",
        linked.n_responses_linked,
    )
    return StageResult(
        "customers", n_in=linked.n_documents, n_out=linked.n_linked, seconds=linked.seconds
    )


@lru_cache(maxsize=8)
def _stage_slots(n: int) -> threading.BoundedSemaphore:
    """The process-wide slots for stages side by side (one semaphore per configured count)."""
    return threading.BoundedSemaphore(n)


@task(cache_policy=NO_CACHE)
def run_stage(settings: Settings, name: str, prints: dict[str, str]) -> StageResult:
    """Run one enrichment stage over every document pending for it, batch by batch.

    At most ``[cluster] stage_threads`` stages run at once (each holds a batch and its
    results); the others wait for a slot.
    """
    logger = get_run_logger()
    stage = next(s for s in build_pipeline(settings) if s.name == name)

    def progress(done: int, total: int) -> None:
        # The batch's strings are garbage now: hand the pages back before the next one.
        release_free_memory()
        logger.info("%s (%s): %d/%d", name, stage.version, done, total)

    with _stage_slots(settings.cluster.local_stage_threads):
        started = time.perf_counter()
        with warehouse(settings.db_path) as con:
            saved = enrichment.run_stage(
                con, stage, prints, progress, settings.cluster.partition_docs
            )
    return StageResult(
        name, n_in=saved.n_docs, n_out=saved.n_records, seconds=time.perf_counter() - started
    )


@task(cache_policy=NO_CACHE)
def find_themes(
    db_path: Path,
    prints: dict[str, str],
    model_version: str,
    max_docs: int,
    run_id: str,
    brands: frozenset[str],
) -> StageResult:
    """Assign new documents to the tracked themes, let new themes be born, merge close ones,
    and refresh every theme's label, size, negativity and lifecycle state."""
    started = time.perf_counter()
    update = update_themes(db_path, prints, model_version, max_docs, run_id, brands)
    logger = get_run_logger()
    for event in update.events:
        logger.info(
            "theme %s %s%s (%d documents)",
            event.theme_id,
            event.event,
            f" into {event.other_theme_id}" if event.other_theme_id else "",
            event.n_docs,
        )
    logger.info(
        "%d live themes; %d of %d new documents assigned",
        update.n_live,
        update.n_assigned,
        update.n_candidates,
    )
    return StageResult(
        "themes",
        n_in=update.n_candidates,
        n_out=update.n_assigned,
        n_skipped=update.n_candidates - update.n_assigned,
        seconds=time.perf_counter() - started,
    )


@task(cache_policy=NO_CACHE)
def refresh_page_aggregates(db_path: Path, model_version: str, timezone: str) -> StageResult:
    """Bring the dashboard's daily aggregates up to date (only the days that changed)."""
    with warehouse(db_path) as con:
        result = aggregates.refresh_aggregates(con, model_version, timezone)
    get_run_logger().info(
        "page aggregates: %s, %d days recomputed in %.1fs",
        "full rebuild" if result.full else "incremental",
        result.n_days,
        result.seconds,
    )
    return StageResult(
        "aggregates", n_in=result.n_days, n_out=sum(result.rows.values()), seconds=result.seconds
    )


@task(cache_policy=NO_CACHE)
def refresh_customer_aggregates(db_path: Path) -> StageResult:
    """Rebuild the 客户 page's voices-per-customer and survey-mention tables."""
    with warehouse(db_path) as con:
        result = customer_aggregates.refresh_customer_aggregates(con)
    return StageResult(
        "customer_aggregates", n_in=result.n_voice_rows, n_out=result.n_mentions,
        seconds=result.seconds,
    )  # fmt: skip


@task(cache_policy=NO_CACHE)
def find_spikes(
    db_path: Path,
    model_version: str,
    params: DetectorParams,
    run_id: str,
    timezone: str,
    full: bool = False,
) -> StageResult:
    """Spikes v2 over every source, category, theme and aspect (daily; social sources also
    hourly), each episode explained by what grew against its baseline; only changed periods
    are judged again unless `full`."""
    started = time.perf_counter()
    update = update_spikes(db_path, model_version, params, run_id, timezone, full=full)
    logger = get_run_logger()
    for ep, explanation in update.explained:
        logger.info(
            "spike %s %s=%s %s %s..%s observed %.2f expected %.2f (%s); drivers: %s",
            ep.episode_id,
            ep.key[0],
            ep.key[1],
            ep.metric,
            ep.start,
            ep.end,
            ep.peak.observed,
            ep.peak.expected,
            ep.severity,
            ", ".join(d.value for d in (explanation.themes + explanation.phrases)[:4]),
        )
    return StageResult(
        "spikes",
        n_in=update.n_series,
        n_out=len(update.explained),
        seconds=time.perf_counter() - started,
    )


@task(cache_policy=NO_CACHE)
def deliver_alerts(db_path: Path, config: AlertConfig, max_age_days: int = 3) -> StageResult:
    """Send each recent spike event once to its routed channels (WeCom, DingTalk, Feishu,
    Slack, webhook, e-mail); failures are retried, recorded, and retried next run."""
    started = time.perf_counter()
    update = deliver_events(db_path, config, max_age_days)
    logger = get_run_logger()
    if config.channels:
        logger.info("alerts: %d events, deliveries %s", update.n_events, update.counts)
    for r in update.failed:
        logger.warning("alert %s to %s failed: %s", r.alert_id, r.channel, r.error)
    return StageResult(
        "alerts",
        n_in=update.n_events,
        n_out=update.counts.get("sent", 0),
        n_skipped=update.counts.get("skipped", 0) + update.counts.get("held", 0),
        n_errors=len(update.failed),
        problems=[f"alerts: {r.channel}: {r.error}" for r in update.failed],
        seconds=time.perf_counter() - started,
    )
