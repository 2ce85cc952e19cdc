"""The SQLite side store of dashboard users' actions: where it is, its schema, short
connections that are safe with several processes and threads, and field checks.

The dashboard cannot write the DuckDB warehouse (an ingestion may hold its only write lock,
and the dashboard reads a read-only snapshot), so user actions go to a small SQLite side
store beside the warehouse, ``<warehouse stem>.actions.sqlite``: WAL mode, a busy timeout,
one short connection per call, and each check-then-append in one ``BEGIN IMMEDIATE``
transaction. `warehouse.actions` (alert statuses) and `warehouse.corrections` (sentiment
corrections) write it.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path

MAX_WHO = 64
MAX_NOTE = 1000
MAX_ID = 200
#: Milliseconds a connection waits for another writer before giving up.
BUSY_TIMEOUT_MS = 10_000


_SCHEMA = """
CREATE TABLE IF NOT EXISTS alert_actions (
    action_id   INTEGER PRIMARY KEY AUTOINCREMENT,
    episode_id  TEXT NOT NULL,
    status      TEXT NOT NULL,
    who         TEXT NOT NULL,
    note        TEXT NOT NULL,
    acted_at    TEXT NOT NULL  -- ISO 8601, UTC
);
CREATE INDEX IF NOT EXISTS alert_actions_episode ON alert_actions (episode_id, action_id);
CREATE TABLE IF NOT EXISTS sentiment_corrections (
    correction_id   INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id          TEXT NOT NULL,
    text            TEXT NOT NULL,
    model_version   TEXT NOT NULL,
    predicted_label TEXT NOT NULL,
    corrected_label TEXT NOT NULL,
    who             TEXT NOT NULL,
    note            TEXT NOT NULL,
    corrected_at    TEXT NOT NULL  -- ISO 8601, UTC
);
CREATE INDEX IF NOT EXISTS sentiment_corrections_doc
    ON sentiment_corrections (doc_id, correction_id);
"""


class ActionError(ValueError):
    """A user action that was refused; the message (Chinese and English) names the field."""


def actions_path(db_path: str | Path) -> Path:
    """The side store of a warehouse file: ``<stem>.actions.sqlite`` beside it.

    Given a published snapshot (``<stem>.snapshot.duckdb``) it still names the store beside
    the warehouse, so a reader holding the snapshot path never creates a second store.
    """
    db_path = Path(db_path)
    stem = db_path.stem.removesuffix(".snapshot")
    return db_path.with_name(f"{stem}.actions.sqlite")


def utc_now() -> datetime:
    """Now, an aware UTC datetime."""
    return datetime.now(UTC)


def as_utc(value: str | datetime) -> datetime:
    """A stored ISO timestamp (or datetime) as an aware UTC datetime."""
    at = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return at.astimezone(UTC)


def check_encodable(value: str, field: str, zh: str) -> None:
    """Raise `ActionError` when `value` cannot be stored as UTF-8 (lone surrogates)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ActionError(
            f"{zh} {field} 含有无法保存的字符 / {field} has characters that cannot be stored "
            f"(position {exc.start})"
        ) from exc


def required_id(value: str, field: str, zh: str) -> str:
    """A non-empty id of at most `MAX_ID` characters, else `ActionError`."""
    if not isinstance(value, str) or not value.strip():
        raise ActionError(f"{zh} {field} 不能为空 / {field} must not be empty")
    if len(value) > MAX_ID:
        raise ActionError(
            f"{zh} {field} 过长（最多 {MAX_ID} 个字符） / "
            f"{field} is too long (at most {MAX_ID} characters)"
        )
    check_encodable(value, field, zh)
    return value


def checked_who(who: str) -> str:
    """`who` stripped, 1 to `MAX_WHO` characters, else `ActionError`."""
    who = who.strip() if isinstance(who, str) else ""
    if not who:
        raise ActionError("操作人 who 不能为空 / who must not be empty")
    if len(who) > MAX_WHO:
        raise ActionError(
            f"操作人 who 最多 {MAX_WHO} 个字符，收到 {len(who)} 个 / "
            f"who must be at most {MAX_WHO} characters, got {len(who)}"
        )
    check_encodable(who, "who", "操作人")
    return who


def checked_note(note: str) -> str:
    """`note` as typed (None is empty), at most `MAX_NOTE` characters, else `ActionError`."""
    if note is None:
        return ""
    if not isinstance(note, str):
        raise ActionError("备注 note 必须是文本 / note must be text")
    if len(note) > MAX_NOTE:
        raise ActionError(
            f"备注 note 最多 {MAX_NOTE} 个字符，收到 {len(note)} 个 / "
            f"note must be at most {MAX_NOTE} characters, got {len(note)}"
        )
    check_encodable(note, "note", "备注")
    return note


def _connect(path: Path, create: bool) -> sqlite3.Connection:
    # mode=rw never creates the file, so a reader racing a deletion cannot create it either.
    mode = "rwc" if create else "rw"
    con = sqlite3.connect(
        f"{path.resolve().as_uri()}?mode={mode}",
        uri=True,
        timeout=BUSY_TIMEOUT_MS / 1000,
        isolation_level=None,  # explicit BEGIN/COMMIT only
    )
    con.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")  # a constant, not user input
    return con


def _ensure_wal(con: sqlite3.Connection) -> None:
    """Switch a new store to WAL once (the mode is kept in the file). Two processes creating
    the store at once can get "database is locked" from the switch itself, which SQLite
    does not wait on like other locks: retry it within the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if con.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                con.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


@contextmanager
def store_writer(db_path: str | Path) -> Iterator[sqlite3.Connection]:
    """One write transaction on the store (created on first use), the write lock taken first."""
    path = actions_path(db_path)
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"warehouse folder {path.parent} does not exist: run `voc demo` or `voc ingest` first"
        )
    with closing(_connect(path, create=True)) as con:
        _ensure_wal(con)
        con.executescript(_SCHEMA)  # IF NOT EXISTS: cheap after the first call
        con.execute("BEGIN IMMEDIATE")  # take the write lock before reading the state
        try:
            yield con
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise


@contextmanager
def store_reader(db_path: str | Path) -> Iterator[sqlite3.Connection | None]:
    """A connection to the store, or None while there is no store (or no schema yet)."""
    path = actions_path(db_path)
    if not path.is_file():
        yield None
        return
    with closing(_connect(path, create=False)) as con:
        ready = con.execute(
            "SELECT count(*) FROM sqlite_master WHERE name = 'sentiment_corrections'"
        ).fetchone()[0]
        # A store created by a writer that has not yet run its schema script: empty.
        yield con if ready else None
