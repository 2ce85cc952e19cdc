"""Text normalisation: HTML stripped, NFKC (full-width → half-width), Traditional →
Simplified, control characters dropped, whitespace collapsed. Raw text is never edited in
place: callers store the result beside it."""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import opencc
from opencc import OpenCC

_SCRIPT_STYLE = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_BREAKS = re.compile(r"<\s*(br|/p|/div|/li)\b[^>]*>", re.IGNORECASE)
_TAGS = re.compile(r"<[^<>]{0,2000}>")
# Everything in the Unicode "C" categories except ordinary whitespace.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\ufeff]")
_SPACES = re.compile(r"\s+")


#: Changes whenever `normalize_text` may give another text for the same input; every stage
#: that reads normalised text is then recomputed (`voc.stages.fingerprints`).
NORMALIZE_VERSION = "normalise-v1"


@dataclass(frozen=True, slots=True)
class NormalizedText:
    """A document's normalised text and the hash used for exact-duplicate removal."""

    doc_id: str
    text: str
    norm_hash: str


@lru_cache(maxsize=1)
def _t2s() -> OpenCC:
    return OpenCC("t2s")


#: The dictionaries of OpenCC's t2s conversion (phrases first, then characters).
_T2S_DICTIONARIES = ("TSPhrases.txt", "TSCharacters.txt")


@lru_cache(maxsize=1)
def _t2s_witnesses() -> frozenset[str] | None:
    """Characters of which a text needs at least one for t2s to change it.

    Every entry that changes something (key ≠ value) contributes one of its key's
    characters: a single-character key itself, else a character of the phrase that is
    already a witness, else the first one that the conversion replaces. A text without any
    of them contains no changing key, so the conversion returns it unchanged. None when
    the package's dictionaries are not where this version keeps them (then every text is
    converted).
    """
    folder = Path(opencc.__file__).parent / "dictionary"
    entries: list[tuple[str, str]] = []
    try:
        for name in _T2S_DICTIONARIES:
            for line in (folder / name).read_text(encoding="utf-8").splitlines():
                key, _, value = line.partition("\t")
                if key and value != key:
                    entries.append((key, value.split(" ")[0]))
    except OSError:
        return None
    witnesses = {key for key, _ in entries if len(key) == 1}
    for key, value in entries:
        if len(key) > 1 and witnesses.isdisjoint(key):
            changed = [a for a, b in zip(key, value, strict=False) if a != b]
            witnesses.add(changed[0] if changed and len(key) == len(value) else key[0])
    return frozenset(witnesses)


def to_simplified(text: str) -> str:
    """Traditional → Simplified Chinese (OpenCC t2s), nothing else changed.

    Text that has none of the characters t2s replaces (most Simplified text) is returned
    as it is: the pure-Python converter costs ~75 µs per short text, the check ~3 µs.
    """
    witnesses = _t2s_witnesses()
    if witnesses is not None and witnesses.isdisjoint(text):
        return text
    return _t2s().convert(text)


def strip_html(text: str) -> str:
    """Remove tags (keeping their text), script/style bodies, and unescape entities."""
    text = _SCRIPT_STYLE.sub(" ", text)
    text = _BREAKS.sub(" ", text)
    text = _TAGS.sub("", text)
    return html.unescape(text)


def normalize_text(text: str) -> str:
    """Normalise one text for analysis.

    Steps, in order: drop control characters (incl. NUL), strip HTML, NFKC (full-width
    letters/digits/punctuation become half-width), Traditional → Simplified (OpenCC t2s),
    collapse whitespace.

    Args:
        text: Raw text as a source gave it.

    Returns:
        The normalised text ('' for empty input).
    """
    if not text:
        return ""
    text = _CONTROL.sub("", text)
    text = strip_html(text)
    text = unicodedata.normalize("NFKC", text)
    text = _CONTROL.sub("", text)
    text = to_simplified(text)
    return _SPACES.sub(" ", text).strip()


def hash_normalized(text: str) -> str:
    """Hash that identifies exact duplicates after normalisation (case-folded)."""
    return hashlib.sha256(text.casefold().encode("utf-8")).hexdigest()[:32]


def normalize_documents(rows: list[tuple[str, str]]) -> list[NormalizedText]:
    """Normalise (doc_id, raw text) pairs."""
    out = []
    for doc_id, raw in rows:
        norm = normalize_text(raw)
        out.append(NormalizedText(doc_id, norm, hash_normalized(norm)))
    return out
