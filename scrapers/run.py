"""Run a spider as a subprocess and read back what it wrote (no Scrapy import here).

Scrapy runs in its own process because Twisted's reactor cannot be restarted inside a
long-lived flow worker.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from voc.kinds import KINDS, PIPELINE_OPTIONS, SCRAPY_SETTINGS
from voc.settings import SourceConfig

#: Source kind -> spider name (declared with each kind in `voc.kinds`).
SPIDERS: dict[str, str] = {k.name: k.spider for k in KINDS if k.spider}

_PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class CrawlResult:
    """What one crawl produced.

    Attributes:
        source: Source name.
        jsonl_path: One `Document.to_dict()` JSON object per line (empty file if none).
        stats: The crawl's Scrapy stats (``item_scraped_count``, ``voc/parse_error``...);
            empty if the crawler never got as far as writing them.
        returncode: The subprocess exit code (-1 on timeout).
        problems: Human-readable messages naming the source and URL/item concerned.
        log_path: The crawl's log (Scrapy's stderr).
    """

    source: str
    jsonl_path: Path
    stats: dict[str, Any]
    returncode: int
    problems: list[str] = field(default_factory=list)
    log_path: Path | None = None

    @property
    def item_count(self) -> int:
        return int(self.stats.get("item_scraped_count", 0))


def crawl_command(
    source: SourceConfig,
    since: date,
    until: date,
    out_path: Path,
    stats_path: Path,
    extra_settings: Mapping[str, str] | None = None,
) -> list[str]:
    """The ``scrapy crawl`` argv for one source and day window.

    Raises:
        ValueError: if the source kind is not crawled by a spider.
    """
    try:
        spider = SPIDERS[source.kind]
    except KeyError:
        raise ValueError(
            f"source {source.name!r}: kind {source.kind!r} has no spider "
            f"(spiders: {', '.join(SPIDERS)})"
        ) from None
    args = {
        "source": source.name,
        "url": source.url,
        "since": since.isoformat(),
        "until": until.isoformat(),
    }
    settings: dict[str, str] = {}
    for key, value in source.options.items():
        if key in PIPELINE_OPTIONS:
            continue
        if key in SCRAPY_SETTINGS:
            settings[SCRAPY_SETTINGS[key]] = _option_text(value)
        elif key not in args:
            args[key] = _option_text(value)
    if source.kind == "microblog" and not args.get("query"):
        args["query"] = args.get("brand", "")
    argv = [sys.executable, "-m", "scrapy", "crawl", spider]
    for key, value in args.items():
        argv += ["-a", f"{key}={value}"]
    argv += ["-O", f"{out_path}:jsonlines", "-s", f"VOC_STATS_FILE={stats_path}"]
    for key, value in {**settings, **(extra_settings or {})}.items():
        argv += ["-s", f"{key}={value}"]
    return argv


def _option_text(value: Any) -> str:
    """A source option as a spider argument: scalars as text, tables and lists as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def crawl_env(author_salt: str = "", base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for the crawl subprocess: our settings module, importable from any cwd.

    The author salt travels in the environment, not on the command line, where any local
    user could read it in the process list.
    """
    env = dict(os.environ if base is None else base)
    env["VOC_AUTHOR_SALT"] = author_salt
    env["SCRAPY_SETTINGS_MODULE"] = "scrapers.settings"
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(_PROJECT_ROOT), env.get("PYTHONPATH", "")) if p
    )
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def run_crawl(
    source: SourceConfig,
    since: date,
    until: date,
    work_dir: Path,
    author_salt: str,
    timeout: float = 900.0,
    extra_settings: Mapping[str, str] | None = None,
) -> CrawlResult:
    """Crawl one source for [since, until] into ``work_dir/<source>.jsonl``.

    Never raises for a failing site or crawler: an unreachable source gives 0 items and a
    problem naming it. Stale output from an earlier run is removed first.

    Raises:
        ValueError: if the source kind has no spider (a configuration error).
    """
    work_dir = Path(work_dir).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    out_path = work_dir / f"{source.name}.jsonl"
    stats_path = work_dir / f"{source.name}.stats.json"
    log_path = work_dir / f"{source.name}.log"
    argv = crawl_command(source, since, until, out_path, stats_path, extra_settings)
    for stale in (out_path, stats_path):
        stale.unlink(missing_ok=True)

    problems: list[str] = []
    with log_path.open("wb") as log:
        try:
            returncode = subprocess.run(
                argv,
                env=crawl_env(author_salt),
                cwd=work_dir,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            ).returncode
        except subprocess.TimeoutExpired:
            returncode = -1
            problems.append(
                f"{source.name}: crawl of {source.url} timed out after "
                f"{timeout:.0f} s (log: {log_path})"
            )

    stats = _read_stats(stats_path)
    problems += [str(p) for p in stats.get("voc/problems", [])]
    if stats.get("voc/problems_not_kept"):
        problems.append(
            f"{source.name}: {stats['voc/problems_not_kept']} more problems (see {log_path})"
        )
    if returncode > 0 or not stats:
        problems.append(
            f"{source.name}: crawl of {source.url} failed (exit code "
            f"{returncode}): {_last_error(log_path)} (log: {log_path})"
        )
    if not out_path.exists():
        out_path.touch()
    return CrawlResult(source.name, out_path, stats, returncode, problems, log_path)


def _read_stats(path: Path) -> dict[str, Any]:
    try:
        stats = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return stats if isinstance(stats, dict) else {}


def _last_error(log_path: Path) -> str:
    try:
        lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "no log"
    for line in reversed(lines):
        if "ERROR" in line or "Error" in line:
            return line.strip()[:300]
    return lines[-1].strip()[:300] if lines else "no output"
