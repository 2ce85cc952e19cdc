"""Sources read without Scrapy (ticket exports, mailboxes, helpdesk APIs): kind → loader.

Every loader has the signature ``(source, since, until, author_salt, cursor) -> TicketLoad``
and never raises for a failing source: problems are returned, naming the source.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from importlib import import_module

from scrapers.tickets import TicketLoad
from voc.kinds import KINDS
from voc.settings import SourceConfig

Loader = Callable[[SourceConfig, date, date, str, str | None], TicketLoad]

#: Source kind -> "module:function" of its loader (imported on first use; declared with
#: each kind in `voc.kinds`).
CONNECTORS: dict[str, str] = {k.name: k.connector for k in KINDS if k.connector}


def connector_for(kind: str) -> Loader:
    """The loader of a connector kind.

    Raises:
        ValueError: if the kind is not read by a connector.
    """
    try:
        module, function = CONNECTORS[kind].split(":")
    except KeyError:
        raise ValueError(
            f"kind {kind!r} has no connector (connectors: {', '.join(CONNECTORS)})"
        ) from None
    return getattr(import_module(module), function)


def load_source(
    source: SourceConfig, since: date, until: date, author_salt: str, cursor: str | None = None
) -> TicketLoad:
    """Load one connector source for [since, until], resuming from `cursor` if it has one."""
    return connector_for(source.kind)(source, since, until, author_salt, cursor)
