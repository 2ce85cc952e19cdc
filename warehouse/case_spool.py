"""Openings kept on disk while the case store cannot be reached, replayed the next time.

An ingestion must not stop because PostgreSQL is down: `open_or_spool` first replays what
earlier runs spooled, then opens today's cases; when the store is unreachable it writes
the openings to a JSONL file in ``<runs_dir>/case-spool/`` instead and carries on.
Replaying is safe to repeat (`CaseStore.open_cases` skips voices already in a case), so a
file is deleted only after its openings are stored, and nothing is lost in between.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from voc.cases import CaseOpening, CaseVoice
from warehouse.case_db import StoreUnavailable, connect_store, create_schema
from warehouse.case_merge import OpenResult
from warehouse.case_store import CaseStore

SPOOL_DIR = "case-spool"
_FORMAT = 1


@dataclass(frozen=True)
class SpoolOutcome:
    """What `open_or_spool` did.

    Attributes:
        result: The openings stored now (None when they were spooled).
        spooled: The spool file written because the store was unreachable, else None.
        replayed: Earlier spool files stored and removed in this call.
        replayed_result: What replaying them stored.
        pending: Spool files still waiting for the store (this call's included).
        bad: Unreadable spool files set aside as ``*.bad`` for a person to look at.
        error: Why the store was unreachable (password hidden), else None.
    """

    result: OpenResult | None
    spooled: Path | None = None
    replayed: tuple[Path, ...] = ()
    replayed_result: OpenResult = field(default_factory=lambda: OpenResult(0, 0, 0, 0))
    pending: tuple[Path, ...] = ()
    bad: tuple[Path, ...] = ()
    error: str | None = None


class SpoolError(ValueError):
    """A spool file that cannot be read; it is renamed ``*.bad`` and kept."""


def spool_dir(runs_dir: str | Path) -> Path:
    """Where spooled openings wait: ``<runs_dir>/case-spool``."""
    return Path(runs_dir) / SPOOL_DIR


def spool_openings(
    runs_dir: str | Path,
    openings: Iterable[CaseOpening],
    now: datetime,
    merge_days: int = 7,
    who: str = "system",
) -> Path:
    """Write `openings` to a new spool file (atomically: a reader never sees half a file)."""
    folder = spool_dir(runs_dir)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{now.strftime('%Y%m%dT%H%M%S%f')}-{uuid.uuid4().hex[:8]}.jsonl"
    path = folder / name
    tmp = folder / f".{name}.tmp"
    header = {"format": _FORMAT, "now": now.isoformat(), "merge_days": merge_days, "who": who}
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(json.dumps(header, ensure_ascii=False) + "\n")
        for opening in openings:
            fh.write(json.dumps(opening_to_dict(opening), ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


def pending_spools(runs_dir: str | Path) -> list[Path]:
    """Spool files waiting to be replayed, oldest first."""
    folder = spool_dir(runs_dir)
    return sorted(folder.glob("*.jsonl")) if folder.is_dir() else []


def read_spool(path: Path) -> tuple[dict[str, Any], list[CaseOpening]]:
    """A spool file's header and openings; `SpoolError` naming the file and line."""
    header: dict[str, Any] | None = None
    openings = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            try:
                record = json.loads(line)
                if header is None:
                    if record.get("format") != _FORMAT:
                        raise ValueError(f"unknown format {record.get('format')!r}")
                    header = {**record, "now": datetime.fromisoformat(record["now"])}
                else:
                    openings.append(opening_from_dict(record))
            except (ValueError, KeyError, TypeError) as exc:
                raise SpoolError(
                    f"工单暂存文件 {path} 第 {number} 行无法读取 / spool file {path} line "
                    f"{number} cannot be read: {exc}"
                ) from exc
    if header is None:
        raise SpoolError(f"工单暂存文件 {path} 为空 / spool file {path} is empty")
    return header, openings


def replay_spool(store: CaseStore, runs_dir: str | Path) -> tuple[list[Path], OpenResult]:
    """Store every pending spool file's openings, oldest first, deleting each when stored.

    Raises `StoreUnavailable` as soon as the store cannot be reached (the rest stay).
    An unreadable file is renamed ``*.bad`` (kept for a person to look at) and skipped.
    """
    done, totals = [], [0, 0, 0, 0]
    for path in pending_spools(runs_dir):
        try:
            header, openings = read_spool(path)
        except SpoolError:
            path.rename(path.with_suffix(".bad"))
            continue
        result = store.open_cases(
            openings, now=header["now"], merge_days=header["merge_days"], who=header["who"]
        )
        path.unlink()
        done.append(path)
        for i, value in enumerate((result.n_opened, result.n_merged, result.n_known)):
            totals[i] += value
        totals[3] += result.n_voices
    return done, OpenResult(*totals)


def open_or_spool(
    url_or_engine: str | Engine,
    openings: Iterable[CaseOpening],
    now: datetime,
    runs_dir: str | Path,
    merge_days: int = 7,
    who: str = "system",
) -> SpoolOutcome:
    """Replay spooled openings, then open `openings`; spool them when the store is down.

    Args:
        url_or_engine: The case store (`warehouse.case_db.store_url`) or an engine on it.
        openings: Today's openings.
        now: When they are opened.
        runs_dir: The settings' ``runs_dir``; spool files go to its ``case-spool``.
        merge_days: `CaseStore.open_cases`'s merge window.
        who: Who opens (``system`` for the flow).
    """
    openings = list(openings)
    replayed: list[Path] = []
    replayed_result = OpenResult(0, 0, 0, 0)
    engine = None
    try:
        engine = (
            url_or_engine if isinstance(url_or_engine, Engine) else connect_store(url_or_engine)
        )
        create_schema(engine)
        store = CaseStore(engine)
        replayed, replayed_result = replay_spool(store, runs_dir)
        result = store.open_cases(openings, now=now, merge_days=merge_days, who=who)
    except (StoreUnavailable, sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        # Down before or during the transaction: it rolled back, so spool all of today's.
        path = spool_openings(runs_dir, openings, now, merge_days, who) if openings else None
        return SpoolOutcome(
            None,
            path,
            tuple(replayed),
            replayed_result,
            tuple(pending_spools(runs_dir)),
            _bad_spools(runs_dir),
            _reason(exc),
        )
    finally:
        if engine is not None and engine is not url_or_engine:
            engine.dispose()
    return SpoolOutcome(
        result, None, tuple(replayed), replayed_result, (), _bad_spools(runs_dir), None
    )


def _bad_spools(runs_dir: str | Path) -> tuple[Path, ...]:
    folder = spool_dir(runs_dir)
    return tuple(sorted(folder.glob("*.bad"))) if folder.is_dir() else ()


def _reason(exc: Exception) -> str:
    if isinstance(exc, StoreUnavailable):
        return str(exc)
    orig = getattr(exc, "orig", None) or exc
    first = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
    return f"工单库无法使用 / the case store is unavailable: {first}"


def opening_to_dict(opening: CaseOpening) -> dict[str, Any]:
    """An opening as JSON-ready data (datetimes as ISO text)."""
    data = asdict(opening)
    data["severity"] = dict(opening.severity)
    for voice in data["voices"]:
        voice["created_at"] = voice["created_at"].isoformat()
    return data


def opening_from_dict(data: dict[str, Any]) -> CaseOpening:
    """The opening `opening_to_dict` wrote."""
    voices = tuple(
        CaseVoice(**{**v, "created_at": datetime.fromisoformat(v["created_at"])})
        for v in data["voices"]
    )
    return CaseOpening(**{**data, "voices": voices})
