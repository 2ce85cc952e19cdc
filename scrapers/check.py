"""``voc sources check``: is each configured source reachable, and what would it yield?"""

from __future__ import annotations

import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from scrapers.connectors import CONNECTORS, load_source
from scrapers.fetch import BLOCKED_STATS
from scrapers.run import SPIDERS, run_crawl
from scrapers.settings import USER_AGENT
from voc.settings import SourceConfig


@dataclass
class SourceCheck:
    """One source's check.

    Attributes:
        name: Source name.
        kind: Source kind.
        url: Its configured URL or path.
        reachable: The URL answered (any HTTP status below 500), or the path exists.
        status: HTTP status, or None (a path, or no answer).
        error: Why it is not reachable, else None.
        items: Documents a dry run over the window yielded (nothing is stored).
        problems: What the dry run reported (parse errors, bad rows...), naming the source.
        blocked: Pages that were a login wall, captcha, rate limit, ban or busy page.
        layout_changed: Pages whose structure no longer matched the parser.
    """

    name: str
    kind: str
    url: str
    reachable: bool = False
    status: int | None = None
    error: str | None = None
    items: int = 0
    problems: list[str] = field(default_factory=list)
    blocked: int = 0
    layout_changed: int = 0

    @property
    def ok(self) -> bool:
        return self.reachable and not self.problems and self.error is None

    @property
    def state(self) -> str:
        """One of `STATES`: ``failed`` (unreachable, or errors other than the two below and
        nothing yielded), ``blocked`` (the site refused this client), ``changed`` (the
        layout stopped matching), ``empty`` (nothing in the window, no problem), ``partial``
        (items and some problems) or ``ok``."""
        if not self.reachable or self.error is not None:
            return "failed"
        if self.blocked:
            return "blocked"
        if self.layout_changed:
            return "changed"
        if self.problems:
            return "partial" if self.items else "failed"
        return "ok" if self.items else "empty"


#: `SourceCheck.state` values, with what each means and what to do (Chinese first).
STATES = {
    "ok": "正常 ok",
    "partial": "部分问题 some items or pages had problems: see below",
    "empty": "无新内容 nothing in the window: nothing new, no fix needed",
    "blocked": "被拦截 blocked: slow down (download_delay) or refresh the cookie",
    "changed": "页面结构变化 layout changed: update the named selector or field",
    "failed": "失败 failed: read the error",
}


def probe(url: str, timeout: float = 10.0) -> tuple[bool, int | None, str | None]:
    """(reachable, HTTP status, error) of a URL or local path; a mailbox URL is left to
    the dry run, which connects and logs in."""
    if url.startswith(("imap://", "imaps://")):
        return True, None, None
    if "://" not in url:
        path = Path(url)
        return (True, None, None) if path.exists() else (False, None, f"{url}: no such path")
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return True, response.status, None
    except urllib.error.HTTPError as exc:
        return exc.code < 500, exc.code, None if exc.code < 500 else f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return False, None, f"{type(reason).__name__}: {reason}"


def check_source(
    source: SourceConfig, since: date, until: date, author_salt: str, timeout: float = 120.0
) -> SourceCheck:
    """Probe a source and dry-run it over [since, until] into a temporary folder."""
    check = SourceCheck(source.name, source.kind, source.url)
    check.reachable, check.status, check.error = probe(source.url)
    if not check.reachable:
        return check
    if source.kind in CONNECTORS:
        load = load_source(source, since, until, author_salt)
        check.items, check.problems = len(load.documents), list(load.problems)
    elif source.kind in SPIDERS:
        with tempfile.TemporaryDirectory(prefix="voc-check-") as work:
            result = run_crawl(source, since, until, Path(work), author_salt, timeout=timeout)
            check.items, check.problems = result.item_count, list(result.problems)
            check.blocked = sum(int(result.stats.get(k, 0)) for k in BLOCKED_STATS)
            check.layout_changed = int(result.stats.get("voc/layout_changed", 0))
    return check
