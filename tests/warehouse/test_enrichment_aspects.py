"""The aspect stage through `warehouse.enrichment` on a real DuckDB file: what gets read,
idempotent saves, bad model output, day counts, summary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from nlp.aspects import AspectSentiment, load_aspect_model
from nlp.stages.aspects import AspectStage
from nlp.stages.normalise import NormaliseStage
from tests.seeding import save_aspects
from voc.records import make_document
from voc.stages import fingerprints
from warehouse import loaders
from warehouse.aspects import aspect_day_counts, aspect_summary
from warehouse.db import open_warehouse
from warehouse.enrichment import run_stage, save_results, select_pending

TZ = timezone(timedelta(hours=8))
START = datetime(2025, 8, 10, 9, 0, tzinfo=TZ)
V1, V2 = "aspects-default-v1+aaaaaaaa", "aspects-default-v1+bbbbbbbb"
NORMALISE = NormaliseStage()


def _m(aspect: str, polarity: str, clause: str, confidence: float = 0.9) -> AspectSentiment:
    score = {"negative": 0.1, "neutral": 0.5, "positive": 0.9}[polarity]
    return AspectSentiment(aspect, polarity, clause, score, confidence)


@dataclass(frozen=True)
class CannedModel:
    """An aspect model that answers hand-chosen mentions per normalised text."""

    version: str
    mentions: Mapping[str, Sequence[AspectSentiment]] = field(default_factory=dict)

    def extract_many(self, texts: Sequence[str]) -> list[list[AspectSentiment]]:
        return [list(self.mentions.get(t, ())) for t in texts]


def _stage(model) -> tuple[AspectStage, dict[str, str]]:
    stage = AspectStage(model)
    return stage, fingerprints([NORMALISE, stage])


@pytest.fixture(scope="module")
def model():
    return load_aspect_model()


@pytest.fixture()
def con(tmp_path: Path, new_warehouse):
    c = open_warehouse(new_warehouse(tmp_path / "w.duckdb"))
    yield c
    c.close()


def _land(
    con: duckdb.DuckDBPyConnection, rows: list[tuple[str, str, int]], source: str = "shop"
) -> list[str]:
    """Land (external_id, text, day offset from START) with their normalised texts."""
    docs = [
        make_document(
            source=source,
            channel="review",
            external_id=ext,
            text=text,
            created_at=START + timedelta(days=days, minutes=i),
        )
        for i, (ext, text, days) in enumerate(rows)
    ]
    loaders.upsert_documents(con, docs, "r1")
    run_stage(con, NORMALISE, fingerprints([NORMALISE]))
    return [d.id for d in docs]


def _rows(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(
        "SELECT doc_id, aspect, polarity, score, clause, model_version FROM doc_aspects "
        "ORDER BY ALL"
    ).fetchall()


def _pending(con: duckdb.DuckDBPyConnection, model) -> list[tuple[str, str]]:
    return [(d.doc_id, d.text_norm) for d in select_pending(con, *_stage(model))]


def test_migration_keys_doc_aspects_by_document_aspect_and_model(con) -> None:
    insert = "INSERT INTO doc_aspects VALUES ('d', ?, 'negative', 0.1, 0.9, 'c', ?, now())"
    con.execute(insert, ["物流", "v"])
    con.execute(insert, ["价格", "v"])
    con.execute(insert, ["物流", "w"])
    with pytest.raises(duckdb.ConstraintException):
        con.execute(insert, ["物流", "v"])


def test_pending_are_distinct_documents_this_model_has_not_read(con, model) -> None:
    a, b, copy = _land(con, [("1", "物流太慢", 0), ("2", "东西收到了", 0), ("3", "物流太慢", 0)])
    assert _pending(con, model) == [(a, "物流太慢"), (b, "东西收到了")]
    assert run_stage(con, *_stage(model)).rows == {"doc_aspects": 1}
    assert [(r[0], r[1], r[2]) for r in _rows(con)] == [(a, "物流", "negative")]
    # A document without any aspect is read once too: it is not offered again.
    assert _pending(con, model) == []
    scored = con.execute("SELECT doc_id, n_aspects FROM doc_aspects_scored ORDER BY ALL")
    assert scored.fetchall() == sorted([(a, 1), (b, 0)])
    other = CannedModel(V2)
    assert copy not in dict(_pending(con, other))
    assert sorted(d for d, _ in _pending(con, other)) == sorted([a, b])


def test_a_rewritten_text_is_read_again(con, model) -> None:
    [a] = _land(con, [("1", "物流太慢", 0)])
    run_stage(con, *_stage(model))
    assert [(r[1], r[2]) for r in _rows(con)] == [("物流", "negative")]
    _land(con, [("1", "物流很快，包装也好", 0)])  # the same review, edited
    assert _pending(con, model) == [(a, "物流很快,包装也好")]
    assert run_stage(con, *_stage(model)).n_docs == 1
    assert [(r[1], r[2]) for r in _rows(con)] == [("包装", "positive"), ("物流", "positive")]


def test_save_keeps_one_row_per_aspect_preferring_a_negative_mention(con) -> None:
    [a] = _land(con, [("1", "x", 0)])
    mentions = [
        _m("物流", "positive", "物流很快", 0.99),
        _m("物流", "negative", "快递员态度差", 0.6),
        _m("物流", "negative", "快递员还骂人", 0.8),
        _m("价格", "neutral", "价格一般", 0.7),
    ]
    assert run_stage(con, *_stage(CannedModel(V1, {"x": mentions}))).n_records == 2
    assert _rows(con) == [
        (a, "价格", "neutral", 0.5, "价格一般", V1),
        (a, "物流", "negative", 0.1, "快递员还骂人", V1),
    ]


def test_saving_again_is_idempotent_and_a_new_result_replaces_the_old(con) -> None:
    a, b = _land(con, [("1", "x", 0), ("2", "y", 0)])
    canned = CannedModel(
        V1, {"x": [_m("物流", "negative", "old")], "y": [_m("价格", "positive", "便宜")]}
    )
    stage, prints = _stage(canned)
    batch = select_pending(con, stage, prints)
    records = stage.enrich(batch)
    save_results(con, stage, prints, batch, records)
    first = _rows(con)
    save_results(con, stage, prints, batch, records)
    assert _rows(con) == first
    assert [(r[0], r[1]) for r in first] == sorted([(a, "物流"), (b, "价格")])
    # A document saved again with other aspects keeps only the new ones.
    newer = CannedModel(V1, {"x": [_m("包装", "negative", "new")]})
    save_results(con, stage, prints, batch[:1], AspectStage(newer).enrich(batch[:1]))
    assert [(r[0], r[1]) for r in _rows(con)] == sorted([(a, "包装"), (b, "价格")])
    # Another model's rows live beside them.
    run_stage(con, *_stage(CannedModel(V2, {"x": [_m("物流", "negative", "old")]})))
    assert len(_rows(con)) == 3


def test_an_invalid_result_is_named_and_nothing_is_written(con) -> None:
    a, b = _land(con, [("1", "x", 0), ("2", "y", 0)])
    bad = AspectSentiment("物流", "negative", "c", float("nan"), 0.5)
    canned = CannedModel(V1, {"x": [_m("价格", "positive", "便宜")], "y": [bad]})
    with pytest.raises(ValueError, match=rf"物流 of document {b}: score nan"):
        run_stage(con, *_stage(canned))
    angry = CannedModel(V1, {"x": [AspectSentiment("物流", "angry", "c", 0.1, 0.5)]})
    with pytest.raises(ValueError, match=rf"document {a}: polarity 'angry'"):
        run_stage(con, *_stage(angry))
    assert _rows(con) == []
    assert len(_pending(con, canned)) == 2


def test_day_counts_per_source_and_aspect_count_negatives_for_one_model(con) -> None:
    a, b, c = _land(con, [("1", "a", 0), ("2", "b", 0), ("3", "c", 1)])
    [w] = _land(con, [("w1", "d", 0)], source="weibo")
    save_aspects(
        con,
        [
            (a, [_m("物流", "negative", "慢"), _m("价格", "positive", "便宜")]),
            (b, [_m("物流", "positive", "快")]),
            (c, [_m("物流", "negative", "慢")]),
            (w, [_m("物流", "negative", "慢")]),
        ],
        V1,
    )
    save_aspects(con, [(a, [_m("物流", "negative", "慢")])], V2)
    frame = aspect_day_counts(con, V1)
    got = [
        (r.local_day.date(), r.source, r.aspect, r.n, r.n_negative)
        for r in frame.itertuples(index=False)
    ]
    day0, day1 = date(2025, 8, 10), date(2025, 8, 11)
    assert got == [
        (day0, "shop", "价格", 1, 0),
        (day0, "shop", "物流", 2, 1),
        (day1, "shop", "物流", 1, 1),
        (day0, "weibo", "物流", 1, 1),
    ]
    assert len(aspect_day_counts(con, V1, since=day1)) == 1
    assert len(aspect_day_counts(con, V1, until=day0)) == 3
    assert aspect_day_counts(con, "unknown").empty


def test_summary_ranks_aspects_by_negatives_and_shows_the_newest_complaint(con) -> None:
    a, b, c = _land(con, [("1", "a", 0), ("2", "b", 1), ("3", "c", 2)])
    save_aspects(
        con,
        [
            (a, [_m("物流", "negative", "等了十天"), _m("价格", "positive", "便宜")]),
            (b, [_m("物流", "negative", "快递丢件")]),
            (c, [_m("物流", "positive", "很快"), _m("价格", "positive", "划算")]),
        ],
        V1,
    )
    frame = aspect_summary(con, V1)
    assert list(frame["aspect"]) == ["物流", "价格"]
    logistics = frame.iloc[0]
    assert (logistics.n, logistics.n_negative, logistics.n_positive) == (3, 2, 1)
    assert logistics.negative_share == pytest.approx(2 / 3)
    assert logistics.latest_negative_clause == "快递丢件"
    assert pd.isna(frame.iloc[1].latest_negative_clause)
    assert frame.iloc[1].mean_score == pytest.approx(0.9)
    assert list(aspect_summary(con, V1, since=date(2025, 8, 12))["n"]) == [1, 1]
