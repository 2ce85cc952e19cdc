"""The registry of source kinds: each kind's canonical name, aliases, typed options, example.

`voc.settings` validates every configured source against it at load time; ``voc sources
kinds`` and ``docs/source-kinds.md`` (``python -m voc.kinds --markdown``) are rendered
from it. Nothing here imports scrapers: a kind names its spider or connector as text.
"""

from __future__ import annotations

import difflib

from voc.kinds.base import (
    PIPELINE_OPTIONS,
    SCRAPY_SETTINGS,
    HttpOptions,
    OptionError,
    SourceKind,
    SourceOptions,
    WebOptions,
)
from voc.kinds.connectors import CONNECTOR_KINDS
from voc.kinds.web import DEMO_KINDS, WEB_KINDS

__all__ = [
    "KINDS",
    "PIPELINE_OPTIONS",
    "SCRAPY_SETTINGS",
    "HttpOptions",
    "OptionError",
    "SourceKind",
    "SourceOptions",
    "WebOptions",
    "find_kind",
    "kind_names",
    "nearest_kind",
]

#: Every kind, in the order they are listed.
KINDS: tuple[SourceKind, ...] = WEB_KINDS + CONNECTOR_KINDS + DEMO_KINDS

_BY_NAME = {k.name: k for k in KINDS} | {a: k for k in KINDS for a in k.aliases}


def kind_names() -> tuple[str, ...]:
    """The canonical kind names."""
    return tuple(k.name for k in KINDS)


def find_kind(name: str) -> SourceKind | None:
    """The kind called `name` (its canonical name or an alias), or None."""
    return _BY_NAME.get(name)


def nearest_kind(name: str) -> str | None:
    """The canonical kind name closest to a misspelled `name`, if any is close."""
    close = difflib.get_close_matches(name, list(_BY_NAME), n=1, cutoff=0.6)
    return _BY_NAME[close[0]].name if close else None
