"""Theme key phrases: adjacent word pairs ranked by class-based TF-IDF across themes.

Split in two so a run need not reread every member's tokens: `doc_phrases` is what one
document contributes (kept per document in the warehouse, `warehouse.theme_phrases`), and
`rank_key_phrases` ranks from the per-theme counts alone.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from itertools import pairwise


def doc_phrases(tokens: Sequence[str], exclude: Collection[str] = frozenset()) -> set[str]:
    """The adjacent word pairs of one document ("物流" + "太慢" → "物流太慢"), over words of
    two or more characters not in `exclude`; a pair of the same word twice is no phrase."""
    words = [t for t in tokens if len(t) >= 2 and t not in exclude]
    return {a + b for a, b in pairwise(words) if a != b}


def rank_key_phrases(
    counts: Mapping[str, Mapping[str, int]],
    totals: Mapping[str, int],
    spread: Mapping[str, int],
    n_themes: int,
    top_k: int = 5,
    min_count: int = 2,
) -> dict[str, list[str]]:
    """Key phrases per theme from phrase document counts.

    Args:
        counts: theme_id → phrase → documents of the theme with it; phrases in fewer than
            `min_count` documents may be left out.
        totals: theme_id → the sum of all its phrase counts (left-out phrases included).
        spread: phrase → number of themes with it in at least one document.
        n_themes: Themes with at least one document.
        top_k: Phrases kept per theme.
        min_count: Fewest documents a phrase must appear in.
    """
    n_themes = max(n_themes, 1)
    phrases: dict[str, list[str]] = {}
    for theme_id, c in counts.items():
        total = totals.get(theme_id) or 1
        scored = sorted(
            (-(n / total) * math.log(1 + n_themes / spread[p]), p)
            for p, n in c.items()
            if n >= min_count
        )
        phrases[theme_id] = [p for _, p in scored[:top_k]]
    return phrases


def key_phrases(
    theme_tokens: Mapping[str, Sequence[Sequence[str]]],
    top_k: int = 5,
    min_count: int = 2,
    exclude: Collection[str] = frozenset(),
) -> dict[str, list[str]]:
    """Readable key phrases per theme: adjacent word pairs ("物流" + "太慢" → "物流太慢"),
    ranked by class-based TF-IDF across themes, so a theme is named by what sets it apart.

    Args:
        theme_tokens: theme_id → token lists of its documents.
        top_k: Phrases kept per theme.
        min_count: Fewest documents a phrase must appear in.
        exclude: Words a phrase may not contain (brand names, platform names).
    """
    counts: dict[str, Counter[str]] = {}
    for theme_id, docs in theme_tokens.items():
        c: Counter[str] = Counter()
        for tokens in docs:
            c.update(doc_phrases(tokens, exclude))
        counts[theme_id] = c
    spread: Counter[str] = Counter()
    for c in counts.values():
        spread.update(set(c))
    totals = {theme_id: sum(c.values()) for theme_id, c in counts.items()}
    ranked = rank_key_phrases(counts, totals, spread, len(counts), top_k, min_count)
    return {theme_id: ranked.get(theme_id, []) for theme_id in counts}
