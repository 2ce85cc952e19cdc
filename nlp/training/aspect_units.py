"""Clause units of the aspect corpora and the keyword lexicons mined from them, for
`nlp.training.train_aspects`.

Each gold opinion is placed in the clause holding its offset (cosmetics), its aspect term
(product) or its opinion word / a mined keyword (car). An aspect's candidate terms are kept
as keywords when they occur at least `MIN_KEYWORD_COUNT` times and at least
`MIN_KEYWORD_PRECISION` of the units containing them carry the aspect.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence

from nlp.aspects import char_grams, clause_contexts, normalise_clause
from nlp.training.aspect_data import (
    PRODUCT_PRICE_TERMS,
    AspectDoc,
    AspectLabel,
    CorpusSplit,
    clause_spans,
    taxonomy_labels,
)

# Keywords are words: no punctuation, digits or clause boundary marks ('0t', ',价').
_KEYWORD = re.compile(r"^[\u4e00-\u9fffa-z]{2,}$")
MIN_KEYWORD_COUNT = 3
MIN_KEYWORD_PRECISION = 0.7
#: Car subjects are also keywords of themselves (安全性 is written 安全 ...).
CAR_NAME_KEYWORDS = {"安全性": "安全", "舒适性": "舒适"}

#: Marks an aspect a tuning document must not be judged on (``?商品质量``).
UNJUDGED = "?"


class ClauseUnit:
    """One clause of a training document: gold aspects present / not to be judged."""

    __slots__ = ("clause", "context", "ignore", "positive")

    def __init__(self, clause: str, context: str) -> None:
        self.clause = clause
        self.context = context
        self.positive: dict[str, str] = {}
        self.ignore: set[str] = set()


def _place(text: str, label: AspectLabel, keywords: Sequence[str] = ()) -> int | None:
    """Index of the clause that holds a label's opinion, or None."""
    spans = clause_spans(text)
    if label.start >= 0:
        for i, (start, end, _) in enumerate(spans):
            if start <= label.start < end:
                return i
    for needle in (label.opinion, label.term, *keywords):
        if needle:
            for i, (_, _, clause) in enumerate(spans):
                if needle in clause:
                    return i
    return None


def doc_units(
    doc: AspectDoc, labels: Sequence[AspectLabel], keywords: dict[str, Sequence[str]]
) -> list[ClauseUnit]:
    """Clause units of one document; an aspect that cannot be placed is ignored in all."""
    spans = clause_spans(doc.text)
    clauses = [c for _, _, c in spans]
    units = [
        ClauseUnit(normalise_clause(c), normalise_clause(x))
        for c, x in zip(clauses, clause_contexts(clauses), strict=True)
    ]
    if not units:
        return []
    for label in labels:
        if not label.aspect:
            continue
        i = _place(doc.text, label, keywords.get(label.aspect, ()))
        if i is None:
            for u in units:
                u.ignore.add(label.aspect)
        else:
            units[i].positive.setdefault(label.aspect, label.polarity)
    return units


def corpus_labels(corpus: str, inventory: str, doc: AspectDoc) -> list[AspectLabel]:
    """A document's labels in an inventory (taxonomy: mapped from its corpus)."""
    return taxonomy_labels(corpus, doc) if inventory == "taxonomy" else list(doc.labels)


def inventory_sources(inventory: str) -> tuple[str, ...]:
    """The corpora an inventory is trained from."""
    return ("cosmetics", "product") if inventory == "taxonomy" else (inventory,)


def product_quality_terms(docs: Sequence[AspectDoc], taken: set[str]) -> set[str]:
    """Frequent product aspect terms, not price terms nor overlapping `taken` keywords."""
    counts = Counter(lb.term for d in docs for lb in d.labels if lb.term)
    return {
        t
        for t, n in counts.items()
        if n >= MIN_KEYWORD_COUNT
        and _KEYWORD.match(t)
        and t not in PRODUCT_PRICE_TERMS
        and not any(k in t or t in k for k in taken)
    }


def mine_car_keywords(docs: Sequence[AspectDoc]) -> dict[str, list[str]]:
    """Char 2-3-grams that mostly occur in texts labelled with one car subject."""
    df: Counter[str] = Counter()
    by_aspect: dict[str, Counter[str]] = defaultdict(Counter)
    for doc in docs:
        grams = {g for g in char_grams(normalise_clause(doc.text)) if len(g) > 1}
        grams = {g for g in grams if _KEYWORD.match(g)}
        df.update(grams)
        for aspect in {label.aspect for label in doc.labels}:
            by_aspect[aspect].update(grams)
    out = {}
    for aspect, counts in by_aspect.items():
        kept = [
            g
            for g, n in counts.items()
            if n >= MIN_KEYWORD_COUNT * 3 and n / df[g] >= MIN_KEYWORD_PRECISION
        ]
        name = CAR_NAME_KEYWORDS.get(aspect, aspect)
        out[aspect] = sorted({name, *kept}, key=lambda g: (-counts[g], g))
    return out


def prune_keywords(
    candidates: dict[str, set[str]], units: Sequence[ClauseUnit]
) -> dict[str, list[str]]:
    """Candidate terms that occur in enough units and mostly in units of their aspect."""
    out: dict[str, list[str]] = {}
    for aspect, terms in candidates.items():
        kept = []
        for term in sorted(terms):
            if len(term) < 2:
                continue
            having = [u for u in units if term in u.clause and aspect not in u.ignore]
            hits = sum(aspect in u.positive for u in having)
            if hits >= MIN_KEYWORD_COUNT and hits / len(having) >= MIN_KEYWORD_PRECISION:
                kept.append(term)
        out[aspect] = kept
    return out


def candidate_terms(corpus: str, inventory: str, docs: Sequence[AspectDoc]) -> dict[str, set[str]]:
    """Per aspect, the normalised terms (else opinion words) its labels name."""
    out: dict[str, set[str]] = defaultdict(set)
    for doc in docs:
        for label in corpus_labels(corpus, inventory, doc):
            # An opinion word names the aspect only when no aspect term does ('很快' → 物流).
            for term in (label.term or label.opinion,):
                if term and label.aspect and _KEYWORD.match(normalise_clause(term)):
                    out[label.aspect].add(normalise_clause(term))
    return out


def build_inventory_units(
    inventory: str, splits: dict[str, CorpusSplit], part: str, keywords: dict[str, list[str]]
) -> tuple[list[ClauseUnit], list[list[ClauseUnit]], list[set[str]]]:
    """Units of an inventory's documents in one split part, also grouped per document."""
    flat: list[ClauseUnit] = []
    per_doc: list[list[ClauseUnit]] = []
    gold: list[set[str]] = []
    for corpus in inventory_sources(inventory):
        if corpus not in splits:
            continue
        for doc in getattr(splits[corpus], part):
            labels = corpus_labels(corpus, inventory, doc)
            units = doc_units(doc, labels, keywords)
            if inventory == "taxonomy" and corpus == "product":
                # product_senticnet names an aspect term in every sentence, so a 商品质量
                # detector trained on it fires on any opinion; its clauses only teach the
                # other categories what they are not ('速度很快' of a phone is not 物流),
                # and its terms become 商品质量 keywords.
                for u in units:
                    u.ignore.add("商品质量")
                labels = [lb for lb in labels if lb.aspect != "商品质量"]
                labels.append(AspectLabel(UNJUDGED + "商品质量", "neutral"))
            flat.extend(units)
            per_doc.append(units)
            gold.append({label.aspect for label in labels if label.aspect})
    return flat, per_doc, gold
