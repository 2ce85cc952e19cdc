"""Partitions: the one slicing of a stage's batches that a local run (`partition_docs`) and a
Dask run share, on a real DuckDB file; a stage that reads its own history is never split."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from nlp.stages.normalise import NormaliseStage
from nlp.stages.records import SentimentScore
from tests.seeding import SENTIMENT
from voc.records import make_document
from voc.stages import Output, StageDoc, fingerprints, partition, partitionable
from warehouse import loaders
from warehouse.db import open_warehouse
from warehouse.enrichment import run_stage

TZ = timezone(timedelta(hours=8))
NORMALISE = NormaliseStage()


@dataclass(frozen=True)
class Counter:
    """A stage that scores each document by its position in the `enrich` call it was in,
    and remembers every call: what it computes depends on the partitioning, as an int8
    model's scores do."""

    calls: list[list[str]] = field(default_factory=list, compare=False)
    version: str = "counter-v1"
    name: str = "sentiment"
    channels: frozenset[str] | None = None
    reads: str = "text_norm"
    after: tuple[str, ...] = ("normalise",)
    distinct_only: bool = True
    outputs: tuple[Output, ...] = (SENTIMENT,)
    batch_size: int | None = 3
    history_days: int | None = None

    def enrich(self, batch: Sequence[StageDoc], history: Sequence[Any] = ()) -> list[Any]:
        self.calls.append([d.doc_id for d in batch])
        return [SentimentScore(d.doc_id, "neutral", i / 10) for i, d in enumerate(batch)]


@pytest.fixture()
def con(tmp_path: Path, new_warehouse):
    c = open_warehouse(new_warehouse(tmp_path / "w.duckdb"))
    docs = [
        make_document(
            source="weibo",
            channel="social",
            external_id=f"s{i}",
            text=f"第{i}条：物流太慢",
            created_at=datetime(2025, 6, 1, 10 + i, tzinfo=TZ),
        )
        for i in range(5)
    ]
    loaders.upsert_documents(c, docs, "r1")
    run_stage(c, NORMALISE, fingerprints([NORMALISE]))
    yield c
    c.close()


def _ids(con, *external: str) -> list[str]:
    rows = dict(con.execute("SELECT external_id, id FROM raw_documents").fetchall())
    return [rows[e] for e in external]


def test_partition_cuts_consecutive_slices_and_none_keeps_the_batch() -> None:
    assert partition([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]
    assert partition([1, 2, 3], None) == [[1, 2, 3]]
    assert partition([], 2) == []
    with pytest.raises(ValueError, match="at least 1"):
        partition([1], 0)


def test_only_stages_without_history_or_whole_runs_are_split() -> None:
    assert partitionable(Counter())
    assert not partitionable(Counter(history_days=60))
    assert not partitionable(Counter(batch_size=None))


def test_run_stage_enriches_each_batch_in_partitions_and_saves_them_all(con) -> None:
    stage = Counter()
    prints = fingerprints([NORMALISE, stage])
    saved = run_stage(con, stage, prints, partition_docs=2)
    assert saved.n_docs == 5
    # Batches of 3 (the stage's batch size), each cut into slices of 2.
    s0, s1, s2, s3, s4 = _ids(con, "s0", "s1", "s2", "s3", "s4")
    assert stage.calls == [[s0, s1], [s2], [s3, s4]]
    scores = dict(con.execute("SELECT doc_id, score FROM doc_sentiment").fetchall())
    assert scores == {s0: 0.0, s1: 0.1, s2: 0.0, s3: 0.0, s4: 0.1}


def test_without_partition_docs_a_batch_is_one_call_as_before(con) -> None:
    stage = Counter()
    run_stage(con, stage, fingerprints([NORMALISE, stage]))
    s0, s1, s2, s3, s4 = _ids(con, "s0", "s1", "s2", "s3", "s4")
    assert stage.calls == [[s0, s1, s2], [s3, s4]]


def test_a_stage_reading_its_history_gets_whole_batches(con) -> None:
    stage = Counter(history_days=60)
    run_stage(con, stage, fingerprints([NORMALISE, stage]), partition_docs=1)
    assert [len(c) for c in stage.calls] == [3, 2]
