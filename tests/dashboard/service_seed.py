"""A warehouse of voices with planted response times for the 成效 page and ``voc cases
times``: loaded by the real loader and `warehouse.response_times.refresh_response_times`,
with numbers a reader can check by hand (threshold 24 h = 1440 min).

Zendesk tickets (source ``zd``, channel ticket; attributes as the metric-set side-load
sets them), from T0 = 2025-03-01 00:00 Beijing time:

======  =======  ============  ===========  =========================  ==============
ticket  opened   first reply   resolution   customer (segment, owner)  theme
======  =======  ============  ===========  =========================  ==============
t1      T0       60 min        600 min      cust1 (高价值, 张三)        退款慢
t2      T0+1h    120 min       1200 min     cust2 (一般, 李四)          退款慢
t3      T0+2h    1500 (late)   open         cust1 (高价值, 张三)        物流延误
t4      T0+24h   none (overdue)             cust3 (一般, 李四)
t5      T0+5h    30 min        300 min      not linked
p1      now−2h   none (pending)             not linked
======  =======  ============  ===========  =========================  ==============

Complaints (source ``heimao``, channel social, 商家回复 / 已完成 steps): c1 T0+3h reply 600
done 3000 (cust2, 一般, 王五); c2 T0+4h reply 3000 (late), not done (cust4, 高价值, 张三,
物流延误); c3 T0+48h no reply (overdue, not linked).

Hand-computed (interpolated quantiles, March only, p1 outside):
- tickets: first responses 30, 60, 120, 1500 → median 90 (1.5 h), p90 120 + 0.7 × 1380 =
  1086 (18.1 h); resolutions 300, 600, 1200 → median 600 (10.0 h), p90 1080 (18.0 h);
  due 5, breached t3, t4 → 40 %.
- complaints: 600, 3000 → median 1800 (30.0 h), p90 2760 (46.0 h); due 3, breached 2.
- all: 30, 60, 120, 600, 1500, 3000 → median 360 (6.0 h), p90 2250 (37.5 h); resolutions
  300, 600, 1200, 3000 → median 900 (15.0 h), p90 2460 (41.0 h); 4 of 8 breached (50 %,
  Wilson 95 % [21.5 %, 78.5 %]).

Later voices (reviews, linked): v1 cust1 03-10 positive, v2 cust1 03-12 negative, v3 cust2
03-15 positive, v4 cust3 03-20 negative, v5 cust4 03-20 negative; every ticket and complaint
is negative. Outcomes by speed (90 days): within (t1, t2, c1): later voices t3, v1, v2 |
c1, v3 | v3 → 3 of 6 negative (50 %); later (t3, c2): v1, v2 | v5 → 2 of 3; unanswered
(t4): v4 → 1 of 1. Later NPS (cust1 03-20: 9, cust2 03-25: 10, cust4 03-22: 2, cust3
04-10: 5): within 9, 10, 10 → 100; later 9, 2 → 0; unanswered 5 → −100.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from scrapers.parsers import CHINA_TZ
from voc.records import Document, document_id, make_document
from warehouse.db import warehouse
from warehouse.loaders import upsert_documents
from warehouse.response_times import refresh_response_times
from warehouse.snapshot import publish_snapshot

MODEL = "seed-model-v1"
T0 = datetime(2025, 3, 1, 0, 0, tzinfo=CHINA_TZ)
START, END = date(2025, 3, 1), date(2025, 3, 31)

#: key → (customer, segment, owner).
LINKS = {
    "t1": ("cust1", "高价值", "张三"),
    "t2": ("cust2", "一般", "李四"),
    "t3": ("cust1", "高价值", "张三"),
    "t4": ("cust3", "一般", "李四"),
    "c1": ("cust2", "一般", "王五"),
    "c2": ("cust4", "高价值", "张三"),
    "v1": ("cust1", "高价值", "张三"),
    "v2": ("cust1", "高价值", "张三"),
    "v3": ("cust2", "一般", "李四"),
    "v4": ("cust3", "一般", "李四"),
    "v5": ("cust4", "高价值", "张三"),
}
POSITIVE = {"t5", "p1", "v1", "v3"}
THEMES = {"t1": "th1", "t2": "th1", "t3": "th2", "c2": "th2"}
THEME_LABELS = {"th1": "退款慢", "th2": "物流延误"}
#: (customer, submitted, nps) of the linked survey answers.
ANSWERS = [
    ("cust1", date(2025, 3, 20), 9),
    ("cust2", date(2025, 3, 25), 10),
    ("cust4", date(2025, 3, 22), 2),
    ("cust3", date(2025, 4, 10), 5),
]
#: The texts of the voices (masked text as stored).
TEXTS = {
    "t1": "退款一直没到账",
    "t2": "退款进度查不到",
    "t3": "快递三天没动",
    "t4": "客服一直不回复",
    "t5": "发票开错了",
    "p1": "想改收货地址",
    "c1": "商家拖延退款",
    "c2": "物流严重延误",
    "c3": "投诉无人处理",
}


#: Zendesk's business-hours minutes to the first reply (median 10, 30, 60, 500 → 45).
BUSINESS = {"t1": 30, "t2": 60, "t3": 500, "t5": 10}


def _ticket(key: str, opened: datetime, reply: float | None, full: float | None) -> Document:
    attributes: dict = {
        "response_origin": "zendesk_metrics",
        "status": "solved" if full else "open",
    }
    if reply is not None:
        attributes["reply_minutes"] = reply
        attributes["reply_business_minutes"] = BUSINESS[key]
    if full is not None:
        attributes["full_resolution_minutes"] = full
    return make_document(
        source="zd",
        channel="ticket",
        external_id=key,
        text=TEXTS[key],
        created_at=opened,
        url=f"https://kesheng.zendesk.com/agent/tickets/{key}",
        attributes=attributes,
    )


def _complaint(key: str, hours: float, reply: float | None, done: float | None) -> Document:
    opened = T0 + timedelta(hours=hours)

    def at(minutes: float | None) -> str | None:
        return None if minutes is None else (opened + timedelta(minutes=minutes)).isoformat()

    return make_document(
        source="heimao",
        channel="social",
        external_id=key,
        text=TEXTS[key],
        created_at=opened,
        url="javascript:alert(1)" if key == "c3" else None,
        attributes={
            "response_origin": "complaint_steps",
            "replied_at": at(reply),
            "completed_at": at(done),
        },
    )


def _review(key: str, day: date) -> Document:
    return make_document(
        source="reviews",
        channel="review",
        external_id=key,
        text=f"评价 {key}",
        created_at=datetime(day.year, day.month, day.day, 12, tzinfo=CHINA_TZ),
    )


def documents(now: datetime) -> list[Document]:
    """The planted voices (the pending ticket two hours before `now`)."""
    return [
        _ticket("t1", T0, 60, 600),
        _ticket("t2", T0 + timedelta(hours=1), 120, 1200),
        _ticket("t3", T0 + timedelta(hours=2), 1500, None),
        _ticket("t4", T0 + timedelta(hours=24), None, None),
        _ticket("t5", T0 + timedelta(hours=5), 30, 300),
        _ticket("p1", now - timedelta(hours=2), None, None),
        _complaint("c1", 3, 600, 3000),
        _complaint("c2", 4, 3000, None),
        _complaint("c3", 48, None, None),
        _review("v1", date(2025, 3, 10)),
        _review("v2", date(2025, 3, 12)),
        _review("v3", date(2025, 3, 15)),
        _review("v4", date(2025, 3, 20)),
        _review("v5", date(2025, 3, 20)),
    ]


def build_service_warehouse(path: Path, now: datetime | None = None) -> dict[str, str]:
    """Create the warehouse at `path` and publish its snapshot; returns key → doc id."""
    now = now or datetime.now(UTC)
    docs = documents(now)
    ids = {d.external_id: d.id for d in docs}
    scored = datetime(2025, 4, 30, tzinfo=UTC)
    with warehouse(path) as con:
        upsert_documents(con, docs, "seed")
        refresh_response_times(con, sources=["zd", "heimao"])
        for d in docs:
            key = d.external_id
            con.execute("INSERT INTO doc_texts VALUES (?, ?, ?, NULL)", [d.id, d.text, d.id])
            label = "positive" if key in POSITIVE else "negative"
            con.execute(
                "INSERT INTO doc_sentiment VALUES (?, ?, ?, ?, ?)",
                [d.id, MODEL, label, 0.9 if label == "positive" else 0.1, scored],
            )
        for key, (customer, segment, owner) in LINKS.items():
            con.execute(
                "INSERT INTO doc_customers VALUES (?, ?, 'key', ?, NULL, NULL, NULL, ?)",
                [ids[key], customer, segment, owner],
            )
        for theme, label in THEME_LABELS.items():
            con.execute(
                "INSERT INTO tracked_themes VALUES (?, '{}', 1, [], [], ?, 1, 1, 1.0, NULL, NULL, "
                "'new', 'seed', 'seed', NULL)",
                [theme, label],
            )
        for key, theme in THEMES.items():
            con.execute(
                "INSERT INTO doc_themes VALUES (?, ?, 'seed-themes', 0.5)", [ids[key], theme]
            )
        for n, (customer, day, nps) in enumerate(ANSWERS):
            rid = document_id("survey", str(n))
            submitted = datetime(day.year, day.month, day.day, 12, tzinfo=CHINA_TZ)
            con.execute(
                "INSERT INTO survey_responses VALUES (?, 'survey', ?, NULL, ?, ?, ?, NULL, 'seed', "
                "'seed')",
                [rid, str(n), submitted, day, nps],
            )
            con.execute(
                "INSERT INTO response_customers VALUES (?, ?, NULL, NULL, NULL, NULL, NULL)",
                [rid, customer],
            )
        from warehouse import aggregates, customer_aggregates

        aggregates.refresh_aggregates(con, MODEL, "Asia/Shanghai", full=True)
        customer_aggregates.refresh_customer_aggregates(con)
    publish_snapshot(path)
    return ids
