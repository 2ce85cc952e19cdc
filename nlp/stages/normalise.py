"""Normalisation stage: HTML stripped, NFKC, Traditional → Simplified (`nlp.normalize`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nlp.normalize import NORMALIZE_VERSION, hash_normalized, normalize_text
from nlp.stages.records import NormalisedText
from voc.stages import Output, StageDoc

#: The table this stage writes.
OUTPUT = Output("doc_texts", NormalisedText)


@dataclass(frozen=True)
class NormaliseStage:
    """Raw text → normalised text and its hash (exact duplicates are marked on save)."""

    name: str = "normalise"
    version: str = NORMALIZE_VERSION
    channels: frozenset[str] | None = None
    reads: str = "text"
    after: tuple[str, ...] = ()
    distinct_only: bool = False
    outputs: tuple[Output, ...] = (OUTPUT,)
    batch_size: int | None = 50_000
    history_days: int | None = None

    def enrich(self, batch: Sequence[StageDoc], history: Sequence[Any] = ()) -> list[Any]:
        """One `NormalisedText` per document."""
        out = []
        for doc in batch:
            norm = normalize_text(doc.text)
            out.append(NormalisedText(doc.doc_id, norm, hash_normalized(norm)))
        return out
