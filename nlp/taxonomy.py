"""The curated complaint taxonomy: named categories that keep their identity across runs.

Discovered themes (`signals.theme_discovery`) change with every run; these categories are written by
people (a YAML file, see ``taxonomy_default.yaml``) and tag every document by *topic*, not
polarity: "物流很快" and "物流太慢" are both about 物流. A document may get several
categories. A category matches a text through, in this order:

1. keywords: words or phrases found in the normalised, lower-cased text. Given the
   document's jieba tokens, a keyword that straddles a word boundary is ignored
   ("评价|格外好" does not mention 价格); one inside a longer word still counts (快递员).
2. regexes: Python regular expressions (case-insensitive) over the same text.
3. examples: only for texts that no keyword or regex of any category catches, the cosine
   similarity of character 1-3-gram TF-IDF vectors (clauses split at punctuation; IDF fitted
   on all categories' examples) against each category's example sentences; a category
   matches when its best example reaches `similarity_threshold` (default
   `DEFAULT_SIMILARITY_THRESHOLD`).

`Taxonomy.version` hashes everything that changes tagging results (categories, normalised
keywords, regexes, examples, threshold and `MATCHER_VERSION`), not descriptions, comments or
layout, so a stored tag says which taxonomy produced it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from nlp.normalize import normalize_text

#: Bumped when the matching algorithm changes, so stored tags are redone.
MATCHER_VERSION = "taxonomy-matcher-1"
#: Cosine similarity an example must reach. Chosen on the odd-id half of the cosmetics
#: corpus (benchmarks/taxonomy.py): below it example matches were mostly wrong (shared
#: filler such as 用了/一样), at 0.4 almost none fired. A last resort, not a classifier.
DEFAULT_SIMILARITY_THRESHOLD = 0.35
#: Longest example-match evidence stored (the matched example sentence).
_EVIDENCE_CHARS = 60
_CATEGORY_KEYS = frozenset({"description", "keywords", "regexes", "examples"})
_TOP_KEYS = frozenset({"categories", "similarity_threshold"})
_ASCII_WORD = re.compile(r"^[0-9a-z][0-9a-z .+&-]*$")
_CLAUSE_BREAK = re.compile(r"[\W_]+")

MatchedBy = Literal["keyword", "regex", "example"]


class TaxonomyError(ValueError):
    """A taxonomy file that cannot be used; the message names the file, category and key."""


@dataclass(frozen=True, slots=True)
class Category:
    """One curated complaint category.

    Attributes:
        name: The category's name as shown to people (物流).
        description: What belongs here; not used for matching.
        keywords: Normalised, lower-cased words or phrases (two characters or more).
        regexes: Regular expressions, as written in the file.
        examples: Normalised example sentences.
    """

    name: str
    description: str
    keywords: tuple[str, ...]
    regexes: tuple[str, ...]
    examples: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CategoryMatch:
    """Why a document got a category.

    Attributes:
        category: The category's name.
        matched_by: "keyword", "regex" or "example" (the first that matched, in that order).
        evidence: The keywords or regex matches found ('、'-joined), or the example sentence.
        score: 1.0 for keywords and regexes; the cosine similarity for examples.
    """

    category: str
    matched_by: MatchedBy
    evidence: str
    score: float


class _ExampleIndex:
    """Character n-gram TF-IDF vectors of every category's examples."""

    def __init__(self, categories: Sequence[Category]) -> None:
        # sklearn is imported here so keyword-only users never pay for it.
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.owners: list[int] = []
        self.sentences: list[str] = []
        for index, category in enumerate(categories):
            for example in category.examples:
                self.owners.append(index)
                self.sentences.append(example)
        self.n_categories = len(categories)
        self.vectorizer = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True, preprocessor=_clauses
        )
        self.matrix = self.vectorizer.fit_transform(self.sentences)

    def best(self, texts: Sequence[str]) -> list[list[tuple[float, int]]]:
        """Per text, per category: (best cosine, index of that example), or (0.0, -1) for a
        category without examples."""
        import numpy as np

        sims = (self.vectorizer.transform(texts) @ self.matrix.T).toarray()
        owners = np.asarray(self.owners)
        scores = np.zeros((len(texts), self.n_categories))
        which = np.full((len(texts), self.n_categories), -1)
        for cat in range(self.n_categories):
            cols = np.flatnonzero(owners == cat)
            if cols.size:
                best = sims[:, cols].argmax(axis=1)
                which[:, cat] = cols[best]
                scores[:, cat] = sims[np.arange(len(texts)), cols[best]]
        return [
            [(float(score), int(j)) for score, j in zip(srow, wrow, strict=True)]
            for srow, wrow in zip(scores, which, strict=True)
        ]


def _clauses(text: str) -> str:
    # char_wb builds n-grams inside whitespace-separated words: here, clauses.
    return _CLAUSE_BREAK.sub(" ", text.lower())


def _keyword_pattern(keywords: Sequence[str]) -> re.Pattern[str] | None:
    if not keywords:
        return None
    parts = []
    for word in sorted(keywords, key=lambda w: (-len(w), w)):
        escaped = re.escape(word)
        # Latin keywords (app, bug) must not match inside another word (happy, debug).
        if _ASCII_WORD.match(word):
            escaped = rf"(?<![0-9a-z]){escaped}(?![0-9a-z])"
        parts.append(escaped)
    return re.compile("|".join(parts))


def _token_spans(text: str, tokens: Sequence[str]) -> list[tuple[int, int]]:
    spans = []
    cursor = 0
    for token in tokens:
        start = text.find(token, cursor)
        if start < 0:
            continue  # a token the text no longer holds (re-normalised since): ignore it
        spans.append((start, start + len(token)))
        cursor = start + len(token)
    return spans


def _straddles(start: int, end: int, spans: Sequence[tuple[int, int]]) -> bool:
    """True when [start, end) begins or ends strictly inside a token it does not fit in."""
    for s, e in spans:
        if s >= end:
            break
        if (s < start < e < end) or (start < s < end < e):
            return True
    return False


@dataclass(frozen=True)
class Taxonomy:
    """A validated set of categories; build it with `load_taxonomy` or `parse_taxonomy`.

    Attributes:
        categories: The categories, in file order.
        similarity_threshold: Cosine an example match needs.
        origin: The file it came from (for messages).
        version: Hash of everything that changes tagging (see module docstring).
    """

    categories: tuple[Category, ...]
    similarity_threshold: float = DEFAULT_SIMILARITY_THRESHOLD
    origin: str = "<memory>"
    version: str = field(init=False)
    _keywords: tuple[re.Pattern[str] | None, ...] = field(init=False, repr=False, compare=False)
    _regexes: tuple[tuple[re.Pattern[str], ...], ...] = field(init=False, repr=False, compare=False)
    _examples: list[_ExampleIndex | None] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        content = {
            "matcher": MATCHER_VERSION,
            "threshold": round(self.similarity_threshold, 6),
            "categories": [
                [c.name, sorted(set(c.keywords)), list(c.regexes), sorted(set(c.examples))]
                for c in self.categories
            ],
        }
        digest = hashlib.sha256(
            json.dumps(content, ensure_ascii=False, sort_keys=True).encode("utf-8")
        ).hexdigest()
        object.__setattr__(self, "version", f"tax-{digest[:16]}")
        object.__setattr__(
            self, "_keywords", tuple(_keyword_pattern(c.keywords) for c in self.categories)
        )
        object.__setattr__(
            self,
            "_regexes",
            tuple(tuple(re.compile(r, re.IGNORECASE) for r in c.regexes) for c in self.categories),
        )
        # Built on first use: fitting the vectoriser is only needed for uncaught texts.
        object.__setattr__(self, "_examples", [None])

    @property
    def names(self) -> tuple[str, ...]:
        """Category names in file order."""
        return tuple(c.name for c in self.categories)

    def tag(self, text: str, tokens: Sequence[str] | None = None) -> list[CategoryMatch]:
        """The categories of one normalised text (see `nlp.normalize.normalize_text`).

        Args:
            text: Normalised text; lower-cased here.
            tokens: Its jieba tokens, if known: keywords straddling a word boundary are then
                ignored.

        Returns:
            Matches in category order; empty when nothing matched.
        """
        return self.tag_many([text], None if tokens is None else [tokens])[0]

    def tag_many(
        self,
        texts: Sequence[str],
        tokens: Sequence[Sequence[str] | None] | None = None,
        *,
        use_examples: bool = True,
    ) -> list[list[CategoryMatch]]:
        """`tag` for many texts; the example similarity is computed in one batch.

        Args:
            texts: Normalised texts.
            tokens: One token list (or None) per text, or None for all.
            use_examples: False tags with keywords and regexes only.
        """
        if tokens is not None and len(tokens) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(tokens)} token lists")
        results = []
        uncaught: list[int] = []
        for i, text in enumerate(texts):
            matches = self._match_rules(text.lower(), tokens[i] if tokens is not None else None)
            if not matches:
                uncaught.append(i)
            results.append(matches)
        if use_examples and uncaught and any(c.examples for c in self.categories):
            index = self._example_index()
            best = index.best([texts[i] for i in uncaught])
            for i, per_category in zip(uncaught, best, strict=True):
                results[i] = [
                    CategoryMatch(
                        self.categories[cat].name,
                        "example",
                        index.sentences[j][:_EVIDENCE_CHARS],
                        round(score, 4),
                    )
                    for cat, (score, j) in enumerate(per_category)
                    if j >= 0 and score >= self.similarity_threshold
                ]
        return results

    def _match_rules(self, text: str, tokens: Sequence[str] | None) -> list[CategoryMatch]:
        spans = _token_spans(text, tokens) if tokens else ()
        out = []
        for category, keywords, regexes in zip(
            self.categories, self._keywords, self._regexes, strict=True
        ):
            found: list[str] = []
            if keywords is not None:
                for m in keywords.finditer(text):
                    if spans and _straddles(m.start(), m.end(), spans):
                        continue
                    if m.group() not in found:
                        found.append(m.group())
            if found:
                out.append(CategoryMatch(category.name, "keyword", "、".join(found[:5]), 1.0))
                continue
            for pattern in regexes:
                m = pattern.search(text)
                if m and m.group():
                    found.append(m.group())
            if found:
                out.append(CategoryMatch(category.name, "regex", "、".join(found[:5]), 1.0))
        return out

    def _example_index(self) -> _ExampleIndex:
        if self._examples[0] is None:
            self._examples[0] = _ExampleIndex(self.categories)
        return self._examples[0]

    def unmatched_examples(self) -> list[tuple[str, str, tuple[str, ...]]]:
        """(category, example, categories it got) of each example its own category misses.

        An example caught by another category's keyword never reaches example matching, so
        it teaches nothing: a lint for taxonomy authors (empty for the bundled default).
        """
        out = []
        for category in self.categories:
            for example, found in zip(
                category.examples, self.tag_many(category.examples), strict=True
            ):
                names = tuple(m.category for m in found)
                if category.name not in names:
                    out.append((category.name, example, names))
        return out

    def without(self, *, regexes: bool = False, examples: bool = False) -> Taxonomy:
        """A copy without regexes and/or examples (for baselines and ablations)."""
        return Taxonomy(
            tuple(
                Category(
                    c.name,
                    c.description,
                    c.keywords,
                    () if regexes else c.regexes,
                    () if examples else c.examples,
                )
                for c in self.categories
            ),
            self.similarity_threshold,
            self.origin,
        )


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice (PyYAML keeps the last one silently, so a
    category pasted twice would lose its first definition)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def default_taxonomy_path() -> Path:
    """Where the bundled default taxonomy lives."""
    return Path(str(resources.files("nlp").joinpath("taxonomy_default.yaml")))


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """Read and validate a taxonomy YAML file.

    Args:
        path: The file; None for the bundled default (``nlp/taxonomy_default.yaml``).

    Raises:
        TaxonomyError: the file is missing, not YAML, or invalid; the message names the
            file, the category and the key (an invalid regex is quoted with its error).
    """
    path = Path(path) if path is not None else default_taxonomy_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise TaxonomyError(f"taxonomy file not found: {path}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise TaxonomyError(f"cannot read taxonomy file {path}: {exc}") from exc
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # safe_load plus duplicate-key check
    except yaml.YAMLError as exc:
        raise TaxonomyError(f"{path}: not valid YAML: {exc}") from exc
    return parse_taxonomy(data, origin=str(path))


def parse_taxonomy(data: Any, origin: str = "<memory>") -> Taxonomy:
    """Validate already-parsed YAML content (see `load_taxonomy`)."""
    if not isinstance(data, Mapping):
        raise TaxonomyError(f"{origin}: expected a mapping with a 'categories' key")
    unknown = sorted(str(k) for k in data if k not in _TOP_KEYS)
    if unknown:
        raise TaxonomyError(
            f"{origin}: unknown top-level key(s) {', '.join(unknown)} "
            f"(allowed: {', '.join(sorted(_TOP_KEYS))})"
        )
    threshold = data.get("similarity_threshold", DEFAULT_SIMILARITY_THRESHOLD)
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not 0 < threshold <= 1
    ):
        raise TaxonomyError(
            f"{origin}: similarity_threshold must be a number in (0, 1], got {threshold!r}"
        )
    raw = data.get("categories")
    if not isinstance(raw, Mapping) or not raw:
        raise TaxonomyError(f"{origin}: 'categories' must be a non-empty mapping of name → spec")
    categories = [_parse_category(name, spec, origin) for name, spec in raw.items()]
    seen: set[str] = set()
    for original, category in zip(raw, categories, strict=True):
        if category.name in seen:
            raise TaxonomyError(
                f"{origin}: category '{original}' is the same as '{category.name}' once "
                "normalised (Traditional → Simplified, full-width → half-width)"
            )
        seen.add(category.name)
    return Taxonomy(tuple(categories), float(threshold), origin)


def _strings(value: Any, where: str, key: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise TaxonomyError(f"{where}: key '{key}' must be a list, got {type(value).__name__}")
    out = []
    for i, item in enumerate(value, start=1):
        if not isinstance(item, str) or not item.strip():
            raise TaxonomyError(
                f"{where}: key '{key}' item {i} must be a non-empty string, got {item!r}"
            )
        out.append(item)
    return out


def _parse_category(name: Any, spec: Any, origin: str) -> Category:
    if not isinstance(name, str) or not name.strip():
        raise TaxonomyError(f"{origin}: category name {name!r} must be a non-empty string")
    where = f"{origin}: category '{name}'"
    if not isinstance(spec, Mapping):
        raise TaxonomyError(f"{where}: expected a mapping of {', '.join(sorted(_CATEGORY_KEYS))}")
    unknown = sorted(str(k) for k in spec if k not in _CATEGORY_KEYS)
    if unknown:
        raise TaxonomyError(
            f"{where}: unknown key(s) {', '.join(unknown)} "
            f"(allowed: {', '.join(sorted(_CATEGORY_KEYS))})"
        )
    description = spec.get("description") or ""
    if not isinstance(description, str):
        raise TaxonomyError(f"{where}: key 'description' must be a string")
    keywords = []
    for i, word in enumerate(_strings(spec.get("keywords"), where, "keywords"), start=1):
        norm = normalize_text(word).lower()
        if len(norm) < 2:
            raise TaxonomyError(
                f"{where}: key 'keywords' item {i} {word!r} is a single character, which "
                "matches inside too many words; use a regex such as '(太|很)贵'"
            )
        if norm not in keywords:
            keywords.append(norm)
    regexes = _strings(spec.get("regexes"), where, "regexes")
    for i, pattern in enumerate(regexes, start=1):
        try:
            compiled = re.compile(pattern, re.IGNORECASE)
        except re.error as exc:
            raise TaxonomyError(
                f"{where}: key 'regexes' item {i} {pattern!r} is not a valid regex: {exc}"
            ) from exc
        if compiled.match(""):
            raise TaxonomyError(
                f"{where}: key 'regexes' item {i} {pattern!r} matches the empty string"
            )
    examples = [normalize_text(e) for e in _strings(spec.get("examples"), where, "examples")]
    if not (keywords or regexes or examples):
        raise TaxonomyError(f"{where}: needs at least one of keywords, regexes or examples")
    return Category(
        normalize_text(name),
        description.strip(),
        tuple(keywords),
        tuple(regexes),
        tuple(dict.fromkeys(examples)),
    )
