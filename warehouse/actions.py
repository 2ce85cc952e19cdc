"""What dashboard users do with alerts: handling statuses, and the copy of every user action
into the warehouse.

User actions live in a SQLite side store beside the warehouse (`warehouse.action_store`),
the source of truth: an append-only log per kind of action (alert statuses here, sentiment
corrections in `warehouse.corrections`). Each flow run copies the whole log into the
warehouse tables ``alert_actions`` and ``sentiment_corrections`` (`sync_to_warehouse`), so
the snapshot and the SQL console hold them too.

Alert statuses: an episode with no action is ``new``. Allowed moves are new → acknowledged,
new → resolved, acknowledged → resolved and the reopening resolved → acknowledged; the
same status again is a comment and needs a note.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from warehouse.action_store import (
    ActionError,
    as_utc,
    checked_note,
    checked_who,
    required_id,
    store_reader,
    store_writer,
    utc_now,
)

ALERT_STATUSES = ("new", "acknowledged", "resolved")
#: (from, to) moves between different statuses; staying put is a comment.
ALERT_TRANSITIONS = frozenset(
    {
        ("new", "acknowledged"),
        ("new", "resolved"),
        ("acknowledged", "resolved"),
        ("resolved", "acknowledged"),
    }
)
_STATUS_ZH = {"new": "新", "acknowledged": "已确认", "resolved": "已解决"}


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
    episode_id = required_id(episode_id, "episode_id", "预警 ID")
    if status not in ALERT_STATUSES:
        raise ActionError(
            f"状态 status 必须是 {' / '.join(ALERT_STATUSES)} 之一，收到 {status!r} / "
            f"status must be one of {', '.join(ALERT_STATUSES)}, got {status!r}"
        )
    who = checked_who(who)
    note = checked_note(note)
    with store_writer(db_path) as con:
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
        action = AlertAction(episode_id, status, who, note, utc_now())
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
    with store_reader(db_path) as con:
        if con is None:
            return {}
        rows = con.execute(
            "SELECT episode_id, status, who, note, acted_at FROM alert_actions "
            "WHERE action_id IN (SELECT max(action_id) FROM alert_actions GROUP BY episode_id)"
        ).fetchall()
    return {r[0]: _alert_action(r) for r in rows if wanted is None or r[0] in wanted}


def alert_history(db_path: str | Path, episode_id: str) -> list[AlertAction]:
    """Every action on one episode, oldest first (empty when none)."""
    with store_reader(db_path) as con:
        if con is None:
            return []
        rows = con.execute(
            "SELECT episode_id, status, who, note, acted_at FROM alert_actions "
            "WHERE episode_id = ? ORDER BY action_id",
            [episode_id],
        ).fetchall()
    return [_alert_action(r) for r in rows]


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
    with store_reader(db_path) as lite:
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


def _alert_action(row: tuple) -> AlertAction:
    return AlertAction(row[0], row[1], row[2], row[3], as_utc(row[4]))
