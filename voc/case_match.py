"""What the case rules match on: shell-style patterns and the candidate voices (pure)."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Collection
from dataclasses import dataclass

from voc.cases import CaseVoice


class Globs:
    """Shell-style patterns (``高价值*``, ``demo_*``); a value matches if any pattern does."""

    def __init__(self, patterns: tuple[str, ...] = ()) -> None:
        self.patterns = patterns
        exact = [p for p in patterns if not any(c in p for c in "*?[")]
        wild = [fnmatch.translate(p) for p in patterns if p not in exact]
        self._exact = frozenset(exact)
        self._wild = re.compile("|".join(wild)) if wild else None

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Globs) and other.patterns == self.patterns

    def __hash__(self) -> int:
        return hash(self.patterns)

    def __repr__(self) -> str:
        return f"Globs({self.patterns!r})"

    def match(self, value: str | None) -> bool:
        """Whether `value` matches one of the patterns (None never does)."""
        if value is None:
            return False
        return value in self._exact or bool(self._wild and self._wild.match(value))

    def match_any(self, values: Collection[str | None]) -> bool:
        """Whether one of `values` matches."""
        return any(self.match(v) for v in values)


def no_globs() -> Globs:
    """No patterns: a criterion not given."""
    return Globs()


@dataclass(frozen=True)
class Candidate:
    """A voice as the rules see it: the case voice, every category and negative aspect of
    the document (the voice carries one of each), and the escalations it threatens
    (regulator, media, legal, compensation)."""

    voice: CaseVoice
    categories: tuple[str, ...] = ()
    aspects: tuple[str, ...] = ()
    escalations: tuple[str, ...] = ()


@dataclass(frozen=True)
class AlertVerbatims:
    """The verbatims behind one spike episode (`warehouse.spikes` explanation)."""

    episode_id: str
    severity: str
    key_kind: str
    key_value: str
    doc_ids: tuple[str, ...]
