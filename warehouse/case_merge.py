"""Opening cases in bulk: skip known voices, merge by key within the window, insert the
rest in a few bulk statements (`warehouse.case_db.bulk_insert`). `CaseStore.open_cases` is
the public entry."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from voc.cases import (
    NEW,
    OPEN_STATUSES,
    CaseError,
    CaseOpening,
    CaseVoice,
    ConflictError,
    check_priority,
    cut_excerpt,
)
from warehouse.action_store import ActionError, checked_who
from warehouse.case_db import (
    bulk_insert,
    case_cases,
    case_events,
    case_voices,
    in_values,
    next_ids,
    write_transaction,
)

#: Values per `in_values` list (one bound parameter each).
CHUNK = 50_000
#: Tries of an opening transaction that lost a race with another writer.
OPEN_ATTEMPTS = 5
_VOICE_FIELDS = [f.name for f in fields(CaseVoice)]
#: Opening attributes copied onto a new case.
_COPIED = (
    "merge_key",
    "rule",
    "title",
    "priority",
    "team",
    "owner",
    "customer_id",
    "segment",
    "province",
    "source",
    "channel",
    "theme_id",
    "theme_label",
    "aspect",
    "category",
)


@dataclass(frozen=True)
class OpenResult:
    """What `CaseStore.open_cases` did.

    Attributes:
        n_opened: New cases.
        n_merged: Openings that joined a case (an open one already stored, or one opened
            earlier in the same call).
        n_known: Voices skipped because they already are in a case (idempotence).
        n_voices: Voices added to cases.
    """

    n_opened: int
    n_merged: int
    n_known: int
    n_voices: int = 0


def open_cases(
    engine: Engine,
    openings: Iterable[CaseOpening],
    now: datetime,
    merge_days: int = 7,
    who: str = "system",
) -> OpenResult:
    """Open cases for `openings`, merging what belongs together, in one transaction.

    A voice whose doc_id is already in any case is skipped (``n_known``), so re-running
    a day opens nothing. An opening whose ``merge_key`` matches an open case whose
    newest voice is at most `merge_days` older than the opening's first voice joins
    that case (event ``merge``, voices appended, priority raised to the higher one);
    otherwise it opens a new case (event ``open``).
    """
    who = _who(who)
    openings = list(openings)
    for index, opening in enumerate(openings, 1):
        _check_opening(index, opening)
    if not isinstance(now, datetime) or now.tzinfo is None:
        raise CaseError(f"now 必须是带时区的时间 / now must be timezone-aware, got {now!r}")
    if isinstance(merge_days, bool) or not isinstance(merge_days, int) or merge_days < 0:
        raise CaseError(
            f"merge_days 必须是非负整数 / merge_days must be a whole number ≥ 0, got {merge_days!r}"
        )
    window = timedelta(days=merge_days)
    for attempt in range(1, OPEN_ATTEMPTS + 1):
        try:
            return _open_once(engine, openings, now, window, who)
        except (sa.exc.IntegrityError, ConflictError):
            # Another opener took the same voices or a user changed a case this opening
            # merges into, between our read and our write: all was rolled back; redo.
            if attempt == OPEN_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def _open_once(
    engine: Engine, openings: list[CaseOpening], now: datetime, window: timedelta, who: str
) -> OpenResult:
    with write_transaction(engine) as con:
        doc_ids = [v.doc_id for o in openings for v in o.voices]
        known = _existing_doc_ids(con, doc_ids)
        n_known = 0
        fresh: list[tuple[CaseOpening, list[CaseVoice]]] = []
        for opening in openings:
            voices = []
            for voice in opening.voices:
                if voice.doc_id in known:
                    n_known += 1
                else:
                    known.add(voice.doc_id)
                    voices.append(voice)
            if voices:
                fresh.append((opening, voices))
        stored = _open_cases_by_key(con, {o.merge_key for o, _ in fresh})
        # Oldest first per key, so each opening meets the newest case of its key.
        fresh.sort(key=lambda item: (item[0].merge_key, min(v.created_at for v in item[1])))
        new: dict[str, dict[str, Any]] = {}  # merge_key → the new case being built
        merged: dict[int, dict[str, Any]] = {}  # case_id → what joins a stored case
        n_merged = 0
        pending: list[dict[str, Any]] = []
        for opening, voices in fresh:
            first = min(v.created_at for v in voices)
            last = max(v.created_at for v in voices)
            key = opening.merge_key
            target = new.get(key)
            if target is not None and first <= target["last_voice_at"] + window:
                _join(target, opening, voices, last)
                n_merged += 1
                continue
            case = stored.get(key)
            if target is None and case is not None and first <= case["last"] + window:
                into = merged.setdefault(
                    case["case_id"],
                    {**case, "voices": [], "openings": 0, "from_priority": case["priority"]},
                )
                into["voices"].extend(voices)
                into["openings"] += 1
                into["last"] = case["last"] = max(into["last"], last)
                into["priority"] = min(into["priority"], opening.priority)
                n_merged += 1
                continue
            target = {c: getattr(opening, c) for c in _COPIED}
            target.update(
                severity=dict(opening.severity),
                last_voice_at=last,
                _voices=list(voices),
                _rules=[opening.rule],
            )
            pending.append(target)
            new[key] = target
        _insert_new(con, pending, now, who)
        _merge_stored(con, merged, now, who)
    n_voices = sum(len(v) for _, v in fresh)
    return OpenResult(len(pending), n_merged, n_known, n_voices)


def _check_opening(index: int, opening: CaseOpening) -> None:
    """Refuse an opening that cannot be stored, naming it (before anything is written)."""
    where = f"第 {index} 个开单 / opening #{index} ({opening.merge_key!r})"
    if not isinstance(opening.merge_key, str) or not opening.merge_key.strip():
        raise CaseError(f"{where}: merge_key 不能为空 / merge_key must not be empty")
    if not opening.voices:
        raise CaseError(f"{where}: 没有声音 / has no voices")
    try:
        check_priority(opening.priority)
    except CaseError as exc:
        raise CaseError(f"{where}: {exc}") from None
    for voice in opening.voices:
        if not isinstance(voice.doc_id, str) or not voice.doc_id:
            raise CaseError(f"{where}: doc_id 不能为空 / a voice's doc_id must not be empty")
        created = voice.created_at
        if not isinstance(created, datetime) or created.tzinfo is None:
            raise CaseError(
                f"{where}: 声音 {voice.doc_id} 的 created_at 必须是带时区的时间 / voice "
                f"{voice.doc_id}: created_at must be a timezone-aware datetime, got {created!r}"
            )


def _who(who: str) -> str:
    try:
        return checked_who(who)
    except ActionError as exc:
        raise CaseError(str(exc)) from exc


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _existing_doc_ids(con: Connection, doc_ids: list[str]) -> set[str]:
    found: set[str] = set()
    unique = sorted(set(doc_ids))
    for chunk in _chunks(unique):
        query = sa.select(case_voices.c.doc_id).where(in_values(con, case_voices.c.doc_id, chunk))
        found.update(con.execute(query).scalars())
    return found


def _open_cases_by_key(con: Connection, keys: set[str]) -> dict[str, dict[str, Any]]:
    """The newest open case of each merge key (by its newest voice)."""
    out: dict[str, dict[str, Any]] = {}
    c = case_cases.c
    for chunk in _chunks(sorted(keys)):
        query = (
            sa.select(c.case_id, c.merge_key, c.last_voice_at, c.version, c.priority, c.status)
            .where(in_values(con, c.merge_key, chunk), c.status.in_(OPEN_STATUSES))
            .order_by(c.last_voice_at)
        )
        for row in con.execute(query):
            out[row.merge_key] = {
                "case_id": row.case_id,
                "last": row.last_voice_at,
                "version": row.version,
                "priority": row.priority,
                "status": row.status,
            }
    return out


def _join(target: dict[str, Any], opening: CaseOpening, voices: list[CaseVoice], last) -> None:
    target["_voices"].extend(voices)
    target["_rules"].append(opening.rule)
    target["last_voice_at"] = max(target["last_voice_at"], last)
    target["priority"] = min(target["priority"], opening.priority)


_VOICE_COLUMNS = ("case_id", "added_at", *_VOICE_FIELDS)
_EVENT_COLUMNS = ("case_id", "at", "who", "action", "from_status", "to_status", "note", "data")
_NEW_CASE_COLUMNS = (
    "case_id",
    *_COPIED,
    "severity",
    "status",
    "opened_at",
    "updated_at",
    "version",
    "n_voices",
    "last_voice_at",
)


_EXCERPT = _VOICE_FIELDS.index("excerpt")
_REACH = _VOICE_FIELDS.index("reach")


def _voice_row(case_id: int, voice: CaseVoice, now: datetime) -> tuple[Any, ...]:
    row = [case_id, now, *(getattr(voice, name) for name in _VOICE_FIELDS)]
    row[2 + _EXCERPT] = cut_excerpt(voice.excerpt or "")
    row[2 + _REACH] = int(voice.reach or 0)
    return tuple(row)


def _insert_new(con: Connection, pending: list[dict[str, Any]], now: datetime, who: str) -> None:
    if not pending:
        return
    ids = next_ids(con, case_cases, len(pending))
    case_rows, voice_rows, event_rows = [], [], []
    for case_id, t in zip(ids, pending, strict=True):
        voices = t["_voices"]
        case_rows.append(
            (
                case_id,
                *(t[c] for c in _COPIED),
                t["severity"],
                NEW,
                now,
                now,
                1,
                len(voices),
                t["last_voice_at"],
            )
        )
        voice_rows.extend(_voice_row(case_id, v, now) for v in voices)
        data = {
            "rules": sorted(set(t["_rules"])),
            "doc_ids": [v.doc_id for v in voices],
            "priority": t["priority"],
        }
        event_rows.append((case_id, now, who, "open", None, NEW, "", data))
    bulk_insert(con, case_cases, _NEW_CASE_COLUMNS, case_rows)
    bulk_insert(con, case_voices, _VOICE_COLUMNS, voice_rows)
    bulk_insert(con, case_events, _EVENT_COLUMNS, event_rows)


def _merge_stored(con: Connection, merged: dict[int, dict[str, Any]], now, who: str) -> None:
    """Append voices to stored open cases, one ``merge`` event each.

    A merge leaves ``version`` alone: it adds voices, not a workflow change, so a user
    acting on the case while an ingestion runs is not told to reload. The update is
    guarded by the case still being open: one closed meanwhile fails the whole opening
    transaction with `ConflictError`, and the retry opens a new case instead.
    """
    voice_rows, event_rows = [], []
    c = case_cases.c
    for case_id, into in merged.items():
        result = con.execute(
            case_cases.update()
            .where(c.case_id == case_id, c.status.in_(OPEN_STATUSES))
            .values(
                n_voices=c.n_voices + len(into["voices"]),
                last_voice_at=sa.case(
                    (c.last_voice_at > into["last"], c.last_voice_at), else_=into["last"]
                ),
                priority=sa.func.min(c.priority, into["priority"])
                if con.dialect.name == "sqlite"
                else sa.func.least(c.priority, into["priority"]),
                updated_at=now,
            )
        )
        if result.rowcount != 1:
            raise ConflictError(case_id, into["version"], -1, into["status"])
        voice_rows.extend(_voice_row(case_id, v, now) for v in into["voices"])
        data = {"doc_ids": [v.doc_id for v in into["voices"]], "openings": into["openings"]}
        if into["priority"] < into["from_priority"]:
            data.update(priority=into["priority"], from_priority=into["from_priority"])
        event_rows.append((case_id, now, who, "merge", None, None, "", data))
    bulk_insert(con, case_voices, _VOICE_COLUMNS, voice_rows)
    bulk_insert(con, case_events, _EVENT_COLUMNS, event_rows)
