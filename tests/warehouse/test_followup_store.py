"""The 回访 store on real databases (SQLite file and PostgreSQL, `case_engine`): idempotent
planning, the daily list per owner, outcomes (append-only) that schedule a second 回访,
conflicts between two people recording one call, cancelling, and the CSV / Excel export."""

from __future__ import annotations

import io
import threading
from datetime import UTC, date, datetime

import pandas as pd
import pytest
import sqlalchemy as sa

from voc.cases import CaseError, CaseOpening, CaseVoice
from voc.followup_rules import FollowupsConfig, PlannedFollowup
from warehouse.case_store import CaseStore
from warehouse.followup_export import (
    export_followups,
    followup_records,
    followup_table,
    owner_digest,
)
from warehouse.followup_store import (
    FollowupConflictError,
    FollowupStore,
    followup_outcomes,
    followups,
)

NOW = datetime(2025, 9, 30, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, the day before 国庆
TODAY = date(2025, 9, 30)


def open_case(engine: sa.Engine, doc_id: str = "d1", customer: str = "cust-1") -> int:
    """One case (of one negative ticket) in the store; returns its id."""
    voice = CaseVoice(doc_id, "demo_tickets", "ticket", NOW, "快递三天没到", customer_id=customer)
    store = CaseStore(engine)
    store.open_cases(
        [
            CaseOpening(
                f"doc:{doc_id}",
                "negative_ticket",
                "物流慢",
                (voice,),
                "P2",
                owner="王五",
                team="客服",
                customer_id=customer,
            )
        ],
        NOW,
    )
    return store.case_of_doc(doc_id)


def planned(key: str, due: date, owner: str = "王五", **kw) -> PlannedFollowup:
    reason = kw.pop("reason", "periodic")
    return PlannedFollowup(key, reason, due, owner, kw.pop("team", "客服"), **kw)


@pytest.fixture
def store(case_engine: sa.Engine) -> FollowupStore:
    return FollowupStore(case_engine, FollowupsConfig(second_after_days=2))


def test_planning_is_idempotent(store: FollowupStore) -> None:
    first = store.plan([planned("a", TODAY), planned("b", TODAY), planned("c", TODAY)], NOW)
    assert (first.n_planned, first.n_known) == (3, 0)
    ids = {f.followup_id for f in store.due(TODAY)}
    again = store.plan([planned("a", TODAY), planned("b", TODAY), planned("d", TODAY)], NOW)
    assert (again.n_planned, again.n_known) == (1, 2)
    assert [p.plan_key for p in again.new] == ["d"]
    assert len(store.due(TODAY)) == 4 and ids < {f.followup_id for f in store.due(TODAY)}
    assert store.known_keys("a") == {"a"}


def test_planning_many_at_once(store: FollowupStore) -> None:
    items = [planned(f"periodic:c{i}:2025-09-30", TODAY, owner=f"o{i % 7}") for i in range(3000)]
    assert store.plan(items, NOW).n_planned == 3000
    assert store.plan(items, NOW).n_known == 3000
    assert sum(len(v) for v in store.due_by_owner(TODAY).values()) == 3000


def test_daily_list_per_owner(store: FollowupStore) -> None:
    store.plan(
        [
            planned("old", date(2025, 9, 26), owner="王五"),
            planned("today", TODAY, owner="王五"),
            planned("tomorrow", date(2025, 10, 9), owner="王五"),
            planned("li", TODAY, owner="李四", team="售后"),
        ],
        NOW,
    )
    by_owner = store.due_by_owner(TODAY)
    assert {o: [f.due_on for f in items] for o, items in by_owner.items()} == {
        "李四": [TODAY],
        "王五": [date(2025, 9, 26), TODAY],  # the overdue one first, nothing from the future
    }
    assert [f.owner for f in store.due(TODAY, teams=["售后"])] == ["李四"]
    assert [f.due_on for f in store.due(TODAY, owners=["王五"], include_overdue=False)] == [TODAY]
    done = store.due(TODAY, owners=["王五"])[0]
    store.record_outcome(done.followup_id, "王五", reached=False, at=NOW)
    assert [f.due_on for f in store.due(TODAY, owners=["王五"])] == [TODAY]


def test_outcome_closes_the_followup_and_plans_the_second(
    store: FollowupStore, case_engine: sa.Engine
) -> None:
    case_id = open_case(case_engine)
    store.plan([planned("case_resolved:x:1", TODAY, reason="case_resolved", case_id=case_id)], NOW)
    (f,) = store.due(TODAY)
    result = store.record_outcome(
        f.followup_id,
        "王五",
        reached=True,
        satisfaction=2,
        note="还是不满意",
        needs_second=True,
        at=NOW,
    )
    assert result.followup.status == "done" and result.outcome.satisfaction == 2
    second = result.second
    # Recorded on 09-30: two working days later, 国庆 (10-01…10-08) skipped, is 10-10.
    assert (second.reason, second.due_on, second.parent_id) == (
        "second",
        date(2025, 10, 10),
        f.followup_id,
    )
    assert (second.owner, second.team, second.case_id) == ("王五", "客服", case_id)
    assert store.due(TODAY) == [] and [x.followup_id for x in store.due(date(2025, 10, 10))] == [
        second.followup_id
    ]
    ((of, o),) = store.outcomes(case_ids=[case_id])
    assert (of.followup_id, o.who, o.reached, o.satisfaction, o.note, o.needs_second) == (
        f.followup_id,
        "王五",
        True,
        2,
        "还是不满意",
        True,
    )
    assert o.at == NOW
    chosen = store.record_outcome(
        second.followup_id, "王五", True, 4, needs_second=True, second_due_on=date(2025, 11, 3)
    ).second
    assert chosen.due_on == date(2025, 11, 3) and chosen.parent_id == second.followup_id


def test_recording_twice_is_refused_with_who_was_first(store: FollowupStore) -> None:
    store.plan([planned("a", TODAY)], NOW)
    (f,) = store.due(TODAY)
    store.record_outcome(f.followup_id, "王五", True, 5, at=NOW)
    with pytest.raises(FollowupConflictError, match="已被 王五 于 2025-09-30 02:00 UTC"):
        store.record_outcome(f.followup_id, "李四", True, 4)
    assert len(store.outcomes()) == 1


def test_two_people_recording_at_once_one_wins(store: FollowupStore) -> None:
    store.plan([planned("a", TODAY)], NOW)
    (f,) = store.due(TODAY)
    results: list[object] = []
    barrier = threading.Barrier(2)

    def record(who: str) -> None:
        barrier.wait()
        try:
            results.append(store.record_outcome(f.followup_id, who, True, 4))
        except FollowupConflictError as exc:
            results.append(exc)

    threads = [threading.Thread(target=record, args=(w,)) for w in ("甲", "乙")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(type(r).__name__ for r in results) == ["FollowupConflictError", "RecordResult"]
    ((_, o),) = store.outcomes()
    assert o.who == next(r for r in results if not isinstance(r, Exception)).outcome.who


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"reached": True, "satisfaction": 6}, "satisfaction must be 1–5, got 6"),
        ({"reached": True, "satisfaction": 0}, "满意度 satisfaction 必须在 1–5 之间"),
        ({"reached": False, "satisfaction": 3}, "未联系上客户时不能填写满意度"),
        ({"reached": "yes"}, "reached must be a boolean"),
        ({"reached": True, "who": " "}, "who must not be empty"),
    ],
)
def test_bad_outcomes_are_refused_and_nothing_is_written(
    store: FollowupStore, kw: dict, message: str
) -> None:
    store.plan([planned("a", TODAY)], NOW)
    (f,) = store.due(TODAY)
    kw = dict(kw)  # the parameter is shared by the sqlite and postgresql runs
    with pytest.raises(CaseError, match=message):
        store.record_outcome(f.followup_id, kw.pop("who", "王五"), **kw)
    assert store.get(f.followup_id).status == "planned" and store.outcomes() == []


def test_unknown_followup(store: FollowupStore) -> None:
    with pytest.raises(CaseError, match="没有回访 999 / no follow-up 999"):
        store.record_outcome(999, "王五", True, 5)


def test_outcomes_are_append_only(store: FollowupStore, case_engine: sa.Engine) -> None:
    store.plan([planned("a", TODAY)], NOW)
    (f,) = store.due(TODAY)
    store.record_outcome(f.followup_id, "王五", True, 5, at=NOW)
    for statement in (
        sa.update(followup_outcomes).values(satisfaction=1),
        sa.delete(followup_outcomes),
    ):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), case_engine.begin() as con:
            con.execute(statement)
    with case_engine.connect() as con:
        assert con.execute(sa.select(followup_outcomes.c.satisfaction)).scalars().all() == [5]


def test_cancel_and_reopened_case(store: FollowupStore, case_engine: sa.Engine) -> None:
    case_id = open_case(case_engine)
    store.plan(
        [
            planned("a", TODAY),
            planned("k1", TODAY, case_id=case_id),
            planned("k2", date(2025, 10, 9), case_id=case_id),
        ],
        NOW,
    )
    a = next(f for f in store.due(TODAY) if f.case_id is None)
    assert store.cancel(a.followup_id, "王五", "客户要求不再来电").status == "cancelled"
    with pytest.raises(FollowupConflictError, match="cancelled"):
        store.cancel(a.followup_id, "李四")
    assert store.cancel_planned_for_case(case_id, "system", "工单重新打开") == 2
    assert store.due(date(2025, 12, 31)) == []
    with case_engine.connect() as con:
        notes = con.execute(sa.select(followups.c.close_note).order_by(followups.c.plan_key))
        assert notes.scalars().all() == ["客户要求不再来电", "工单重新打开", "工单重新打开"]


def test_watermark(store: FollowupStore) -> None:
    assert store.watermark("case_events") == 0
    store.set_watermark("case_events", 41)
    store.set_watermark("case_events", 12)  # never goes back
    assert store.watermark("case_events") == 41


def test_export_csv_and_xlsx(store: FollowupStore, case_engine: sa.Engine, tmp_path) -> None:
    case_id = open_case(case_engine)
    store.plan(
        [
            planned("old", date(2025, 9, 26), reason="order_day5", customer_id="cust-9"),
            planned("case", TODAY, reason="case_resolved", case_id=case_id, customer_id="cust-1"),
        ],
        NOW,
    )
    items = store.due(TODAY)
    cases = {case_id: CaseStore(case_engine).get(case_id)}
    out = tmp_path / "回访.csv"
    assert export_followups(items, "csv", out, TODAY, cases) == 2
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")  # BOM: Excel reads the Chinese
    frame = pd.read_csv(out, encoding="utf-8-sig")
    assert list(frame.columns[:6]) == [
        "回访编号",
        "应回访日期",
        "逾期天数",
        "负责人",
        "团队",
        "回访原因",
    ]
    assert frame["逾期天数"].tolist() == [4, 0]
    assert frame["回访原因"].tolist() == ["下单后第 5 天回访", "工单解决后回访"]
    assert frame["工单标题"].fillna("").tolist() == ["", "物流慢"]
    buffer = io.BytesIO()
    assert export_followups(items, "xlsx", buffer, TODAY, cases) == 2
    sheet = pd.read_excel(io.BytesIO(buffer.getvalue()), sheet_name="回访清单")
    assert sheet["优先级"].fillna("").tolist() == ["", "P2"]
    with pytest.raises(ValueError, match="unknown export format 'pdf'"):
        export_followups(items, "pdf", out, TODAY)
    assert followup_table([], TODAY).columns[0] == "回访编号"
    records = followup_records(items, TODAY, cases)
    assert [
        (r["due_on"], r["overdue_days"], r["reason_code"], r["status_code"]) for r in records
    ] == [
        ("2025-09-26", 4, "order_day5", "planned"),
        ("2025-09-30", 0, "case_resolved", "planned"),
    ]
    assert records[1]["case_title"] == "物流慢" and records[1]["case_id"] == case_id
    text = owner_digest("王五", items, TODAY)
    assert text.splitlines()[0] == "王五 今日回访 2 个（逾期 1 个） / 2025-09-30"
    assert "逾期 4 天" in text


def test_outcomes_of_many_ids_at_once(store: FollowupStore) -> None:
    store.plan([planned(k, TODAY) for k in ("a", "b", "c")], NOW)
    ids = [f.followup_id for f in store.due(TODAY)]
    for minutes, followup_id in zip((30, 10, 20), ids, strict=True):
        at = NOW.replace(minute=minutes)
        store.record_outcome(followup_id, "王五", True, 5, at=at)
    many = [*range(10_000, 12_000), *ids]  # past any cap on a statement's parameters
    got = store.outcomes(followup_ids=many)
    assert [f.followup_id for f, _ in got] == [ids[1], ids[2], ids[0]]  # oldest first
    assert len(store.outcomes(case_ids=list(range(1, 3000)))) == 0
