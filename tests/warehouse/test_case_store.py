"""The case store on real databases (a SQLite file and PostgreSQL, `case_engine`): opening
is idempotent and merges, the workflow and its refusals, reads and filters, the
append-only history."""

from __future__ import annotations

import ast
import itertools
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.warehouse.case_seed import T0, opening, voice
from voc.cases import EXCERPT_CHARS, CaseError, CaseVoice, ConflictError
from warehouse.case_db import (
    APPEND_ONLY,
    StoreUnavailable,
    case_events,
    connect_store,
    create_schema,
    store_url,
)
from warehouse.case_store import CaseFilters, CaseStore, OpenResult

ROOT = Path(__file__).resolve().parents[2]
NOW = T0 + timedelta(hours=2)


@pytest.fixture
def store(case_engine: sa.Engine) -> CaseStore:
    return CaseStore(case_engine)


def test_open_stores_cases_voices_and_an_open_event(store: CaseStore) -> None:
    long_text = "慢" * 500
    result = store.open_cases(
        [
            opening("doc:a", voice("a", excerpt=long_text, url="https://x/a", anger=0.7)),
            opening("doc:b", voice("b", 1, segment="高价值"), priority="P1", owner="李四"),
        ],
        now=NOW,
    )
    assert result == OpenResult(n_opened=2, n_merged=0, n_known=0, n_voices=2)
    cases = store.list_cases(CaseFilters())
    assert [c.merge_key for c in cases] == ["doc:b", "doc:a"]  # P1 first
    b, a = cases
    assert (b.status, b.priority, b.owner, b.team, b.version, b.n_voices) == (
        "new",
        "P1",
        "李四",
        "客服一组",
        1,
        1,
    )
    assert a.opened_at == NOW and a.opened_at.tzinfo is not None
    assert a.severity == {"negative_score": 0.93, "reach": 3, "segment": None}
    assert a.first_response_at is None and a.is_open and a.status_name == "新建"
    (stored,) = store.voices(a.case_id)
    assert stored.doc_id == "a" and stored.created_at == T0 and stored.anger == 0.7
    assert len(stored.excerpt) == EXCERPT_CHARS and stored.excerpt.endswith("…")
    assert stored.url == "https://x/a" and stored.reach == 3
    (event,) = store.history(a.case_id)
    assert (event.action, event.from_status, event.to_status, event.who) == (
        "open",
        None,
        "new",
        "system",
    )
    assert event.data["doc_ids"] == ["a"] and event.at == NOW
    assert store.case_of_doc("b") == b.case_id and store.case_of_doc("zz") is None
    assert store.get(999) is None


def test_reopening_the_same_voices_opens_nothing(store: CaseStore) -> None:
    day = [opening(f"doc:{i}", voice(str(i), i / 10)) for i in range(20)]
    day.append(opening("cust:c1:t1", voice("m1"), voice("m2", 0.5)))
    first = store.open_cases(day, now=NOW)
    assert (first.n_opened, first.n_known, first.n_voices) == (21, 0, 22)
    events_before = list(store.all_events())
    again = store.open_cases(day, now=NOW + timedelta(days=1))
    assert again == OpenResult(n_opened=0, n_merged=0, n_known=22, n_voices=0)
    assert list(store.all_events()) == events_before
    assert store.count_cases(CaseFilters()) == 21


def test_a_voice_twice_in_one_call_is_taken_once(store: CaseStore) -> None:
    result = store.open_cases(
        [opening("doc:a", voice("a")), opening("doc:other", voice("a"), voice("b"))], now=NOW
    )
    assert (result.n_opened, result.n_known, result.n_voices) == (2, 1, 2)
    assert store.voices(store.case_of_doc("b"))[0].doc_id == "b"


def test_same_key_within_merge_days_joins_the_open_case(store: CaseStore) -> None:
    store.open_cases([opening("cust:c1:t1", voice("a"))], now=NOW)
    (case,) = store.list_cases(CaseFilters())
    later = NOW + timedelta(days=3)
    result = store.open_cases(
        [opening("cust:c1:t1", voice("b", 3), priority="P2"), opening("doc:x", voice("x", 3))],
        now=later,
    )
    assert (result.n_opened, result.n_merged, result.n_voices) == (1, 1, 2)
    merged = store.get(case.case_id)
    # A merge adds voices, not a workflow change: a tab holding version 1 stays valid.
    assert (merged.version, merged.n_voices, merged.priority) == (1, 2, "P2")
    assert merged.updated_at == later and merged.status == "new"
    assert [v.doc_id for v in store.voices(case.case_id)] == ["a", "b"]
    last = store.history(case.case_id)[-1]
    assert last.action == "merge" and last.data["doc_ids"] == ["b"]
    assert last.data["priority"] == "P2" and last.data["from_priority"] == "P3"


def test_same_key_after_merge_days_or_a_closed_case_opens_a_new_one(store: CaseStore) -> None:
    store.open_cases([opening("cust:c1:t1", voice("a"))], now=NOW)
    # 8 days after the newest voice: outside the 7-day window.
    late = store.open_cases([opening("cust:c1:t1", voice("b", 8))], now=NOW)
    assert (late.n_opened, late.n_merged) == (1, 0)
    newest = store.get(store.case_of_doc("b"))
    store.move(newest.case_id, "closed", "王五", newest.version)
    after_close = store.open_cases([opening("cust:c1:t1", voice("c", 9))], now=NOW)
    assert (after_close.n_opened, after_close.n_merged) == (1, 0)
    assert len({store.case_of_doc(d) for d in "abc"}) == 3
    # merge_days is the caller's: with 30 days, d joins the case of c.
    joined = store.open_cases([opening("cust:c1:t1", voice("d", 30))], now=NOW, merge_days=30)
    assert joined.n_merged == 1 and store.case_of_doc("d") == store.case_of_doc("c")


def test_openings_of_one_key_in_one_call_chain_by_time(store: CaseStore) -> None:
    result = store.open_cases(
        [
            opening("dup:g1", voice("r3", 12.5)),
            opening("dup:g1", voice("r1", 0)),
            opening("dup:g1", voice("r2", 5)),
        ],
        now=NOW,
    )
    # r1 → r2 (5 days later) in one case; r3 is 7+ days after r2's case's newest: new case.
    assert (result.n_opened, result.n_merged) == (2, 1)
    assert store.case_of_doc("r1") == store.case_of_doc("r2") != store.case_of_doc("r3")
    first = store.get(store.case_of_doc("r1"))
    assert first.n_voices == 2 and first.version == 1
    assert store.history(first.case_id)[0].data["doc_ids"] == ["r1", "r2"]


def test_the_workflow_from_new_to_closed_and_reopen(store: CaseStore) -> None:
    store.open_cases([opening("doc:a", voice("a"))], now=NOW)
    case = store.list_cases(CaseFilters())[0]
    steps = [
        ("acknowledged", NOW + timedelta(minutes=30)),
        ("waiting_customer", NOW + timedelta(hours=1)),
        ("in_progress", NOW + timedelta(hours=5)),
        ("follow_up", NOW + timedelta(hours=6)),
        ("resolved", NOW + timedelta(hours=7)),
    ]
    for status, at in steps:
        case = store.move(case.case_id, status, "张三", case.version, note=f"到 {status}", at=at)
        assert case.status == status and case.updated_at == at
    assert case.version == 6
    assert case.first_response_at == NOW + timedelta(minutes=30)
    assert case.resolved_at == NOW + timedelta(hours=7) and not case.is_open
    case = store.move(case.case_id, "in_progress", "张三", case.version, note="客户又来电")
    assert case.resolved_at is None and case.status == "in_progress"
    assert case.first_response_at == NOW + timedelta(minutes=30)  # not moved by later steps
    case = store.move(case.case_id, "closed", "张三", case.version)
    assert case.closed_at is not None
    history = store.history(case.case_id)
    assert [(e.from_status, e.to_status) for e in history[1:]] == [
        ("new", "acknowledged"),
        ("acknowledged", "waiting_customer"),
        ("waiting_customer", "in_progress"),
        ("in_progress", "follow_up"),
        ("follow_up", "resolved"),
        ("resolved", "in_progress"),
        ("in_progress", "closed"),
    ]
    assert history[6].data == {"reopen": True} and history[1].note == "到 acknowledged"
    assert [e.seq for e in history] == sorted(e.seq for e in history)


def test_a_refused_move_names_the_allowed_moves_and_writes_nothing(store: CaseStore) -> None:
    store.open_cases([opening("doc:a", voice("a"))], now=NOW)
    case = store.list_cases(CaseFilters())[0]
    with pytest.raises(CaseError) as refused:
        store.move(case.case_id, "resolved", "张三", case.version)
    message = str(refused.value)
    assert "新建" in message and "已解决" in message
    assert "allowed: acknowledged, in_progress, closed" in message
    with pytest.raises(CaseError, match="unknown status 'done'"):
        store.move(case.case_id, "done", "张三", case.version)
    with pytest.raises(CaseError, match="no case 404"):
        store.move(404, "acknowledged", "张三", 1)
    with pytest.raises(CaseError, match="who must not be empty"):
        store.move(case.case_id, "acknowledged", "  ", case.version)
    assert store.get(case.case_id) == case
    assert len(store.history(case.case_id)) == 1


def test_a_stale_version_is_a_conflict_naming_the_current_state(store: CaseStore) -> None:
    store.open_cases([opening("doc:a", voice("a"))], now=NOW)
    case = store.list_cases(CaseFilters())[0]
    moved = store.move(case.case_id, "acknowledged", "tab1", case.version)
    with pytest.raises(ConflictError) as conflict:
        store.move(case.case_id, "in_progress", "tab2", case.version)  # version 1, now 2
    assert conflict.value.version == 2 and conflict.value.status == "acknowledged"
    assert "已受理" in str(conflict.value) and "now version 2" in str(conflict.value)
    with pytest.raises(ConflictError):
        store.add_note(case.case_id, "tab2", "看过了", case.version)
    assert store.get(case.case_id) == moved
    assert [e.who for e in store.history(case.case_id)] == ["system", "tab1"]


def test_assign_note_reply_and_priority_are_events(store: CaseStore) -> None:
    store.open_cases([opening("doc:a", voice("a"))], now=NOW)
    case = store.list_cases(CaseFilters())[0]
    case = store.assign(case.case_id, "李四", "客服二组", "组长", case.version, note="转二组")
    assert (case.owner, case.team, case.version) == ("李四", "客服二组", 2)
    with pytest.raises(CaseError, match="note must not be empty"):
        store.add_note(case.case_id, "李四", "  ", case.version)
    with pytest.raises(CaseError, match="at most 1000"):
        store.add_note(case.case_id, "李四", "长" * 1001, case.version)
    case = store.add_note(case.case_id, "李四", "已联系仓库", case.version)
    replied_at = NOW + timedelta(hours=3)
    case = store.record_reply(case.case_id, "李四", case.version, note="已电话", at=replied_at)
    assert case.first_response_at == replied_at and case.status == "new"
    case = store.record_reply(case.case_id, "李四", case.version, at=replied_at + timedelta(1))
    assert case.first_response_at == replied_at  # the first reply counts
    case = store.set_priority(case.case_id, "P1", "组长", case.version)
    with pytest.raises(CaseError, match="unknown priority 'P9'"):
        store.set_priority(case.case_id, "P9", "组长", case.version)
    assert case.priority == "P1" and case.version == 6
    history = store.history(case.case_id)
    assert [e.action for e in history] == ["open", "assign", "note", "reply", "reply", "priority"]
    assert history[1].data == {
        "owner": "李四",
        "team": "客服二组",
        "from_owner": None,
        "from_team": "客服一组",
    }
    assert history[2].note == "已联系仓库" and history[3].at == replied_at
    assert history[5].data == {"priority": "P1", "from_priority": "P3"}
    case = store.assign(case.case_id, None, "客服二组", "组长", case.version)
    assert case.owner is None


def test_list_and_count_filter_every_field(store: CaseStore) -> None:
    store.open_cases(
        [
            opening("doc:a", voice("a"), priority="P1", segment="高价值", owner="甲"),
            opening("doc:b", voice("b", channel="review"), channel="review", team="电商组"),
            opening("doc:c", voice("c"), priority="P2", owner="乙", customer_id="c7"),
        ],
        now=NOW,
    )
    store.open_cases([opening("doc:d", voice("d", 2))], now=NOW + timedelta(days=2))
    c = store.get(store.case_of_doc("c"))
    store.move(c.case_id, "acknowledged", "乙", c.version)

    def keys(**kw) -> list[str]:
        found = store.list_cases(CaseFilters(**kw))
        assert store.count_cases(CaseFilters(**kw)) == len(found)
        return [case.merge_key for case in found]

    assert keys() == ["doc:a", "doc:c", "doc:b", "doc:d"]
    assert keys(statuses=("new",)) == ["doc:a", "doc:b", "doc:d"]
    assert keys(statuses=("new", "acknowledged"), priorities=("P2", "P3")) == [
        "doc:c",
        "doc:b",
        "doc:d",
    ]
    assert keys(teams=("电商组",)) == ["doc:b"]
    assert keys(owners=("甲", "乙")) == ["doc:a", "doc:c"]
    assert keys(channels=("review",)) == ["doc:b"]
    assert keys(segments=("高价值",)) == ["doc:a"]
    assert keys(customer_ids=("c7",)) == ["doc:c"]
    assert keys(opened_from=NOW + timedelta(days=1)) == ["doc:d"]
    assert keys(opened_to=NOW + timedelta(days=1)) == ["doc:a", "doc:c", "doc:b"]
    page = store.list_cases(CaseFilters(), limit=2, offset=1)
    assert [case.merge_key for case in page] == ["doc:c", "doc:b"]


def test_all_events_pages_in_seq_order(store: CaseStore) -> None:
    store.open_cases([opening(f"doc:{i}", voice(str(i))) for i in range(7)], now=NOW)
    case = store.get(store.case_of_doc("3"))
    store.move(case.case_id, "acknowledged", "甲", case.version)
    events = list(store.all_events(batch=3))
    assert len(events) == 8 and [e.seq for e in events] == sorted({e.seq for e in events})
    assert events[-1].action == "status"
    since = list(store.all_events(since_seq=events[5].seq, batch=3))
    assert since == events[6:]


def test_many_cases_and_histories_in_one_call(store: CaseStore) -> None:
    store.open_cases([opening(f"doc:{i}", voice(str(i))) for i in range(5)], now=NOW)
    ids = [store.case_of_doc(str(i)) for i in range(5)]
    store.move(ids[2], "acknowledged", "甲", 1)
    cases = store.get_many([*ids[1:4], 999])
    assert sorted(cases) == ids[1:4] and cases[ids[2]].status == "acknowledged"
    histories = store.histories([ids[2], ids[4], 999])
    assert [e.action for e in histories[ids[2]]] == ["open", "status"]
    assert histories[ids[2]] == store.history(ids[2]) and histories[999] == []
    assert len(histories[ids[4]]) == 1 and store.get_many([]) == {}


def test_naive_datetimes_and_unknown_priorities_are_refused(store: CaseStore) -> None:
    naive = CaseVoice(
        doc_id="n", source="s", channel="ticket", created_at=datetime(2025, 1, 1), excerpt="x"
    )
    with pytest.raises(CaseError, match=r"opening #2 \('doc:n'\).*voice n: created_at"):
        store.open_cases([opening("doc:ok", voice("ok")), opening("doc:n", naive)], now=NOW)
    with pytest.raises(CaseError, match=r"opening #1 \('doc:p'\).*unknown priority 'high'"):
        store.open_cases([opening("doc:p", voice("p"), priority="high")], now=NOW)
    with pytest.raises(CaseError, match="merge_key must not be empty"):
        store.open_cases([opening(" ", voice("k"))], now=NOW)
    with pytest.raises(CaseError, match="has no voices"):
        store.open_cases([opening("doc:none")], now=NOW)
    with pytest.raises(CaseError, match="doc_id must not be empty"):
        store.open_cases([opening("doc:e", voice(""))], now=NOW)
    with pytest.raises(CaseError, match="merge_days must be"):
        store.open_cases([opening("doc:m", voice("m"))], now=NOW, merge_days=-1)
    with pytest.raises(CaseError, match="timezone-aware"):
        store.open_cases([opening("doc:t", voice("t"))], now=datetime(2025, 1, 1))
    assert store.count_cases(CaseFilters()) == 0  # nothing half-written


def test_bulk_opening_is_fast(store: CaseStore) -> None:
    n = 20_000
    openings = [opening(f"doc:{i}", voice(f"d{i}", i % 30 / 3)) for i in range(n)]
    started = time.perf_counter()
    result = store.open_cases(openings, now=NOW)
    took = time.perf_counter() - started
    assert result.n_opened == n and store.count_cases(CaseFilters(statuses=("new",))) == n
    # 100k openings take a few seconds; a shared 2-core machine gets slack.
    assert took < 20, f"{n} openings took {took:.1f} s"
    started = time.perf_counter()
    assert store.open_cases(openings, now=NOW).n_known == n
    assert time.perf_counter() - started < 10


# -- append-only ---------------------------------------------------------------------


def test_events_cannot_be_updated_or_deleted(case_engine: sa.Engine) -> None:
    store = CaseStore(case_engine)
    store.open_cases([opening("doc:a", voice("a"))], now=NOW)
    case = store.list_cases(CaseFilters())[0]
    store.move(case.case_id, "acknowledged", "甲", case.version)
    before = store.history(case.case_id)
    for statement in (
        sa.update(case_events).values(note="改过"),
        sa.update(case_events).where(case_events.c.seq == before[0].seq).values(who="x"),
        sa.delete(case_events),
    ):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), case_engine.begin() as con:
            con.execute(statement)
    assert store.history(case.case_id) == before


def test_history_only_grows(store: CaseStore) -> None:
    store.open_cases([opening("doc:a", voice("a")), opening("doc:b", voice("b"))], now=NOW)
    snapshots = [list(store.all_events())]
    case = store.get(store.case_of_doc("a"))
    for status in ("acknowledged", "in_progress", "resolved", "in_progress"):
        case = store.move(case.case_id, status, "甲", case.version)
        snapshots.append(list(store.all_events()))
    store.open_cases([opening("doc:a", voice("a2", 1))], now=NOW)
    snapshots.append(list(store.all_events()))
    for earlier, later in itertools.pairwise(snapshots):
        assert later[: len(earlier)] == earlier and len(later) > len(earlier)


def test_no_code_updates_or_deletes_an_append_only_table() -> None:
    """No module changes an append-only table: no ``update(t)``/``delete(t)``,
    ``t.update()``/``t.delete()`` or SQL text ``UPDATE t``/``DELETE FROM t``."""
    assert "case_events" in APPEND_ONLY
    offenders = []
    for package in ("voc", "warehouse", "signals", "flows", "cli", "dashboard", "demo"):
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute | ast.Name):
                    name = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
                    target = node.func.value if isinstance(node.func, ast.Attribute) else None
                    if name in ("update", "delete"):
                        args = [*node.args, *([target] if target is not None else [])]
                        if any(_names_table(a) for a in args):
                            offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
                elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                    sql = " ".join(node.value.upper().split())
                    for table in APPEND_ONLY:
                        if (
                            f"UPDATE {table.upper()}" in sql
                            or f"DELETE FROM {table.upper()}" in sql
                        ):
                            offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def _names_table(node: ast.AST) -> bool:
    return (isinstance(node, ast.Name) and node.id in APPEND_ONLY) or (
        isinstance(node, ast.Attribute) and node.attr in APPEND_ONLY
    )


# -- where the store is ----------------------------------------------------------------


def test_store_url_prefers_configured_then_env_then_the_side_store(tmp_path: Path) -> None:
    db = tmp_path / "voc.duckdb"
    assert store_url(db, env={}) == f"sqlite:///{tmp_path / 'voc.actions.sqlite'}"
    snapshot = tmp_path / "voc.snapshot.duckdb"
    assert store_url(snapshot, env={}) == f"sqlite:///{tmp_path / 'voc.actions.sqlite'}"
    env = {"VOC_CASES_DATABASE_URL": "postgresql+psycopg://u@h/env"}
    assert store_url(db, env=env) == "postgresql+psycopg://u@h/env"
    assert store_url(db, "postgresql+psycopg://u@h/cfg", env=env).endswith("/cfg")

    class Cases:
        database_url = "postgresql+psycopg://u@h/settings"

    class Settings:
        db_path = db
        cases = Cases()

    assert store_url(Settings(), env=env).endswith("/settings")


def test_the_sqlite_side_store_is_shared_with_the_action_store(tmp_path: Path) -> None:
    from warehouse.actions import set_alert_status  # the dashboard's existing writer

    db = tmp_path / "voc.duckdb"
    engine = connect_store(store_url(db, env={}))
    create_schema(engine)
    create_schema(engine)  # idempotent
    CaseStore(engine).open_cases([opening("doc:a", voice("a"))], now=NOW)
    set_alert_status(db, "ep-1", "acknowledged", "甲")
    with engine.connect() as con:
        names = set(sa.inspect(con).get_table_names())
        mode = con.exec_driver_sql("PRAGMA journal_mode").scalar()
    assert {"case_cases", "case_voices", "case_events", "alert_actions"} <= names
    assert mode == "wal"
    engine.dispose()


def test_unreachable_or_unsupported_stores_say_so(tmp_path: Path) -> None:
    with pytest.raises(CaseError, match="SQLite and PostgreSQL only"):
        connect_store("mysql://u:secret@h/db")
    with pytest.raises(StoreUnavailable, match="does not exist"):
        connect_store(f"sqlite:///{tmp_path / 'missing' / 'x.sqlite'}")
    engine = connect_store("postgresql://voc:hunter2@127.0.0.1:9/cases")
    with pytest.raises(StoreUnavailable) as down:
        CaseStore(engine).get(1)
    assert "hunter2" not in str(down.value) and "***" in str(down.value)
    assert "cannot be reached" in str(down.value)


def test_timestamps_read_back_as_utc(store: CaseStore) -> None:
    shanghai = datetime(2025, 9, 26, 18, 0, tzinfo=UTC).astimezone(
        __import__("zoneinfo").ZoneInfo("Asia/Shanghai")
    )
    store.open_cases([opening("doc:a", voice("a"))], now=shanghai)
    case = store.list_cases(CaseFilters())[0]
    assert case.opened_at == shanghai and case.opened_at.utcoffset() == timedelta(0)
