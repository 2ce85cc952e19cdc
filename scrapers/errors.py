"""Why a parser could not read a page at all, so spiders count each under its own key.

Both are `ValueError`s: a caller that does not care which can catch that.
"""

from __future__ import annotations


class SourceError(ValueError):
    """The site answered with an error instead of data (an error payload, a login page)."""


class LayoutChanged(ValueError):
    """The page or payload no longer has the structure the parser reads (a site redesign)."""
