"""Chinese word segmentation with jieba, a bundled user dictionary and stopword list, both
extendable through settings (``user_dict_paths``, ``stopword_paths``)."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path

import jieba

_RESOURCES = resources.files("nlp").joinpath("resources")
# A token made only of punctuation, symbols, digits or spaces carries no theme.
_NOISE = re.compile(r"^[\W\d_]+$", re.UNICODE)


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


class Segmenter:
    """jieba precise-mode segmentation that drops stopwords and punctuation.

    Args:
        user_dict_paths: Extra jieba user dictionaries (``word [freq] [tag]`` per line),
            loaded after the bundled one.
        stopword_paths: Extra stopword lists.
    """

    def __init__(
        self, user_dict_paths: Sequence[Path] = (), stopword_paths: Sequence[Path] = ()
    ) -> None:
        jieba.setLogLevel(logging.WARNING)
        self._tokenizer = jieba.Tokenizer()
        digest = hashlib.sha256(jieba.__version__.encode())
        bundled = _RESOURCES.joinpath("user_dict.txt")
        with resources.as_file(bundled) as path:
            self._tokenizer.load_userdict(str(path))
            digest.update(Path(path).read_bytes())
        for extra in user_dict_paths:
            extra = Path(extra)
            if not extra.is_file():
                raise FileNotFoundError(f"jieba user dictionary not found: {extra}")
            self._tokenizer.load_userdict(str(extra))
            digest.update(extra.read_bytes())
        self.stopwords = load_stopwords(stopword_paths)
        digest.update("\n".join(sorted(self.stopwords)).encode())
        self._digest = digest

    @property
    def version(self) -> str:
        """``jieba-<version>+<hash>`` of the dictionaries, words added and stopwords: other
        tokens for the same text mean another version."""
        return f"jieba-{jieba.__version__}+{self._digest.hexdigest()[:8]}"

    def add_word(self, word: str, freq: int | None = None) -> None:
        """Teach the segmenter one more word at run time."""
        self._tokenizer.add_word(word, freq)
        self._digest.update(f"\n+{word} {freq}".encode())

    def tokens(self, text: str) -> list[str]:
        """Content tokens of one text, in order (lower-cased Latin)."""
        out = []
        for token in self._tokenizer.lcut(text):
            token = token.strip().lower()
            if token and token not in self.stopwords and not _NOISE.match(token):
                out.append(token)
        return out

    def segment_many(self, texts: Iterable[str]) -> list[list[str]]:
        """`tokens` for each text."""
        return [self.tokens(t) for t in texts]
