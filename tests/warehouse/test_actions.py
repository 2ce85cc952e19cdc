"""Alert statuses and sentiment corrections in the SQLite side store, on real files: the
workflow's rules, what is refused and why, concurrent writers, and the copy into DuckDB."""

from __future__ import annotations

import contextlib
import multiprocessing
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from warehouse.action_store import MAX_NOTE, ActionError, actions_path
from warehouse.actions import (
    ALERT_TRANSITIONS,
    alert_history,
    alert_statuses,
    set_alert_status,
    sync_to_warehouse,
)
from warehouse.corrections import (
    add_correction,
    corrections,
    load_corrections,
    withdraw_correction,
)
from warehouse.db import open_warehouse
from warehouse.snapshot import publish_snapshot
from warehouse.sql_console import run_query

HOSTILE = [
    "<script>alert('x')</script><img src=x onerror=alert(1)>",
    "[点我](javascript:alert(1)) ![](http://evil/x.png) **粗体** `code`",
    "'; DROP TABLE alert_actions; --",
    "Robert'); DELETE FROM sentiment_corrections WHERE ('1'='1",
    "  前后空格 \t\n第二行\r\n  ",
    "emoji 😡🔥 与 \\ 反斜杠 %s {0} $1 \u200b",
]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "voc.duckdb"


def test_actions_path_sits_beside_the_warehouse_even_from_the_snapshot(tmp_path: Path) -> None:
    assert actions_path(tmp_path / "voc.duckdb") == tmp_path / "voc.actions.sqlite"
    assert actions_path(tmp_path / "voc.snapshot.duckdb") == tmp_path / "voc.actions.sqlite"


def test_reading_without_a_store_returns_empty_and_creates_nothing(db: Path) -> None:
    assert alert_statuses(db) == {}
    assert alert_statuses(db, ["e1"]) == {}
    assert alert_history(db, "e1") == []
    assert corrections(db) == []
    assert list(db.parent.iterdir()) == []


def test_allowed_transitions_and_reopening(db: Path) -> None:
    first = set_alert_status(db, "e1", "acknowledged", " 张三 ", "在查物流")
    assert first.who == "张三" and first.status == "acknowledged"
    assert first.at.tzinfo is not None and first.at.utcoffset().total_seconds() == 0
    set_alert_status(db, "e1", "resolved", "李四", "已补发")
    set_alert_status(db, "e1", "acknowledged", "王五", "又有人投诉，重开")
    set_alert_status(db, "e1", "resolved", "王五")
    set_alert_status(db, "e2", "resolved", "张三", "误报")
    statuses = alert_statuses(db)
    assert {k: v.status for k, v in statuses.items()} == {"e1": "resolved", "e2": "resolved"}
    assert [a.status for a in alert_history(db, "e1")] == [
        "acknowledged",
        "resolved",
        "acknowledged",
        "resolved",
    ]


@pytest.mark.parametrize(
    ("steps", "status", "message"),
    [
        ([], "bogus", "status must be one of new, acknowledged, resolved, got 'bogus'"),
        (["acknowledged"], "new", "status cannot change from acknowledged to new"),
        (["resolved"], "new", "status cannot change from resolved to new"),
        (["acknowledged"], "acknowledged", "already acknowledged; the same status again needs"),
        ([], "new", "already new; the same status again needs a note"),
    ],
)
def test_refused_moves_say_why_and_store_nothing(
    db: Path, steps: list[str], status: str, message: str
) -> None:
    for step in steps:
        set_alert_status(db, "e1", step, "张三", "x")
    with pytest.raises(ActionError, match=message) as raised:
        set_alert_status(db, "e1", status, "张三")
    assert "status" in str(raised.value) and "状态" in str(raised.value)
    assert len(alert_history(db, "e1")) == len(steps)


def test_same_status_with_a_note_is_a_comment(db: Path) -> None:
    set_alert_status(db, "e1", "acknowledged", "张三", "在查")
    set_alert_status(db, "e1", "acknowledged", "李四", "仓库回复了")
    set_alert_status(db, "e9", "new", "李四", "先观察一天")
    history = alert_history(db, "e1")
    assert [(a.who, a.note) for a in history] == [("张三", "在查"), ("李四", "仓库回复了")]
    assert alert_statuses(db)["e1"].note == "仓库回复了"
    assert alert_statuses(db)["e9"].status == "new"


@pytest.mark.parametrize(
    ("who", "note", "message"),
    [
        ("", "", "who must not be empty"),
        ("   ", "", "who must not be empty"),
        ("张" * 65, "", "who must be at most 64 characters, got 65"),
        ("张三", "长" * (MAX_NOTE + 1), "note must be at most 1000 characters, got 1001"),
        ("张三", "\ud800 lone surrogate", "note has characters that cannot be stored"),
    ],
)
def test_who_and_note_are_validated(db: Path, who: str, note: str, message: str) -> None:
    with pytest.raises(ActionError, match=message):
        set_alert_status(db, "e1", "acknowledged", who, note)
    assert alert_history(db, "e1") == []


def test_limits_are_inclusive(db: Path) -> None:
    action = set_alert_status(db, "e1", "acknowledged", "张" * 64, "长" * MAX_NOTE)
    assert len(alert_history(db, "e1")[0].note) == MAX_NOTE and len(action.who) == 64


def test_statuses_filter_by_episode_and_absent_means_new(db: Path) -> None:
    set_alert_status(db, "e1", "acknowledged", "张三")
    set_alert_status(db, "e2", "resolved", "张三")
    assert set(alert_statuses(db, ["e2", "e3"])) == {"e2"}
    assert alert_statuses(db, []) == {}


@pytest.mark.parametrize("note", HOSTILE)
def test_hostile_notes_are_stored_byte_for_byte(db: Path, note: str) -> None:
    set_alert_status(db, "e<1>'", "acknowledged", "<b>张三</b>", note)
    stored = alert_history(db, "e<1>'")[0]
    assert stored.note.encode("utf-8") == note.encode("utf-8")
    assert stored.who == "<b>张三</b>"
    add_correction(db, "d1", note or "x", "m+1", "positive", "negative", "张三", note)
    assert corrections(db)[0].note == note and corrections(db)[0].text == note


def test_corrections_validate_labels_and_the_latest_per_document_wins(db: Path) -> None:
    with pytest.raises(ActionError, match="corrected_label must differ from predicted_label"):
        add_correction(db, "d1", "快递太慢", "m+1", "positive", "positive", "张三")
    with pytest.raises(ActionError, match="corrected_label must be one of negative, neutral"):
        add_correction(db, "d1", "快递太慢", "m+1", "positive", "bad", "张三")
    with pytest.raises(ActionError, match="text must not be empty"):
        add_correction(db, "d1", "  ", "m+1", "positive", "negative", "张三")
    with pytest.raises(ActionError, match="who must not be empty"):
        add_correction(db, "d1", "快递太慢", "m+1", "positive", "negative", "")
    assert not actions_path(db).exists()  # refused before the store was created

    add_correction(db, "d1", "快递太慢", "m+1", "positive", "neutral", "张三")
    add_correction(db, "d2", "还行吧", "m+1", "negative", "neutral", "张三")
    add_correction(db, "d1", "快递太慢", "m+1", "positive", "negative", "李四", "明显是负面")
    found = corrections(db)
    assert [(c.doc_id, c.corrected_label, c.who) for c in found] == [
        ("d2", "neutral", "张三"),
        ("d1", "negative", "李四"),
    ]
    assert found[1].note == "明显是负面" and found[1].at.tzinfo is not None


def test_a_withdrawn_correction_no_longer_stands_and_can_be_made_again(db: Path) -> None:
    with pytest.raises(ActionError, match="d1 has no correction to withdraw"):
        withdraw_correction(db, "d1", "张三")
    assert not actions_path(db).exists()  # refused before the store was created

    add_correction(db, "d1", "快递太慢", "m+1", "positive", "negative", "张三")
    add_correction(db, "d2", "还行吧", "m+1", "negative", "neutral", "张三")
    with pytest.raises(ActionError, match="who must not be empty"):
        withdraw_correction(db, "d1", "  ")
    withdrawal = withdraw_correction(db, "d1", "李四", "点错了")
    assert (withdrawal.predicted_label, withdrawal.corrected_label) == ("positive", "positive")
    assert (withdrawal.text, withdrawal.who, withdrawal.note) == ("快递太慢", "李四", "点错了")
    assert [c.doc_id for c in corrections(db)] == ["d2"]
    with pytest.raises(ActionError, match="d1 has no correction to withdraw"):
        withdraw_correction(db, "d1", "李四")  # already withdrawn
    with pytest.raises(ActionError, match="d9 has no correction to withdraw"):
        withdraw_correction(db, "d9", "李四")

    add_correction(db, "d1", "快递太慢", "m+1", "positive", "neutral", "王五")
    assert [(c.doc_id, c.corrected_label, c.who) for c in corrections(db)] == [
        ("d2", "neutral", "张三"),
        ("d1", "neutral", "王五"),
    ]
    with sqlite3.connect(actions_path(db)) as lite:  # the log keeps every step
        steps = lite.execute(
            "SELECT corrected_label FROM sentiment_corrections WHERE doc_id = 'd1' "
            "ORDER BY correction_id"
        ).fetchall()
    assert [label for (label,) in steps] == ["negative", "positive", "neutral"]


def test_withdrawn_corrections_leave_the_warehouse_view_and_training(db: Path) -> None:
    add_correction(db, "d1", "快递太慢", "m+1", "positive", "negative", "张三")
    add_correction(db, "d2", "还行吧", "m+1", "negative", "neutral", "张三")
    withdraw_correction(db, "d1", "李四")
    con = open_warehouse(db)
    try:
        assert sync_to_warehouse(con, db)["sentiment_corrections"] == 3  # the whole log
        view = con.execute("SELECT doc_id FROM v_sentiment_corrections").fetchall()
        assert view == [("d2",)]
    finally:
        con.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{actions_path(db)}{suffix}").unlink(missing_ok=True)
    from_table, origin = load_corrections(db)
    assert origin == db and [c.doc_id for c in from_table] == ["d2"]


def _hammer(db: str, worker: int, n: int) -> None:
    for i in range(n):
        set_alert_status(db, f"w{worker}-{i}", "acknowledged", f"user{worker}", str(i))
        set_alert_status(db, "shared", "new", f"user{worker}", f"{worker}:{i}")
        add_correction(db, f"d{worker}-{i}", "文本", "m+1", "positive", "negative", "x")


def test_two_processes_writing_at_once_lose_nothing(db: Path) -> None:
    n = 40
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_hammer, args=(str(db), w, n)) for w in (1, 2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    statuses = alert_statuses(db)
    assert len(statuses) == 2 * n + 1
    comments = [a.note for a in alert_history(db, "shared")]
    assert sorted(comments) == sorted(f"{w}:{i}" for w in (1, 2) for i in range(n))
    assert len(corrections(db)) == 2 * n
    with sqlite3.connect(actions_path(db)) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_threads_of_one_dashboard_process_lose_nothing(db: Path) -> None:
    def comment(worker: int) -> None:
        for i in range(20):
            set_alert_status(db, "e1", "new", f"t{worker}", f"{worker}:{i}")

    threads = [threading.Thread(target=comment, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(alert_history(db, "e1")) == 80


def test_concurrent_moves_from_the_same_status_only_one_wins(db: Path) -> None:
    # Two processes keep flipping one alert without notes. The check and the append are one
    # transaction, so the log never holds a move that was not allowed when it was made: no
    # status repeated without a note, never back to new.
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_flip, args=(str(db),)) for _ in (1, 2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    history = [a.status for a in alert_history(db, "e1")]
    assert len(history) >= 30
    for before, after in zip(["new", *history], history, strict=False):
        assert (before, after) in ALERT_TRANSITIONS


def _flip(db: str) -> None:
    for _ in range(30):
        for status in ("acknowledged", "resolved"):
            with contextlib.suppress(ActionError):
                set_alert_status(db, "e1", status, "u")


def _episode(con: duckdb.DuckDBPyConnection, episode_id: str) -> None:
    day = datetime(2025, 8, 12)
    con.execute(
        "INSERT INTO spike_episodes VALUES (?, 'source', 'demo_weibo', 'day', "
        "'negative_volume', ?, ?, ?, 30, 5, 6, 8, 0.0001, ?, ?, 'high', true, 1, '{}', 'r1')",
        [episode_id, day, day, day, day, day],
    )


def test_sync_copies_the_logs_and_the_view_shows_new_for_untouched_episodes(db: Path) -> None:
    con = open_warehouse(db)
    try:
        for episode in ("e1", "e2", "e3"):
            _episode(con, episode)
        assert sync_to_warehouse(con, db)["skipped"] == 1  # no store yet: nothing touched

        set_alert_status(db, "e1", "acknowledged", "张三", HOSTILE[0])
        set_alert_status(db, "e1", "resolved", "李四", HOSTILE[2])
        set_alert_status(db, "e2", "acknowledged", "王五")
        add_correction(db, "d1", "快递太慢", "m+1", "positive", "negative", "张三", HOSTILE[1])
        add_correction(db, "d1", "快递太慢", "m+1", "positive", "neutral", "张三")
        counts = sync_to_warehouse(con, db)
        assert counts == {"alert_actions": 3, "sentiment_corrections": 2}
        assert sync_to_warehouse(con, db) == counts  # idempotent

        rows = con.execute(
            "SELECT episode_id, status, status_by, status_note, n_actions, "
            "first_action_at IS NOT NULL FROM v_alert_status ORDER BY episode_id"
        ).fetchall()
        assert rows == [
            ("e1", "resolved", "李四", HOSTILE[2], 2, True),
            ("e2", "acknowledged", "王五", "", 1, True),
            ("e3", "new", None, None, 0, False),
        ]
        notes = con.execute("SELECT note FROM alert_actions ORDER BY action_id").fetchall()
        assert [n for (n,) in notes] == [HOSTILE[0], HOSTILE[2], ""]
        fixes = con.execute(
            "SELECT doc_id, corrected_label, note FROM v_sentiment_corrections"
        ).fetchall()
        assert fixes == [("d1", "neutral", "")]
        acted = con.execute("SELECT acted_at FROM alert_actions ORDER BY action_id").fetchone()[0]
        stored = alert_history(db, "e1")[0].at
        assert acted.astimezone(UTC) == stored
    finally:
        con.close()


def test_training_reads_the_warehouse_copy_when_the_store_is_gone(db: Path) -> None:
    add_correction(db, "d1", "快递太慢", "m+1", "positive", "neutral", "张三")
    add_correction(db, "d1", "快递太慢", "m+1", "positive", "negative", "张三")
    add_correction(db, "d2", "很好", "m+1", "negative", "positive", "张三")
    con = open_warehouse(db)
    sync_to_warehouse(con, db)
    con.close()
    from_store, origin = load_corrections(db)
    assert origin == actions_path(db)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{actions_path(db)}{suffix}").unlink(missing_ok=True)
    from_table, origin = load_corrections(db)
    assert origin == db
    assert [(c.doc_id, c.corrected_label) for c in from_table] == [
        (c.doc_id, c.corrected_label) for c in from_store
    ]
    assert [c.corrected_label for c in from_table] == ["negative", "positive"]
    with pytest.raises(FileNotFoundError, match="neither"):
        load_corrections(db.with_name("none.duckdb"))


def test_synced_actions_reach_the_snapshot_and_the_query_console(db: Path) -> None:
    con = open_warehouse(db)
    _episode(con, "e1")
    _episode(con, "e2")
    set_alert_status(db, "e1", "resolved", "张三", HOSTILE[3])
    sync_to_warehouse(con, db)
    con.close()
    publish_snapshot(db)
    result = run_query(
        db, "SELECT episode_id, status, status_note FROM v_alert_status ORDER BY episode_id"
    )
    assert result.rows == [("e1", "resolved", HOSTILE[3]), ("e2", "new", None)]
    assert sorted(p.name for p in db.parent.glob("*.sqlite")) == ["voc.actions.sqlite"]
