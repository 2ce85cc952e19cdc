"""Aspect-labelled corpora in ``../shared/data/aspects``, their splits, and scoring.

Three corpora, each its own aspect inventory:

- ``car`` (car_bdci2018): one row per (text, subject); subject ∈ 动力 价格 油耗 操控 舒适性
  配置 安全性 内饰 外观 空间; sentiment −1/0/1; often an opinion word (sentiment_word).
- ``product`` (product_senticnet): one row per (sentence, aspect term); label 1/0 (no
  neutral). The aspect is the term (spaces removed); ``"0"`` marks an implicit aspect,
  which is trained on for polarity but is not an aspect a detector can be scored on.
- ``cosmetics`` (cosmetics_zhijiang2019): one row per opinion with its aspect term and
  opinion term offsets, a category (物流 服务 包装 价格 真伪 功效 使用体验 整体 ...) and a
  polarity 正面/负面/中性.

Texts are de-duplicated per corpus after collapsing whitespace; the labels of repeated
copies are merged. Each corpus is split by `split_docs` (fixed seed): 20% test, then 10%
of the rest as dev (detector thresholds), the rest train.
"""

from __future__ import annotations

import csv
import random
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from nlp.aspects import split_clauses
from nlp.training.sentiment_data import SHARED_DATA, SharedDataMissing, normalise

CORPORA = ("car", "product", "cosmetics")
SEED = 20240605
TEST_SHARE = 0.2
DEV_SHARE = 0.1
#: Auxiliary polarity examples: short reviews only (one opinion), at most this many.
REVIEW_MAX_CHARS = 30
REVIEW_LIMIT = 15_000
#: Cosmetics category → taxonomy category (整体 and 其他 are the whole review: dropped).
COSMETICS_TO_TAXONOMY = {
    "物流": "物流",
    "服务": "客服态度",
    "包装": "包装",
    "价格": "价格",
    # Doubts about authenticity ('是不是正品') are complaints about what was claimed.
    "真伪": "虚假宣传",
    "功效": "商品质量",
    "使用体验": "商品质量",
    "气味": "商品质量",
    "成分": "商品质量",
    "尺寸": "商品质量",
    "新鲜度": "商品质量",
}
#: product_senticnet aspect terms about price; every other term is 商品质量.
PRODUCT_PRICE_TERMS = frozenset({"价格", "价钱", "价位", "性价比", "售价", "报价"})
_COSMETICS_POLARITY = {"正面": "positive", "负面": "negative", "中性": "neutral"}
_CAR_POLARITY = {"-1": "negative", "0": "neutral", "1": "positive"}


@dataclass(frozen=True, slots=True)
class AspectLabel:
    """One gold opinion of a text.

    Attributes:
        aspect: Category or term; ``""`` when implicit (product ``"0"`` targets).
        polarity: ``"negative"``, ``"neutral"`` or ``"positive"``.
        term: The aspect term as written, ``""`` if none.
        opinion: The opinion word as written, ``""`` if none.
        start: Offset of the opinion (else the aspect term) in the text, or -1.
    """

    aspect: str
    polarity: str
    term: str = ""
    opinion: str = ""
    start: int = -1


@dataclass(frozen=True, slots=True)
class AspectDoc:
    """A distinct text of one corpus with all its gold opinions."""

    text: str
    labels: tuple[AspectLabel, ...]


@dataclass(frozen=True, slots=True)
class CorpusSplit:
    """Train / dev / test documents of one corpus."""

    corpus: str
    train: list[AspectDoc]
    dev: list[AspectDoc]
    test: list[AspectDoc]


def _rows(path: Path) -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        yield from csv.DictReader(fh)


def _int(value: str | None) -> int:
    try:
        return int((value or "").strip())
    except ValueError:
        return -1


def _group(pairs: Iterable[tuple[str, AspectLabel]]) -> list[AspectDoc]:
    labels: dict[str, list[AspectLabel]] = defaultdict(list)
    raw: dict[str, str] = {}
    for text, label in pairs:
        key = normalise(text)
        if not key:
            continue
        raw.setdefault(key, text)
        if label not in labels[key]:
            labels[key].append(label)
    # Offsets refer to the first raw copy; a copy differing only in spaces keeps them.
    return [AspectDoc(raw[k], tuple(labels[k])) for k in sorted(labels)]


def load_corpus(name: str, root: Path = SHARED_DATA) -> list[AspectDoc]:
    """De-duplicated documents of one corpus, sorted by text.

    Raises:
        SharedDataMissing: naming the folder when it is absent.
        ValueError: for an unknown corpus name.
    """
    folder = Path(root) / "aspects"
    if not folder.is_dir():
        raise SharedDataMissing(f"aspect corpora not found: {folder} does not exist")
    if name == "car":
        return _group(
            (
                r["content"] or "",
                AspectLabel(
                    r["subject"].strip(),
                    _CAR_POLARITY[r["sentiment_value"].strip()],
                    opinion=(r["sentiment_word"] or "").strip(),
                ),
            )
            for r in _rows(folder / "car_bdci2018.csv")
        )
    if name == "product":
        out = []
        for r in _rows(folder / "product_senticnet.csv"):
            term = (r["target"] or "").replace(" ", "").strip()
            term = "" if term == "0" else term.lower()
            polarity = "positive" if r["label"].strip() == "1" else "negative"
            out.append((r["sentence"] or "", AspectLabel(term, polarity, term=term)))
        return _group(out)
    if name == "cosmetics":
        reviews = {
            r["id"]: r["Reviews"] or "" for r in _rows(folder / f"{name}_zhijiang2019_reviews.csv")
        }
        out = []
        for r in _rows(folder / "cosmetics_zhijiang2019_labels.csv"):
            if r["id"] not in reviews:
                continue
            term = "" if r["AspectTerms"].strip() == "_" else r["AspectTerms"].strip()
            opinion = "" if r["OpinionTerms"].strip() == "_" else r["OpinionTerms"].strip()
            start = _int(r["O_start"]) if opinion else _int(r["A_start"])
            label = AspectLabel(
                r["Categories"].strip(),
                _COSMETICS_POLARITY.get(r["Polarities"].strip(), "neutral"),
                term=term,
                opinion=opinion,
                start=start,
            )
            out.append((reviews[r["id"]], label))
        return _group(out)
    raise ValueError(f"unknown aspect corpus {name!r}; expected one of {CORPORA}")


def load_review_polarity(
    root: Path = SHARED_DATA,
    exclude: Iterable[str] = (),
    max_chars: int = REVIEW_MAX_CHARS,
    limit: int = REVIEW_LIMIT,
    seed: int = SEED,
) -> list[tuple[str, str]]:
    """Short labelled reviews (online_shopping_9_cats, waimai_10k) as polarity examples.

    The aspect corpora hold few complaints in the words of shops and tickets (冷淡, 没到账);
    these binary-labelled short reviews teach the polarity model that vocabulary. Texts of
    at most `max_chars` characters and two clauses, de-duplicated, minus `exclude`
    (held-out aspect texts) and texts with contradicting labels; a seeded sample of
    `limit`. Missing files give ``[]``.
    """
    skip = {normalise(t) for t in exclude}
    labels: dict[str, set[str]] = defaultdict(set)
    for name, column in (("online_shopping_9_cats.csv", "review"), ("waimai_10k.csv", "review")):
        path = Path(root) / "sentiment" / name
        if not path.is_file():
            continue
        for r in _rows(path):
            text = normalise(r[column] or "")
            short = text and text not in skip and len(text) <= max_chars
            if short and len(split_clauses(text)) <= 2:
                labels[text].add("positive" if r["label"].strip() == "1" else "negative")
    kept = sorted((t, next(iter(p))) for t, p in labels.items() if len(p) == 1)
    random.Random(seed).shuffle(kept)
    return kept[:limit]


def split_docs(corpus: str, docs: Sequence[AspectDoc], seed: int = SEED) -> CorpusSplit:
    """Shuffle distinct documents with a fixed seed: 20% test, 10% of the rest dev."""
    order = list(docs)
    random.Random(f"{seed}:{corpus}").shuffle(order)
    n_test = round(len(order) * TEST_SHARE)
    test, rest = order[:n_test], order[n_test:]
    n_dev = round(len(rest) * DEV_SHARE)
    return CorpusSplit(corpus, train=rest[n_dev:], dev=rest[:n_dev], test=test)


def load_splits(root: Path = SHARED_DATA) -> dict[str, CorpusSplit]:
    """`split_docs` of every corpus in `CORPORA`."""
    return {name: split_docs(name, load_corpus(name, root)) for name in CORPORA}


def clause_spans(text: str) -> list[tuple[int, int, str]]:
    """`split_clauses` of a text with each clause's (start, end) offsets in it."""
    out = []
    pos = 0
    for clause in split_clauses(text):
        start = text.find(clause, pos)
        if start < 0:  # cannot happen for split output; keep the clause without offsets
            start = pos
        out.append((start, start + len(clause), clause))
        pos = start + len(clause)
    return out


def taxonomy_labels(corpus: str, doc: AspectDoc) -> list[AspectLabel]:
    """A document's labels mapped to the taxonomy (cosmetics and product only)."""
    out = []
    for label in doc.labels:
        if corpus == "cosmetics":
            aspect = COSMETICS_TO_TAXONOMY.get(label.aspect)
        elif corpus == "product":
            aspect = "价格" if label.term in PRODUCT_PRICE_TERMS else "商品质量"
        else:
            aspect = None
        if aspect:
            out.append(AspectLabel(aspect, label.polarity, label.term, label.opinion, label.start))
    return out


def gold_pairs(labels: Iterable[AspectLabel]) -> set[tuple[str, str]]:
    """(aspect, polarity) pairs of explicit aspects."""
    return {(label.aspect, label.polarity) for label in labels if label.aspect}


@dataclass(frozen=True, slots=True)
class AspectScore:
    """Precision, recall and F1 of one aspect (pairs, or detection alone), with support."""

    precision: float
    recall: float
    f1: float
    support: int


def _prf(tp: int, fp: int, fn: int) -> AspectScore:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return AspectScore(round(p, 4), round(r, 4), round(f, 4), tp + fn)


def score_predictions(
    gold: Sequence[set[tuple[str, str]]], predicted: Sequence[set[tuple[str, str]]]
) -> dict[str, object]:
    """Per-aspect and macro scores of (aspect, polarity) pairs and of detection alone.

    Macro-F1 averages the aspects with gold support in these documents (an aspect never
    in the gold set cannot be recalled; its false positives still count in micro-F1).

    Returns:
        ``{"pairs": {aspect: AspectScore}, "detection": {...}, "macro_f1_pairs",
        "macro_f1_detection", "micro_f1_pairs", "micro_f1_detection", "docs"}``.
    """
    counts = {kind: defaultdict(lambda: [0, 0, 0]) for kind in ("pairs", "detection")}
    for g, p in zip(gold, predicted, strict=True):
        for kind, gs, ps in (
            ("pairs", g, p),
            ("detection", {(a, "") for a, _ in g}, {(a, "") for a, _ in p}),
        ):
            for item in gs | ps:
                c = counts[kind][item[0]]
                if item in gs and item in ps:
                    c[0] += 1
                elif item in ps:
                    c[1] += 1
                else:
                    c[2] += 1
    out: dict[str, object] = {"docs": len(gold)}
    for kind, by_aspect in counts.items():
        scores = {a: _prf(*c) for a, c in sorted(by_aspect.items())}
        supported = [s.f1 for s in scores.values() if s.support]
        total = [sum(c[i] for c in by_aspect.values()) for i in range(3)]
        out[kind] = scores
        out[f"macro_f1_{kind}"] = round(sum(supported) / len(supported), 4) if supported else 0.0
        out[f"micro_f1_{kind}"] = _prf(*total).f1
    return out
