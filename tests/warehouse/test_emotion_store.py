"""doc_emotion on a real DuckDB file: what gets scored, idempotent saves, anger share."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from nlp.normalize import hash_normalized, normalize_text
from voc.records import make_document
from warehouse import loaders
from warehouse.db import open_warehouse
from warehouse.emotion import (
    daily_anger_share,
    latest_emotion_model_version,
    save_emotions,
    select_unscored_emotion,
)

TZ = timezone(timedelta(hours=8))
START = datetime(2025, 8, 10, 9, 0, tzinfo=TZ)
V1, V2 = "emotion-default-v1+aaaaaaaa", "emotion-default-v1+bbbbbbbb"


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
    norm = [normalize_text(d.text) for d in docs]
    loaders.save_doc_texts(
        con, [(d.id, n, hash_normalized(n)) for d, n in zip(docs, norm, strict=True)]
    )
    return [d.id for d in docs]


def test_migration_creates_doc_emotion_keyed_by_document_and_model(con) -> None:
    con.execute("INSERT INTO doc_emotion VALUES ('d', 'v', 'anger', 0.9, 0.9, now())")
    con.execute("INSERT INTO doc_emotion VALUES ('d', 'w', 'joy', 0.8, 0.1, now())")
    with pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO doc_emotion VALUES ('d', 'v', 'joy', 0.8, 0.1, now())")


def test_select_unscored_takes_distinct_social_documents_not_yet_scored(con) -> None:
    a, b, copy = _land(con, [("1", "气死我了", 0), ("2", "太开心了", 0), ("3", "气死我了", 0)])
    [review] = _land(con, [("r", "质量很差", 0)], source="shop", channel="review")
    assert select_unscored_emotion(con, V1) == [
        (doc_id, text) for doc_id, text in sorted([(a, "气死我了"), (b, "太开心了")])
    ]
    assert copy not in dict(select_unscored_emotion(con, V1))
    assert review in dict(select_unscored_emotion(con, V1, channels=("social", "review")))

    save_emotions(con, [(a, "anger", 0.9, 0.9)], V1)
    assert [d for d, _ in select_unscored_emotion(con, V1)] == [b]
    # Another model version has scored nothing yet.
    assert sorted(d for d, _ in select_unscored_emotion(con, V2)) == sorted([a, b])


def test_save_emotions_is_idempotent_and_last_duplicate_wins(con) -> None:
    [a, b] = _land(con, [("1", "气死我了", 0), ("2", "太开心了", 0)])
    rows = [(a, "sadness", 0.5, 0.3), (b, "joy", 0.9, 0.01), (a, "anger", 0.8, 0.8)]
    assert save_emotions(con, rows, V1) == 2
    assert save_emotions(con, rows, V1) == 2
    stored = con.execute(
        "SELECT doc_id, label, score, anger FROM doc_emotion ORDER BY doc_id"
    ).fetchall()
    assert stored == sorted([(a, "anger", 0.8, 0.8), (b, "joy", 0.9, 0.01)])

    save_emotions(con, [(a, "neutral", 0.6, 0.2)], V1)
    assert con.execute("SELECT label FROM doc_emotion WHERE doc_id = ?", [a]).fetchone() == (
        "neutral",
    )
    assert con.execute("SELECT count(*) FROM doc_emotion").fetchone()[0] == 2
    assert save_emotions(con, [], V1) == 0


def test_latest_emotion_model_version_is_the_one_that_scored_last(con) -> None:
    assert latest_emotion_model_version(con) is None
    [a] = _land(con, [("1", "气死我了", 0)])
    save_emotions(con, [(a, "anger", 0.9, 0.9)], V2)
    save_emotions(con, [(a, "anger", 0.9, 0.9)], V1)
    assert latest_emotion_model_version(con) == V1


@pytest.mark.parametrize(
    "bad",
    [("x", "anger", 1.5, 0.9), ("x", "anger", 0.9, float("nan")), ("x", "", 0.9, 0.9)],
)
def test_save_emotions_rejects_a_bad_row_naming_it_and_writes_nothing(con, bad) -> None:
    [a] = _land(con, [("1", "气死我了", 0)])
    with pytest.raises(ValueError, match="x"):
        save_emotions(con, [(a, "anger", 0.9, 0.9), bad], V1)
    assert con.execute("SELECT count(*) FROM doc_emotion").fetchone()[0] == 0


def test_daily_anger_share_per_day_and_source_counts_distinct_documents(con) -> None:
    day1 = _land(
        con,
        [("1", "气死我了", 0), ("2", "垃圾客服", 0), ("3", "太开心了", 0), ("4", "气死我了", 0)],
    )
    day2 = _land(con, [("5", "担心泄露", 1)])
    other = _land(con, [("6", "真生气", 0)], source="douyin")
    scored = dict(select_unscored_emotion(con, V1))
    labels = {"气死我了": "anger", "垃圾客服": "anger", "太开心了": "joy", "担心泄露": "fear"}
    labels["真生气"] = "anger"
    save_emotions(con, [(d, labels[t], 0.9, 0.5) for d, t in scored.items()], V1)
    # The same documents under another version must not leak into V1's counts.
    save_emotions(con, [(d, "joy", 0.9, 0.0) for d in scored], V2)

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
