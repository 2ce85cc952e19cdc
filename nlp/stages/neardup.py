"""Near-duplicate stage: reposts and copy-paste campaigns grouped into voices."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from nlp.neardup import Assignment, NearDupConfig, NearDupIndex
from voc.stages import Output, StageDoc


def _version(config: NearDupConfig) -> str:
    return "neardup-v1+" + hashlib.sha256(repr(config).encode()).hexdigest()[:8]


#: The table this stage writes.
OUTPUT = Output("doc_groups", Assignment, time_column="grouped_at")


@dataclass(frozen=True)
class NearDupStage:
    """Each document joins the voice of its most similar earlier one (MinHash + LSH).

    Order-dependent: all pending documents are grouped in one batch, oldest first, on top
    of the current groups of the last `history_days` days (a repost wave runs for days,
    not years; the window bounds memory).
    """

    config: NearDupConfig = field(default_factory=NearDupConfig)
    name: str = "group"
    channels: frozenset[str] | None = None
    reads: str = "text_norm"
    after: tuple[str, ...] = ("normalise",)
    distinct_only: bool = False
    outputs: tuple[Output, ...] = (OUTPUT,)
    batch_size: int | None = None
    history_days: int | None = 60

    @property
    def version(self) -> str:
        """Changes with the grouping configuration."""
        return _version(self.config)

    def enrich(self, batch: Sequence[StageDoc], history: Sequence[Any] = ()) -> list[Any]:
        """One `Assignment` per document, in the batch's order."""
        index = NearDupIndex(self.config)
        for a in history:
            index.restore(a.doc_id, a.group_id, bytes(a.signature), a.similarity)
        return index.add_many((d.doc_id, d.text_norm or "") for d in batch)
