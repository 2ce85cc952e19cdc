"""Complaint themes v1: clusters of negative documents described by c-TF-IDF keywords.

Method: TF-IDF over jieba tokens (words of two or more characters), reduced with truncated
SVD, clustered with k-means; each cluster's keywords are its class-based TF-IDF
(c-TF-IDF, as in BERTopic) top terms and its examples the documents nearest its centre.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
from sklearn.cluster import KMeans
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

THEMES_VERSION = "themes-v1-ctfidf-kmeans"


@dataclass(frozen=True, slots=True)
class Theme:
    """One discovered complaint theme.

    Attributes:
        theme_id: Id derived from the theme's top keywords.
        label: Readable label: the top three keywords joined with '/'.
        keywords: Top c-TF-IDF keywords, most distinctive first.
        size: Documents assigned to it.
        example_ids: Ids of the documents nearest the theme's centre.
    """

    theme_id: str
    label: str
    keywords: tuple[str, ...]
    size: int
    example_ids: tuple[str, ...]


@dataclass(frozen=True)
class ThemeResult:
    """Themes (largest first) and the doc_id → theme_id assignment of every clustered doc."""

    themes: list[Theme]
    assignments: dict[str, str]


def choose_theme_count(n_docs: int) -> int:
    """Default number of themes: about sqrt(n/20), between 3 and 25."""
    return int(min(25, max(3, round(math.sqrt(n_docs / 20)))))


@lru_cache(maxsize=1)
def default_theme_stopwords() -> frozenset[str]:
    """Bundled words that never name a theme (shopping platforms, booking sites...)."""
    text = (
        resources.files("signals")
        .joinpath("resources", "theme_stopwords.txt")
        .read_text(encoding="utf-8")
    )
    return frozenset(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def _theme_words(tokens: Sequence[str], exclude: Collection[str]) -> list[str]:
    return [t for t in tokens if len(t) >= 2 and t not in exclude]


def _identity(tokens: list[str]) -> list[str]:
    return tokens


def discover_themes(
    doc_ids: Sequence[str],
    token_lists: Sequence[Sequence[str]],
    *,
    n_themes: int | None = None,
    top_k: int = 10,
    n_examples: int = 5,
    seed: int = 0,
    exclude: Collection[str] | None = None,
) -> ThemeResult:
    """Cluster documents into themes and describe each by its keywords.

    Args:
        doc_ids: One id per document.
        token_lists: jieba tokens per document (stopwords already removed).
        n_themes: Number of themes; default `choose_theme_count`.
        top_k: Keywords kept per theme.
        n_examples: Example documents kept per theme.
        seed: Makes the clustering reproducible.
        exclude: Words left out of theme vectors and keywords (default:
            `default_theme_stopwords`); pass your brand names here too.

    Returns:
        The themes and assignments; documents with no usable word are left unassigned.
        Fewer than 10 usable documents give no themes.
    """
    if len(doc_ids) != len(token_lists):
        raise ValueError(f"{len(doc_ids)} ids but {len(token_lists)} token lists")
    exclude = default_theme_stopwords() if exclude is None else exclude
    words = [_theme_words(t, exclude) for t in token_lists]
    usable = [i for i, w in enumerate(words) if w]
    if len(usable) < 10:
        return ThemeResult([], {})
    ids = [doc_ids[i] for i in usable]
    docs = [words[i] for i in usable]
    vectorizer = TfidfVectorizer(
        analyzer=_identity, min_df=min(3, max(1, len(docs) // 50)), max_df=0.5, sublinear_tf=True
    )
    tfidf = vectorizer.fit_transform(docs)
    keep = np.asarray(tfidf.sum(axis=1)).ravel() > 0
    if keep.sum() < 10:
        return ThemeResult([], {})
    tfidf = tfidf[keep]
    ids = [i for i, k in zip(ids, keep, strict=True) if k]
    docs = [d for d, k in zip(docs, keep, strict=True) if k]
    k = min(n_themes or choose_theme_count(len(ids)), len(ids) // 3)
    n_comp = max(2, min(100, tfidf.shape[1] - 1, len(ids) - 1))
    vectors = normalize(TruncatedSVD(n_components=n_comp, random_state=seed).fit_transform(tfidf))
    kmeans = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(vectors)
    labels = kmeans.labels_
    vocab = vectorizer.get_feature_names_out()
    keywords = _class_tfidf_keywords(docs, labels, k, vocab, top_k)

    themes: list[Theme] = []
    assignments: dict[str, str] = {}
    seen_ids: set[str] = set()
    for cluster in range(k):
        members = np.flatnonzero(labels == cluster)
        if len(members) == 0:
            continue
        kws = keywords[cluster]
        theme_id = _theme_id(kws, seen_ids)
        seen_ids.add(theme_id)
        centre = kmeans.cluster_centers_[cluster]
        nearest = members[np.argsort(-(vectors[members] @ centre), kind="stable")][:n_examples]
        themes.append(
            Theme(
                theme_id,
                "/".join(kws[:3]),
                tuple(kws),
                len(members),
                tuple(ids[i] for i in nearest),
            )
        )
        for i in members:
            assignments[ids[i]] = theme_id
    themes.sort(key=lambda t: (-t.size, t.theme_id))
    return ThemeResult(themes, assignments)


def _class_tfidf_keywords(
    docs: list[list[str]], labels: np.ndarray, k: int, vocab: np.ndarray, top_k: int
) -> list[list[str]]:
    index = {w: i for i, w in enumerate(vocab)}
    counts = np.zeros((k, len(vocab)))
    for doc, label in zip(docs, labels, strict=True):
        for word in doc:
            j = index.get(word)
            if j is not None:
                counts[label, j] += 1
    totals = counts.sum(axis=1, keepdims=True)
    tf = counts / np.maximum(totals, 1)
    avg_words = totals.mean()
    idf = np.log1p(avg_words / np.maximum(counts.sum(axis=0), 1))
    scores = tf * idf
    return [
        [str(vocab[j]) for j in np.argsort(-scores[c], kind="stable")[:top_k] if counts[c, j] > 0]
        for c in range(k)
    ]


def _theme_id(keywords: Sequence[str], taken: set[str]) -> str:
    base = "th_" + hashlib.sha1("|".join(sorted(keywords[:5])).encode()).hexdigest()[:10]
    theme_id, n = base, 1
    while theme_id in taken:
        n += 1
        theme_id = f"{base}_{n}"
    return theme_id
