"""Builders for the 回访 and recovery tests: cases walked through the workflow at chosen
times (real `CaseStore`), and warehouse rows (customers, keys, segment history, voices,
survey answers) written with the real migrations' columns."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

import duckdb
import sqlalchemy as sa

from voc.cases import Case, CaseOpening, CaseVoice
from warehouse.case_store import CaseStore

MODEL = "seed-sentiment-v1"
RESPONSE_CUSTOMERS = """
CREATE TABLE IF NOT EXISTS response_customers (
    response_id VARCHAR PRIMARY KEY, customer_id VARCHAR NOT NULL, segment VARCHAR,
    province VARCHAR, city VARCHAR, acquisition VARCHAR, owner VARCHAR)
"""


def utc(y: int, m: int, d: int, h: int = 2) -> datetime:
    """An aware UTC time (02:00 UTC is 10:00 in Shanghai, the same local day)."""
    return datetime(y, m, d, h, tzinfo=UTC)


def open_case(
    engine: sa.Engine,
    doc_id: str,
    customer: str | None,
    at: datetime,
    owner: str | None = "王五",
    team: str | None = "客服",
    **kw,
) -> Case:
    """A case of one negative voice `doc_id`, opened at `at`."""
    store = CaseStore(engine)
    voice = CaseVoice(
        doc_id, "demo_tickets", "ticket", at, "投诉：快递三天没到", customer_id=customer
    )
    values = {
        "channel": "ticket",
        "source": "demo_tickets",
        "theme_id": "t-logistics",
        "theme_label": "物流慢",
        "segment": "高价值",
    }
    values.update(kw)
    opening = CaseOpening(
        f"doc:{doc_id}",
        "negative_ticket",
        f"物流慢 {doc_id}",
        (voice,),
        "P2",
        owner=owner,
        team=team,
        customer_id=customer,
        **values,
    )
    store.open_cases([opening], at)
    return store.get(store.case_of_doc(doc_id))


def walk(engine: sa.Engine, case: Case, steps: Sequence[tuple[str, datetime]]) -> Case:
    """Move `case` through (status, time) steps; returns the case after the last."""
    store = CaseStore(engine)
    for status, at in steps:
        case = store.move(case.case_id, status, "王五", case.version, at=at)
    return case


def add_customer(
    con: duckdb.DuckDBPyConnection,
    customer_id: str,
    segment: str | None = "一般",
    owner: str | None = "李经理",
    first_order: date | None = None,
    last_order: date | None = None,
) -> None:
    """A row of ``customers`` and its one segment-history row (since ever)."""
    con.execute(
        "INSERT INTO customers (customer_id, segment, province, city, acquisition, owner, "
        "first_order, last_order, order_count, spend, first_import, last_import, updated_at) "
        "VALUES (?, ?, '上海', '上海', '广告', ?, ?, ?, 3, 100.0, 'i1', 'i1', ?)",
        [customer_id, segment, owner, first_order, last_order, utc(2025, 1, 1)],
    )
    con.execute(
        "INSERT INTO customer_segments (customer_id, valid_from, valid_to, segment, province, "
        "city, acquisition, owner, import_id) "
        "VALUES (?, NULL, NULL, ?, '上海', '上海', '广告', ?, 'i1')",
        [customer_id, segment, owner],
    )


def move_segment(con: duckdb.DuckDBPyConnection, customer_id: str, day: date, segment: str) -> None:
    """The customer file says `customer_id` is `segment` from `day` on."""
    con.execute(
        "UPDATE customer_segments SET valid_to = ? WHERE customer_id = ? AND valid_to IS NULL",
        [day, customer_id],
    )
    con.execute(
        "INSERT INTO customer_segments (customer_id, valid_from, valid_to, segment, province, "
        "city, acquisition, owner, import_id) "
        "VALUES (?, ?, NULL, ?, '上海', '上海', '广告', '李经理', 'i2')",
        [customer_id, day, segment],
    )
    con.execute("UPDATE customers SET segment = ? WHERE customer_id = ?", [segment, customer_id])


def add_voice(
    con: duckdb.DuckDBPyConnection,
    doc_id: str,
    customer_id: str,
    at: datetime,
    label: str | None,
    duplicate_of: str | None = None,
) -> None:
    """A ticket of `customer_id` at `at`, labelled `label` by the current model (None:
    not scored), optionally an exact duplicate of another document."""
    text = {"negative": "还是没解决，太失望", "positive": "处理得很好，谢谢", None: "你好"}.get(
        label, "问一下"
    )
    con.execute(
        "INSERT INTO raw_documents (id, source, channel, external_id, text, created_at, "
        "local_day, content_hash, first_run_id, last_run_id) "
        "VALUES (?, 'demo_tickets', 'ticket', ?, ?, ?, ?, ?, 'seed', 'seed')",
        [doc_id, doc_id, text, at, at.date(), doc_id],
    )
    con.execute(
        "INSERT INTO doc_texts (doc_id, text_norm, norm_hash, duplicate_of) VALUES (?, ?, ?, ?)",
        [doc_id, text, doc_id, duplicate_of],
    )
    if label is not None:
        score = {"negative": 0.1, "neutral": 0.5, "positive": 0.9}[label]
        con.execute(
            "INSERT INTO doc_sentiment (doc_id, model_version, label, score, scored_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [doc_id, MODEL, label, score, utc(2025, 12, 31)],
        )
    con.execute(
        "INSERT INTO doc_customers (doc_id, customer_id, via, segment, province, city, "
        "acquisition, owner) VALUES (?, ?, 'key', '高价值', '上海', '上海', '广告', '李经理')",
        [doc_id, customer_id],
    )


def add_answer(
    con: duckdb.DuckDBPyConnection,
    response_id: str,
    customer_id: str,
    at: datetime,
    csat: int | None = None,
    nps: int | None = None,
) -> None:
    """A survey response of `customer_id` at `at`."""
    con.execute(RESPONSE_CUSTOMERS)
    con.execute(
        "INSERT INTO survey_responses (response_id, source, external_id, customer_key, "
        "submitted_at, local_day, nps, csat, first_run_id, last_run_id) "
        "VALUES (?, 'nps_survey', ?, 'k', ?, ?, ?, ?, 'seed', 'seed')",
        [response_id, response_id, at, at.date(), nps, csat],
    )
    con.execute(
        "INSERT INTO response_customers (response_id, customer_id, segment, province, city, "
        "acquisition, owner) VALUES (?, ?, '高价值', '上海', '上海', '广告', '李经理')",
        [response_id, customer_id],
    )
