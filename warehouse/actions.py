"""What dashboard users do: alert handling statuses and sentiment corrections.

The dashboard cannot write the DuckDB warehouse (an ingestion may hold its only write lock,
and the dashboard reads a read-only snapshot), so user actions go to a small SQLite side
store beside the warehouse, ``<warehouse stem>.actions.sqlite``. It is the source of truth:
an append-only log per kind of action, safe with several dashboard processes and threads
(WAL mode, a busy timeout, one short connection per call, and each check-then-append in
one ``BEGIN IMMEDIATE`` transaction). Each flow run copies the whole log into the warehouse
tables ``alert_actions`` and ``sentiment_corrections`` (`sync_to_warehouse`), so the
snapshot and the SQL console hold them too.

Corrections: the latest row per document stands. Withdrawing one appends a row whose
corrected label equals the model's label (the model was right after all), so the log keeps
every step and readers leave such a document out.

Alert statuses: an episode with no action is ``new``. Allowed moves are new → acknowledged,
new → resolved, acknowledged → resolved and the reopening resolved → acknowledged; the
same status again is a comment and needs a note.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

ALERT_STATUSES = ("new", "acknowledged", "resolved")
SENTIMENT_LABELS = ("negative", "neutral", "positive")
#: (from, to) moves between different statuses; staying put is a comment.
ALERT_TRANSITIONS = frozenset(
    {
        ("new", "acknowledged"),
        ("new", "resolved"),
        ("acknowledged", "resolved"),
        ("resolved", "acknowledged"),
    }
)
MAX_WHO = 64
MAX_NOTE = 1000
MAX_ID = 200
#: Milliseconds a connection waits for another writer before giving up.
BUSY_TIMEOUT_MS = 10_000

_STATUS_ZH = {"new": "新", "acknowledged": "已确认", "resolved": "已解决"}
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


@dataclass(frozen=True)
class AlertAction:
    """One entry of an alert's handling log.

    Attributes:
        episode_id: The spike episode (``spike_episodes.episode_id``).
        status: One of `ALERT_STATUSES`.
        who: Who acted (stripped, at most `MAX_WHO` characters).
        note: Free text as typed (may be empty), stored byte for byte.
        at: When, an aware UTC datetime.
    """

    episode_id: str
    status: str
    who: str
    note: str
    at: datetime


@dataclass(frozen=True)
class Correction:
    """A user's verdict that the model's sentiment of one document is wrong.

    Attributes:
        doc_id: The document.
        text: The text the user saw (the masked text), used for training.
        model_version: The model whose label was wrong.
        predicted_label: Its label, one of `SENTIMENT_LABELS`.
        corrected_label: The right label, one of `SENTIMENT_LABELS`, not the predicted one.
        who: Who corrected it.
        note: Free text as typed (may be empty).
        at: When, an aware UTC datetime.
    """

    doc_id: str
    text: str
    model_version: str
    predicted_label: str
    corrected_label: str
    who: str
    note: str
    at: datetime


def actions_path(db_path: str | Path) -> Path:
    """The side store of a warehouse file: ``<stem>.actions.sqlite`` beside it.

    Given a published snapshot (``<stem>.snapshot.duckdb``) it still names the store beside
    the warehouse, so a reader holding the snapshot path never creates a second store.
    """
    db_path = Path(db_path)
    stem = db_path.stem.removesuffix(".snapshot")
    return db_path.with_name(f"{stem}.actions.sqlite")


def set_alert_status(
    db_path: str | Path, episode_id: str, status: str, who: str, note: str = ""
) -> AlertAction:
    """Append a status change (or, with the same status, a comment) to an alert's log.

    The check against the current status and the append happen in one write transaction,
    so two users acting at once cannot both move an alert from the same status.

    Args:
        db_path: The warehouse file; the store beside it is created on first use.
        episode_id: The spike episode.
        status: One of `ALERT_STATUSES`.
        who: Who acts; stripped, 1 to `MAX_WHO` characters.
        note: At most `MAX_NOTE` characters; required when the status does not change.

    Returns:
        The action as stored.

    Raises:
        ActionError: a bad field or a move that is not allowed.
    """
    episode_id = _required_id(episode_id, "episode_id", "预警 ID")
    if status not in ALERT_STATUSES:
        raise ActionError(
            f"状态 status 必须是 {' / '.join(ALERT_STATUSES)} 之一，收到 {status!r} / "
            f"status must be one of {', '.join(ALERT_STATUSES)}, got {status!r}"
        )
    who = _who(who)
    note = _note(note)
    with _writer(db_path) as con:
        row = con.execute(
            "SELECT status FROM alert_actions WHERE episode_id = ? ORDER BY action_id DESC LIMIT 1",
            [episode_id],
        ).fetchone()
        current = row[0] if row else "new"
        if current == status and not note:
            raise ActionError(
                f"预警状态 status 已经是「{_STATUS_ZH[status]}」，再次提交需要填写备注 note / "
                f"the alert's status is already {status}; the same status again needs a note "
                "(it is recorded as a comment)"
            )
        if current != status and (current, status) not in ALERT_TRANSITIONS:
            raise ActionError(
                f"状态 status 不能从「{_STATUS_ZH[current]}」改为「{_STATUS_ZH[status]}」 / "
                f"status cannot change from {current} to {status}; allowed: "
                + ", ".join(f"{a} → {b}" for a, b in sorted(ALERT_TRANSITIONS))
            )
        action = AlertAction(episode_id, status, who, note, _now())
        con.execute(
            "INSERT INTO alert_actions (episode_id, status, who, note, acted_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [episode_id, status, who, note, action.at.isoformat()],
        )
    return action


def alert_statuses(
    db_path: str | Path, episode_ids: Iterable[str] | None = None
) -> dict[str, AlertAction]:
    """The latest action per episode; episodes with no action are absent (they are new).

    Args:
        db_path: The warehouse file (or its snapshot path).
        episode_ids: Only these episodes; None = all.
    """
    wanted = None if episode_ids is None else set(episode_ids)
    if wanted is not None and not wanted:
        return {}
    with _reader(db_path) as con:
        if con is None:
            return {}
        rows = con.execute(
            "SELECT episode_id, status, who, note, acted_at FROM alert_actions "
            "WHERE action_id IN (SELECT max(action_id) FROM alert_actions GROUP BY episode_id)"
        ).fetchall()
    return {r[0]: _alert_action(r) for r in rows if wanted is None or r[0] in wanted}


def alert_history(db_path: str | Path, episode_id: str) -> list[AlertAction]:
    """Every action on one episode, oldest first (empty when none)."""
    with _reader(db_path) as con:
        if con is None:
            return []
        rows = con.execute(
            "SELECT episode_id, status, who, note, acted_at FROM alert_actions "
            "WHERE episode_id = ? ORDER BY action_id",
            [episode_id],
        ).fetchall()
    return [_alert_action(r) for r in rows]


def add_correction(
    db_path: str | Path,
    doc_id: str,
    text: str,
    model_version: str,
    predicted_label: str,
    corrected_label: str,
    who: str,
    note: str = "",
) -> Correction:
    """Record that a document's sentiment is wrong; a later correction of it wins.

    Args:
        db_path: The warehouse file; the store beside it is created on first use.
        doc_id: The document.
        text: The text shown to the user; what `voc sentiment train --corrections` trains on.
        model_version: The model that gave `predicted_label`.
        predicted_label: The model's label, one of `SENTIMENT_LABELS`.
        corrected_label: The right label, one of `SENTIMENT_LABELS`, different from it.
        who: Who corrects; stripped, 1 to `MAX_WHO` characters.
        note: At most `MAX_NOTE` characters.

    Raises:
        ActionError: a bad field, or the corrected label equals the predicted one.
    """
    doc_id = _required_id(doc_id, "doc_id", "文档 ID")
    model_version = _required_id(model_version, "model_version", "模型版本")
    if not isinstance(text, str) or not text.strip():
        raise ActionError("文本 text 不能为空 / text must not be empty")
    _encodable(text, "text", "文本")
    for field, value in (
        ("predicted_label", predicted_label),
        ("corrected_label", corrected_label),
    ):
        if value not in SENTIMENT_LABELS:
            raise ActionError(
                f"情感标签 {field} 必须是 {' / '.join(SENTIMENT_LABELS)} 之一，收到 {value!r} / "
                f"{field} must be one of {', '.join(SENTIMENT_LABELS)}, got {value!r}"
            )
    if corrected_label == predicted_label:
        raise ActionError(
            f"更正后的标签 corrected_label 与模型的预测相同（{predicted_label}） / "
            f"corrected_label must differ from predicted_label ({predicted_label})"
        )
    who = _who(who)
    note = _note(note)
    correction = Correction(
        doc_id, text, model_version, predicted_label, corrected_label, who, note, _now()
    )
    with _writer(db_path) as con:
        con.execute(
            "INSERT INTO sentiment_corrections (doc_id, text, model_version, predicted_label,"
            " corrected_label, who, note, corrected_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                doc_id,
                text,
                model_version,
                predicted_label,
                corrected_label,
                who,
                note,
                correction.at.isoformat(),
            ],
        )
    return correction


def withdraw_correction(db_path: str | Path, doc_id: str, who: str, note: str = "") -> Correction:
    """Take back a document's standing correction, e.g. one saved by mistake.

    Appends a row whose corrected label is the model's label, so the model's judgement
    stands again: `corrections`, training and ``v_sentiment_corrections`` leave the
    document out until someone corrects it anew. The log keeps both rows.

    Args:
        db_path: The warehouse file.
        doc_id: The corrected document.
        who: Who withdraws; stripped, 1 to `MAX_WHO` characters.
        note: Why, at most `MAX_NOTE` characters.

    Returns:
        The withdrawal as stored (``corrected_label == predicted_label``).

    Raises:
        ActionError: a bad field, or the document has no standing correction.
    """
    doc_id = _required_id(doc_id, "doc_id", "文档 ID")
    who = _who(who)
    note = _note(note)
    missing = ActionError(
        f"文档 {doc_id} 没有可撤回的更正 / document {doc_id} has no correction to withdraw"
    )
    if not actions_path(db_path).is_file():
        raise missing
    with _writer(db_path) as con:
        latest = con.execute(
            "SELECT text, model_version, predicted_label, corrected_label "
            "FROM sentiment_corrections WHERE doc_id = ? ORDER BY correction_id DESC LIMIT 1",
            [doc_id],
        ).fetchone()
        if latest is None or latest[2] == latest[3]:
            raise missing
        text, model_version, predicted, _ = latest
        withdrawal = Correction(
            doc_id, text, model_version, predicted, predicted, who, note, _now()
        )
        con.execute(
            "INSERT INTO sentiment_corrections (doc_id, text, model_version, predicted_label,"
            " corrected_label, who, note, corrected_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                doc_id,
                text,
                model_version,
                predicted,
                predicted,
                who,
                note,
                withdrawal.at.isoformat(),
            ],
        )
    return withdrawal


def corrections(db_path: str | Path) -> list[Correction]:
    """The standing correction per document (its latest, unless withdrawn), oldest first.

    Empty when there are none.
    """
    with _reader(db_path) as con:
        if con is None:
            return []
        rows = con.execute(
            f"SELECT {_CORRECTION_COLUMNS} FROM sentiment_corrections WHERE correction_id IN "
            "(SELECT max(correction_id) FROM sentiment_corrections GROUP BY doc_id) "
            "AND corrected_label <> predicted_label ORDER BY correction_id"
        ).fetchall()
    return [_correction(r) for r in rows]


def load_corrections(db_path: str | Path) -> tuple[list[Correction], Path]:
    """Corrections for training: from the side store, else the warehouse's copy.

    The side store is the source of truth; a warehouse copied without it still has the
    last synced ``sentiment_corrections`` table.

    Returns:
        The standing correction per document (oldest first; withdrawn ones left out) and
        the file they came from.

    Raises:
        FileNotFoundError: neither the side store nor the warehouse file exists.
    """
    store = actions_path(db_path)
    if store.is_file():
        return corrections(db_path), store
    db_path = Path(db_path)
    if not db_path.is_file():
        raise FileNotFoundError(
            f"no corrections: neither {store} nor the warehouse {db_path} exists"
        )
    with closing(duckdb.connect(str(db_path), read_only=True)) as con:
        found = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'sentiment_corrections'"
        ).fetchone()
        if not found or not found[0]:
            return [], db_path
        rows = con.execute(
            f"SELECT {_CORRECTION_COLUMNS} FROM sentiment_corrections "
            "QUALIFY row_number() OVER (PARTITION BY doc_id ORDER BY correction_id DESC) = 1 "
            "AND corrected_label <> predicted_label ORDER BY correction_id"
        ).fetchall()
    return [_correction(r) for r in rows], db_path


def sync_to_warehouse(con: duckdb.DuckDBPyConnection, db_path: str | Path) -> dict[str, int]:
    """Copy the whole side store into the warehouse tables, replacing them in one transaction.

    Idempotent: a second call with no new actions changes nothing. When the side store
    does not exist the tables are left as they are (they may be the only copy left).

    Args:
        con: A writable warehouse connection with no transaction open (migrated to 0014).
        db_path: The warehouse file whose side store to read.

    Returns:
        Rows now in ``alert_actions`` and ``sentiment_corrections`` (0 and 0 with
        ``"skipped": 1`` when there is no side store).
    """
    with _reader(db_path) as lite:
        if lite is None:
            return {"alert_actions": 0, "sentiment_corrections": 0, "skipped": 1}
        lite.execute("BEGIN")  # one consistent read of both tables
        alerts = lite.execute(
            "SELECT action_id, episode_id, status, who, note, acted_at FROM alert_actions "
            "ORDER BY action_id"
        ).fetchall()
        fixes = lite.execute(
            "SELECT correction_id, doc_id, text, model_version, predicted_label, "
            "corrected_label, who, note, corrected_at FROM sentiment_corrections "
            "ORDER BY correction_id"
        ).fetchall()
        lite.execute("COMMIT")
    alerts = [(*r[:5], datetime.fromisoformat(r[5])) for r in alerts]
    fixes = [(*r[:8], datetime.fromisoformat(r[8])) for r in fixes]
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM alert_actions")
        con.execute("DELETE FROM sentiment_corrections")
        if alerts:
            con.executemany("INSERT INTO alert_actions VALUES (?, ?, ?, ?, ?, ?)", alerts)
        if fixes:
            con.executemany(
                "INSERT INTO sentiment_corrections VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", fixes
            )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return {"alert_actions": len(alerts), "sentiment_corrections": len(fixes)}


_CORRECTION_COLUMNS = (
    "doc_id, text, model_version, predicted_label, corrected_label, who, note, corrected_at"
)


def _now() -> datetime:
    return datetime.now(UTC)


def _when(value: str | datetime) -> datetime:
    at = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return at.astimezone(UTC)


def _alert_action(row: tuple) -> AlertAction:
    return AlertAction(row[0], row[1], row[2], row[3], _when(row[4]))


def _correction(row: tuple) -> Correction:
    return Correction(*row[:7], _when(row[7]))


def _encodable(value: str, field: str, zh: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ActionError(
            f"{zh} {field} 含有无法保存的字符 / {field} has characters that cannot be stored "
            f"(position {exc.start})"
        ) from exc


def _required_id(value: str, field: str, zh: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ActionError(f"{zh} {field} 不能为空 / {field} must not be empty")
    if len(value) > MAX_ID:
        raise ActionError(
            f"{zh} {field} 过长（最多 {MAX_ID} 个字符） / "
            f"{field} is too long (at most {MAX_ID} characters)"
        )
    _encodable(value, field, zh)
    return value


def _who(who: str) -> str:
    who = who.strip() if isinstance(who, str) else ""
    if not who:
        raise ActionError("操作人 who 不能为空 / who must not be empty")
    if len(who) > MAX_WHO:
        raise ActionError(
            f"操作人 who 最多 {MAX_WHO} 个字符，收到 {len(who)} 个 / "
            f"who must be at most {MAX_WHO} characters, got {len(who)}"
        )
    _encodable(who, "who", "操作人")
    return who


def _note(note: str) -> str:
    if note is None:
        return ""
    if not isinstance(note, str):
        raise ActionError("备注 note 必须是文本 / note must be text")
    if len(note) > MAX_NOTE:
        raise ActionError(
            f"备注 note 最多 {MAX_NOTE} 个字符，收到 {len(note)} 个 / "
            f"note must be at most {MAX_NOTE} characters, got {len(note)}"
        )
    _encodable(note, "note", "备注")
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
def _writer(db_path: str | Path) -> Iterator[sqlite3.Connection]:
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
def _reader(db_path: str | Path) -> Iterator[sqlite3.Connection | None]:
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
