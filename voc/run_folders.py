"""Pruning the per-run folders: each run writes its fetched documents (JSONL) and the
spiders' logs to ``<runs_dir>/<run id>/``; at a million documents a day that is hundreds of
megabytes a day, so folders older than ``runs_keep_days`` go at the start of the next run.

Only folders named like a run id (``20261207T231312-9374dc``) are touched; the case spool,
the supervised Prefect server's home and anything else in the folder stay.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

_RUN_ID = re.compile(r"^(\d{8}T\d{6})-[0-9a-f]{6}$")


@dataclass(frozen=True)
class Pruned:
    """What `prune_run_folders` removed: the folders and their size in bytes."""

    folders: tuple[Path, ...]
    n_bytes: int


def run_started(name: str) -> datetime | None:
    """When the run of a folder name started (the run id's local time); None if the name
    is not a run id."""
    m = _RUN_ID.match(name)
    if not m:
        return None
    try:
        return datetime.strptime(m.group(1), "%Y%m%dT%H%M%S")
    except ValueError:
        return None


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def prune_run_folders(runs_dir: Path, keep_days: int, now: datetime, keep: str = "") -> Pruned:
    """Remove the run folders of runs that started more than `keep_days` before `now`.

    Args:
        runs_dir: The settings' ``runs_dir``.
        keep_days: Days to keep; 0 keeps every folder.
        now: The current local time (run ids are in local time).
        keep: A run id never removed (the current run's).
    """
    if keep_days <= 0 or not runs_dir.is_dir():
        return Pruned((), 0)
    cutoff = now - timedelta(days=keep_days)
    removed, n_bytes = [], 0
    for folder in sorted(runs_dir.iterdir()):
        started = run_started(folder.name)
        if started is None or started >= cutoff or folder.name == keep:
            continue
        if not folder.is_dir() or folder.is_symlink():
            continue
        n_bytes += _size(folder)
        shutil.rmtree(folder)
        removed.append(folder)
    return Pruned(tuple(removed), n_bytes)
