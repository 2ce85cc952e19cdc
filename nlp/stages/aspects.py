"""Aspect stage: each aspect's polarity in a document (`nlp.aspects`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from nlp.aspects import AspectModel, strongest_by_aspect
from nlp.stages.records import AspectOpinion
from voc.stages import Output, StageDoc

#: The table this stage writes.
OUTPUT = Output("doc_aspects", AspectOpinion, "model_version", "scored_at", keep_versions=True)


@dataclass(frozen=True)
class AspectStage:
    """'物流很快但是质量太差' → 物流 positive, 商品质量 negative; one row per aspect (a
    complaint outranks praise of the same aspect)."""

    model: AspectModel = field(repr=False)
    name: str = "aspects"
    channels: frozenset[str] | None = None
    reads: str = "text_norm"
    after: tuple[str, ...] = ("normalise",)
    distinct_only: bool = True
    outputs: tuple[Output, ...] = (OUTPUT,)
    batch_size: int | None = 5_000
    history_days: int | None = None

    @property
    def version(self) -> str:
        """The aspect model's version."""
        return self.model.version

    def enrich(self, batch: Sequence[StageDoc], history: Sequence[Any] = ()) -> list[Any]:
        """The strongest opinion per aspect of every document."""
        found = self.model.extract_many([d.text_norm or "" for d in batch])
        return [
            AspectOpinion(d.doc_id, m.aspect, m.polarity, m.score, m.confidence, m.clause)
            for d, mentions in zip(batch, found, strict=True)
            for m in strongest_by_aspect(mentions)
        ]
