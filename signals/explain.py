"""Explain a spike: what grew in the spike window against its baseline, and who said it.

Method
    1. Features per document, each counted once per document: its theme, its categories,
       its (aspect, polarity) pairs, and its phrases: token unigrams of two or more
       characters and token bigrams when the document is segmented, else the 2-4 character
       n-grams of its CJK runs.
    2. Score: the log-odds ratio with an informative Dirichlet prior (Monroe, Colaresi &
       Quinn 2008, "Fightin' Words") between the spike and baseline documents, divided by
       its standard deviation, so a phrase seen in 40 spike documents outranks one seen in
       2 with the same ratio. The prior for a feature is `prior_strength` pseudo-documents
       spread by the feature's share of both windows together.
    3. A feature must appear in at least `min_docs` spike documents and have z > 0; the top
       `top_k` of each kind are returned. A phrase inside a longer one found in at least
       80 % as many spike documents is dropped as its fragment, and of two overlapping
       phrases with spike counts within 20 % the better ranked stays: "快递", "递太慢"
       and "快递太慢" are one finding.
    4. Verbatims: spike documents that mention a top phrase or carry the top theme, one per
       near-duplicate group (and per exact text), ordered by group size (the most reposted
       voice first), then by typicality (the summed z of the top phrases they contain),
       then by doc id; `n_verbatims` (3-5) are kept.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence

from voc.signals import Driver, ExplainDoc, Explanation, Verbatim

_CJK_RUN = re.compile(r"[\u3400-\u9fff]+")


def char_ngrams(text: str, sizes: Iterable[int] = (2, 3, 4)) -> set[str]:
    """The distinct n-grams of each CJK run of `text` (no n-gram spans punctuation)."""
    grams: set[str] = set()
    for run in _CJK_RUN.findall(text):
        for n in sizes:
            grams.update(run[i : i + n] for i in range(len(run) - n + 1))
    return grams


def _phrases(doc: ExplainDoc) -> set[str]:
    if not doc.tokens:
        return char_ngrams(doc.text)
    words = [t for t in doc.tokens if t.strip()]
    grams = {w for w in words if len(w) >= 2}
    grams.update(a + b for a, b in itertools.pairwise(words) if len(a + b) >= 3)
    return grams


def _features(doc: ExplainDoc) -> dict[str, set[str]]:
    return {
        "theme": {doc.theme} if doc.theme else set(),
        "category": set(doc.categories),
        "aspect": {f"{a}|{p}" for a, p in doc.aspects},
        "phrase": _phrases(doc),
    }


def _log_odds(
    spike: Counter[str], base: Counter[str], n_spike: int, n_base: int, prior_strength: float
) -> dict[str, float]:
    # Monroe et al. (2008) eq. 22, on document counts: each window is n documents, and a
    # feature's complement is the documents without it.
    total = n_spike + n_base
    z: dict[str, float] = {}
    for f, y_i in spike.items():
        y_j = base.get(f, 0)
        # The +0.5 / +1 keep the prior below a0 when a feature is in every document.
        a = prior_strength * (y_i + y_j + 0.5) / (total + 1)
        a0 = prior_strength
        delta = math.log((y_i + a) / (n_spike + a0 - y_i - a)) - math.log(
            (y_j + a) / (n_base + a0 - y_j - a)
        )
        z[f] = delta / math.sqrt(1 / (y_i + a) + 1 / (y_j + a))
    return z


def _drop_overlapping(ranked: list[Driver]) -> list[Driver]:
    # A phrase inside a longer one found in nearly as many documents is that phrase's
    # fragment ("太慢" of "快递太慢"); then, of overlapping phrases, the better ranked stays.
    ranked = [
        d
        for d in ranked
        if not any(
            len(o.value) > len(d.value)
            and d.value in o.value
            and o.spike_docs >= 0.8 * d.spike_docs
            for o in ranked
        )
    ]
    kept: list[Driver] = []
    for d in ranked:
        if not any(
            (d.value in k.value or k.value in d.value)
            and abs(d.spike_docs - k.spike_docs) <= 0.2 * max(d.spike_docs, k.spike_docs)
            for k in kept
        ):
            kept.append(d)
    return kept


def explain_spike(
    spike_docs: Sequence[ExplainDoc],
    baseline_docs: Sequence[ExplainDoc],
    *,
    top_k: int = 10,
    n_verbatims: int = 5,
    min_docs: int = 2,
    prior_strength: float = 10.0,
) -> Explanation:
    """What grew most in the spike window against the baseline window (see module docstring).

    Args:
        spike_docs: Documents of the spike window (usually its negative ones).
        baseline_docs: Documents of the baseline window, filtered the same way.
        top_k: Drivers kept per kind.
        n_verbatims: Representative documents kept (3-5 is what a reader takes in).
        min_docs: Fewest spike documents a driver must appear in.
        prior_strength: Pseudo-documents of the Dirichlet prior.

    Returns:
        The drivers of each kind, best first, and the verbatims.
    """
    n_s, n_b = len(spike_docs), len(baseline_docs)
    if not n_s:
        return Explanation((), (), (), (), (), 0, n_b)
    counts_s: dict[str, Counter[str]] = {
        k: Counter() for k in ("theme", "category", "aspect", "phrase")
    }
    counts_b: dict[str, Counter[str]] = {k: Counter() for k in counts_s}
    doc_phrases = []
    for doc in spike_docs:
        feats = _features(doc)
        doc_phrases.append(feats["phrase"])
        for kind, values in feats.items():
            counts_s[kind].update(values)
    for doc in baseline_docs:
        # Only features of the spike are scored: counting the rest would be wasted work.
        for kind, values in _features(doc).items():
            counts_b[kind].update(values & counts_s[kind].keys())
    drivers: dict[str, list[Driver]] = {}
    for kind in counts_s:
        z = _log_odds(counts_s[kind], counts_b[kind], n_s, n_b, prior_strength)
        ranked = sorted(
            (
                Driver(
                    kind,
                    f,
                    counts_s[kind][f],
                    counts_b[kind].get(f, 0),
                    counts_s[kind][f] / max(n_s, 1),
                    counts_b[kind].get(f, 0) / max(n_b, 1),
                    score,
                )
                for f, score in z.items()
                if score > 0 and counts_s[kind][f] >= min_docs
            ),
            key=lambda d: (-d.z, -d.spike_docs, d.value),
        )
        if kind == "phrase":
            # Fragments and superstrings of a top phrase rank near it: a pool of 20 × top_k
            # keeps the quadratic overlap check small whatever the vocabulary.
            ranked = _drop_overlapping(ranked[: 20 * top_k])
        drivers[kind] = ranked[:top_k]
    verbatims = _pick_verbatims(spike_docs, doc_phrases, drivers, n_verbatims)
    return Explanation(
        themes=tuple(drivers["theme"]),
        categories=tuple(drivers["category"]),
        aspects=tuple(drivers["aspect"]),
        phrases=tuple(drivers["phrase"]),
        verbatims=tuple(verbatims),
        n_spike=n_s,
        n_baseline=n_b,
    )


def _pick_verbatims(
    docs: Sequence[ExplainDoc],
    doc_phrases: list[set[str]],
    drivers: dict[str, list[Driver]],
    n: int,
) -> list[Verbatim]:
    weights = {d.value: d.z for d in drivers["phrase"]}
    top_theme = drivers["theme"][0].value if drivers["theme"] else None
    # Groups without an id can still be copies: one voice per exact text too, and a text
    # already in a named near-duplicate group joins it.
    seen_text = {d.text.strip(): d.group_id for d in docs if d.group_id}
    groups = [d.group_id or seen_text.setdefault(d.text.strip(), d.doc_id) for d in docs]
    sizes: Counter[str] = Counter(groups)
    for doc, group in zip(docs, groups, strict=True):
        sizes[group] = max(sizes[group], doc.group_size)
    best: dict[str, Verbatim] = {}
    for doc, group, phrases in zip(docs, groups, doc_phrases, strict=True):
        typicality = sum(w for p, w in weights.items() if p in phrases)
        if typicality <= 0 and (top_theme is None or doc.theme != top_theme):
            continue
        candidate = Verbatim(doc.doc_id, doc.text, group, sizes[group], typicality)
        held = best.get(group)
        if held is None or (candidate.typicality, held.doc_id) > (held.typicality, doc.doc_id):
            best[group] = candidate
    ranked = sorted(best.values(), key=lambda v: (-v.group_size, -v.typicality, v.doc_id))
    return ranked[:n]
