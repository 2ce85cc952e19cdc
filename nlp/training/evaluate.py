"""Evaluating a sentiment model on labelled texts.

Gold labels are binary (0 negative, 1 positive). A prediction counts as positive when its
score (P(positive)) is ≥ 0.5, so accuracy, macro-F1 and the 2×2 confusion matrix compare
like with like whatever the model's neutral band. How often the model says *neutral* is
reported beside them (``neutral_share``, and a gold × {negative, neutral, positive} matrix),
so a model that hedges is visible rather than hidden.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from nlp.normalize import normalize_text
from nlp.sentiment import SentimentModel

_ROLES = ("negative", "neutral", "positive")


def binary_scores(gold: Sequence[int], pred: Sequence[int]) -> dict[str, Any]:
    """Accuracy, macro-F1 and the confusion matrix of binary predictions.

    Returns:
        ``accuracy``, ``macro_f1``, ``n`` and ``confusion_matrix`` (rows gold, columns
        predicted, order negative, positive).
    """
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold labels but {len(pred)} predictions")
    matrix = [[0, 0], [0, 0]]
    for g, p in zip(gold, pred, strict=True):
        matrix[g][p] += 1
    n = len(gold)
    f1s = []
    for c in (0, 1):
        tp = matrix[c][c]
        fp = matrix[1 - c][c]
        fn = matrix[c][1 - c]
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return {
        "accuracy": (matrix[0][0] + matrix[1][1]) / n if n else 0.0,
        "macro_f1": sum(f1s) / 2,
        "n": n,
        "confusion_matrix": {"labels": ["negative", "positive"], "matrix": matrix},
    }


def evaluate_model(
    model: SentimentModel, texts: Sequence[str], labels: Sequence[int], batch_size: int = 64
) -> dict[str, Any]:
    """Score a model on labelled texts (normalised as the pipeline normalises them).

    Returns:
        `binary_scores` plus ``docs_per_s`` (prediction only), ``neutral_share``,
        ``confusion_matrix_3way`` and ``model_version``.
    """
    normalised = [normalize_text(t) for t in texts]
    started = time.perf_counter()
    results = model.predict(normalised, batch_size=batch_size)
    seconds = time.perf_counter() - started
    report = binary_scores(labels, [int(r.score >= 0.5) for r in results])
    three = [[0, 0, 0], [0, 0, 0]]
    for g, r in zip(labels, results, strict=True):
        three[g][_ROLES.index(r.label)] += 1
    report |= {
        "docs_per_s": round(len(texts) / seconds, 1) if seconds > 0 else None,
        "neutral_share": sum(row[1] for row in three) / len(texts) if texts else 0.0,
        "confusion_matrix_3way": {
            "rows": ["negative", "positive"],
            "columns": list(_ROLES),
            "matrix": three,
        },
        "model_version": model.version,
    }
    return report
