"""Prefect tasks: each a few lines around a library function. Tasks take paths and plain
values, never a DuckDB connection (unhashable, and not shareable across threads)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from nlp.aspects import AspectModel, load_aspect_model
from nlp.emotion import EmotionModel, load_emotion_model
from nlp.explain import Explanation, explain_spike
from nlp.normalize import normalize_documents
from nlp.segment import Segmenter
from nlp.sentiment import SentimentModel, load_sentiment_model
from nlp.spikes import DetectorParams, Episode, detect_episodes
from nlp.taxonomy import load_taxonomy
from nlp.theme_tracker import split_themes, track_themes
from nlp.themes import default_theme_stopwords
from notify.deliver import count_statuses, deliver
from notify.spikes import event_message, recent_events
from voc.alert_settings import AlertConfig
from voc.records import Document, document_id, read_documents_jsonl
from voc.settings import SourceConfig
from warehouse import aggregates, deliveries, loaders, neardup, themes
from warehouse import aspects as warehouse_aspects
from warehouse import emotion as warehouse_emotion
from warehouse import spikes as spikes_store
from warehouse import taxonomy as warehouse_taxonomy
from warehouse.db import warehouse


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
    documents: list[Document] = field(default_factory=list, repr=False)
    #: Fetch only: the connector's resume point, items with empty text, pages whose
    #: structure no longer matched, pages that were a login wall, captcha or rate limit.
    cursor: str | None = None
    empty_text: int = 0
    layout_changed: int = 0
    blocked: int = 0
    #: Load only: documents inserted, changed and already stored as they are.
    new: int = 0
    updated: int = 0
    unchanged: int = 0


@lru_cache(maxsize=4)
def _segmenter(user_dicts: tuple[Path, ...], stopwords: tuple[Path, ...]) -> Segmenter:
    return Segmenter(user_dicts, stopwords)


@lru_cache(maxsize=2)
def _sentiment_model(model_dir: Path | None, int8: bool) -> SentimentModel:
    return load_sentiment_model(model_dir, int8=int8)


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
    from scrapers.connectors import CONNECTORS, load_source
    from scrapers.run import run_crawl

    logger = get_run_logger()
    started = time.perf_counter()
    result = StageResult("fetch", source.name)
    if source.kind in CONNECTORS:
        load = load_source(source, since, until, author_salt, cursor)
        result.documents = load.documents
        result.problems = list(load.problems)
        result.n_in, result.n_skipped = load.n_rows, load.n_skipped
        result.cursor = load.cursor
    else:
        crawl = run_crawl(source, since, until, work_dir, author_salt)
        docs, bad_lines = read_documents_jsonl(crawl.jsonl_path, source.name)
        result.documents = docs
        result.problems = list(crawl.problems) + bad_lines
        stats = crawl.stats
        result.n_skipped = len(bad_lines) + sum(
            int(stats.get(k, 0)) for k in ("voc/parse_error", "voc/invalid_item")
        )
        result.n_in = len(docs) + result.n_skipped
        result.empty_text = int(stats.get("voc/empty_text", 0))
        result.layout_changed = int(stats.get("voc/layout_changed", 0))
        result.blocked = sum(
            int(stats.get(k, 0)) for k in ("voc/login_required", "voc/error_page", "voc/site_error")
        )
    result.n_out = len(result.documents)
    result.n_errors = len(result.problems)
    for problem in result.problems[:20]:
        logger.warning("%s", problem)
    logger.info(
        "%s: %d documents, %d skipped, %d problems",
        source.name,
        result.n_out,
        result.n_skipped,
        result.n_errors,
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
    """Upsert one source's documents into raw_documents (personal data masked first)."""
    started = time.perf_counter()
    with warehouse(db_path) as con:
        counts = loaders.upsert_documents(
            con, fetched.documents, run_id, timezone, mask=mask_pii, keep_raw_text=keep_raw_text
        )
    get_run_logger().info(
        "%s: %d new, %d updated, %d unchanged; personal data masked: %s",
        fetched.source,
        counts.new,
        counts.updated,
        counts.unchanged,
        dict(counts.masked) or "none",
    )
    return StageResult(
        "load",
        fetched.source,
        n_in=len(fetched.documents),
        n_out=counts.new + counts.updated,
        n_skipped=counts.unchanged,
        seconds=time.perf_counter() - started,
        new=counts.new,
        updated=counts.updated,
        unchanged=counts.unchanged,
    )


@task(cache_policy=NO_CACHE)
def normalise_documents(db_path: Path) -> StageResult:
    """Normalise every document not yet normalised and mark exact duplicates."""
    started = time.perf_counter()
    with warehouse(db_path) as con:
        rows = loaders.select_unnormalised(con)
        normalised = normalize_documents(rows)
        before = loaders.count_duplicates(con)
        duplicates = loaders.save_doc_texts(
            con, [(n.doc_id, n.text, n.norm_hash) for n in normalised]
        )
    new_dups = duplicates - before
    get_run_logger().info("normalised %d documents, %d exact duplicates", len(rows), new_dups)
    return StageResult(
        "normalise",
        n_in=len(rows),
        n_out=len(rows) - new_dups,
        n_skipped=new_dups,
        seconds=time.perf_counter() - started,
    )


@task(cache_policy=NO_CACHE)
def group_near_duplicates(db_path: Path, window_days: int = 60) -> StageResult:
    """Group reposts and copy-paste campaigns into voices (`nlp.neardup`); a new document
    can join a voice with documents from the last `window_days` days."""
    started = time.perf_counter()
    with warehouse(db_path) as con:
        rows = neardup.select_ungrouped(con)
        newest = con.execute("SELECT max(local_day) FROM raw_documents").fetchone()[0]
        since = newest - timedelta(days=window_days) if newest else None
        index = neardup.load_index(con, since=since)
        assignments = index.add_many(rows)
        neardup.save_groups(con, assignments)
    joined = sum(1 for a in assignments if a.group_id != a.doc_id)
    get_run_logger().info(
        "grouped %d documents: %d joined an existing voice", len(assignments), joined
    )
    return StageResult(
        "group",
        n_in=len(rows),
        n_out=len(assignments) - joined,
        n_skipped=joined,
        seconds=time.perf_counter() - started,
    )


@task(cache_policy=NO_CACHE)
def segment_documents(
    db_path: Path, user_dicts: tuple[Path, ...], stopwords: tuple[Path, ...]
) -> StageResult:
    """Segment every distinct, not yet segmented document with jieba."""
    started = time.perf_counter()
    segmenter = _segmenter(user_dicts, stopwords)
    with warehouse(db_path) as con:
        rows = loaders.select_unsegmented(con)
        token_lists = segmenter.segment_many(text for _, text in rows)
        written = loaders.save_tokens(con, zip((r[0] for r in rows), token_lists, strict=True))
    get_run_logger().info("segmented %d documents", written)
    return StageResult(
        "segment", n_in=len(rows), n_out=written, seconds=time.perf_counter() - started
    )


@task(cache_policy=NO_CACHE)
def tag_categories(db_path: Path, taxonomy_path: Path | None) -> StageResult:
    """Tag documents with the curated complaint categories; a changed taxonomy re-tags all
    stored history from the normalised texts."""
    started = time.perf_counter()
    taxonomy = load_taxonomy(taxonomy_path)
    with warehouse(db_path) as con:
        counts = warehouse_taxonomy.retag(con, taxonomy)
    get_run_logger().info(
        "taxonomy %s: tagged %d documents (%d with a category)%s",
        counts.taxonomy_version,
        counts.n_docs,
        counts.n_categorised,
        f"; re-tagged all history (was {', '.join(counts.previous_versions)})"
        if counts.full and counts.previous_versions
        else "",
    )
    return StageResult(
        "taxonomy",
        n_in=counts.n_docs,
        n_out=counts.n_categorised,
        n_skipped=counts.n_removed,
        seconds=time.perf_counter() - started,
    )


@lru_cache(maxsize=2)
def _aspect_model(model_dir: Path | None) -> AspectModel:
    return load_aspect_model(model_dir)


@task(cache_policy=NO_CACHE)
def score_aspects(db_path: Path, model_dir: Path | None, batch: int = 5000) -> StageResult:
    """Aspect-level sentiment (物流 positive, 商品质量 negative...) of every distinct document
    this model has not read."""
    started = time.perf_counter()
    model = _aspect_model(model_dir)
    with warehouse(db_path) as con:
        rows = warehouse_aspects.select_unscored_aspects(con, model.version)
    written = 0
    for i in range(0, len(rows), batch):
        chunk = rows[i : i + batch]
        found = model.extract_many([text for _, text in chunk])
        with warehouse(db_path) as con:
            written += warehouse_aspects.save_aspects(
                con, zip([d for d, _ in chunk], found, strict=True), model.version
            )
    get_run_logger().info("aspects of %d documents with %s", len(rows), model.version)
    return StageResult(
        "aspects", n_in=len(rows), n_out=written, seconds=time.perf_counter() - started
    )


@task(cache_policy=NO_CACHE)
def score_sentiment(
    db_path: Path, model_dir: Path | None, int8: bool = True
) -> tuple[StageResult, str]:
    """Score every distinct document that this model version has not scored yet."""
    started = time.perf_counter()
    model = _sentiment_model(model_dir, int8)
    with warehouse(db_path) as con:
        rows = loaders.select_unscored(con, model.version)
    results = model.predict([text for _, text in rows]) if rows else []
    with warehouse(db_path) as con:
        written = loaders.save_sentiment(
            con,
            [(doc_id, r.label, r.score) for (doc_id, _), r in zip(rows, results, strict=True)],
            model.version,
        )
    get_run_logger().info("scored %d documents with %s", written, model.version)
    return (
        StageResult(
            "sentiment", n_in=len(rows), n_out=written, seconds=time.perf_counter() - started
        ),
        model.version,
    )


@lru_cache(maxsize=2)
def _emotion_model(model_dir: Path | None) -> EmotionModel:
    return load_emotion_model(model_dir)


@task(cache_policy=NO_CACHE)
def score_emotions(db_path: Path, model_dir: Path | None) -> StageResult:
    """Emotion (anger, sadness, fear, joy, surprise, neutral) of every distinct social post
    this model has not scored."""
    started = time.perf_counter()
    model = _emotion_model(model_dir)
    with warehouse(db_path) as con:
        rows = warehouse_emotion.select_unscored_emotion(con, model.version)
    results = model.predict([text for _, text in rows]) if rows else []
    with warehouse(db_path) as con:
        written = warehouse_emotion.save_emotions(
            con,
            [(d, r.label, r.score, r.anger) for (d, _), r in zip(rows, results, strict=True)],
            model.version,
        )
    get_run_logger().info("emotion of %d social posts with %s", written, model.version)
    return StageResult(
        "emotion", n_in=len(rows), n_out=written, seconds=time.perf_counter() - started
    )


@task(cache_policy=NO_CACHE)
def find_themes(
    db_path: Path, model_version: str, max_docs: int, run_id: str, brands: frozenset[str]
) -> StageResult:
    """Assign new documents to the tracked themes, let new themes be born, merge close ones,
    and refresh every theme's label, size, negativity and lifecycle state."""
    started = time.perf_counter()
    exclude = default_theme_stopwords() | brands
    with warehouse(db_path) as con:
        df = themes.idf_sample(con)
    events: list = []
    n_candidates = n_assigned = 0
    # Track, then split; a split theme may take documents nothing took before, so track
    # again until no split happens: a re-run of the same data then has nothing to do.
    for _ in range(3):
        with warehouse(db_path) as con:
            existing = themes.load_tracked_themes(con)
            candidates = themes.select_theme_candidates(con, model_version, 180, max_docs)
        result = track_themes(existing, candidates, [], run_id, exclude=exclude, df=df)
        n_candidates = max(n_candidates, len(candidates))
        n_assigned += len(result.assignments)
        with warehouse(db_path) as con:
            themes.save_tracking(con, result, run_id)
            members = themes.theme_members(con)
            live = themes.load_tracked_themes(con)
        split = split_themes(live, members, run_id, exclude=exclude, df=df)
        events += result.events + split.events
        if not split.events:
            break
        with warehouse(db_path) as con:
            themes.save_tracking(con, split, run_id)
    with warehouse(db_path) as con:
        n_live = themes.refresh_theme_stats(con, model_version, run_id, exclude=exclude)
    logger = get_run_logger()
    for event in events:
        logger.info(
            "theme %s %s%s (%d documents)",
            event.theme_id,
            event.event,
            f" into {event.other_theme_id}" if event.other_theme_id else "",
            event.n_docs,
        )
    logger.info("%d live themes; %d of %d new documents assigned", n_live, n_assigned, n_candidates)
    return StageResult(
        "themes",
        n_in=n_candidates,
        n_out=n_assigned,
        n_skipped=n_candidates - n_assigned,
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
def find_spikes(
    db_path: Path, model_version: str, params: DetectorParams, run_id: str, timezone: str
) -> StageResult:
    """Spikes v2 over every source, category, theme and aspect (daily; social sources also
    hourly), each episode explained by what grew against its baseline."""
    started = time.perf_counter()
    with warehouse(db_path) as con:
        loaders.refresh_daily_source_stats(con, model_version)
        series = spikes_store.daily_series(con, model_version)
        hourly = spikes_store.hourly_series(con, model_version, timezone)
    episodes = detect_episodes(series, params) + detect_episodes(hourly)
    explained = []
    with warehouse(db_path) as con:
        for ep in episodes:
            peak = ep.peak
            spike = spikes_store.explain_docs(
                con, ep.key, ep.start, ep.end, model_version, timezone
            )
            base = spikes_store.explain_docs(
                con, ep.key, peak.baseline_start, peak.baseline_end, model_version, timezone
            )
            explained.append((ep, explain_spike(spike, base)))
        spikes_store.save_episodes(con, explained, run_id)
        labels = {
            label: (theme_id, list(keywords))
            for theme_id, label, keywords in con.execute(
                "SELECT theme_id, label, keywords FROM tracked_themes WHERE merged_into IS NULL"
            ).fetchall()
        }
        loaders.replace_spike_alerts(con, _day_alerts(explained, labels, params), run_id)
    logger = get_run_logger()
    for ep, explanation in explained:
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
        n_in=len(series) + len(hourly),
        n_out=len(episodes),
        seconds=time.perf_counter() - started,
    )


def _day_alerts(
    explained: list[tuple[Episode, Explanation]],
    labels: dict[str, tuple[str, list[str]]],
    params: DetectorParams,
) -> list[dict]:
    """The per-day rows of `spike_alerts` (what the dashboard's trend marks): each alerted
    day of a daily source episode, named by the theme that grew most."""
    rows = []
    for ep, explanation in explained:
        if ep.key[0] != "source" or ep.granularity != "day":
            continue
        driver = explanation.themes[0] if explanation.themes else None
        theme_id, keywords = labels.get(driver.value, (None, [])) if driver else (None, [])
        for alert in ep.alerts:
            rows.append(
                {
                    "alert_id": document_id(ep.key[1], f"{alert.period_start}|{ep.metric}"),
                    "source": ep.key[1],
                    "local_day": alert.period_start,
                    "metric": ep.metric,
                    "observed": alert.observed,
                    "expected": alert.expected,
                    "ratio": alert.ratio,
                    "z_score": alert.statistic,
                    "baseline_days": params.level_periods,
                    "theme_id": theme_id,
                    "theme_label": driver.value if driver else None,
                    "theme_keywords": keywords or None,
                    "theme_doc_count": driver.spike_docs if driver else None,
                }
            )
    return rows


@task(cache_policy=NO_CACHE)
def deliver_alerts(db_path: Path, config: AlertConfig, max_age_days: int = 3) -> StageResult:
    """Send each recent spike event once to its routed channels (WeCom, DingTalk, Feishu,
    Slack, webhook, e-mail); failures are retried, recorded, and retried next run."""
    started = time.perf_counter()
    if not config.channels:
        return StageResult("alerts", seconds=time.perf_counter() - started)
    with warehouse(db_path) as con:
        episodes = spikes_store.spike_episodes(con, limit=1000)
        newest = con.execute("SELECT max(local_day) FROM raw_documents").fetchone()[0]
        labels = dict(con.execute("SELECT theme_id, label FROM tracked_themes").fetchall())
        sent = deliveries.delivered_pairs(con)
    if newest is None:
        return StageResult("alerts", seconds=time.perf_counter() - started)
    events = recent_events(episodes, datetime.combine(newest, datetime.min.time()), max_age_days)
    messages = [event_message(g, labels, config.dashboard_url) for g in events]
    results = deliver(messages, config, sent, datetime.now(UTC))
    with warehouse(db_path) as con:
        deliveries.save_deliveries(con, results)
    counts = count_statuses(results)
    logger = get_run_logger()
    logger.info("alerts: %d events, deliveries %s", len(messages), counts)
    failed = [r for r in results if r.status == "failed"]
    for r in failed:
        logger.warning("alert %s to %s failed: %s", r.alert_id, r.channel, r.error)
    return StageResult(
        "alerts",
        n_in=len(messages),
        n_out=counts.get("sent", 0),
        n_skipped=counts.get("skipped", 0) + counts.get("held", 0),
        n_errors=len(failed),
        problems=[f"alerts: {r.channel}: {r.error}" for r in failed],
        seconds=time.perf_counter() - started,
    )
