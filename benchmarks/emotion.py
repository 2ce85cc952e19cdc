"""Emotion benchmark: the shipped model against two baselines on the held-out test set.

    OMP_NUM_THREADS=1 python -m benchmarks.emotion [--model DIR] [--json out.json]

Test set: SMP2020-EWECT usual-eval + virus-test (`nlp.training.train_emotion.load_emotion_split`,
the sentiment gold files; never trained on). Measured in the same run:

- ``model``: the emotion model (default: the bundled one);
- ``lexicon``: a keyword baseline, the label whose `nlp.emotion.LEXICON` cue words occur
  most often in the text (ties by label order), ``neutral`` when none occurs;
- ``majority``: the most frequent training label for every text.

Printed per method: per-class precision/recall/F1, macro-F1, accuracy, anger F1, the
confusion matrix, and documents per second on one thread (the whole test set, batch
inference, best of 3 runs); then the model's ratios to the baselines.

Prints a message and exits 0 when ``../shared/data`` is absent (nothing to measure).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

from nlp.emotion import LABELS, LEXICON, clean_text, load_emotion_model
from nlp.training.sentiment_data import SHARED_DATA, SharedDataMissing
from nlp.training.train_emotion import emotion_metrics, load_emotion_split


def lexicon_label(text: str) -> str:
    """The keyword baseline's label for one text."""
    text = clean_text(text)
    hits = {label: sum(text.count(w) for w in words) for label, words in LEXICON.items()}
    best = max(LABELS, key=lambda label: hits.get(label, 0))
    return best if hits.get(best, 0) else "neutral"


def _timed(predict: Callable[[list[str]], list[str]], texts: list[str]) -> tuple[list[str], float]:
    best, labels = float("inf"), []
    for _ in range(3):
        started = time.perf_counter()
        labels = predict(texts)
        best = min(best, time.perf_counter() - started)
    return labels, len(texts) / best


def _report(name: str, metrics: dict, docs_per_s: float) -> None:
    print(
        f"\n== {name}: macro-F1 {metrics['macro_f1']:.4f}  accuracy {metrics['accuracy']:.4f}"
        f"  anger F1 {metrics['per_class']['anger']['f1']:.4f}  {docs_per_s:,.0f} docs/s"
    )
    print(f"{'label':<10}{'precision':>10}{'recall':>10}{'F1':>8}{'support':>9}")
    for label, m in metrics["per_class"].items():
        print(
            f"{label:<10}{m['precision']:>10.3f}{m['recall']:>10.3f}{m['f1']:>8.3f}"
            f"{m['support']:>9}"
        )
    print("confusion (rows gold, columns predicted):")
    print(" " * 10 + "".join(f"{label[:8]:>9}" for label in metrics["labels"]))
    for label, row in zip(metrics["labels"], metrics["confusion"], strict=True):
        print(f"{label:<10}" + "".join(f"{n:>9}" for n in row))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.emotion", description=__doc__)
    parser.add_argument("--model", type=Path, default=None, help="model dir (default: bundled)")
    parser.add_argument("--data-dir", type=Path, default=SHARED_DATA)
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = parser.parse_args(argv)
    try:
        split = load_emotion_split(args.data_dir)
    except SharedDataMissing as exc:
        print(f"skipped: {exc}")
        return 0
    model = load_emotion_model(args.model)
    texts = [t for t, _ in split.test]
    gold = [label for _, label in split.test]
    majority = Counter(label for _, label in split.train).most_common(1)[0][0]
    model.predict(texts[:10])  # jieba's dictionary loads once, outside the timing
    methods: dict[str, Callable[[list[str]], list[str]]] = {
        "model": lambda ts: [r.label for r in model.predict(ts)],
        "lexicon": lambda ts: [lexicon_label(t) for t in ts],
        "majority": lambda ts: [majority] * len(ts),
    }
    print(f"test set: {len(texts):,} texts {dict(Counter(gold).most_common())}")
    mean_chars = sum(map(len, texts)) / max(1, len(texts))
    print(f"model {model.version}; train texts {len(split.train):,}; one thread")
    # Speed is shared-machine sensitive: the load says how busy the cores were.
    print(f"mean {mean_chars:.0f} characters per text; load average {os.getloadavg()[0]:.1f}")
    results = {}
    for name, predict in methods.items():
        labels, speed = _timed(predict, texts)
        metrics = emotion_metrics(gold, labels)
        results[name] = {"metrics": metrics, "docs_per_s": round(speed, 1)}
        _report(name, metrics, speed)
    ours = results["model"]["metrics"]
    print("\n== model vs baselines (ratios)")
    for name in ("lexicon", "majority"):
        theirs = results[name]["metrics"]
        for key, get in (
            ("macro-F1", lambda m: m["macro_f1"]),
            ("accuracy", lambda m: m["accuracy"]),
            ("anger F1", lambda m: m["per_class"]["anger"]["f1"]),
        ):
            a, b = get(ours), get(theirs)
            ratio = f"{a / b:.2f}x" if b else "n/a (baseline 0)"
            print(f"{key:<9} model {a:.4f} vs {name} {b:.4f}: {ratio}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
