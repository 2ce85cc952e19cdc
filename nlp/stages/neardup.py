"""Near-duplicate stage: reposts and copy-paste campaigns grouped into voices."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nlp.neardup import (
    MEMBERS_PER_BUCKET,
    Assignment,
    NearDupConfig,
    NearDupIndex,
    signatures,
)
from nlp.neardup_keys import index_keys
from voc.stages import HistoryLookup, Output, StageDoc


def _version(config: NearDupConfig) -> str:
    return "neardup-v1+" + hashlib.sha256(repr(config).encode()).hexdigest()[:8]


#: The table this stage writes.
OUTPUT = Output("doc_groups", Assignment, time_column="grouped_at")


@dataclass(frozen=True)
class NearDupStage:
    """Each document joins the voice of its most similar earlier one (MinHash + LSH).

    Order-dependent: the pending documents are grouped oldest first, in batches, on top
    of the current groups of the last `history_days` days (a repost wave runs for days,
    not years; the window bounds memory). A `voc.stages.KeyedHistory`: of that window a run
    reads only the documents that share a signature digest or an LSH band key with its
    batch (`keys_table`), which gives the same groups as the whole window: no other stored
    document can be a candidate, and a band bucket of the index keeps the first
    `bucket_cap` members of a group whichever documents are restored around them.
    """

    config: NearDupConfig = field(default_factory=NearDupConfig)
    name: str = "group"
    channels: frozenset[str] | None = None
    reads: str = "text_norm"
    after: tuple[str, ...] = ("normalise",)
    distinct_only: bool = False
    outputs: tuple[Output, ...] = (OUTPUT,)
    # Batches, oldest first: each batch's keys are saved before the next looks them up,
    # so the groups are those of one piece (a 1M backfill in one piece held every text and
    # token list in memory at once and ran DuckDB out of memory).
    batch_size: int | None = 50_000
    history_days: int | None = 60
    keys_table: str = "doc_group_keys"

    @property
    def bucket_cap(self) -> int:
        """Members of one group a band bucket of the index keeps."""
        return MEMBERS_PER_BUCKET

    @property
    def version(self) -> str:
        """Changes with the grouping configuration."""
        return _version(self.config)

    def enrich(
        self, batch: Sequence[StageDoc], history: Sequence[Any] | HistoryLookup = ()
    ) -> list[Any]:
        """One `Assignment` per document, in the batch's order.

        Args:
            batch: The documents, oldest first.
            history: The stored assignments to build on, oldest first, or a lookup of
                those that share a key with the batch (`record_keys`).
        """
        index = NearDupIndex(self.config)
        sigs = signatures([d.text_norm or "" for d in batch], self.config)
        touched = None
        if callable(history):
            _, slots, keys = index_keys(sigs, self.config, probe=True)
            history = history(slots, keys)
            # Every key the batch reads or writes was looked up: other buckets stay empty.
            touched = {b: keys[slots == b + 1] for b in range(self.config.bands)}
        index.restore_many(history, touched)
        return [index.add_signature(d.doc_id, s) for d, s in zip(batch, sigs, strict=True)]

    def record_keys(self, records: Sequence[Any]) -> tuple[list[str], np.ndarray, np.ndarray]:
        """(doc ids, slots, keys) of assignments: slot 0 the signature's digest, slot 1 + b
        the key of LSH band b (`nlp.neardup_keys.index_keys`)."""
        rows, slots, keys = index_keys([bytes(r.signature) for r in records], self.config)
        ids = [r.doc_id for r in records]
        return [ids[i] for i in rows.tolist()], slots, keys
