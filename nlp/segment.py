"""Chinese word segmentation with a bundled user dictionary and stopword list, both
extendable through settings (``user_dict_paths``, ``stopword_paths``).

Two backends cut the text: ``jieba`` (the Python reference, precise mode with HMM) and
``rjieba`` (the jieba-rs Rust port with the same dictionary and HMM model, many times
faster). Both read the same user dictionaries and drop the same stopwords; where their
cuts differ is measured by ``benchmarks/segmenter.py`` and listed in
``docs/segmenter.md``.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from importlib import resources
from pathlib import Path

_RESOURCES = resources.files("nlp").joinpath("resources")
# A token made only of punctuation, symbols, digits or spaces carries no theme.
_NOISE = re.compile(r"^[\W\d_]+$", re.UNICODE)

# jieba's HMM fallback (jieba.finalseg.re_skip) splits a run of Latin letters and digits
# at every other character ("t.cn" → t . cn, "2.0T" → 2.0 T); jieba-rs keeps such a run whole.
_SKIP = re.compile(r"([a-zA-Z0-9]+(?:\.\d+)?%?)")
_PLAIN = re.compile(r"^[a-zA-Z0-9]*$")
_HAN = re.compile(r"[\u4E00-\u9FD5]")
# The symbols jieba-rs keeps inside such a run (its block regex, like jieba's, has +#&._%-).
_JOINABLE = re.compile(r"[a-zA-Z0-9][+#&._%\-]|[+#&._%\-][a-zA-Z0-9]")

# The filter's verdict per distinct piece: a vocabulary is small next to a corpus, and the
# strip/lower/regex per token cost more than the Rust cut itself.
_KEPT_MAX = 1_000_000

#: The backends `Segmenter` accepts (settings ``segmenter``).
BACKENDS = ("jieba", "rjieba")


def _read_lines(text: str) -> list[str]:
    return [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def load_stopwords(extra_paths: Sequence[Path] = ()) -> frozenset[str]:
    """The bundled stopwords plus those in `extra_paths` (one per line, '#' comments).

    Raises:
        FileNotFoundError: naming a configured stopword file that does not exist.
    """
    words = set(_read_lines(_RESOURCES.joinpath("stopwords.txt").read_text(encoding="utf-8")))
    for path in extra_paths:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"stopword file not found: {path}")
        words.update(_read_lines(path.read_text(encoding="utf-8")))
    return frozenset(words)


def parse_user_dict(text: str) -> list[tuple[str, int | None, str | None]]:
    """``(word, freq, tag)`` per line of a jieba user dictionary (``word [freq] [tag]``),
    read the way jieba's ``load_userdict`` reads it (a second field that is not a number
    is the tag)."""
    entries: list[tuple[str, int | None, str | None]] = []
    for line in text.splitlines():
        line = line.strip().lstrip("\ufeff")
        if not line:
            continue
        parts = line.split()
        word, rest = parts[0], parts[1:]
        freq: int | None = None
        tag: str | None = None
        if rest and rest[0].isdigit():
            freq = int(rest.pop(0))
        if rest:
            tag = rest[0]
        entries.append((word, freq, tag))
    return entries


def _jieba_cutter() -> tuple[str, Callable[[str], list[str]], Callable[..., object]]:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    return jieba.__version__, tokenizer.lcut, tokenizer.add_word


def _rjieba_cutter(
    jieba_compatible: bool = True,
) -> tuple[str, Callable[[str], list[str]], Callable[..., object]]:
    from importlib.metadata import version

    import rjieba

    tokenizer = rjieba.Jieba()
    if not jieba_compatible:
        return f"rjieba-{version('rjieba')}-raw", tokenizer.cut, tokenizer.add_word
    raw_cut, has_word = tokenizer.cut, tokenizer.has_word

    def cut(text: str) -> list[str]:
        pieces = raw_cut(text)
        # Most texts have no Latin or digit joined to a symbol: one regex search over the
        # text spares the per-piece tests.
        if not _JOINABLE.search(text):
            return pieces
        out: list[str] = []
        for piece in pieces:
            if (
                len(piece) > 1
                and not _PLAIN.match(piece)
                and not _HAN.search(piece)
                and not has_word(piece)
            ):
                out.extend(p for p in _SKIP.split(piece) if p)
            else:
                out.append(piece)
        return out

    return f"rjieba-{version('rjieba')}", cut, tokenizer.add_word


class Segmenter:
    """Precise-mode segmentation that drops stopwords and punctuation.

    Args:
        user_dict_paths: Extra user dictionaries (``word [freq] [tag]`` per line), loaded
            after the bundled one.
        stopword_paths: Extra stopword lists.
        backend: ``"jieba"`` or ``"rjieba"`` (see the module doc).
        jieba_compatible: rjieba only: split Latin-and-digit runs the way jieba does
            (``t.cn`` → ``t`` ``.`` ``cn``); False keeps jieba-rs's own cut.

    Raises:
        ValueError: an unknown backend.
        FileNotFoundError: naming a configured dictionary that does not exist.
    """

    def __init__(
        self,
        user_dict_paths: Sequence[Path] = (),
        stopword_paths: Sequence[Path] = (),
        backend: str = "jieba",
        jieba_compatible: bool = True,
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"unknown segmenter {backend!r}; choose one of {', '.join(BACKENDS)}")
        self.backend = backend
        # jieba's digest starts from its bare version, as before there were two backends,
        # so warehouses segmented with jieba keep their stage version.
        if backend == "jieba":
            seed, self._cut, self._add_word = _jieba_cutter()
        else:
            seed, self._cut, self._add_word = _rjieba_cutter(jieba_compatible)
        self._name = f"jieba-{seed}" if backend == "jieba" else seed
        digest = hashlib.sha256(seed.encode())
        dictionaries = [_RESOURCES.joinpath("user_dict.txt").read_bytes()]
        for extra in user_dict_paths:
            extra = Path(extra)
            if not extra.is_file():
                raise FileNotFoundError(f"user dictionary not found: {extra}")
            dictionaries.append(extra.read_bytes())
        for raw in dictionaries:
            # One reader for both backends, so a line means the same word to either.
            for word, freq, tag in parse_user_dict(raw.decode("utf-8")):
                self._add_word(word, freq, tag)
            digest.update(raw)
        self.stopwords = load_stopwords(stopword_paths)
        self._kept: dict[str, str | None] = {}
        digest.update("\n".join(sorted(self.stopwords)).encode())
        self._digest = digest

    @property
    def version(self) -> str:
        """``<backend>-<version>+<hash>`` of the dictionaries, words added and stopwords:
        other tokens for the same text mean another version."""
        return f"{self._name}+{self._digest.hexdigest()[:8]}"

    def add_word(self, word: str, freq: int | None = None) -> None:
        """Teach the segmenter one more word at run time."""
        self._add_word(word, freq, None)
        self._digest.update(f"\n+{word} {freq}".encode())

    def cut(self, text: str) -> list[str]:
        """The backend's raw precise-mode pieces of `text` (they concatenate to it)."""
        return list(self._cut(text))

    def _keep(self, piece: str) -> str | None:
        try:
            return self._kept[piece]
        except KeyError:
            pass
        token: str | None = piece.strip().lower()
        if not token or token in self.stopwords or _NOISE.match(token):
            token = None
        if len(self._kept) >= _KEPT_MAX:
            self._kept.clear()
        self._kept[piece] = token
        return token

    def tokens(self, text: str) -> list[str]:
        """Content tokens of one text, in order (lower-cased Latin)."""
        keep = self._keep
        return [t for t in map(keep, self._cut(text)) if t is not None]

    def token_spans(self, text: str) -> list[tuple[int, str]]:
        """`tokens` with the character offset where each one starts in `text`."""
        out = []
        start = 0
        for piece in self._cut(text):
            token = self._keep(piece)
            if token is not None:
                out.append((start, token))
            start += len(piece)
        return out

    def segment_many(self, texts: Iterable[str]) -> list[list[str]]:
        """`tokens` for each text."""
        return [self.tokens(t) for t in texts]
