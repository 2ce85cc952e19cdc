"""doc_response_times on a real DuckDB file: derived from the saved Zendesk page, the support
mbox thread and complaint timelines; then the analytics on a planted set with
hand-computed medians, p90s, breach rates and outcomes by speed."""

from __future__ import annotations

import json
import math
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from scrapers.complaints import merge_detail, parse_detail_page, parse_list_page
from scrapers.helpdesk import parse_ticket
from scrapers.helpdesk_metrics import metric_sets_by_ticket
from scrapers.mailbox import load_mailbox
from scrapers.parsers import CHINA_TZ
from voc.records import Document, document_id, make_document
from voc.settings import SourceConfig
from warehouse.db import open_warehouse
from warehouse.loaders import upsert_documents
from warehouse.response_times import (
    ResponseFilters,
    outcomes_by_speed,
    refresh_response_times,
    response_time_summary,
    response_time_voices,
    upsert_mail_replies,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "response_times"
SAMPLES = Path(__file__).parents[1] / "scrapers" / "samples"
UTC_Z = "+00:00"


@pytest.fixture
def con(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    con = open_warehouse(tmp_path / "w.duckdb")
    yield con
    con.close()


def _rows(con: duckdb.DuckDBPyConnection, source: str) -> dict[str, tuple]:
    rows = con.execute(
        "SELECT r.external_id, t.first_response_minutes, t.resolution_minutes, "
        "t.first_resolution_minutes, t.business_first_response_minutes, "
        "t.business_resolution_minutes, t.responder, t.origin, t.first_response_at, "
        "t.resolved_at FROM doc_response_times t JOIN raw_documents r ON r.id = t.doc_id "
        "WHERE t.source = ?",
        [source],
    ).fetchall()
    return {r[0]: r[1:] for r in rows}


def test_zendesk_metric_sets_give_reply_and_resolution_only_while_solved(con) -> None:
    page = json.loads((FIXTURES / "zendesk_cursor_metric_sets.json").read_text("utf-8"))
    metrics = metric_sets_by_ticket(page)
    docs = [parse_ticket(t, "zd", "salt", metric_sets=metrics) for t in page["tickets"]]
    upsert_documents(con, docs, "run-1")
    assert refresh_response_times(con, doc_ids=[d.id for d in docs]) == 4
    rows = _rows(con, "zd")
    solved = rows["35501"]
    assert solved[:7] == (95.0, 2880.0, 1440.0, 60.0, 960.0, "90021734", "zendesk_metrics")
    assert solved[7] == datetime.fromisoformat("2024-03-04T02:47:09" + UTC_Z)  # created + 95'
    assert solved[8] == datetime.fromisoformat("2024-03-06T01:12:09" + UTC_Z)  # solved_at
    assert rows["35502"][:5] == (1800.0, None, None, 540.0, None)  # open: not resolved
    assert rows["35503"][:7] == (None, None, None, None, None, None, "zendesk_metrics")
    # Solved once, reopened: the solve's minutes stay in Zendesk, the ticket is open again.
    reopened = rows["35504"]
    assert (reopened[0], reopened[1], reopened[2], reopened[8]) == (20.0, None, 1500.0, None)
    # Re-deriving is idempotent.
    assert refresh_response_times(con, sources=["zd"]) == 4
    assert _rows(con, "zd") == rows


def test_mail_first_reply_comes_from_our_domain_even_in_a_later_run(con) -> None:
    source = SourceConfig(
        "support_mail",
        "mailbox",
        str(FIXTURES / "support_thread_2024-03.mbox"),
        {"our_domains": ["kesheng.cn"]},
    )

    def run(since: date, until: date, run_id: str) -> None:
        load = load_mailbox(source, since, until, "salt")
        upsert_documents(con, load.documents, run_id)
        upsert_mail_replies(con, load.replies, run_id)
        refresh_response_times(
            con,
            doc_ids=[d.id for d in load.documents],
            reply_refs=[ref for r in load.replies for ref in r.refs],
        )

    a, c, e = (
        "20240304090000.1001@example.cn",
        "20240305100000.1002@example.cn",
        "20240306110000.2001@example.cn",
    )
    run(date(2024, 3, 1), date(2024, 3, 5), "run-1")
    rows = _rows(con, "support_mail")
    # 09:00 → our reply at 15:30 (the auto-acknowledgement at 09:00:40 does not count).
    assert rows[a][0] == 390.0 and rows[a][5] == "li.wei@kesheng.cn"
    assert rows[c][0] is None  # the follow-up is not answered yet
    run(date(2024, 3, 6), date(2024, 3, 7), "run-2")
    rows = _rows(con, "support_mail")
    # The second reply (next run) answers the follow-up: 05 10:00 → 06 18:00 = 32 h.
    assert rows[c][0] == 1920.0 and rows[c][5] == "chen.jing@kesheng.cn"
    assert rows[a][0] == 390.0  # still the first reply, not the later one naming it too
    assert rows[e][0] is None and rows[e][6] == "mail_thread"
    assert {r[1] for r in rows.values()} == {None}  # mail has no resolution
    run(date(2024, 3, 6), date(2024, 3, 7), "run-3")
    assert _rows(con, "support_mail") == rows
    assert con.execute("SELECT count(*) FROM mail_replies").fetchone()[0] == 2


def test_complaint_steps_give_reply_and_completion_minutes(con) -> None:
    records, _, _ = parse_list_page(
        json.loads((SAMPLES / "complaints_list_p1.json").read_text("utf-8")), datetime.now()
    )
    html = (SAMPLES / "complaints_detail_17359012345.html").read_text("utf-8")
    merged = merge_detail(records[0], parse_detail_page(html, "", datetime.now())[0])
    listed_only = records[1]  # no timeline read: not response-tracked
    docs = [
        make_document(source="heimao", channel="social", author_salt="s", **r)
        for r in (
            {k: v for k, v in merged.items() if k != "customer"},
            {k: v for k, v in listed_only.items() if k != "customer"},
        )
    ]
    upsert_documents(con, docs, "run-1")
    refresh_response_times(con, sources=["heimao"])
    rows = _rows(con, "heimao")
    # 03-03 12:30 → 商家已回复 03-04 10:20 (21 h 50) → 已完成 03-05 09:00 (44 h 30).
    assert list(rows) == ["17359012345"]
    assert rows["17359012345"][:2] == (1310.0, 2670.0)
    assert rows["17359012345"][6] == "complaint_steps"


# -- analytics on a planted set ------------------------------------------------------------

T0 = datetime(2024, 3, 1, 0, 0, tzinfo=CHINA_TZ)
NOW = datetime(2024, 4, 1, 0, 0, tzinfo=CHINA_TZ)


def _ticket(key: str, hours: float, reply: float | None, bmin: float | None, full: float | None):
    attributes = {"response_origin": "zendesk_metrics", "status": "solved" if full else "open"}
    for name, value in (
        ("reply_minutes", reply),
        ("reply_business_minutes", bmin),
        ("full_resolution_minutes", full),
    ):
        if value is not None:
            attributes[name] = value
    return make_document(
        source="zd",
        channel="ticket",
        external_id=key,
        text=f"工单 {key}",
        created_at=T0 + timedelta(hours=hours),
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
        text=f"投诉 {key}",
        created_at=opened,
        attributes={
            "response_origin": "complaint_steps",
            "replied_at": at(reply),
            "completed_at": at(done),
        },
    )


def _voice(key: str, day: date) -> Document:
    return make_document(
        source="reviews",
        channel="review",
        external_id=key,
        text=f"评价 {key}",
        created_at=datetime(day.year, day.month, day.day, 12, tzinfo=CHINA_TZ),
    )


#: key → (customer, segment, owner) of the linked voices.
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
    "v6": ("cust4", "高价值", "张三"),
}
NEGATIVE = {"t1", "t2", "t3", "t4", "c1", "c2", "v2", "v4", "v5", "v6"}
THEMES = {"t1": "th1", "t2": "th1", "t3": "th2", "c2": "th2"}
#: (customer, submitted, nps) of the linked survey answers.
ANSWERS = [
    ("cust1", date(2024, 3, 20), 9),
    ("cust2", date(2024, 3, 25), 10),
    ("cust2", date(2024, 2, 1), 3),  # before every voice: not "later"
    ("cust4", date(2024, 3, 22), 2),
    ("cust3", date(2024, 4, 10), 5),
]


@pytest.fixture
def planted(con) -> duckdb.DuckDBPyConnection:
    docs = [
        _ticket("t1", 0, 60, 30, 600),
        _ticket("t2", 1, 120, 60, 1200),
        _ticket("t3", 2, 1500, 500, None),  # answered after 25 h: a breach
        _ticket("t4", 24, None, None, None),  # never answered, long overdue
        _ticket("t5", 30 * 24 + 20, None, None, None),  # 4 h old at NOW: pending
        _complaint("c1", 3, 600, 3000),
        _complaint("c2", 4, 3000, None),
        _complaint("c3", 48, None, None),
        _voice("v1", date(2024, 3, 10)),
        _voice("v2", date(2024, 3, 12)),
        _voice("v3", date(2024, 3, 15)),
        _voice("v4", date(2024, 3, 20)),
        _voice("v5", date(2024, 3, 20)),
        _voice("v6", date(2024, 7, 1)),  # past the 90-day window
    ]
    upsert_documents(con, docs, "run-1")
    refresh_response_times(con, sources=["zd", "heimao"])
    ids = {d.external_id: d.id for d in docs}
    for key, (customer, segment, owner) in LINKS.items():
        con.execute(
            "INSERT INTO doc_customers VALUES (?, ?, 'key', ?, NULL, NULL, NULL, ?)",
            [ids[key], customer, segment, owner],
        )
    for key in ids:
        label = "negative" if key in NEGATIVE else "positive"
        con.execute("INSERT INTO doc_sentiment VALUES (?, 'm1', ?, 0.9, now())", [ids[key], label])
    for theme, label in (("th1", "退款慢"), ("th2", "物流延误")):
        con.execute(
            "INSERT INTO tracked_themes VALUES (?, '{}', 1, [], [], ?, 1, 1, 1.0, NULL, NULL, "
            "'new', 'r', 'r', NULL)",
            [theme, label],
        )
    for key, theme in THEMES.items():
        con.execute("INSERT INTO doc_themes VALUES (?, ?, 'tm', 0.5)", [ids[key], theme])
    for n, (customer, day, nps) in enumerate(ANSWERS):
        rid = document_id("survey", str(n))
        con.execute(
            "INSERT INTO survey_responses VALUES (?, 'survey', ?, NULL, ?, ?, ?, NULL, 'r', 'r')",
            [rid, str(n), datetime(day.year, day.month, day.day, 12, tzinfo=CHINA_TZ), day, nps],
        )
        con.execute(
            "INSERT INTO response_customers VALUES (?, ?, NULL, NULL, NULL, NULL, NULL)",
            [rid, customer],
        )
    return con


def _by(frame, column: str) -> dict:
    return {row[column]: row for row in frame.to_dict("records")}


def test_summary_by_channel_has_median_p90_and_breach_rate(planted) -> None:
    rows = _by(response_time_summary(planted, "channel", now=NOW), "channel")
    ticket = rows["ticket"]
    assert (ticket["n_voices"], ticket["n_answered"], ticket["n_resolved"]) == (5, 3, 2)
    assert ticket["first_response_median"] == 120.0
    assert ticket["first_response_p90"] == pytest.approx(120 + 0.8 * (1500 - 120))
    assert ticket["business_first_response_median"] == 60.0
    assert math.isnan(ticket["business_resolution_median"])  # none planted: NaN, not 0
    assert (ticket["resolution_median"], ticket["resolution_p90"]) == (900.0, 1140.0)
    # Due: t1, t2, t3 (answered) and t4 (overdue); t5 is 4 h old. Breached: t3, t4.
    assert (ticket["n_due"], ticket["n_breached"], ticket["breach_rate"]) == (4, 2, 0.5)
    social = rows["social"]
    assert (social["first_response_median"], social["first_response_p90"]) == (1800.0, 2760.0)
    assert (social["n_due"], social["n_breached"]) == (3, 2)
    assert social["breach_rate"] == pytest.approx(2 / 3)
    assert social["resolution_median"] == 3000.0
    overall = response_time_summary(planted, None, now=NOW).to_dict("records")
    assert [(r["group"], r["n_voices"], r["n_breached"]) for r in overall] == [("全部", 8, 4)]


def test_summary_by_theme_segment_and_owner(planted) -> None:
    theme = _by(response_time_summary(planted, "theme", now=NOW), "theme")
    assert {k: (v["n_due"], v["n_breached"]) for k, v in theme.items()} == {
        "退款慢": (2, 0),
        "物流延误": (2, 2),
        None: (3, 2),  # t4, c1, c3 due (t5 pending); t4 and c3 breached
    }
    segment = _by(response_time_summary(planted, "segment", now=NOW), "segment")
    assert {k: (v["n_voices"], v["n_due"], v["n_breached"]) for k, v in segment.items()} == {
        "高价值": (3, 3, 2),
        "一般": (3, 3, 1),
        None: (2, 1, 1),
    }
    owner = _by(response_time_summary(planted, "owner", now=NOW), "owner")
    assert {k: v["breach_rate"] for k, v in owner.items()} == {
        "张三": pytest.approx(2 / 3),
        "李四": 0.5,
        "王五": 0.0,
        None: 1.0,
    }
    # A higher threshold: only the never-answered are breaches.
    loose = _by(response_time_summary(planted, "channel", 4000, now=NOW), "channel")
    assert (loose["ticket"]["n_breached"], loose["social"]["n_breached"]) == (1, 1)


def test_filters_narrow_the_voices(planted) -> None:
    social = response_time_summary(
        planted, "channel", filters=ResponseFilters(channels=("social",)), now=NOW
    )
    assert list(social["channel"]) == ["social"]
    first_day = response_time_summary(
        planted, None, filters=ResponseFilters(end=date(2024, 3, 1)), now=NOW
    )
    assert first_day["n_voices"].tolist() == [5]  # t1, t2, t3, c1, c2
    high = response_time_summary(
        planted, "source", filters=ResponseFilters(segments=("高价值",), owners=("张三",)), now=NOW
    )
    assert dict(zip(high["source"], high["n_voices"], strict=True)) == {"zd": 2, "heimao": 1}


def test_unknown_dimension_is_refused_with_the_known_ones(planted) -> None:
    with pytest.raises(ValueError, match=r"unknown dimension.*channel, source"):
        response_time_summary(planted, "weather")


def test_outcomes_compare_answered_within_24h_with_later_and_unanswered(planted) -> None:
    rows = _by(outcomes_by_speed(planted, now=NOW, min_n=1), "speed")
    within, later, unanswered = rows["within"], rows["later"], rows["unanswered"]
    # within: t1 (later voices t3-, v1+, v2-), t2 (c1-, v3+), c1 (v3+) → 3 of 6 negative.
    assert (within["n_voices"], within["n_customers"], within["n_later_voices"]) == (3, 2, 6)
    assert (within["n_later_negative"], within["negative_share"]) == (3, 0.5)
    assert within["negative_low"] < 0.5 < within["negative_high"]
    # later: t3 (v1+, v2-), c2 (v5-; v6 is past 90 days) → 2 of 3.
    assert (later["n_voices"], later["n_later_voices"], later["n_later_negative"]) == (2, 3, 2)
    assert later["negative_share"] == pytest.approx(2 / 3)
    assert (unanswered["n_voices"], unanswered["negative_share"]) == (1, 1.0)
    # Later NPS: within 9, 10, 10 → 100; later 9 and 2 → 0; unanswered 5 → −100.
    assert (within["n_nps"], within["nps"]) == (3, 100.0)
    assert (later["n_nps"], later["nps"]) == (2, 0.0)
    assert (unanswered["n_nps"], unanswered["nps"]) == (1, -100.0)
    assert within["nps_enough"]
    # With the default minimum of 30 answers the numbers are flagged as too few.
    assert not _by(outcomes_by_speed(planted, now=NOW), "speed")["within"]["nps_enough"]
    # A shorter window drops the answers of 03-20 onwards for the voices of 03-01.
    short = _by(outcomes_by_speed(planted, window_days=14, now=NOW, min_n=1), "speed")
    assert short["within"]["n_nps"] == 0 and short["within"]["n_later_voices"] == 4


def test_a_step_dated_before_the_voice_counts_as_zero_minutes_not_negative(con) -> None:
    early = _complaint("early", 0, -10, None)  # the list's time is after its reply step
    upsert_documents(con, [early], "run-1")
    refresh_response_times(con, doc_ids=[early.id])
    assert _rows(con, "heimao")["early"][:2] == (0.0, None)


def test_breached_voices_list_the_unanswered_oldest_first_then_the_slowest(planted) -> None:
    frame = response_time_voices(planted, now=NOW)
    by_id = dict(planted.execute("SELECT id, external_id FROM raw_documents").fetchall())
    assert [by_id[d] for d in frame.doc_id] == ["t4", "c3", "c2", "t3"]
    assert list(frame.speed) == ["unanswered", "unanswered", "later", "later"]
    assert frame.text.iloc[0] == "工单 t4" and frame.theme.iloc[3] == "物流延误"
    pending = response_time_voices(planted, now=NOW, speeds=("pending",))
    assert [by_id[d] for d in pending.doc_id] == ["t5"]
    assert len(response_time_voices(planted, now=NOW, limit=1)) == 1


def test_freshdesk_stats_give_first_response_and_resolution(con) -> None:
    """The Freshdesk sample's stats: ticket 101 answered 2 h 47 min after it was opened
    and resolved the next day; 102 not answered yet (counted as unanswered, not absent)."""
    from scrapers.freshdesk import parse_ticket as parse_freshdesk
    from scrapers.helpdesk import _Config

    config = _Config("https://acme.freshdesk.com", "", 100, 1, 0, 1, 0, 1, None, {}, (), None)
    tickets = json.loads((SAMPLES / "freshdesk_tickets.json").read_text("utf-8"))[:2]
    docs = [parse_freshdesk(t, "fd", "salt", config) for t in tickets]
    upsert_documents(con, docs, "run-1")
    assert refresh_response_times(con, doc_ids=[d.id for d in docs]) == 2
    rows = _rows(con, "fd")
    answered = rows["101"]
    assert answered[0] == 167.0  # 02:15 → 05:02
    assert (
        answered[1]
        == (datetime(2024, 3, 2, 6, 40, 12) - datetime(2024, 3, 1, 2, 15)).total_seconds() / 60
    )
    assert answered[6] == "helpdesk_stats"
    assert answered[7] == datetime.fromisoformat("2024-03-01T05:02:00" + UTC_Z)
    assert rows["102"][0] is None and rows["102"][6] == "helpdesk_stats"
