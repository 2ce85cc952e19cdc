"""Evaluating an aspect model on the corpora's held-out splits: (aspect, polarity) pairs per
document, scored per inventory (`nlp.training.aspect_data.score_predictions`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from nlp.aspects import AspectModel, strongest_by_aspect
from nlp.training.aspect_data import CorpusSplit, gold_pairs, score_predictions, taxonomy_labels


def predict_pairs(
    model: AspectModel, texts: Sequence[str], inventory: str
) -> list[set[tuple[str, str]]]:
    """Per text, the (aspect, polarity) pairs after `strongest_by_aspect`."""
    return [
        {(m.aspect, m.polarity) for m in strongest_by_aspect(mentions)}
        for mentions in model.extract_many(texts, inventory)
    ]


def evaluation_sets(
    splits: dict[str, CorpusSplit], part: str = "test"
) -> dict[str, tuple[list[str], list[set[tuple[str, str]]]]]:
    """Inventory → (texts, gold pairs) of one split part; taxonomy = mapped cosmetics+product."""
    out = {}
    for corpus, split in splits.items():
        docs = getattr(split, part)
        out[corpus] = ([d.text for d in docs], [gold_pairs(d.labels) for d in docs])
    texts: list[str] = []
    gold: list[set[tuple[str, str]]] = []
    for corpus in ("cosmetics", "product"):
        if corpus in splits:
            for d in getattr(splits[corpus], part):
                texts.append(d.text)
                gold.append(gold_pairs(taxonomy_labels(corpus, d)))
    if texts:
        out["taxonomy"] = (texts, gold)
    return out


def evaluate_model(
    model: AspectModel,
    splits: dict[str, CorpusSplit],
    part: str = "test",
    predict: Callable[
        [AspectModel, Sequence[str], str], list[set[tuple[str, str]]]
    ] = predict_pairs,
) -> dict[str, dict[str, object]]:
    """`score_predictions` per inventory on one split part."""
    return {
        inv: score_predictions(gold, predict(model, texts, inv))
        for inv, (texts, gold) in evaluation_sets(splits, part).items()
        if inv in model.inventories
    }


def summarise_metrics(metrics: dict[str, dict[str, object]]) -> dict[str, dict[str, float]]:
    """Per inventory, the headline F1 scores and the number of documents."""
    keys = ("macro_f1_pairs", "macro_f1_detection", "micro_f1_pairs", "micro_f1_detection")
    return {inv: {k: m[k] for k in (*keys, "docs")} for inv, m in metrics.items()}
