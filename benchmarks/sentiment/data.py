"""Benchmark data: the loader lives in `nlp.sentiment_data` (training uses it too)."""

from nlp.sentiment_data import (
    LODO_DOMAINS,
    SHARED_DATA,
    LodoSplit,
    SharedDataMissing,
    Text,
    load_texts,
    lodo_splits,
    normalise,
    require_shared_data,
)

__all__ = [
    "LODO_DOMAINS",
    "SHARED_DATA",
    "LodoSplit",
    "SharedDataMissing",
    "Text",
    "load_texts",
    "lodo_splits",
    "normalise",
    "require_shared_data",
]
