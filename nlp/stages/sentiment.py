"""Sentiment stage: the transformers classifier of `nlp.sentiment`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from nlp.sentiment import SentimentModel
from nlp.stages.records import SentimentScore
from voc.stages import Output, StageDoc

#: The table this stage writes.
OUTPUT = Output("doc_sentiment", SentimentScore, "model_version", "scored_at", keep_versions=True)


@dataclass(frozen=True)
class SentimentStage:
    """Negative / neutral / positive and a score per distinct document."""

    model: SentimentModel = field(repr=False)
    name: str = "sentiment"
    channels: frozenset[str] | None = None
    reads: str = "text_norm"
    after: tuple[str, ...] = ("normalise",)
    distinct_only: bool = True
    outputs: tuple[Output, ...] = (OUTPUT,)
    batch_size: int | None = 10_000
    history_days: int | None = None

    @property
    def version(self) -> str:
        """The model's name and weights digest."""
        return self.model.version

    def enrich(self, batch: Sequence[StageDoc], history: Sequence[Any] = ()) -> list[Any]:
        """One `SentimentScore` per document."""
        results = self.model.predict([d.text_norm or "" for d in batch]) if batch else []
        return [
            SentimentScore(d.doc_id, r.label, r.score) for d, r in zip(batch, results, strict=True)
        ]
