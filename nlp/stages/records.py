"""The records enrichment stages return: one frozen dataclass per output table, its fields
the table's columns. Values are checked on construction, so a bad result names its
document before anything is written."""

from __future__ import annotations

import math
from dataclasses import dataclass

from nlp.aspects import POLARITIES


def _probability(doc_id: str, what: str, name: str, value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and 0 <= value <= 1):
        raise ValueError(f"{what} of document {doc_id}: {name} {value!r} is not in [0, 1]")


def _required(doc_id: str, what: str, **values: str) -> None:
    if not doc_id or not all(values.values()):
        raise ValueError(
            f"{what} row of document {doc_id!r}: doc_id and {', '.join(values)} must be non-empty"
        )


@dataclass(frozen=True, slots=True)
class NormalisedText:
    """`doc_texts`: the normalised text and the hash exact duplicates are found by."""

    doc_id: str
    text_norm: str
    norm_hash: str


@dataclass(frozen=True, slots=True)
class DocTokens:
    """`doc_tokens`: the segmenter's content tokens, in order."""

    doc_id: str
    tokens: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CategoryTag:
    """`doc_categories`: one curated category of a document and why (`nlp.taxonomy`)."""

    doc_id: str
    category: str
    matched_by: str
    evidence: str
    score: float


@dataclass(frozen=True, slots=True)
class AspectOpinion:
    """`doc_aspects`: a document's opinion on one aspect (the strongest clause's)."""

    doc_id: str
    aspect: str
    polarity: str
    score: float
    confidence: float
    clause: str

    def __post_init__(self) -> None:
        _required(self.doc_id, "aspect", aspect=self.aspect)
        if self.polarity not in POLARITIES:
            raise ValueError(
                f"aspect {self.aspect} of document {self.doc_id}: polarity {self.polarity!r}"
            )
        _probability(self.doc_id, f"aspect {self.aspect}", "score", self.score)
        _probability(self.doc_id, f"aspect {self.aspect}", "confidence", self.confidence)


@dataclass(frozen=True, slots=True)
class SentimentScore:
    """`doc_sentiment`: label and P(positive) + 0.5·P(neutral)."""

    doc_id: str
    label: str
    score: float

    def __post_init__(self) -> None:
        _required(self.doc_id, "sentiment", label=self.label)
        _probability(self.doc_id, "sentiment", "score", self.score)


@dataclass(frozen=True, slots=True)
class EmotionScore:
    """`doc_emotion`: the most probable emotion, its probability, and P(anger)."""

    doc_id: str
    label: str
    score: float
    anger: float

    def __post_init__(self) -> None:
        _required(self.doc_id, "emotion", label=self.label)
        _probability(self.doc_id, "emotion", "score", self.score)
        _probability(self.doc_id, "emotion", "anger", self.anger)
