"""A small warehouse of customers, survey responses and linked voices for the satisfaction
tests (warehouse and 客户 page), built by the real migrations with numbers a reader can
check by hand. `response_customers` is created here exactly as `warehouse.customers`
defines it when the warehouse does not have it yet.

Customers: H01–H40 高价值 (上海, 王经理), G01–G45 一般 (广东, 李经理), D01–D05 休眠, and M01
who moved from 一般 (北京, 李经理) to 高价值 (北京, 王经理) on 2025-02-15.

Survey responses (NPS; CSAT is 5 for promoters, 4 for passives, 2 for detractors):
- January: 高价值 H01–H40: 24 promoters, 10 passives, 6 detractors (NPS 45);
  一般 G01–G40: 16 / 16 / 8 (NPS 20); the 5 一般 detractors G36–G40 mention 价格.
- February: 高价值: H01–H10 promoters, H11–H20 passives, H21–H40 detractors (NPS −25), every
  detractor's answer about 物流慢 (theme, negative aspect 物流, category 物流配送); 一般 as in
  January but without answers.
- March: 5 一般 (G41–G45): 2 / 2 / 1 (样本不足).
Voices besides the answers (helpdesk tickets): H01 5 negative + 1 positive and H02 2
negative in February; G01 3 negative + 1 neutral in January; M01 2 negative in January (as
一般), 1 negative in February (as 高价值), 1 positive in March.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from warehouse.db import warehouse
from warehouse.snapshot import publish_snapshot

MODEL = "seed-model-v1"
ASPECT_MODEL = "seed-aspects-v1"
THEME = "theme-logistics"
THEME_LABEL = "物流慢"
RAW_PHONE = "13800138000"  # never written anywhere: the page must not show raw keys
HIGH, NORMAL, DORMANT = "高价值", "一般", "休眠"

RESPONSE_CUSTOMERS = """
CREATE TABLE IF NOT EXISTS response_customers (
    response_id   VARCHAR PRIMARY KEY,
    customer_id   VARCHAR NOT NULL,
    segment       VARCHAR,
    province      VARCHAR,
    city          VARCHAR,
    acquisition   VARCHAR,
    owner         VARCHAR
)
"""


def cid(name: str) -> str:
    """The seed's stand-in for a hashed customer id."""
    return f"c-{name.lower()}-7f3a"


def _attrs(name: str, day: date) -> tuple[str, str, str, str, str]:
    """(segment, province, city, acquisition, owner) of a customer on a day."""
    if name.startswith("H"):
        return HIGH, "上海", "上海", "CALL IN", "王经理"
    if name.startswith("G"):
        return NORMAL, "广东", "广州", "广告", "李经理"
    if name.startswith("D"):
        return DORMANT, "浙江", "杭州", "自主开发", "赵经理"
    if day < date(2025, 2, 15):
        return NORMAL, "北京", "北京", "老客户推荐", "李经理"
    return HIGH, "北京", "北京", "老客户推荐", "王经理"


def _responses() -> list[dict]:
    out = []

    def add(name: str, day: date, nps: int, mention: str | None, text: str | None) -> None:
        csat = 5 if nps >= 9 else 4 if nps >= 7 else 2
        out.append(
            {
                "id": f"r-{day:%m}-{name}",
                "name": name,
                "day": day,
                "nps": nps,
                "csat": csat,
                "mention": mention,
                "text": text,
            }
        )

    for i in range(1, 41):
        name, day = f"H{i:02d}", date(2025, 1, 5) + timedelta(days=i % 20)
        nps = 10 if i <= 24 else 8 if i <= 34 else 3
        add(name, day, nps, None, "服务很好，很满意" if i <= 24 else None)
    for i in range(1, 41):
        name, day = f"G{i:02d}", date(2025, 1, 5) + timedelta(days=i % 20)
        nps = 9 if i <= 16 else 7 if i <= 32 else 5
        add(name, day, nps, "价格" if i > 35 else None, "价格太贵了" if i > 35 else None)
    for i in range(1, 41):
        name, day = f"H{i:02d}", date(2025, 2, 3) + timedelta(days=i % 20)
        nps = 9 if i <= 10 else 7 if i <= 20 else 2
        add(
            name,
            day,
            nps,
            "logistics" if i > 20 else None,
            "物流太慢，等了一周" if i > 20 else None,
        )
    for i in range(1, 41):
        name, day = f"G{i:02d}", date(2025, 2, 3) + timedelta(days=i % 20)
        add(name, day, 9 if i <= 16 else 7 if i <= 32 else 5, None, None)
    for i, nps in zip(range(41, 46), (10, 9, 8, 7, 1), strict=True):
        add(f"G{i:02d}", date(2025, 3, 10), nps, None, None)
    return out


def _voices() -> list[tuple[str, date, str]]:
    """(customer, day, label) of the helpdesk tickets."""
    feb, jan = date(2025, 2, 10), date(2025, 1, 12)
    return (
        [("H01", feb + timedelta(days=k), "negative") for k in range(5)]
        + [("H01", feb, "positive")]
        + [("H02", feb, "negative"), ("H02", feb + timedelta(days=1), "negative")]
        + [("G01", jan + timedelta(days=k), "negative") for k in range(3)]
        + [("G01", jan, "neutral")]
        + [("M01", jan, "negative"), ("M01", jan + timedelta(days=2), "negative")]
        + [("M01", date(2025, 2, 20), "negative"), ("M01", date(2025, 3, 3), "positive")]
    )


TEXTS = {"negative": "客服一直不回复，太失望了", "neutral": "问一下发票", "positive": "处理得很快"}


def _doc(con, doc_id: str, source: str, channel: str, text: str, day: date, label: str) -> None:
    created = datetime(day.year, day.month, day.day, 2, tzinfo=UTC)
    con.execute(
        "INSERT INTO raw_documents (id, source, channel, external_id, text, created_at, "
        "local_day, content_hash, first_run_id, last_run_id, customer_key) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'seed', 'seed', 'hashed-key')",
        [doc_id, source, channel, doc_id, text, created, day, doc_id],
    )
    con.execute("INSERT INTO doc_texts VALUES (?, ?, ?, NULL)", [doc_id, text, doc_id])
    score = {"negative": 0.1, "neutral": 0.5, "positive": 0.9}[label]
    con.execute(
        "INSERT INTO doc_sentiment VALUES (?, ?, ?, ?, ?)",
        [doc_id, MODEL, label, score, datetime(2025, 3, 31, tzinfo=UTC)],
    )


def _link(con, doc_id: str, name: str, day: date) -> None:
    con.execute(
        "INSERT INTO doc_customers VALUES (?, ?, 'key', ?, ?, ?, ?, ?)",
        [doc_id, cid(name), *_attrs(name, day)],
    )


def _customers(con: duckdb.DuckDBPyConnection) -> None:
    names = [f"H{i:02d}" for i in range(1, 41)] + [f"G{i:02d}" for i in range(1, 46)]
    names += [f"D{i:02d}" for i in range(1, 6)] + ["M01"]
    now = datetime(2025, 3, 31, tzinfo=UTC)
    for name in names:
        attrs = _attrs(name, date(2025, 3, 31))
        con.execute(
            "INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, 3, 100.0, 'i1', 'i2', ?)",
            [cid(name), *attrs, now],
        )
        if name == "M01":
            old = _attrs(name, date(2025, 1, 1))
            con.execute(
                "INSERT INTO customer_segments VALUES (?, NULL, '2025-02-15', ?, ?, ?, ?, ?, 'i1')",
                [cid(name), *old],
            )
            con.execute(
                "INSERT INTO customer_segments VALUES (?, '2025-02-15', NULL, ?, ?, ?, ?, ?, 'i2')",
                [cid(name), *attrs],
            )
        else:
            con.execute(
                "INSERT INTO customer_segments VALUES (?, NULL, NULL, ?, ?, ?, ?, ?, 'i1')",
                [cid(name), *attrs],
            )


def build_customer_warehouse(path: Path) -> Path:
    """Create the warehouse at `path`, publish its snapshot; returns `path`."""
    with warehouse(path) as con:
        con.execute(RESPONSE_CUSTOMERS)
        _customers(con)
        scored = datetime(2025, 3, 31, tzinfo=UTC)
        con.execute(
            "INSERT INTO tracked_themes VALUES (?, '{}', 20, ['物流'], ['物流太慢'], ?, 20, 20,"
            " 1.0, '2025-02-01', '2025-02-28', 'new', 'seed', 'seed', NULL)",
            [THEME, THEME_LABEL],
        )
        for r in _responses():
            created = datetime(r["day"].year, r["day"].month, r["day"].day, 3, tzinfo=UTC)
            con.execute(
                "INSERT INTO survey_responses VALUES (?, 'nps_survey', ?, 'hashed-key', ?, ?, ?,"
                " ?, 'seed', 'seed')",
                [r["id"], r["id"], created, r["day"], r["nps"], r["csat"]],
            )
            con.execute(
                "INSERT INTO response_customers VALUES (?, ?, ?, ?, ?, ?, ?)",
                [r["id"], cid(r["name"]), *_attrs(r["name"], r["day"])],
            )
            if r["text"] is None:
                continue
            doc_id = "a-" + r["id"]
            label = "positive" if r["nps"] >= 9 else "negative"
            _doc(con, doc_id, "nps_survey", "survey", r["text"], r["day"], label)
            _link(con, doc_id, r["name"], r["day"])
            con.execute(
                "INSERT INTO survey_answers VALUES (?, ?, '不满意的原因')", [doc_id, r["id"]]
            )
            if r["mention"] == "logistics":
                con.execute(
                    "INSERT INTO doc_themes VALUES (?, ?, 'seed-themes', 0.8)", [doc_id, THEME]
                )
                con.execute(
                    "INSERT INTO doc_aspects VALUES (?, '物流', 'negative', 0.1, 0.9, ?, ?, ?)",
                    [doc_id, r["text"], ASPECT_MODEL, scored],
                )
                con.execute(
                    "INSERT INTO doc_categories"
                    " VALUES (?, '物流配送', 'keyword', '物流', 1.0, 't1')",
                    [doc_id],
                )
            elif r["mention"] == "价格":
                con.execute(
                    "INSERT INTO doc_categories VALUES (?, '价格', 'keyword', '贵', 1.0, 't1')",
                    [doc_id],
                )
        for k, (name, day, label) in enumerate(_voices()):
            doc_id = f"t-{k:02d}"
            _doc(con, doc_id, "helpdesk", "ticket", f"{TEXTS[label]}（{k}）", day, label)
            _link(con, doc_id, name, day)
        con.execute(
            "INSERT INTO doc_stage_state SELECT DISTINCT 'aspects', doc_id, doc_id, ?, '', 1, ? "
            "FROM doc_aspects",
            [ASPECT_MODEL, scored],
        )
        from warehouse import aggregates, customer_aggregates

        aggregates.refresh_aggregates(con, MODEL, "Asia/Shanghai", full=True)
        customer_aggregates.refresh_customer_aggregates(con)
    publish_snapshot(path)
    return path
