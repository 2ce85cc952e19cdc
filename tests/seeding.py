"""Seeding a test warehouse with enrichment results through the one saving path
(`warehouse.enrichment.save_results`), as the stages would write them, without running
their models: hand-chosen labels make hand-checked expectations possible."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import duckdb

from nlp.aspects import AspectSentiment, strongest_by_aspect
from nlp.stages import aspects, emotion, neardup, normalise, segment, sentiment, taxonomy
from nlp.stages.records import (
    AspectOpinion,
    CategoryTag,
    DocTokens,
    EmotionScore,
    NormalisedText,
    SentimentScore,
)
from voc.stages import Output, StageDoc, StageSpec
from warehouse import loaders
from warehouse.enrichment import save_results

NORMALISE = normalise.OUTPUT
TOKENS = segment.OUTPUT
CATEGORIES = taxonomy.OUTPUT
GROUPS = neardup.OUTPUT
SENTIMENT = sentiment.OUTPUT
EMOTION = emotion.OUTPUT
ASPECTS = aspects.OUTPUT


def _docs(con: duckdb.DuckDBPyConnection, ids: Sequence[str]) -> list[StageDoc]:
    rows = con.execute(
        "SELECT r.id, r.channel, r.content_hash, r.created_at, r.local_day, r.text "
        "FROM raw_documents r WHERE list_contains(?, r.id)",
        [list(dict.fromkeys(ids))],
    ).fetchall()
    return [StageDoc(*row) for row in rows]


def save(
    con: duckdb.DuckDBPyConnection,
    name: str,
    version: str,
    output: Output,
    records: Sequence,
    ids: Iterable[str] | None = None,
) -> int:
    """Save `records` as stage `name` of `version` would; returns rows written.

    Raises:
        ValueError: a document is not in raw_documents (its results would silently not be
            written: the state row joins it).
    """
    spec = StageSpec(name, version, outputs=(output,))
    ids = list(ids) if ids is not None else [r.doc_id for r in records]
    docs = _docs(con, ids)
    missing = sorted(set(ids) - {d.doc_id for d in docs})
    if missing:
        raise ValueError(f"seeding {name}: no raw document {', '.join(missing)}")
    saved = save_results(con, spec, {name: f"seed-{version}"}, docs, records)
    return saved.n_records


def save_doc_texts(con: duckdb.DuckDBPyConnection, rows: Iterable[tuple[str, str, str]]) -> int:
    """(doc_id, normalised text, hash) → doc_texts; returns the duplicates now marked."""
    save(con, "normalise", "normalise-v1", NORMALISE, [NormalisedText(*r) for r in rows])
    return loaders.count_duplicates(con)


def save_tokens(con: duckdb.DuckDBPyConnection, rows: Iterable[tuple[str, Sequence[str]]]) -> int:
    """(doc_id, tokens) → doc_tokens; returns rows written."""
    return save(con, "segment", "seed", TOKENS, [DocTokens(d, tuple(t)) for d, t in rows])


def save_sentiment(
    con: duckdb.DuckDBPyConnection, rows: Iterable[tuple[str, str, float]], model_version: str
) -> int:
    """(doc_id, label, score) of one model → doc_sentiment; returns rows written."""
    records = list({r[0]: SentimentScore(*r) for r in rows}.values())
    return save(con, "sentiment", model_version, SENTIMENT, records)


def save_emotions(
    con: duckdb.DuckDBPyConnection,
    rows: Iterable[tuple[str, str, float, float]],
    model_version: str,
) -> int:
    """(doc_id, label, score, anger) of one model → doc_emotion; returns rows written."""
    records = list({r[0]: EmotionScore(*r) for r in rows}.values())
    return save(con, "emotion", model_version, EMOTION, records)


def save_aspects(
    con: duckdb.DuckDBPyConnection,
    rows: Iterable[tuple[str, Sequence[AspectSentiment]]],
    model_version: str,
) -> int:
    """(doc_id, mentions) of one model → doc_aspects (strongest per aspect)."""
    latest = {doc_id: list(mentions) for doc_id, mentions in rows}
    records = [
        AspectOpinion(d, m.aspect, m.polarity, m.score, m.confidence, m.clause)
        for d, mentions in latest.items()
        for m in strongest_by_aspect(mentions)
    ]
    return save(con, "aspects", model_version, ASPECTS, records, ids=latest)


def save_categories(
    con: duckdb.DuckDBPyConnection, rows: Iterable[tuple[str, Sequence]], version: str
) -> int:
    """(doc_id, `nlp.taxonomy.CategoryMatch` list) → doc_categories; returns rows."""
    latest = {doc_id: list(matches) for doc_id, matches in rows}
    records = [
        CategoryTag(d, m.category, m.matched_by, m.evidence, m.score)
        for d, matches in latest.items()
        for m in matches
    ]
    return save(con, "taxonomy", version, CATEGORIES, records, ids=latest)
