"""Train the bundled emotion model (`nlp.emotion`) on the shared Weibo emotion corpora.

    OMP_NUM_THREADS=1 python -m nlp.training.train_emotion --out nlp/models/emotion_default [--cv]

Data (``../shared/data/emotion``; the command stops with a message naming the folder when
it is absent):

- test: the two files of the sentiment gold set (`nlp.training.sentiment_data.GOLD_FILES`:
  SMP2020-EWECT usual-eval and virus-test), never trained on;
- train: SMP2020-EWECT virus-train and virus-eval, and CLUE2020 emotion valid.

Labels map to `nlp.emotion.LABELS`: happy/happiness/like → joy, angry/anger/disgust →
anger, sad/sadness → sadness, fear, surprise, neutral. Texts are de-duplicated after
normalising whitespace (`nlp.training.sentiment_data.normalise`), a text with contradicting labels
is dropped, and every text of the test set is removed from training.

The model: `nlp.emotion.emotion_features` counted, TF-IDF (sublinear tf, features seen in
at least ``min_df`` training texts), multinomial logistic regression with balanced class
weights (rare fear and surprise weigh as much as joy). ``--cv`` picks C by 5-fold
cross-validated macro-F1 on the training set only.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nlp.emotion import LABELS, EmotionModel, FeatureConfig, emotion_features
from nlp.training.sentiment_data import GOLD_FILES, SHARED_DATA, SharedDataMissing, normalise

logger = logging.getLogger(__name__)

MODEL_NAME = "emotion-default-v1"
#: Corpus label → `nlp.emotion.LABELS`.
LABEL_MAP = {
    "happy": "joy",
    "happiness": "joy",
    "like": "joy",
    "angry": "anger",
    "anger": "anger",
    "disgust": "anger",
    "sad": "sadness",
    "sadness": "sadness",
    "fear": "fear",
    "surprise": "surprise",
    "neutral": "neutral",
}
TEST_FILES = GOLD_FILES
TRAIN_FILES = (
    "weibo_smp2020_virus_train.csv",
    "weibo_smp2020_virus_eval_labeled.csv",
    "weibo_clue2020_valid.csv",
)
#: Logistic-regression inverse regularisation of the shipped model (chosen with ``--cv``).
DEFAULT_C = 4.0
DEFAULT_MIN_DF = 2
CV_GRID = (1.0, 2.0, 4.0, 8.0, 16.0)


@dataclass(frozen=True, slots=True)
class EmotionSplit:
    """De-duplicated labelled texts.

    Attributes:
        train: ``(text, label)`` from `TRAIN_FILES`, none of them in ``test``.
        test: ``(text, label)`` from `TEST_FILES`.
    """

    train: list[tuple[str, str]]
    test: list[tuple[str, str]]


def _read(root: Path, names: Sequence[str]) -> dict[str, str]:
    labels: dict[str, set[str]] = defaultdict(set)
    for name in names:
        path = root / "emotion" / name
        with path.open(encoding="utf-8-sig", newline="") as fh:
            for lineno, row in enumerate(csv.DictReader(fh), start=2):
                label = LABEL_MAP.get(row.get("label") or "")
                if label is None:
                    raise ValueError(f"{path}:{lineno}: unknown label {row.get('label')!r}")
                text = normalise(row.get("content") or "")
                if text:
                    labels[text].add(label)
    return {t: next(iter(found)) for t, found in sorted(labels.items()) if len(found) == 1}


def load_emotion_split(root: Path = SHARED_DATA) -> EmotionSplit:
    """The training and test texts (module doc), sorted by text.

    Raises:
        SharedDataMissing: naming the folder when an emotion file is absent.
    """
    missing = [n for n in (*TRAIN_FILES, *TEST_FILES) if not (root / "emotion" / n).is_file()]
    if missing:
        raise SharedDataMissing(
            f"emotion corpora not found in {root / 'emotion'} (missing {', '.join(missing)})"
        )
    test = _read(root, TEST_FILES)
    train = {t: label for t, label in _read(root, TRAIN_FILES).items() if t not in test}
    return EmotionSplit(train=list(train.items()), test=list(test.items()))


def _fit_features(texts: Sequence[str], config: FeatureConfig, min_df: int) -> tuple:
    from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer

    counter = CountVectorizer(analyzer=lambda t: emotion_features(t, config), min_df=min_df)
    tfidf = TfidfTransformer(sublinear_tf=True)
    return counter, tfidf, tfidf.fit_transform(counter.fit_transform(list(texts)))


def _fit_classifier(x: object, labels: Sequence[str], c: float) -> object:
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=c, max_iter=3000, class_weight="balanced")
    return clf.fit(x, list(labels))


def train_emotion_model(
    texts: Sequence[str],
    labels: Sequence[str],
    c: float = DEFAULT_C,
    min_df: int = DEFAULT_MIN_DF,
    config: FeatureConfig | None = None,
    name: str = MODEL_NAME,
) -> EmotionModel:
    """Fit the TF-IDF + logistic-regression emotion model.

    Args:
        texts: Training texts.
        labels: One of `nlp.emotion.LABELS` per text; labels never seen get no column.
        c: Inverse regularisation strength.
        min_df: Keep features found in at least this many texts.
        config: Feature settings (default `FeatureConfig()`).
        name: The model's name (its version adds a weights digest).

    Returns:
        The fitted model; saving and loading it gives identical predictions.
    """
    unknown = set(labels) - set(LABELS)
    if unknown:
        raise ValueError(f"unknown labels {sorted(unknown)}; expected some of {LABELS}")
    config = config or FeatureConfig()
    counter, tfidf, x = _fit_features(texts, config, min_df)
    clf = _fit_classifier(x, labels, c)
    classes = [str(k) for k in clf.classes_]
    # Keep the canonical label order so scores columns mean the same in every model.
    order = [classes.index(label) for label in LABELS if label in classes]
    coef, intercept = clf.coef_, clf.intercept_
    if len(classes) == 2:  # scikit-learn stores one row for a binary problem
        coef = np.vstack([-coef[0], coef[0]]) / 2
        intercept = np.array([-intercept[0], intercept[0]]) / 2
    return EmotionModel(
        name=name,
        labels=tuple(classes[i] for i in order),
        vocabulary={feat: int(col) for feat, col in counter.vocabulary_.items()},
        idf=tfidf.idf_,
        coef=coef[order],
        intercept=intercept[order],
        config=config,
    )


def emotion_metrics(
    gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str] = LABELS
) -> dict:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix.

    Returns:
        A JSON-ready dict; ``confusion[i][j]`` counts gold ``labels[i]`` predicted
        ``labels[j]``.
    """
    index = {label: i for i, label in enumerate(labels)}
    confusion = np.zeros((len(labels), len(labels)), dtype=int)
    for g, p in zip(gold, predicted, strict=True):
        confusion[index[g], index[p]] += 1
    per_class = {}
    for i, label in enumerate(labels):
        tp = confusion[i, i]
        precision = tp / confusion[:, i].sum() if confusion[:, i].sum() else 0.0
        recall = tp / confusion[i].sum() if confusion[i].sum() else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = {
            "precision": round(float(precision), 4),
            "recall": round(float(recall), 4),
            "f1": round(float(f1), 4),
            "support": int(confusion[i].sum()),
        }
    return {
        "n": len(gold),
        "accuracy": round(float(np.trace(confusion) / max(1, len(gold))), 4),
        "macro_f1": round(float(np.mean([c["f1"] for c in per_class.values()])), 4),
        "per_class": per_class,
        "labels": list(labels),
        "confusion": confusion.tolist(),
    }


def cross_validate_c(
    texts: Sequence[str], labels: Sequence[str], grid: Sequence[float] = CV_GRID, folds: int = 5
) -> dict[float, float]:
    """Mean out-of-fold macro-F1 of each C (features re-fitted per fold)."""
    from sklearn.model_selection import StratifiedKFold

    x, y = np.array(texts, dtype=object), np.array(labels)
    scores: dict[float, list[float]] = defaultdict(list)
    splitter = StratifiedKFold(folds, shuffle=True, random_state=13)
    for fit_idx, score_idx in splitter.split(x, y):
        counter, tfidf, fitted = _fit_features(list(x[fit_idx]), FeatureConfig(), DEFAULT_MIN_DF)
        held_out = tfidf.transform(counter.transform(list(x[score_idx])))
        for c in grid:
            predicted = _fit_classifier(fitted, list(y[fit_idx]), c).predict(held_out)
            scores[c].append(emotion_metrics(list(y[score_idx]), list(predicted))["macro_f1"])
        logger.info("fold done: %s", {c: round(float(np.mean(v)), 4) for c, v in scores.items()})
    return {c: float(np.mean(v)) for c, v in scores.items()}


def _card(metrics: dict) -> str:
    test = metrics["test"]
    rows = "\n".join(
        f"| {label} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['support']} |"
        for label, m in test["per_class"].items()
    )
    header = " | ".join(test["labels"])
    confusion = "\n".join(
        f"| {label} | " + " | ".join(str(n) for n in row) + " |"
        for label, row in zip(test["labels"], test["confusion"], strict=True)
    )
    counts = ", ".join(f"{label} {n:,}" for label, n in metrics["train_counts"].items())
    cv = metrics.get("cv_macro_f1")
    cv_line = (
        "C was chosen by 5-fold cross-validated macro-F1 on the training set: "
        + ", ".join(f"C={c}: {s:.4f}" for c, s in cv.items())
        + "."
        if cv
        else f"C = {metrics['c']} (chosen earlier with `--cv` on the training set)."
    )
    return f"""# {metrics["model_name"]}

VoC Monitor's default emotion model for Chinese social posts (`nlp/emotion.py`): labels
anger (愤怒), sadness (失望/悲伤), fear (恐惧/焦虑), joy (喜悦), surprise (惊讶), neutral (中性).
A linear model: character {metrics["features"]["char_ngrams"]}-grams, jieba word
{metrics["features"]["word_ngrams"]}-grams, Weibo emoji alt texts and one cue feature per
emotion lexicon, TF-IDF (sublinear tf, min_df {metrics["min_df"]}),
multinomial logistic regression with balanced class weights, C = {metrics["c"]}.
{metrics["n_features"]:,} features; weights stored as float16 in `weights.safetensors`,
features in `vocab.json`, settings in `config.json` (no pickle).

## Data

Public Weibo emotion corpora from `../shared/data/emotion` (not redistributed here):
trained on SMP2020-EWECT virus-train + virus-eval and CLUE2020 emotion valid
({metrics["n_train"]:,} distinct texts: {counts}); tested on
SMP2020-EWECT usual-eval + virus-test, the files of the sentiment gold set
({test["n"]:,} distinct texts), never trained on. Labels mapped: happy/happiness/like →
joy, angry/anger/disgust → anger, sad/sadness → sadness. Texts de-duplicated after
normalising whitespace; contradicting labels dropped; test texts removed from training.
{cv_line}

## Reproduce

    OMP_NUM_THREADS=1 python -m nlp.training.train_emotion --out nlp/models/emotion_default --cv

(`--cv` repeats the choice of C, a few minutes; without it C = {metrics["c"]}.)
Training took {metrics["train_seconds"]:.0f} s on one core. `python -m benchmarks.emotion`
prints the same test metrics next to a keyword-lexicon and a majority-class baseline.

## Metrics (test set)

macro-F1 **{test["macro_f1"]:.4f}**, accuracy {test["accuracy"]:.4f},
anger F1 {test["per_class"]["anger"]["f1"]:.4f}.

| label | precision | recall | F1 | support |
|---|---|---|---|---|
{rows}

| gold \\ predicted | {header} |
|{"---|" * (len(test["labels"]) + 1)}
{confusion}

## Limits

Trained on Weibo posts (general and COVID-19 topics), not on customer complaints; anger
and joy are the reliable classes, surprise is rarely recognised. Sarcasm (呵呵, 真是太好了)
is often read literally. Texts are read up to 512 characters.
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: train, evaluate on the test set, write the model and its card."""
    parser = argparse.ArgumentParser(
        prog="python -m nlp.training.train_emotion", description=__doc__
    )
    parser.add_argument("--out", type=Path, required=True, help="model directory to write")
    parser.add_argument("--data-dir", type=Path, default=SHARED_DATA)
    parser.add_argument("--c", type=float, default=DEFAULT_C)
    parser.add_argument("--min-df", type=int, default=DEFAULT_MIN_DF)
    parser.add_argument("--cv", action="store_true", help="choose C by 5-fold CV on train")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        split = load_emotion_split(args.data_dir)
    except SharedDataMissing as exc:
        print(exc, file=sys.stderr)
        return 2
    texts = [t for t, _ in split.train]
    labels = [label for _, label in split.train]
    cv = None
    if args.cv:
        cv = cross_validate_c(texts, labels)
        args.c = max(cv, key=cv.__getitem__)
        logger.info("cross-validated macro-F1 %s: C=%s", cv, args.c)
    started = time.perf_counter()
    model = train_emotion_model(texts, labels, c=args.c, min_df=args.min_df)
    seconds = time.perf_counter() - started
    predicted = [r.label for r in model.predict([t for t, _ in split.test])]
    test = emotion_metrics([label for _, label in split.test], predicted)
    model.save(args.out)
    metrics = {
        "model_name": model.name,
        "version": model.version,
        "c": args.c,
        "min_df": args.min_df,
        "features": {
            "char_ngrams": "-".join(map(str, model.config.char_ngrams)),
            "word_ngrams": "-".join(map(str, model.config.word_ngrams)),
        },
        "n_features": len(model.vocabulary),
        "n_train": len(texts),
        "train_counts": dict(Counter(labels).most_common()),
        "train_seconds": round(seconds, 1),
        "cv_macro_f1": {str(c): round(s, 4) for c, s in cv.items()} if cv else None,
        "test": test,
    }
    (args.out / "metrics.json").write_text(
        json.dumps(metrics, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    (args.out / "README.md").write_text(_card(metrics), encoding="utf-8")
    logger.info(
        "%s: macro-F1 %.4f, accuracy %.4f, anger F1 %.4f on %d test texts -> %s",
        model.version,
        test["macro_f1"],
        test["accuracy"],
        test["per_class"]["anger"]["f1"],
        test["n"],
        args.out,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
