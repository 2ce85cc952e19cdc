"""Segmentation stage: jieba tokens without stopwords (`nlp.segment`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from nlp.segment import Segmenter
from nlp.stages.records import DocTokens
from voc.stages import Output, StageDoc

#: The table this stage writes.
OUTPUT = Output("doc_tokens", DocTokens)


@dataclass(frozen=True)
class SegmentStage:
    """Normalised text → content tokens."""

    segmenter: Segmenter = field(repr=False)
    name: str = "segment"
    channels: frozenset[str] | None = None
    reads: str = "text_norm"
    after: tuple[str, ...] = ("normalise",)
    distinct_only: bool = True
    outputs: tuple[Output, ...] = (OUTPUT,)
    batch_size: int | None = 10_000
    history_days: int | None = None

    @property
    def version(self) -> str:
        """Changes with the dictionaries and stopword lists."""
        return self.segmenter.version

    def enrich(self, batch: Sequence[StageDoc], history: Sequence[Any] = ()) -> list[Any]:
        """One `DocTokens` per document."""
        tokens = self.segmenter.segment_many(d.text_norm or "" for d in batch)
        return [DocTokens(d.doc_id, tuple(t)) for d, t in zip(batch, tokens, strict=True)]
