"""Concurrent writers on one case store (SQLite file and PostgreSQL): two tabs with the same
version — one wins, the other gets `ConflictError`, nothing is lost; openers racing on the
same voices put each voice in one case."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from tests.warehouse.case_seed import T0, opening, voice
from voc.cases import ConflictError
from warehouse.case_db import case_events, case_voices, connect_store
from warehouse.case_store import CaseFilters, CaseStore

NOW = T0 + timedelta(hours=1)


def second_engine(engine: sa.Engine) -> sa.Engine:
    """Another engine on the same database: another process's connection pool."""
    return connect_store(engine.url.render_as_string(hide_password=False))


def race(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls at once, one thread each; each result is a value or the exception."""
    start = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        start.wait()
        try:
            return call()
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def one_case(store: CaseStore) -> int:
    store.open_cases([opening("doc:a", voice("a"))], now=NOW)
    return store.list_cases(CaseFilters())[0].case_id


def test_two_tabs_with_the_same_version_one_wins(case_engine: sa.Engine) -> None:
    other = second_engine(case_engine)
    tab1, tab2 = CaseStore(case_engine), CaseStore(other)
    case_id = one_case(tab1)
    for round_ in range(10):
        case = tab1.get(case_id)
        results = race(
            lambda c=case, r=round_: tab1.add_note(c.case_id, "tab1", f"第 {r} 轮", c.version),
            lambda c=case, r=round_: tab2.assign(c.case_id, f"人{r}", "二组", "tab2", c.version),
        )
        won = [r for r in results if not isinstance(r, Exception)]
        lost = [r for r in results if isinstance(r, Exception)]
        assert len(won) == 1 and len(lost) == 1, results
        assert isinstance(lost[0], ConflictError)
        assert lost[0].version == case.version + 1 == won[0].version
        assert lost[0].status == won[0].status
        after = tab1.get(case_id)
        assert after == won[0]
        assert len(tab1.history(case_id)) == 1 + round_ + 1  # exactly one change per round
    other.dispose()


# PostgreSQL only: SQLite writers take the write lock before reading, so they never
# interleave like this.
@pytest.mark.parametrize("case_engine", ["postgresql"], indirect=True)
def test_a_writer_that_read_the_same_version_is_refused_at_update(
    case_engine: sa.Engine,
) -> None:
    """Both writers pass the version read before either updates (PostgreSQL lets both read
    at once): the guarded UPDATE lets one through; the other, after waiting for the row
    lock, matches no row and gets `ConflictError`."""
    store = CaseStore(case_engine)
    case_id = one_case(store)
    both_read = threading.Barrier(2, timeout=10)

    @event.listens_for(case_engine, "before_cursor_execute")
    def _hold(_con, _cursor, statement: str, *_args) -> None:
        if statement.startswith("UPDATE case_cases"):
            both_read.wait()  # each writer has read version 1 and is about to update

    results = race(
        lambda: store.move(case_id, "acknowledged", "甲", 1),
        lambda: store.move(case_id, "closed", "乙", 1),
    )
    event.remove(case_engine, "before_cursor_execute", _hold)
    errors = [r for r in results if isinstance(r, Exception)]
    (winner,) = [r for r in results if not isinstance(r, Exception)]
    assert len(errors) == 1 and isinstance(errors[0], ConflictError), results
    assert errors[0].version == 2 and errors[0].status == winner.status
    history = store.history(case_id)
    assert [e.to_status for e in history] == ["new", winner.status]


def test_writers_that_retry_on_conflict_lose_nothing(case_engine: sa.Engine) -> None:
    engines = [case_engine, second_engine(case_engine), second_engine(case_engine)]
    case_id = one_case(CaseStore(case_engine))
    per_writer = 8

    def writer(index: int) -> int:
        store, conflicts = CaseStore(engines[index]), 0
        for n in range(per_writer):
            while True:
                version = store.get(case_id).version
                try:
                    store.add_note(case_id, f"w{index}", f"w{index}-{n}", version)
                    break
                except ConflictError:
                    conflicts += 1  # reload and try again, as the page tells the user to
        return conflicts

    race(*(lambda i=i: writer(i) for i in range(len(engines))))
    store = CaseStore(case_engine)
    notes = sorted(e.note for e in store.history(case_id) if e.action == "note")
    assert notes == sorted(f"w{i}-{n}" for i in range(len(engines)) for n in range(per_writer))
    assert store.get(case_id).version == 1 + len(engines) * per_writer
    for extra in engines[1:]:
        extra.dispose()


def test_openers_racing_on_the_same_voices_put_each_in_one_case(case_engine: sa.Engine) -> None:
    other = second_engine(case_engine)
    a, b = CaseStore(case_engine), CaseStore(other)
    batch_a = [opening(f"doc:{i}", voice(str(i))) for i in range(0, 300)]
    batch_b = [opening(f"doc:{i}", voice(str(i))) for i in range(150, 450)]
    results = race(lambda: a.open_cases(batch_a, now=NOW), lambda: b.open_cases(batch_b, now=NOW))
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(r.n_voices for r in results) == 450
    assert sum(r.n_known for r in results) == 150
    with case_engine.connect() as con:
        n_voices = con.execute(sa.select(sa.func.count()).select_from(case_voices)).scalar()
        n_open = con.execute(
            sa.select(sa.func.count())
            .select_from(case_events)
            .where(case_events.c.action == "open")
        ).scalar()
    assert n_voices == 450 and n_open == a.count_cases(CaseFilters()) == 450
    other.dispose()


def test_a_merge_racing_a_user_move_keeps_both(case_engine: sa.Engine) -> None:
    other = second_engine(case_engine)
    opener, user = CaseStore(case_engine), CaseStore(other)
    opener.open_cases([opening("cust:c1:t1", voice("a"))], now=NOW)
    case = opener.list_cases(CaseFilters())[0]
    for n in range(5):
        current = opener.get(case.case_id)
        target = "in_progress" if current.status != "in_progress" else "waiting_customer"
        results = race(
            lambda n=n: opener.open_cases([opening("cust:c1:t1", voice(f"m{n}", 1))], now=NOW),
            lambda c=current, t=target: user.move(c.case_id, t, "甲", c.version),
        )
        assert not [r for r in results if isinstance(r, Exception)], results
    final = opener.get(case.case_id)
    assert final.n_voices == 6 and len(opener.voices(case.case_id)) == 6
    actions = [e.action for e in opener.history(case.case_id)]
    assert actions.count("merge") == 5 and actions.count("status") == 5
    assert final.version == 6  # merges do not invalidate the user's version
    other.dispose()


def test_a_user_acting_during_a_big_opening_is_not_lost(case_engine: sa.Engine) -> None:
    """The dashboard acting while an ingestion opens 20,000 cases: the user's change waits
    at most for the opening's transaction (SQLite) or not at all (PostgreSQL), and is there
    as soon as the call returns."""
    other = second_engine(case_engine)
    ingestion, user = CaseStore(case_engine), CaseStore(other)
    case_id = one_case(user)
    big = [opening(f"doc:big{i}", voice(f"big{i}", i % 7)) for i in range(20_000)]

    def act() -> list[int]:
        versions, version = [], 1
        for status in ("acknowledged", "in_progress", "waiting_customer", "in_progress"):
            case = user.move(case_id, status, "甲", version)
            assert user.get(case_id).status == status  # shows at once
            versions.append(version := case.version)
        return versions

    opened, versions = race(lambda: ingestion.open_cases(big, now=NOW), act)
    assert not isinstance(opened, Exception) and opened.n_opened == 20_000
    assert versions == [2, 3, 4, 5]
    assert [e.to_status for e in user.history(case_id)][-4:] == [
        "acknowledged",
        "in_progress",
        "waiting_customer",
        "in_progress",
    ]
    other.dispose()


def test_processes_creating_the_schema_at_once_all_succeed(case_engine: sa.Engine) -> None:
    from warehouse.case_db import METADATA, create_schema

    METADATA.drop_all(case_engine)
    engines = [second_engine(case_engine) for _ in range(4)]
    results = race(*(lambda e=e: create_schema(e) for e in engines))
    assert results == [None] * 4
    store = CaseStore(case_engine)
    store.open_cases([opening("doc:a", voice("a"))], now=NOW)
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), case_engine.begin() as con:
        con.execute(sa.delete(case_events))  # the trigger came back with the table
    for engine in engines:
        engine.dispose()
