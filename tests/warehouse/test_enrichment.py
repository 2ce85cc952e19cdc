"""warehouse.enrichment on a real DuckDB file: what is pending for a stage, saving its
results in one transaction, and the one invalidation rule (content hash or fingerprint
changed) for every stage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import pytest

from nlp.stages.normalise import NormaliseStage
from nlp.stages.records import DocTokens, EmotionScore, NormalisedText, SentimentScore
from tests.seeding import EMOTION, SENTIMENT, TOKENS
from voc.records import make_document
from voc.stages import Output, Stage, StageDoc, StageSpec, fingerprints
from warehouse import loaders
from warehouse.db import open_warehouse
from warehouse.enrichment import (
    count_pending,
    mark_current,
    run_stage,
    save_results,
    select_pending,
    stage_versions,
)

TZ = timezone(timedelta(hours=8))
NORMALISE = NormaliseStage()


@dataclass(frozen=True)
class Scorer:
    """A toy sentiment stage: positive when the normalised text praises (好)."""

    version: str = "scorer-v1"
    name: str = "sentiment"
    channels: frozenset[str] | None = None
    reads: str = "text_norm"
    after: tuple[str, ...] = ("normalise",)
    distinct_only: bool = True
    outputs: tuple[Output, ...] = (SENTIMENT,)
    batch_size: int | None = None
    history_days: int | None = None

    def enrich(self, batch: Sequence[StageDoc], history: Sequence[Any] = ()) -> list[Any]:
        return [
            SentimentScore(
                d.doc_id, *(("positive", 0.9) if "好" in d.text_norm else ("negative", 0.1))
            )
            for d in batch
        ]


SCORER = Scorer()
# Reads tokens, which no stage here writes.
TOKEN_READER = StageSpec("reader", "r1", after=("normalise",), reads="tokens", outputs=(TOKENS,))


def _prints(*stages) -> dict[str, str]:
    return fingerprints([NORMALISE, *stages])


def _doc(ext: str, text: str, day: int = 1, channel: str = "social"):
    return make_document(
        source="weibo" if channel == "social" else "shop",
        channel=channel,
        external_id=ext,
        text=text,
        created_at=datetime(2025, 6, day, 10 + int(ext[-1]), tzinfo=TZ),
    )


@pytest.fixture()
def con(tmp_path: Path, new_warehouse):
    c = open_warehouse(new_warehouse(tmp_path / "w.duckdb"))
    yield c
    c.close()


@pytest.fixture()
def docs(con) -> list:
    """s1 and its later exact copy s2 (social), r3 (a review); nothing enriched yet."""
    landed = [
        _doc("s1", "物流太慢"),
        _doc("s2", "物流太慢"),
        _doc("r3", "质量很好", channel="review"),
    ]
    loaders.upsert_documents(con, landed, "r1")
    return landed


def _ids(con, stage, prints, **kw) -> list[str]:
    return [d.doc_id for d in select_pending(con, stage, prints, **kw)]


def _table(con, table: str, *without: str) -> list[tuple]:
    columns = [
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
            "ORDER BY ordinal_position",
            [table],
        ).fetchall()
        if r[0] not in without
    ]
    return con.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY ALL").fetchall()


def test_the_stages_implement_the_contract() -> None:
    assert isinstance(NORMALISE, Stage) and isinstance(SCORER, Stage)
    with pytest.raises(ValueError, match="must come before it"):
        fingerprints([SCORER, NORMALISE])


def test_a_stage_waits_for_the_stages_it_reads_from(con, docs) -> None:
    s1, s2, r3 = (d.id for d in docs)
    prints = _prints(SCORER, TOKEN_READER)
    assert _ids(con, NORMALISE, prints) == [s1, s2, r3]
    assert _ids(con, SCORER, prints) == []  # nothing normalised yet
    run_stage(con, NORMALISE, prints)
    assert _ids(con, NORMALISE, prints) == []
    [first, review] = select_pending(con, SCORER, prints)
    assert (first.doc_id, first.channel, first.text, first.text_norm) == (
        s1,
        "social",
        "物流太慢",
        "物流太慢",
    )
    assert (first.content_hash, first.tokens) == (docs[0].content_hash, None)
    assert review.doc_id == r3
    # A stage reading tokens waits for them too.
    assert _ids(con, TOKEN_READER, prints) == []


def test_pending_follows_the_stage_channels_and_exact_duplicates(con, docs) -> None:
    s1, s2, r3 = (d.id for d in docs)
    run_stage(con, NORMALISE, _prints())
    assert con.execute("SELECT duplicate_of FROM doc_texts WHERE doc_id = ?", [s2]).fetchone() == (
        s1,
    )
    assert _ids(con, SCORER, _prints(SCORER)) == [s1, r3]  # the copy shares s1's result
    every = replace(SCORER, distinct_only=False)
    assert _ids(con, every, _prints(every)) == [s1, s2, r3]
    social = replace(SCORER, channels=frozenset({"social"}))
    assert _ids(con, social, _prints(social)) == [s1]
    assert count_pending(con, SCORER, _prints(SCORER)) == 2


def test_a_window_and_newest_first_take_the_newest_documents_oldest_first(con) -> None:
    days = [_doc(f"d{k}", f"第{k}天", day=k) for k in range(1, 6)]
    loaders.upsert_documents(con, days, "r1")
    prints = _prints(SCORER)
    run_stage(con, NORMALISE, prints)
    ids = [d.id for d in days]
    assert _ids(con, SCORER, prints, limit=2) == ids[:2]
    assert _ids(con, SCORER, prints, limit=2, newest_first=True) == ids[3:]
    assert _ids(con, SCORER, prints, window_days=2) == ids[3:]
    assert _ids(con, SCORER, prints, limit=1, window_days=2) == ids[3:4]


def test_saving_the_same_results_twice_changes_nothing(con, docs) -> None:
    prints = _prints(SCORER)
    run_stage(con, NORMALISE, prints)
    batch = select_pending(con, SCORER, prints)
    records = SCORER.enrich(batch)
    saved = save_results(con, SCORER, prints, batch, records)
    assert (saved.n_docs, saved.rows) == (2, {"doc_sentiment": 2})
    before = [_table(con, "doc_sentiment", "scored_at"), _table(con, "doc_stage_state", "done_at")]
    save_results(con, SCORER, prints, batch, records)
    assert [
        _table(con, "doc_sentiment", "scored_at"),
        _table(con, "doc_stage_state", "done_at"),
    ] == before
    assert count_pending(con, SCORER, prints) == 0
    assert run_stage(con, SCORER, prints).n_docs == 0
    assert stage_versions(con, "sentiment") == {"scorer-v1": 2}


def test_a_record_of_a_wrong_type_raises_and_writes_nothing(con, docs) -> None:
    prints = _prints(SCORER)
    run_stage(con, NORMALISE, prints)
    batch = select_pending(con, SCORER, prints)
    wrong = [NormalisedText(batch[0].doc_id, "x", "h"), *SCORER.enrich(batch)]
    with pytest.raises(TypeError, match="stage 'sentiment' returned a NormalisedText"):
        save_results(con, SCORER, prints, batch, wrong)
    assert con.execute("SELECT count(*) FROM doc_sentiment").fetchone()[0] == 0
    assert stage_versions(con, "sentiment") == {}
    assert _ids(con, SCORER, prints) == [d.doc_id for d in batch]


def test_a_failure_mid_save_leaves_the_previous_results_and_state_whole(con, docs) -> None:
    # A stage writing two tables: the second insert fails after the first succeeded.
    both = StageSpec(
        "both", "b1", after=("normalise",), reads="text_norm", outputs=(SENTIMENT, EMOTION)
    )
    prints = _prints(both)
    run_stage(con, NORMALISE, prints)
    batch = select_pending(con, both, prints)
    s1, r3 = (d.doc_id for d in batch)
    good = [SentimentScore(s1, "negative", 0.1), EmotionScore(s1, "anger", 0.9, 0.9)]
    save_results(con, both, prints, batch, good)
    before = [_table(con, t) for t in ("doc_sentiment", "doc_emotion", "doc_stage_state")]

    twice = [EmotionScore(r3, "joy", 0.9, 0.0), EmotionScore(r3, "joy", 0.8, 0.0)]
    with pytest.raises(duckdb.ConstraintException):
        save_results(con, both, prints, batch, [SentimentScore(r3, "positive", 0.9), *twice])
    assert [_table(con, t) for t in ("doc_sentiment", "doc_emotion", "doc_stage_state")] == before
    # Under a new version too: its state rows are not written either.
    newer = replace(both, version="b2")
    with pytest.raises(duckdb.ConstraintException):
        save_results(con, newer, _prints(newer), batch, twice)
    assert [_table(con, t) for t in ("doc_sentiment", "doc_emotion", "doc_stage_state")] == before
    assert stage_versions(con, "both") == {"b1": 2}


def test_a_new_version_makes_every_document_pending_and_the_stages_after_it(con, docs) -> None:
    s1, _, r3 = (d.id for d in docs)
    prints = _prints(SCORER)
    run_stage(con, NORMALISE, prints)
    run_stage(con, SCORER, prints)
    assert _ids(con, SCORER, prints) == []

    v2 = replace(SCORER, version="scorer-v2")
    assert _ids(con, v2, _prints(v2)) == [s1, r3]
    assert _ids(con, NORMALISE, _prints(v2)) == []  # upstream is not affected

    # A new normaliser: every document is normalised again, then every stage reading
    # normalised text redoes it (its fingerprint includes the normaliser's).
    normalise2 = replace(NORMALISE, version="normalise-v2")
    prints2 = fingerprints([normalise2, SCORER])
    assert prints2[SCORER.name] != prints[SCORER.name]
    assert len(_ids(con, normalise2, prints2)) == 3
    assert _ids(con, SCORER, prints2) == []  # waits for the new normalised texts
    run_stage(con, normalise2, prints2)
    assert _ids(con, SCORER, prints2) == [s1, r3]
    assert run_stage(con, SCORER, prints2).n_docs == 2
    assert stage_versions(con, "normalise") == {"normalise-v2": 3}


def test_a_rewritten_text_makes_only_that_document_pending_for_every_stage(con, docs) -> None:
    r3 = docs[2].id
    every = replace(SCORER, name="every", distinct_only=False)
    prints = _prints(SCORER, every)
    for stage in (NORMALISE, SCORER, every):
        run_stage(con, stage, prints)
    before = _table(con, "doc_sentiment", "scored_at")

    loaders.upsert_documents(con, [_doc("r3", "质量很差", channel="review")], "r2")
    assert _ids(con, NORMALISE, prints) == [r3]
    assert _ids(con, SCORER, prints) == _ids(con, every, prints) == []  # after normalising
    run_stage(con, NORMALISE, prints)
    assert _ids(con, SCORER, prints) == _ids(con, every, prints) == [r3]
    run_stage(con, SCORER, prints)
    after = _table(con, "doc_sentiment", "scored_at")
    assert [r for r in after if r[0] != r3] == [r for r in before if r[0] != r3]
    assert (r3, "scorer-v1", "negative", 0.1) in after


def test_a_copy_is_distinct_again_once_its_original_is_rewritten(con, docs) -> None:
    s1, s2, _ = (d.id for d in docs)
    prints = _prints(SCORER)
    run_stage(con, NORMALISE, prints)
    run_stage(con, SCORER, prints)
    loaders.upsert_documents(con, [_doc("s1", "物流很快，好评")], "r2")
    run_stage(con, NORMALISE, prints)
    marks = dict(con.execute("SELECT doc_id, duplicate_of FROM doc_texts").fetchall())
    assert marks[s1] is None and marks[s2] is None
    assert _ids(con, SCORER, prints) == [s1, s2]


def test_mark_current_records_results_another_module_wrote(con, docs) -> None:
    s1, _, r3 = (d.id for d in docs)
    spec = StageSpec("themes", "tracker-v1", after=("normalise",), reads="text_norm")
    prints = _prints(spec)
    run_stage(con, NORMALISE, prints)
    assert _ids(con, spec, prints) == [s1, r3]
    assert mark_current(con, spec, prints, {s1: 1}) == 1
    assert _ids(con, spec, prints) == [r3]
    assert stage_versions(con, "themes") == {"tracker-v1": 1}


def test_tokens_are_saved_as_lists(con, docs) -> None:
    spec = StageSpec(
        "segment", "seg-v1", after=("normalise",), reads="text_norm", outputs=(TOKENS,)
    )
    prints = _prints(spec, TOKEN_READER)
    run_stage(con, NORMALISE, prints)
    batch = select_pending(con, spec, prints)
    save_results(con, spec, prints, batch, [DocTokens(d.doc_id, ("物流", "太慢")) for d in batch])
    assert con.execute("SELECT DISTINCT tokens FROM doc_tokens").fetchall() == [(["物流", "太慢"],)]
