"""Aspect-level sentiment: which aspects a text talks about, and how it feels about each.

'物流很快但是质量太差' is positive on 物流 and negative on 商品质量. The model is a small
linear one that runs on one CPU thread and loads from ``.npz`` + JSON (no pickle):

1. `split_clauses` cuts a text at punctuation and before contrast words (但是, 不过, 却,
   就是 ...), so each clause usually carries one opinion. ``、`` is NOT a cut: it joins
   aspects that share one opinion ('物流、包装都很好').
2. Per clause and aspect, detection: a keyword lexicon (mined from the training data's
   aspect terms, plus hand-written seeds for the taxonomy categories the data lacks), or
   a one-vs-rest logistic regression on char 1-3-grams scoring at least the aspect's
   threshold (tuned on held-out training texts).
3. Polarity of each detected (clause, aspect): one logistic regression over char 1-3-grams
   of the clause plus aspect-conjoined char bigrams (so 油耗高 and 配置高 can differ). A
   clause of at most `SHORT_CLAUSE` characters ('物流，很快') borrows the next clause.

A model holds several *inventories* (aspect sets): ``taxonomy`` (our product taxonomy,
`TAXONOMY`, the default) and one per training corpus (``car``, ``product``,
``cosmetics``) used for evaluation. ``score`` follows `nlp.sentiment`: the probability
that the opinion is positive, ``P(positive) + 0.5 * P(neutral)``.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import sparse

DEFAULT_MODEL_DIR: Path = Path(__file__).parent / "models" / "aspects_default"
POLARITIES = ("negative", "neutral", "positive")
#: Our product taxonomy: what the pipeline reports for e-commerce and service texts.
TAXONOMY = (
    "物流",
    "商品质量",
    "客服态度",
    "价格",
    "退换货",
    "售后维修",
    "包装",
    "功能故障",
    "虚假宣传",
    "账户与支付",
)
#: Clauses this short ('物流，很快') are read together with the next clause (not longer:
#: '质量不错，就是有点贵' must not lend 有点贵 to 质量).
SHORT_CLAUSE = 2
#: Characters of a text that are analysed; the rest of a pasted log is ignored.
MAX_CHARS = 2000
_WEIGHTS = "weights.npz"
_CONFIG = "model.json"

# Decimal points (油耗13.6) and spaces inside Latin text (Model Y) are not clause breaks.
_BREAK = re.compile(
    r"[，,。！!？?；;\n\r\t~～…|]+|(?<!\d)\.|\.(?!\d)"
    r"|(?<=[\u4e00-\u9fff])\s+|\s+(?=[\u4e00-\u9fff])"
)
# Contrast words open a new clause; 不但 / 不是 are not contrasts.
_CONTRAST = re.compile(r"(?=(?<!不)但是|(?<![不])但(?!是)|不过|可是|然而|却|就是|只是)")


@dataclass(frozen=True, slots=True)
class AspectSentiment:
    """The opinion of one clause on one aspect.

    Attributes:
        aspect: The aspect (a `TAXONOMY` category by default).
        polarity: ``"negative"``, ``"neutral"`` or ``"positive"``.
        clause: The clause it was read from.
        score: Probability that the opinion is positive, ``P(pos) + 0.5 * P(neu)``.
        confidence: Probability of the chosen polarity.
    """

    aspect: str
    polarity: str
    clause: str
    score: float
    confidence: float


@dataclass(frozen=True, eq=False)
class AspectInventory:
    """One set of aspects and how to detect them.

    Attributes:
        name: ``taxonomy``, ``car``, ``product`` or ``cosmetics``.
        aspects: Aspect names, in detector row order.
        keywords: Per aspect, lexicon terms whose presence in a clause detects it.
        detector: ``(len(aspects), n_grams)`` logistic-regression weights, or None
            (lexicon only); an all-zero row means lexicon only for that aspect.
        detector_bias: Per-aspect intercepts.
        thresholds: Per-aspect probability at or above which the detector fires.
        polarity_alias: Aspect name whose conjoined polarity features an aspect uses
            (taxonomy categories borrow the corpus categories they were mapped from).
        polarity_domain: The corpus bias feature its polarity uses (taxonomy: cosmetics,
            the closest to e-commerce reviews).
        labels: Polarities this inventory can take (``product`` has no neutral).
        polarity_prior: Per aspect, logit offsets over `POLARITIES` added to its polarity
            (hand-set for taxonomy categories that have no labelled data).
    """

    name: str
    aspects: tuple[str, ...]
    keywords: dict[str, tuple[str, ...]]
    detector: np.ndarray | None = field(repr=False)
    detector_bias: np.ndarray = field(repr=False)
    thresholds: np.ndarray = field(repr=False)
    polarity_alias: dict[str, str]
    polarity_domain: str
    labels: tuple[str, ...] = POLARITIES
    polarity_prior: dict[str, np.ndarray] = field(default_factory=dict, repr=False)


def normalise_clause(text: str) -> str:
    """NFKC and lower case: what the features see (the pipeline's text_norm already is)."""
    return unicodedata.normalize("NFKC", text).lower().strip()


def split_clauses(text: str) -> list[str]:
    """Cut a text into clauses at punctuation and before contrast words.

    Args:
        text: Any text; only its first `MAX_CHARS` characters are read.

    Returns:
        The non-empty clauses, in order, stripped.
    """
    out = []
    for part in _BREAK.split(text[:MAX_CHARS]):
        for piece in _CONTRAST.split(part):
            piece = piece.strip()
            if piece:
                out.append(piece)
    return out


def clause_contexts(clauses: Sequence[str]) -> list[str]:
    """The context polarity is read from for each clause (a short one borrows the next)."""
    out = []
    for i, clause in enumerate(clauses):
        if (
            len(clause) <= SHORT_CLAUSE
            and i + 1 < len(clauses)
            and not _CONTRAST.match(clauses[i + 1])
        ):
            out.append(f"{clause}，{clauses[i + 1]}")
        else:
            out.append(clause)
    return out


def char_grams(text: str) -> list[str]:
    """Char 1-3-grams of a normalised clause; 2- and 3-grams see its start ^ and end $."""
    grams = list(text)
    padded = f"^{text}$"
    grams.extend(padded[i : i + 2] for i in range(len(padded) - 1))
    grams.extend(padded[i : i + 3] for i in range(len(padded) - 2))
    return grams


def polarity_features(context: str, aspect: str, domain: str) -> list[str]:
    """Feature strings of one (context, aspect): its grams, aspect-conjoined bigrams, biases."""
    grams = char_grams(context)
    feats = [*grams, f"D={domain}", f"A={aspect}"]
    feats.extend(f"{aspect}|{g}" for g in grams if len(g) == 2)
    return feats


def featurize(items: Iterable[list[str]], vocab: dict[str, int], width: int) -> sparse.csr_matrix:
    """Binary features, L2-normalised per row, as a CSR matrix with `width` columns.

    Args:
        items: Per row, its feature strings (unknown ones are ignored).
        vocab: Feature string → column.
        width: Number of columns (features beyond it are ignored: detectors only read the
            plain char grams, which come first in the vocabulary).
    """
    indptr = [0]
    indices: list[int] = []
    data: list[float] = []
    for feats in items:
        cols = sorted({c for f in feats if (c := vocab.get(f, width)) < width})
        indices.extend(cols)
        value = 1.0 / np.sqrt(len(cols)) if cols else 0.0
        data.extend([value] * len(cols))
        indptr.append(len(indices))
    return sparse.csr_matrix(
        (np.asarray(data, dtype=np.float32), indices, indptr),
        shape=(len(indptr) - 1, width),
        dtype=np.float32,
    )


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@dataclass(frozen=True, eq=False)
class AspectModel:
    """A loaded aspect-sentiment model; build it with `load_aspect_model` or training.

    Attributes:
        version: ``<name>+<8 hex digits of the weights' SHA-256>``; stored with results.
        vocab: Feature strings; the first `n_grams` are plain char grams.
        n_grams: How many leading vocabulary entries the detectors read.
        polarity_weights: ``(3, len(vocab))`` weights over `POLARITIES`.
        polarity_bias: ``(3,)`` intercepts.
        inventories: Inventory name → `AspectInventory`.
    """

    version: str
    vocab: tuple[str, ...] = field(repr=False)
    n_grams: int
    polarity_weights: np.ndarray = field(repr=False)
    polarity_bias: np.ndarray = field(repr=False)
    inventories: dict[str, AspectInventory]
    _index: dict[str, int] = field(init=False, repr=False)
    _lexicons: dict[str, tuple[tuple[str, re.Pattern[str]], ...]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {f: i for i, f in enumerate(self.vocab)})
        # One alternation per aspect: a search finds whether any of its keywords is in a
        # clause, as `k in clause` for each would, in one pass (that loop was 60 % of
        # the stage's time).
        lexicons = {
            name: tuple(
                (aspect, re.compile("|".join(map(re.escape, inv.keywords[aspect]))))
                for aspect in inv.aspects
                if inv.keywords.get(aspect)
            )
            for name, inv in self.inventories.items()
        }
        object.__setattr__(self, "_lexicons", lexicons)

    def detect(self, clauses: Sequence[str], inventory: str = "taxonomy") -> list[list[str]]:
        """The aspects each (normalised) clause mentions, in inventory order."""
        inv = self.inventories[inventory]
        lexicon = self._lexicons[inventory]
        found: list[set[str]] = [
            {aspect for aspect, pattern in lexicon if pattern.search(clause)} for clause in clauses
        ]
        if inv.detector is not None and len(clauses):
            x = featurize((char_grams(c) for c in clauses), self._index, self.n_grams)
            probs = 1.0 / (1.0 + np.exp(-(x @ inv.detector.T + inv.detector_bias)))
            trained = np.abs(inv.detector).sum(axis=1) > 0
            hits = (probs >= inv.thresholds) & trained
            for i, j in zip(*np.nonzero(hits), strict=True):
                found[i].add(inv.aspects[j])
        return [[a for a in inv.aspects if a in f] for f in found]

    def polarity_probs(
        self, pairs: Sequence[tuple[str, str]], inventory: str = "taxonomy"
    ) -> np.ndarray:
        """``(len(pairs), 3)`` probabilities over `POLARITIES` for (context, aspect) pairs.

        Polarities the inventory cannot take get probability 0.
        """
        inv = self.inventories[inventory]
        if not pairs:
            return np.zeros((0, 3), dtype=np.float32)
        rows = (
            polarity_features(ctx, inv.polarity_alias.get(a, a), inv.polarity_domain)
            for ctx, a in pairs
        )
        x = featurize(rows, self._index, len(self.vocab))
        logits = np.asarray(x @ self.polarity_weights.T) + self.polarity_bias
        for i, (_, aspect) in enumerate(pairs):
            if aspect in inv.polarity_prior:
                logits[i] += inv.polarity_prior[aspect]
        allowed = np.array([p in inv.labels for p in POLARITIES])
        logits[:, ~allowed] = -np.inf
        return _softmax(logits)

    def extract(self, text: str, inventory: str = "taxonomy") -> list[AspectSentiment]:
        """Every (clause, aspect) opinion in a text, in text order.

        Args:
            text: Any text (normalised or not; empty gives ``[]``).
            inventory: Which aspect set to report.
        """
        return self.extract_many([text], inventory)[0]

    def extract_many(
        self, texts: Sequence[str], inventory: str = "taxonomy"
    ) -> list[list[AspectSentiment]]:
        """`extract` for many texts at once (one matrix product per step: faster)."""
        clauses_per_text = [split_clauses(t if isinstance(t, str) else "") for t in texts]
        flat = [c for cs in clauses_per_text for c in cs]
        contexts = [normalise_clause(c) for cs in clauses_per_text for c in clause_contexts(cs)]
        detected = self.detect([normalise_clause(c) for c in flat], inventory)
        pairs = [(contexts[i], a) for i, aspects in enumerate(detected) for a in aspects]
        probs = self.polarity_probs(pairs, inventory)
        results: list[list[AspectSentiment]] = []
        k = 0
        row = 0
        for clauses in clauses_per_text:
            mentions = []
            for clause in clauses:
                for aspect in detected[row]:
                    p = probs[k]
                    best = int(np.argmax(p))
                    score = float(p[2] + 0.5 * p[1])
                    mentions.append(
                        AspectSentiment(
                            aspect,
                            POLARITIES[best],
                            clause,
                            round(score, 6),
                            round(float(p[best]), 6),
                        )
                    )
                    k += 1
                row += 1
            results.append(mentions)
        return results


_RANK = {"negative": 0, "positive": 1, "neutral": 2}


def strongest_by_aspect(mentions: Iterable[AspectSentiment]) -> list[AspectSentiment]:
    """One mention per aspect: a negative one if any (praise elsewhere must not hide a
    complaint), else a positive one, else neutral; among those the most confident.

    Returns:
        The kept mentions, in order of first appearance of their aspect.
    """
    best: dict[str, AspectSentiment] = {}
    for m in mentions:
        cur = best.get(m.aspect)
        if cur is None or (_RANK[m.polarity], -m.confidence) < (
            _RANK[cur.polarity],
            -cur.confidence,
        ):
            best[m.aspect] = m
    return list(best.values())


def _serialise(model: AspectModel, name: str) -> tuple[dict[str, np.ndarray], str]:
    arrays = {"polarity_weights": model.polarity_weights, "polarity_bias": model.polarity_bias}
    inventories = []
    for inv in model.inventories.values():
        if inv.detector is not None:
            arrays[f"detector__{inv.name}"] = inv.detector
        arrays[f"detector_bias__{inv.name}"] = inv.detector_bias
        arrays[f"thresholds__{inv.name}"] = inv.thresholds
        inventories.append(
            {
                "name": inv.name,
                "aspects": list(inv.aspects),
                "keywords": {a: list(k) for a, k in inv.keywords.items()},
                "polarity_alias": inv.polarity_alias,
                "polarity_domain": inv.polarity_domain,
                "labels": list(inv.labels),
                "polarity_prior": {a: v.tolist() for a, v in inv.polarity_prior.items()},
            }
        )
    config = {"name": name, "n_grams": model.n_grams, "vocab": list(model.vocab)}
    config["inventories"] = inventories
    arrays = {k: np.asarray(v, dtype=np.float16) for k, v in arrays.items()}
    return arrays, json.dumps(config, ensure_ascii=False)


def model_version(model: AspectModel, name: str) -> str:
    """The version `load_aspect_model` will give `model` once saved under `name`."""
    return f"{name}+{_digest(*_serialise(model, name))}"


def save_aspect_model(model: AspectModel, out_dir: str | Path, name: str) -> Path:
    """Write a model as ``weights.npz`` (float16 arrays) and ``model.json``.

    Args:
        model: The model; its weights must already be float16-representable (training
            rounds them) so a saved and re-loaded model gives identical outputs.
        out_dir: Created if missing; the two files are overwritten.
        name: The version's name part.

    Returns:
        The directory.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    arrays, config_text = _serialise(model, name)
    np.savez_compressed(out / _WEIGHTS, **arrays)
    (out / _CONFIG).write_text(config_text, encoding="utf-8")
    return out


def _digest(arrays: dict[str, np.ndarray], config_text: str) -> str:
    # Over contents, not the .npz file: zip entries carry the time they were written.
    digest = hashlib.sha256(config_text.encode("utf-8"))
    for key in sorted(arrays):
        digest.update(key.encode("utf-8"))
        digest.update(np.ascontiguousarray(arrays[key], dtype=np.float16).tobytes())
    return digest.hexdigest()[:8]


def load_aspect_model(model_dir: str | Path | None = None) -> AspectModel:
    """Load a model saved by `save_aspect_model` (default: the bundled one).

    Raises:
        FileNotFoundError: naming the directory when a file is missing.
        ValueError: naming the file when it is not a model of this kind.
    """
    path = Path(model_dir) if model_dir is not None else DEFAULT_MODEL_DIR
    for name in (_WEIGHTS, _CONFIG):
        if not (path / name).is_file():
            raise FileNotFoundError(f"aspect model {path}: {name} is missing")
    try:
        config_text = (path / _CONFIG).read_text(encoding="utf-8")
        config = json.loads(config_text)
        with np.load(path / _WEIGHTS, allow_pickle=False) as npz:
            arrays = {k: npz[k].astype(np.float32) for k in npz.files}
        inventories = {}
        for spec in config["inventories"]:
            n = spec["name"]
            inventories[n] = AspectInventory(
                name=n,
                aspects=tuple(spec["aspects"]),
                keywords={a: tuple(k) for a, k in spec["keywords"].items()},
                detector=arrays.get(f"detector__{n}"),
                detector_bias=arrays[f"detector_bias__{n}"],
                thresholds=arrays[f"thresholds__{n}"],
                polarity_alias=dict(spec["polarity_alias"]),
                polarity_domain=spec["polarity_domain"],
                labels=tuple(spec["labels"]),
                polarity_prior={
                    a: np.asarray(v, dtype=np.float32)
                    for a, v in spec.get("polarity_prior", {}).items()
                },
            )
        return AspectModel(
            version=f"{config['name']}+{_digest(arrays, config_text)}",
            vocab=tuple(config["vocab"]),
            n_grams=int(config["n_grams"]),
            polarity_weights=arrays["polarity_weights"],
            polarity_bias=arrays["polarity_bias"],
            inventories=inventories,
        )
    except (KeyError, TypeError, ValueError, json.JSONDecodeError) as exc:
        raise ValueError(f"aspect model {path} is not a valid aspect model: {exc!r}") from exc


_DEFAULT: AspectModel | None = None


def extract_aspects(text: str, model: AspectModel | None = None) -> list[AspectSentiment]:
    """Aspect opinions of one text in the `TAXONOMY` (bundled model unless one is given).

    Example:
        >>> [(a.aspect, a.polarity) for a in extract_aspects("物流很快但是质量太差")]
        [('物流', 'positive'), ('商品质量', 'negative')]
    """
    global _DEFAULT
    if model is None:
        if _DEFAULT is None:
            _DEFAULT = load_aspect_model()
        model = _DEFAULT
    return model.extract(text)
