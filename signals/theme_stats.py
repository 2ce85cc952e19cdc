"""Per-theme statistics from the themed documents: label, key phrases, size, negativity,
first and last seen, lifecycle state, and the example documents."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from datetime import date
from typing import Any

from signals.theme_tracker import key_phrases, lifecycle_state


def theme_stats(
    live: Sequence[str],
    rows: Sequence[tuple],
    keywords: Mapping[str, Sequence[str]],
    newest: date | None,
    exclude: Collection[str] = frozenset(),
    n_examples: int = 5,
) -> list[dict[str, Any]]:
    """One mapping per live theme (as `warehouse.themes.save_theme_stats` writes them).

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
    phrases = key_phrases(tokens, exclude=exclude)
    out = []
    for theme_id in live:
        days = daily.get(theme_id, {})
        n_docs = sum(days.values())
        shown = phrases.get(theme_id) or list(keywords.get(theme_id, ())[:3])
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
                # Negative documents nearest the centre first: a complaint theme's voice.
                "example_ids": [d for *_, d in sorted(examples.get(theme_id, []))[:n_examples]],
            }
        )
    return out
