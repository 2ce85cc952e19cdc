"""Closed cases, 回访 outcomes and the customers' later voices for the 服务补救 part of the
成效 page: a real SQLite case store where the dashboard looks for it (beside the
warehouse) and rows in the warehouse of `tests.dashboard.service_seed`, with verdicts
worked out by hand (`warehouse.recovery`'s method; windows 30 and 90 days).

B is 200 days and an hour before now; every case opened at B with a negative voice of its
customer, and the closed ones were resolved at B + 2 days:

====  ========  =====  ======  =======  ===================================  ====  ====
case  customer  owner  theme   channel  evidence after the case              30 d  90 d
====  ========  =====  ======  =======  ===================================  ====  ====
K1    r1        王五   物流慢  ticket   回访 satisfaction 5                    R     R
K2    r2        王五   物流慢  ticket   回访 2; tier → 休眠 at B + 20 d        N     N
K3    r3        李四   价格    social   positive voice at B + 10 d             R     R
K4    r4        李四   价格    social   negative voice at B + 50 d             –     N
K5    r5        李四   价格    social   nothing (silent, but resolved)         –     –
K6    r6        李四   价格    social   still in progress (unresolved)
====  ========  =====  ======  =======  ===================================  ====  ====

Rates: 30 days 2 of 3 (王五 1 of 2, 李四 1 of 1); 90 days 2 of 4 = 50 % (Wilson
[15.0 %, 85.0 %]; 王五 1 of 2, 李四 1 of 2). Churn risk (silent 30 days): r2 转为休眠
(未挽回), then r6 沉默 200 days (未解决), then r4 沉默 150 days (未挽回).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from tests.dashboard.service_seed import MODEL
from tests.followup_seed import add_customer, move_segment, open_case, walk
from voc.followup_rules import PlannedFollowup
from warehouse.action_store import actions_path
from warehouse.case_db import connect_store, create_schema
from warehouse.db import warehouse
from warehouse.followup_store import FollowupStore
from warehouse.snapshot import publish_snapshot

#: case → (customer, owner, theme, channel)
CASES = {
    "K1": ("r1", "王五", "物流慢", "ticket"),
    "K2": ("r2", "王五", "物流慢", "ticket"),
    "K3": ("r3", "李四", "价格", "social"),
    "K4": ("r4", "李四", "价格", "social"),
    "K5": ("r5", "李四", "价格", "social"),
    "K6": ("r6", "李四", "价格", "social"),
}
SCORES = {"K1": 5, "K2": 2}


def add_voice(con, doc_id: str, customer_id: str, at: datetime, label: str) -> None:
    """A ticket of `customer_id` at `at`, labelled by the service seed's model (the
    current one: the page and the recovery read the same labels)."""
    text = {"negative": "还是没解决，太失望", "positive": "处理得很好，谢谢"}[label]
    con.execute(
        "INSERT INTO raw_documents (id, source, channel, external_id, text, created_at, "
        "local_day, content_hash, first_run_id, last_run_id) "
        "VALUES (?, 'demo_tickets', 'ticket', ?, ?, ?, ?, ?, 'seed', 'seed')",
        [doc_id, doc_id, text, at, at.date(), doc_id],
    )
    con.execute("INSERT INTO doc_texts VALUES (?, ?, ?, NULL)", [doc_id, text, doc_id])
    con.execute(
        "INSERT INTO doc_sentiment VALUES (?, ?, ?, ?, ?)",
        [
            doc_id,
            MODEL,
            label,
            0.1 if label == "negative" else 0.9,
            datetime(2025, 4, 30, tzinfo=UTC),
        ],
    )
    con.execute(
        "INSERT INTO doc_customers VALUES (?, ?, 'key', '高价值', NULL, NULL, NULL, '李经理')",
        [doc_id, customer_id],
    )


def base_time(now: datetime) -> datetime:
    """B: 200 days and an hour before `now`, to the minute (the page measures to it)."""
    return now.replace(second=0, microsecond=0) - timedelta(days=200, hours=1)


def plant_recovery(db: Path, now: datetime | None = None) -> dict[str, int]:
    """Add the cases (store beside `db`) and voices (warehouse `db`), re-publish the
    snapshot; returns case name → case id."""
    b = base_time(now or datetime.now(UTC))
    engine = connect_store(f"sqlite:///{actions_path(db)}")
    create_schema(engine)
    ids = {}
    for name, (customer, owner, theme, channel) in CASES.items():
        case = open_case(
            engine, f"k-{name}", customer, b, owner=owner, theme_label=theme, channel=channel
        )
        steps = [("in_progress", b + timedelta(hours=2))]
        if name != "K6":
            steps.append(("resolved", b + timedelta(days=2)))
        ids[name] = walk(engine, case, steps).case_id
    store = FollowupStore(engine)
    for name, score in SCORES.items():
        store.plan(
            [
                PlannedFollowup(
                    f"case_resolved:{name}",
                    "case_resolved",
                    (b + timedelta(days=3)).date(),
                    "王五",
                    case_id=ids[name],
                    customer_id=CASES[name][0],
                )
            ],
            b + timedelta(days=2),
        )
        (f,) = store.list_followups(case_ids=[ids[name]])
        store.record_outcome(f.followup_id, "王五", True, score, at=b + timedelta(days=3))
    engine.dispose()
    with warehouse(db) as con:
        for name, (customer, *_) in CASES.items():
            add_customer(con, customer, "高价值")
            add_voice(con, f"k-{name}", customer, b, "negative")
        add_voice(con, "later-r3", "r3", b + timedelta(days=10), "positive")
        add_voice(con, "later-r4", "r4", b + timedelta(days=50), "negative")
        move_segment(con, "r2", (b + timedelta(days=20)).date(), "休眠")
        from warehouse import aggregates

        aggregates.refresh_aggregates(con, MODEL, "Asia/Shanghai", full=True)
    publish_snapshot(db)
    return ids


def dormant_day(now: datetime) -> date:
    """The day r2's tier moved to 休眠."""
    return (base_time(now) + timedelta(days=20)).date()
