"""Emotion stage: anger, sadness, fear, joy, surprise or neutral of social posts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from nlp.emotion import EmotionModel
from nlp.stages.records import EmotionScore
from voc.stages import Output, StageDoc

#: Public posts, where the PR team watches anger; reviews and tickets have sentiment.
DEFAULT_CHANNELS = frozenset({"social"})


#: The table this stage writes.
OUTPUT = Output("doc_emotion", EmotionScore, "model_version", "scored_at", keep_versions=True)


@dataclass(frozen=True)
class EmotionStage:
    """The most probable emotion and P(anger) of every distinct social post."""

    model: EmotionModel = field(repr=False)
    name: str = "emotion"
    channels: frozenset[str] | None = DEFAULT_CHANNELS
    reads: str = "text_norm"
    after: tuple[str, ...] = ("normalise",)
    distinct_only: bool = True
    outputs: tuple[Output, ...] = (OUTPUT,)
    batch_size: int | None = 10_000
    history_days: int | None = None

    @property
    def version(self) -> str:
        """The emotion model's version."""
        return self.model.version

    def enrich(self, batch: Sequence[StageDoc], history: Sequence[Any] = ()) -> list[Any]:
        """One `EmotionScore` per document."""
        results = self.model.predict([d.text_norm or "" for d in batch]) if batch else []
        return [
            EmotionScore(d.doc_id, r.label, r.score, r.anger)
            for d, r in zip(batch, results, strict=True)
        ]
