"""Per-theme statistics from the themed documents: label, key phrases, size, negativity,
first and last seen, lifecycle state, and the example documents."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from datetime import date
from typing import Any

from signals.theme_phrases import key_phrases
from signals.theme_tracker import lifecycle_state


def theme_stats(
    live: Sequence[str],
    rows: Sequence[tuple],
    keywords: Mapping[str, Sequence[str]],
    newest: date | None,
    exclude: Collection[str] = frozenset(),
    n_examples: int = 5,
) -> list[dict[str, Any]]:
    """One mapping per live theme (as `warehouse.themes.save_theme_stats` writes them),
    from every member's row: the from-scratch computation `summarise_themes` agrees with.

    Args:
        live: Ids of the live themes.
        rows: (theme_id, tokens, local_day, is_negative, doc_id, similarity) per themed
            document.
        keywords: Theme id → its centroid's top terms (the label when no phrase is found).
        newest: The newest day of data: lifecycle states are judged as of it.
        exclude: Words never shown as key phrases (brand names).
        n_examples: Example documents kept per theme: negative ones nearest the centre.
    """
    tokens: dict[str, list[list[str]]] = defaultdict(list)
    daily: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    negatives: dict[str, int] = defaultdict(int)
    examples: dict[str, list[tuple[float, bool, str]]] = defaultdict(list)
    for theme_id, toks, day, negative, doc_id, similarity in rows:
        tokens[theme_id].append(list(toks or []))
        daily[theme_id][day] += 1
        negatives[theme_id] += bool(negative)
        examples[theme_id].append((-(similarity or 0.0), not negative, doc_id))
    # Negative documents nearest the centre first: a complaint theme's voice.
    nearest = {t: [d for *_, d in sorted(e)[:n_examples]] for t, e in examples.items()}
    phrases = key_phrases(tokens, exclude=exclude)
    return summarise_themes(live, daily, negatives, nearest, phrases, keywords, newest)


def summarise_themes(
    live: Sequence[str],
    daily: Mapping[str, Mapping[date, int]],
    negatives: Mapping[str, int],
    examples: Mapping[str, Sequence[str]],
    phrases: Mapping[str, Sequence[str]],
    keywords: Mapping[str, Sequence[str]],
    newest: date | None,
) -> list[dict[str, Any]]:
    """One mapping per live theme from per-theme sums (what a run keeps instead of
    rereading every member).

    Args:
        live: Ids of the live themes.
        daily: theme_id → local day → its documents that day.
        negatives: theme_id → its negative documents.
        examples: theme_id → its example document ids, best first.
        phrases: theme_id → its key phrases (`signals.theme_phrases`).
        keywords: Theme id → its centroid's top terms (the label when no phrase is found).
        newest: The newest day of data: lifecycle states are judged as of it.
    """
    out = []
    for theme_id in live:
        days = daily.get(theme_id, {})
        n_docs = sum(days.values())
        shown = list(phrases.get(theme_id) or keywords.get(theme_id, ())[:3])
        out.append(
            {
                "theme_id": theme_id,
                "label": "、".join(shown[:2]) if shown else theme_id,
                "key_phrases": shown,
                "n_docs": n_docs,
                "n_negative": negatives.get(theme_id, 0),
                "negativity": negatives.get(theme_id, 0) / n_docs if n_docs else 0.0,
                "first_seen": min(days) if days else None,
                "last_seen": max(days) if days else None,
                "state": lifecycle_state(days, newest) if newest else "resolved",
                "example_ids": list(examples.get(theme_id, ())),
            }
        )
    return out
