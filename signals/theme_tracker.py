"""Complaint themes v2: themes that keep their identity from one daily run to the next.

A theme is a centroid in a stable space (term → weight over jieba words, TF-IDF weighted,
L2-normalised, its top `centroid_terms` terms), so it can be stored and compared across
runs, unlike k-means clusters in a per-run SVD space. Each run:

1. **Assign** every new document to the most similar existing theme when the cosine
   similarity is at least `assign_threshold`; the theme keeps its id.
2. **Birth**: the negative documents no theme took (in the recent pool) are clustered
   (`signals.theme_discovery.discover_themes`); a cluster of at least `min_new_theme` documents
   coheres when its members' mean similarity to its centre is at least `min_cohesion` and
   `min_lift` times that of the pool at large. A coherent cluster becomes a new theme, with
   those of its members within `assign_threshold` of its centre (the rule for joining an
   existing theme), if `min_new_theme` of them are, unless it is within
   `match_threshold` of an existing theme, which then absorbs them. The
   members of clusters that do not cohere are clustered again (up to three rounds), since
   a broad mixed cluster often hides a tight topic; what is left waits for the next run.
3. **Update**: each theme's centroid moves to the running mean of its members.
4. **Merge**: two themes whose centroids come within `merge_threshold` become one; the
   larger keeps its id, the smaller is recorded as merged into it.
5. **Split** (`split_themes`, over each theme's members): a theme of at least `min_split`
   documents whose two k-means halves both cohere, each at least `min_new_theme` strong,
   and whose centres are less similar than `split_threshold`, splits: the larger half
   keeps the id, the smaller becomes a new theme, recorded as split from it.

Documents are never moved between themes except by a merge or a split, so a document's
theme id only changes when its theme is merged or split (both recorded as events) or its
text changes.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta

from scipy import sparse

from signals.theme_discovery import default_theme_stopwords, discover_themes
from signals.theme_phrases import key_phrases as key_phrases  # re-exported
from voc.signals import ThemeEvent, TrackedTheme, TrackResult, Vector

TRACKER_VERSION = "themes-v2-tracked"


@dataclass(frozen=True)
class TrackerParams:
    """Thresholds of `track_themes` (cosine similarities between 0 and 1)."""

    assign_threshold: float = 0.15
    match_threshold: float = 0.5
    merge_threshold: float = 0.7
    min_new_theme: int = 12
    min_cohesion: float = 0.1
    min_lift: float = 3.0
    centroid_terms: int = 80
    min_split: int = 80
    split_threshold: float = 0.15


def document_frequencies(token_lists: Sequence[Sequence[str]]) -> tuple[Counter[str], int]:
    """Document frequency of each word, and the number of documents."""
    df: Counter[str] = Counter()
    for tokens in token_lists:
        df.update(set(tokens))
    return df, len(token_lists)


def doc_vector(
    tokens: Sequence[str], df: Mapping[str, int], n_docs: int, exclude: Collection[str]
) -> Vector:
    """Sublinear TF × smoothed IDF over words of two or more characters, L2-normalised."""
    counts = Counter(t for t in tokens if len(t) >= 2 and t not in exclude)
    vec = {
        t: (1 + math.log(c)) * (math.log((1 + n_docs) / (1 + df.get(t, 0))) + 1)
        for t, c in counts.items()
    }
    return _normalised(vec)


def cosine(a: Vector, b: Vector) -> float:
    """Dot product of two L2-normalised sparse vectors."""
    if len(a) > len(b):
        a, b = b, a
    return sum(w * b.get(t, 0.0) for t, w in a.items())


def track_themes(
    themes: Sequence[TrackedTheme],
    new_docs: Sequence[tuple[str, Sequence[str], bool]],
    pool: Sequence[tuple[str, Sequence[str]]],
    run_id: str,
    *,
    params: TrackerParams = TrackerParams(),
    exclude: Collection[str] | None = None,
    df: tuple[Mapping[str, int], int] | None = None,
    seed: int = 0,
    max_rounds: int = 12,
) -> TrackResult:
    """One run of theme tracking (see the module docstring).

    Args:
        themes: The themes stored by earlier runs.
        new_docs: (doc_id, tokens, is_negative) of documents no theme has yet; negative
            ones that stay unassigned can give birth to themes.
        pool: (doc_id, tokens) of earlier negative documents still unassigned (recent ones).
        run_id: Recorded as the birth run of new themes.
        params: Thresholds.
        exclude: Words never used (default: `default_theme_stopwords`; add brand names).
        df: (document frequencies, number of documents) for IDF; default from the inputs.
        seed: Makes birth clustering reproducible.
        max_rounds: Rounds of assign / birth / update / merge, at most (stops early when
            a round changes nothing, as it nearly always does well before).
    """
    exclude = default_theme_stopwords() if exclude is None else exclude
    if df is None:
        df = document_frequencies([t for _, t, _ in new_docs] + [t for _, t in pool])
    freq, n_total = df
    current = {t.theme_id: t for t in themes}
    result = TrackResult(themes=[])
    pending: dict[str, tuple[Sequence[str], Vector, bool]] = {}
    similarities: dict[tuple[str, str], tuple[Vector, Vector, float]] = {}
    for doc_id, tokens, negative in [*new_docs, *((d, t, True) for d, t in pool)]:
        vec = doc_vector(tokens, freq, n_total, exclude)
        if vec and doc_id not in pending:
            pending[doc_id] = (tokens, vec, negative)

    # Assign, give birth, update, and again until nothing changes, so that a re-run over
    # the same documents finds nothing left to do: the documents left waiting are those
    # the last round clustered without a birth, as a re-run would cluster them.
    for _ in range(max_rounds):
        gathered: dict[str, list[Vector]] = {}
        waiting = list(pending.items())
        nearest = best_matches([vec for _, (_, vec, _) in waiting], list(current.values()))
        for (doc_id, (_, vec, _)), (best, sim) in zip(waiting, nearest, strict=True):
            if best is not None and sim >= params.assign_threshold:
                result.assignments[doc_id] = (best, round(sim, 4))
                gathered.setdefault(best, []).append(vec)
                del pending[doc_id]
        unassigned = [(d, t, v) for d, (t, v, neg) in pending.items() if neg]
        for cluster in _coherent_clusters(unassigned, params, exclude, seed):
            centre = _mean([v for _, v in cluster])
            # A theme is born with the members that an existing theme would admit too
            # (`assign_threshold`): a k-means cluster also holds the documents that are
            # merely nearer it than any other cluster. The rest stay pending.
            members = [(d, v) for d, v in cluster if cosine(v, centre) >= params.assign_threshold]
            if len(members) < params.min_new_theme:
                continue
            centre = _mean([v for _, v in members])
            best, sim = _best(centre, current.values())
            if best is not None and sim >= params.match_threshold:
                theme_id = best
            else:
                theme_id = _new_id(centre, current)
                current[theme_id] = TrackedTheme(theme_id, {}, 0, (), run_id)
                result.events.append(ThemeEvent("born", theme_id, None, len(members)))
            for doc_id, vec in members:
                result.assignments[doc_id] = (theme_id, round(cosine(vec, centre), 4))
                gathered.setdefault(theme_id, []).append(vec)
                del pending[doc_id]
        for theme_id, vectors in gathered.items():
            current[theme_id] = _updated(current[theme_id], vectors, params.centroid_terms)
        _merge(current, result, params, similarities)
        if not gathered:
            break
    result.themes = sorted(current.values(), key=lambda t: (-t.n_members, t.theme_id))
    return result


def best_matches(
    vectors: Sequence[Vector], themes: Sequence[TrackedTheme], chunk: int = 4096
) -> list[tuple[str | None, float]]:
    """`_best` for many vectors at once: one sparse product per chunk instead of a cosine
    per (vector, theme) pair in Python. The same answer: the theme of highest similarity
    above 0, the smallest id among equals, else (None, 0.0)."""
    if not vectors:
        return []
    ordered = sorted((t for t in themes if t.centroid), key=lambda t: t.theme_id)
    if not ordered:
        return [(None, 0.0)] * len(vectors)
    vocab: dict[str, int] = {}
    rows, cols, vals = [], [], []
    for j, theme in enumerate(ordered):
        for term, weight in theme.centroid.items():
            rows.append(j)
            cols.append(vocab.setdefault(term, len(vocab)))
            vals.append(weight)
    centroids = sparse.csr_matrix((vals, (rows, cols)), shape=(len(ordered), len(vocab))).T
    out: list[tuple[str | None, float]] = []
    for start in range(0, len(vectors), chunk):
        part = vectors[start : start + chunk]
        rows, cols, vals = [], [], []
        for i, vec in enumerate(part):
            for term, weight in vec.items():
                j = vocab.get(term)
                if j is not None:
                    rows.append(i)
                    cols.append(j)
                    vals.append(weight)
        docs = sparse.csr_matrix((vals, (rows, cols)), shape=(len(part), len(vocab)))
        sims = (docs @ centroids).toarray()
        best = sims.argmax(axis=1)  # the first maximum: the smallest id among equals
        for i, j in enumerate(best):
            sim = float(sims[i, j])
            out.append((ordered[j].theme_id, sim) if sim > 0 else (None, 0.0))
    return out


def _best(vec: Vector, themes: Collection[TrackedTheme]) -> tuple[str | None, float]:
    best, best_sim = None, 0.0
    for theme in themes:
        sim = cosine(vec, theme.centroid)
        if sim > best_sim or (sim == best_sim and best is not None and theme.theme_id < best):
            best, best_sim = theme.theme_id, sim
    return best, best_sim


def _coherent_clusters(
    unassigned: list[tuple[str, Sequence[str], Vector]],
    params: TrackerParams,
    exclude: Collection[str],
    seed: int,
    rounds: int = 3,
) -> list[list[tuple[str, Vector]]]:
    """Clusters of the unassigned documents that cohere; the members of clusters that do
    not are clustered again (a broad mixed cluster often hides a tight topic)."""
    accepted: list[list[tuple[str, Vector]]] = []
    remaining = unassigned
    for _ in range(rounds):
        rejected: list[tuple[str, Sequence[str], Vector]] = []
        tokens = {doc_id: t for doc_id, t, _ in remaining}
        for members in _birth_clusters(remaining, params, exclude, seed):
            if _coheres(members, remaining, params):
                accepted.append(members)
            else:
                rejected += [(doc_id, tokens[doc_id], vec) for doc_id, vec in members]
        if len(rejected) == len(remaining) or not rejected:
            break
        remaining = rejected
    return accepted


def _coheres(
    members: list[tuple[str, Vector]],
    pool: list[tuple[str, Sequence[str], Vector]],
    params: TrackerParams,
) -> bool:
    # Members must sit clearly closer to their centre than the pool at large does
    # (short texts make absolute similarities small).
    centre = _mean([v for _, v in members])
    inside = sum(cosine(v, centre) for _, v in members) / len(members)
    ids = {doc_id for doc_id, _ in members}
    others = [v for doc_id, _, v in pool if doc_id not in ids]
    sample = others[:: max(1, len(others) // 500)]
    if not sample:  # the whole pool is this cluster
        return inside >= params.min_cohesion
    outside = sum(cosine(v, centre) for v in sample) / len(sample)
    return inside >= params.min_cohesion and inside >= params.min_lift * outside


def _birth_clusters(
    unassigned: list[tuple[str, Sequence[str], Vector]],
    params: TrackerParams,
    exclude: Collection[str],
    seed: int,
) -> list[list[tuple[str, Vector]]]:
    if len(unassigned) < 2 * params.min_new_theme:
        return []
    by_id = {doc_id: vec for doc_id, _, vec in unassigned}
    try:
        found = discover_themes(
            [d for d, _, _ in unassigned],
            [t for _, t, _ in unassigned],
            seed=seed,
            exclude=exclude,
        ).assignments
    except ValueError:  # too uniform to vectorise apart: one candidate, if it coheres
        found = {}
    if not found:
        found = dict.fromkeys(by_id, "all")
    clusters: dict[str, list[tuple[str, Vector]]] = {}
    for doc_id, cluster in found.items():
        clusters.setdefault(cluster, []).append((doc_id, by_id[doc_id]))
    return [
        sorted(members)
        for _, members in sorted(clusters.items())
        if len(members) >= params.min_new_theme
    ]


def _mean(vectors: Sequence[Vector]) -> Vector:
    total: Counter[str] = Counter()
    for vec in vectors:
        total.update(vec)
    return _normalised({t: w / len(vectors) for t, w in total.items()})


def _updated(theme: TrackedTheme, vectors: Sequence[Vector], keep: int) -> TrackedTheme:
    total: Counter[str] = Counter({t: w * theme.n_members for t, w in theme.centroid.items()})
    for vec in vectors:
        total.update(vec)
    n = theme.n_members + len(vectors)
    centroid = _normalised(_top(total, keep))
    return replace(theme, centroid=centroid, n_members=n, keywords=tuple(_top(centroid, 10)))


def _top(vec: Mapping[str, float], n: int) -> Vector:
    return dict(sorted(vec.items(), key=lambda kv: (-kv[1], kv[0]))[:n])


def _merge(
    current: dict[str, TrackedTheme],
    result: TrackResult,
    params: TrackerParams,
    similarities: dict[tuple[str, str], tuple[Vector, Vector, float]],
) -> None:
    while True:
        ids = sorted(current)
        pairs = [
            (_similarity(a, b, current, similarities), a, b)
            for i, a in enumerate(ids)
            for b in ids[i + 1 :]
        ]
        close = [p for p in pairs if p[0] >= params.merge_threshold]
        if not close:
            return
        _, a, b = max(close)
        keep, gone = (a, b) if (current[a].n_members, b) >= (current[b].n_members, a) else (b, a)
        kept, dropped = current[keep], current.pop(gone)
        weighted = Counter({t: w * kept.n_members for t, w in kept.centroid.items()})
        weighted.update({t: w * dropped.n_members for t, w in dropped.centroid.items()})
        centroid = _normalised(_top(weighted, params.centroid_terms))
        current[keep] = replace(
            kept,
            centroid=centroid,
            n_members=kept.n_members + dropped.n_members,
            keywords=tuple(_top(centroid, 10)),
        )
        for doc_id, (theme_id, sim) in list(result.assignments.items()):
            if theme_id == gone:
                result.assignments[doc_id] = (keep, sim)
        for old, new in list(result.merged.items()):
            if new == gone:
                result.merged[old] = keep
        result.merged[gone] = keep
        result.events.append(ThemeEvent("merged", gone, keep, dropped.n_members))


def _similarity(
    a: str,
    b: str,
    current: Mapping[str, TrackedTheme],
    known: dict[tuple[str, str], tuple[Vector, Vector, float]],
) -> float:
    # All pairs are compared after every merge and round, but only the themes that took
    # documents or absorbed one have new centroids: the others' pairs are reused (their
    # centroid objects kept, so a replaced centroid is never mistaken for the old one).
    ca, cb = current[a].centroid, current[b].centroid
    hit = known.get((a, b))
    if hit is None or hit[0] is not ca or hit[1] is not cb:
        hit = (ca, cb, cosine(ca, cb))
        known[(a, b)] = hit
    return hit[2]


def _new_id(centre: Vector, taken: Collection[str]) -> str:
    top = sorted(centre, key=lambda t: (-centre[t], t))[:5]
    base = "th_" + hashlib.sha1("|".join(sorted(top)).encode()).hexdigest()[:10]
    theme_id, n = base, 1
    while theme_id in taken:
        n += 1
        theme_id = f"{base}_{n}"
    return theme_id


def _normalised(vec: Mapping[str, float]) -> Vector:
    norm = math.sqrt(sum(w * w for w in vec.values()))
    return {t: w / norm for t, w in vec.items()} if norm > 0 else {}


#: Lifecycle states, in the order the rules of `lifecycle_state` try them.
LIFECYCLE_STATES = ("resolved", "new", "growing", "fading", "recurring")


def lifecycle_state(daily: Mapping[date, int], today: date) -> str:
    """A theme's lifecycle state from its documents per day, as of `today`.

    Rules, tried in order (weeks end on `today`):
        resolved: no document in the last 14 days.
        new: its first document is from the last 7 days.
        growing: the last 7 days have at least 5 documents and at least 1.5 × the mean
            weekly count of the 4 weeks before, plus one.
        fading: the last 7 days have at most half that weekly mean.
        recurring: otherwise (it keeps coming back at its usual rate).
    """
    days = [d for d, n in daily.items() if n > 0 and d <= today]
    if not days or max(days) < today - timedelta(days=13):
        return "resolved"
    if min(days) >= today - timedelta(days=6):
        return "new"
    last7 = sum(n for d, n in daily.items() if today - timedelta(days=6) <= d <= today)
    before = sum(
        n for d, n in daily.items() if today - timedelta(days=34) <= d <= today - timedelta(days=7)
    )
    weekly = before / 4
    if last7 >= 5 and last7 >= 1.5 * weekly + 1:
        return "growing"
    if last7 <= 0.5 * weekly:
        return "fading"
    return "recurring"


def split_themes(
    themes: Sequence[TrackedTheme],
    members: Mapping[str, Sequence[tuple[str, Sequence[str]]]],
    run_id: str,
    *,
    params: TrackerParams = TrackerParams(),
    exclude: Collection[str] | None = None,
    df: tuple[Mapping[str, int], int] | None = None,
    seed: int = 0,
) -> TrackResult:
    """Split themes that hold two distinct topics (rule 5 of the module docstring).

    Args:
        themes: The live themes.
        members: theme_id → (doc_id, tokens) of its documents.

    Returns:
        The themes after splitting, the moved documents (doc → (new theme, similarity))
        and ``split`` events.
    """
    exclude = default_theme_stopwords() if exclude is None else exclude
    if df is None:
        df = document_frequencies([t for docs in members.values() for _, t in docs])
    freq, n_total = df
    result = TrackResult(themes=[])
    current = {t.theme_id: t for t in themes}
    for theme in themes:
        docs = members.get(theme.theme_id, ())
        if len(docs) < params.min_split:
            continue
        # A document has a vector exactly when it has a word of two or more characters
        # not excluded (every such word weighs at least 1); vectors are computed only for
        # a theme whose halves are worth testing, most are not.
        tokens = {d: t for d, t in docs if any(len(w) >= 2 and w not in exclude for w in t)}
        try:
            halves = discover_themes(
                list(tokens), list(tokens.values()), n_themes=2, seed=seed, exclude=exclude
            ).assignments
        except ValueError:
            continue
        ids: dict[str, list[str]] = {}
        for doc_id, half in halves.items():
            ids.setdefault(half, []).append(doc_id)
        if len(ids) != 2:
            continue
        big_ids, small_ids = sorted(ids.values(), key=lambda p: (-len(p), p[0]))
        if len(small_ids) < params.min_new_theme:
            continue
        big = [(d, doc_vector(tokens[d], freq, n_total, exclude)) for d in big_ids]
        small = [(d, doc_vector(tokens[d], freq, n_total, exclude)) for d in small_ids]
        c_big, c_small = _mean([v for _, v in big]), _mean([v for _, v in small])
        pool = [(d, (), v) for d, v in big + small]
        if cosine(c_big, c_small) >= params.split_threshold or not (
            _coheres(big, pool, params) and _coheres(small, pool, params)
        ):
            continue
        new_id = _new_id(c_small, current)
        current[theme.theme_id] = replace(
            theme,
            centroid=_normalised(_top(c_big, params.centroid_terms)),
            n_members=len(big),
            keywords=tuple(_top(c_big, 10)),
        )
        current[new_id] = TrackedTheme(
            new_id,
            _normalised(_top(c_small, params.centroid_terms)),
            len(small),
            tuple(_top(c_small, 10)),
            run_id,
        )
        for doc_id, vec in small:
            result.assignments[doc_id] = (new_id, round(cosine(vec, c_small), 4))
        result.events.append(ThemeEvent("split", new_id, theme.theme_id, len(small)))
    result.themes = sorted(current.values(), key=lambda t: (-t.n_members, t.theme_id))
    return result
