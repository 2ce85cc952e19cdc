"""The leave-one-domain-out benchmark's scores, its speed section and the printed report
(`benchmarks.sentiment.lodo` runs them)."""

from __future__ import annotations

import random
import time
import unicodedata
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nlp.training.sentiment_data import Text

METHODS = ("baseline", "recipe", "snownlp")
SNOWNLP_SAMPLE = 1000


@dataclass(frozen=True, slots=True)
class Score:
    """One method on one held-out domain."""

    domain: str
    method: str
    n: int
    accuracy: float
    macro_f1: float
    seconds: float


def speed_texts(texts: Sequence[Text], n: int = 2000) -> list[str]:
    """``n`` distinct labelled texts of 50-70 characters (seeded sample)."""
    pool = [t.text for t in texts if t.label is not None and 50 <= len(t.text) <= 70]
    return random.Random(0).sample(pool, min(n, len(pool)))


def _rate(fn: Any, texts: Sequence[str], repeats: int = 2) -> float:
    fn(texts[:64])  # warm-up
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        fn(texts)
        best = min(best, time.perf_counter() - started)
    return len(texts) / best


def measure_speed(texts: Sequence[Text], baseline: Any) -> dict[str, float]:
    """docs/s of the shipped model (plain and int8-quantised) and the TF-IDF baseline."""
    import torch

    from nlp.sentiment import load_sentiment_model

    sample = speed_texts(texts)
    model = load_sentiment_model()
    rates = {"default model (nlp.sentiment, batch 64)": _rate(model.predict, sample)}
    rates["default model, batch 256"] = _rate(lambda t: model.predict(t, batch_size=256), sample)
    with warnings.catch_warnings():
        # Eager-mode quantisation is deprecated in favour of torchao, which is not installed.
        warnings.simplefilter("ignore")
        model.model = torch.ao.quantization.quantize_dynamic(
            model.model, {torch.nn.Linear}, dtype=torch.qint8
        )
    rates["default model, torch dynamic int8, batch 256"] = _rate(
        lambda t: model.predict(t, batch_size=256), sample
    )
    rates["tf-idf baseline"] = _rate(lambda t: baseline.predict_proba(t)[:, 1], sample)
    rates["mean chars"] = float(np.mean([len(t) for t in sample]))
    return rates


def pad_columns(text: str, width: int) -> str:
    """`text` padded to `width` terminal columns (CJK characters take two)."""
    shown = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(0, width - shown)


def format_report(scores: Sequence[Score], speed: dict[str, float] | None) -> str:
    """The printed table: accuracy / macro-F1 per domain and method, means, differences."""
    by = {(s.domain, s.method): s for s in scores}
    domains = list(dict.fromkeys(s.domain for s in scores))
    methods = [m for m in METHODS if any(s.method == m for s in scores)]
    head = f"{'domain':<8}{'n':>7}" + "".join(f"{m + ' acc/F1':>20}" for m in methods)
    if "recipe" in methods:
        head += f"{'recipe-base':>13}"
    lines = [head]
    for d in domains:
        n = by[(d, methods[0])].n
        row = f"{pad_columns(d, 8)}{n:>7}"
        for m in methods:
            s = by.get((d, m))
            row += f"{s.accuracy:>13.4f}/{s.macro_f1:.4f}" if s else f"{'-':>20}"
        if "recipe" in methods and (d, "recipe") in by:
            diff = by[(d, "recipe")].accuracy - by[(d, "baseline")].accuracy
            row += f"{100 * diff:>+12.2f}p"
        lines.append(row)
    mean = f"{'mean':<8}{'':>7}"
    for m in methods:
        got = [s for s in scores if s.method == m]
        acc = np.mean([s.accuracy for s in got])
        f1 = np.mean([s.macro_f1 for s in got])
        mean += f"{acc:>13.4f}/{f1:.4f}"
    if "recipe" in methods:
        diffs = [
            by[(d, "recipe")].accuracy - by[(d, "baseline")].accuracy
            for d in domains
            if (d, "recipe") in by
        ]
        mean += f"{100 * np.mean(diffs):>+12.2f}p"
    lines.append(mean)
    if "snownlp" in methods:
        lines.append(f"(snownlp: seeded sample of at most {SNOWNLP_SAMPLE} texts per domain)")
    if speed:
        lines.append("")
        lines.append(f"speed, ~{speed['mean chars']:.0f}-character texts, docs/s:")
        base = speed["tf-idf baseline"]
        for name, rate in speed.items():
            if name != "mean chars":
                lines.append(f"  {name:<48}{rate:>10.0f}  ({rate / base:.2f}x tf-idf)")
    return "\n".join(lines)
