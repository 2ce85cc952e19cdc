"""The emotion stage through `warehouse.enrichment` on a real DuckDB file: what gets
scored, idempotent saves, bad model output, anger share."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from nlp.emotion import load_emotion_model
from nlp.stages.emotion import EmotionStage
from nlp.stages.normalise import NormaliseStage
from nlp.stages.records import EmotionScore
from tests.seeding import save_emotions
from voc.records import make_document
from voc.stages import fingerprints
from warehouse import loaders
from warehouse.db import open_warehouse
from warehouse.emotion import daily_anger_share, latest_emotion_model_version
from warehouse.enrichment import run_stage, save_results, select_pending

TZ = timezone(timedelta(hours=8))
START = datetime(2025, 8, 10, 9, 0, tzinfo=TZ)
V1, V2 = "emotion-default-v1+aaaaaaaa", "emotion-default-v1+bbbbbbbb"
NORMALISE = NormaliseStage()


@dataclass(frozen=True)
class Canned:
    """What `EmotionStage` reads of a result (`nlp.emotion.EmotionResult`)."""

    label: str
    score: float
    anger: float


@dataclass(frozen=True)
class CannedModel:
    """An emotion model that answers hand-chosen (label, score, anger) per normalised text
    (neutral for any other)."""

    version: str
    answers: Mapping[str, tuple[str, float, float]] = field(default_factory=dict)

    def predict(self, texts: Sequence[str]) -> list[Canned]:
        return [Canned(*self.answers.get(t, ("neutral", 0.9, 0.05))) for t in texts]


def _stage(model, **kw) -> tuple[EmotionStage, dict[str, str]]:
    stage = EmotionStage(model, **kw)
    return stage, fingerprints([NORMALISE, stage])


def _pending(con: duckdb.DuckDBPyConnection, model, **kw) -> list[tuple[str, str]]:
    return [(d.doc_id, d.text_norm) for d in select_pending(con, *_stage(model, **kw))]


@pytest.fixture(scope="module")
def model():
    return load_emotion_model()


@pytest.fixture()
def con(tmp_path: Path, new_warehouse):
    c = open_warehouse(new_warehouse(tmp_path / "w.duckdb"))
    yield c
    c.close()


def _land(
    con: duckdb.DuckDBPyConnection,
    rows: list[tuple[str, str, int]],
    source: str = "weibo",
    channel: str = "social",
) -> list[str]:
    """Land (external_id, text, day offset from START) and their normalised texts."""
    docs = [
        make_document(
            source=source,
            channel=channel,
            external_id=ext,
            text=text,
            created_at=START + timedelta(days=days, minutes=i),
        )
        for i, (ext, text, days) in enumerate(rows)
    ]
    loaders.upsert_documents(con, docs, "r1")
    run_stage(con, NORMALISE, fingerprints([NORMALISE]))
    return [d.id for d in docs]


def _stored(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(
        "SELECT doc_id, model_version, label, score, anger FROM doc_emotion ORDER BY ALL"
    ).fetchall()


def test_migration_creates_doc_emotion_keyed_by_document_and_model(con) -> None:
    con.execute("INSERT INTO doc_emotion VALUES ('d', 'v', 'anger', 0.9, 0.9, now())")
    con.execute("INSERT INTO doc_emotion VALUES ('d', 'w', 'joy', 0.8, 0.1, now())")
    with pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO doc_emotion VALUES ('d', 'v', 'joy', 0.8, 0.1, now())")


def test_pending_are_distinct_social_documents_not_yet_scored(con, model) -> None:
    a, b, copy = _land(con, [("1", "气死我了", 0), ("2", "太开心了", 0), ("3", "气死我了", 0)])
    [review] = _land(con, [("r", "质量很差", 0)], source="shop", channel="review")
    assert _pending(con, model) == [(a, "气死我了"), (b, "太开心了")]
    assert copy not in dict(_pending(con, model))
    assert review in dict(_pending(con, model, channels=frozenset({"social", "review"})))

    stage, prints = _stage(model)
    batch = select_pending(con, stage, prints, limit=1)
    assert [d.doc_id for d in batch] == [a]
    save_results(con, stage, prints, batch, stage.enrich(batch))
    assert [(r[0], r[2]) for r in _stored(con)] == [(a, "anger")]
    assert [d for d, _ in _pending(con, model)] == [b]
    # Another model version has scored nothing yet.
    assert sorted(d for d, _ in _pending(con, CannedModel(V2))) == sorted([a, b])


def test_saving_is_idempotent_and_a_new_score_replaces_the_old(con) -> None:
    [a, b] = _land(con, [("1", "气死我了", 0), ("2", "太开心了", 0)])
    stage, prints = _stage(CannedModel(V1))
    batch = select_pending(con, stage, prints)
    rows = [EmotionScore(a, "anger", 0.8, 0.8), EmotionScore(b, "joy", 0.9, 0.01)]
    assert save_results(con, stage, prints, batch, rows).n_records == 2
    assert save_results(con, stage, prints, batch, rows).n_records == 2
    assert _stored(con) == sorted([(a, V1, "anger", 0.8, 0.8), (b, V1, "joy", 0.9, 0.01)])

    save_results(con, stage, prints, batch[:1], [EmotionScore(a, "neutral", 0.6, 0.2)])
    assert con.execute("SELECT label FROM doc_emotion WHERE doc_id = ?", [a]).fetchone() == (
        "neutral",
    )
    assert con.execute("SELECT count(*) FROM doc_emotion").fetchone()[0] == 2
    assert save_results(con, stage, prints, [], []).n_records == 0


def test_latest_emotion_model_version_is_the_one_that_scored_last(con) -> None:
    assert latest_emotion_model_version(con) is None
    [a] = _land(con, [("1", "气死我了", 0)])
    save_emotions(con, [(a, "anger", 0.9, 0.9)], V2)
    save_emotions(con, [(a, "anger", 0.9, 0.9)], V1)
    assert latest_emotion_model_version(con) == V1


@pytest.mark.parametrize(
    "bad",
    [("anger", 1.5, 0.9), ("anger", 0.9, float("nan")), ("", 0.9, 0.9)],
)
def test_a_bad_score_is_named_and_nothing_is_written(con, bad) -> None:
    [_, b] = _land(con, [("1", "气死我了", 0), ("2", "太开心了", 0)])
    canned = CannedModel(V1, {"气死我了": ("anger", 0.9, 0.9), "太开心了": bad})
    with pytest.raises(ValueError, match=b):
        run_stage(con, *_stage(canned))
    assert con.execute("SELECT count(*) FROM doc_emotion").fetchone()[0] == 0
    assert len(_pending(con, canned)) == 2


def test_daily_anger_share_per_day_and_source_counts_distinct_documents(con) -> None:
    day1 = _land(
        con,
        [("1", "气死我了", 0), ("2", "垃圾客服", 0), ("3", "太开心了", 0), ("4", "气死我了", 0)],
    )
    day2 = _land(con, [("5", "担心泄露", 1)])
    other = _land(con, [("6", "真生气", 0)], source="douyin")
    labels = {"气死我了": "anger", "垃圾客服": "anger", "太开心了": "joy", "担心泄露": "fear"}
    labels["真生气"] = "anger"
    scored = dict(_pending(con, CannedModel(V1)))
    run_stage(con, *_stage(CannedModel(V1, {t: (label, 0.9, 0.5) for t, label in labels.items()})))
    # The same documents under another version must not leak into V1's counts.
    run_stage(con, *_stage(CannedModel(V2, {t: ("joy", 0.9, 0.0) for t in labels})))

    frame = daily_anger_share(con, V1)
    got = [
        (r.local_day.date(), r.source, r.n, r.n_anger, round(r.anger_share, 4))
        for r in frame.itertuples()
    ]
    assert got == [
        (date(2025, 8, 10), "douyin", 1, 1, 1.0),
        (date(2025, 8, 10), "weibo", 3, 2, round(2 / 3, 4)),
        (date(2025, 8, 11), "weibo", 1, 0, 0.0),
    ]
    assert day1[3] not in scored and len(day2) == len(other) == 1

    only_day2 = daily_anger_share(con, V1, since=date(2025, 8, 11))
    assert [d.date() for d in only_day2["local_day"]] == [date(2025, 8, 11)]
    assert daily_anger_share(con, "never-ran").empty
