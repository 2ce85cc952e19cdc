"""The escalation stage: rules, and its results through the warehouse like any stage."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from nlp.stages.escalation import EscalationStage, find_escalation
from nlp.stages.normalise import NormaliseStage
from voc.records import Document, content_hash, document_id
from voc.stages import StageDoc, fingerprints
from warehouse import enrichment, loaders
from warehouse.db import open_warehouse


def test_each_kind_is_found_with_its_words() -> None:
    assert find_escalation("再不退款我就打12315投诉，找媒体曝光你们") == {
        "regulator": ["12315"],
        "media": ["曝光", "媒体"],
    }
    assert find_escalation("已经联系律师准备起诉，要求退一赔三") == {
        "legal": ["律师", "起诉"],
        "compensation": ["退一赔三"],
    }


def test_longer_phrases_win_and_numbers_inside_numbers_do_not_count() -> None:
    assert find_escalation("去消费者协会投诉") == {"regulator": ["消费者协会"]}
    assert find_escalation("要求三倍赔偿") == {"compensation": ["三倍赔偿"]}
    assert find_escalation("订单号 2031588 手机 13150001234，物流太慢") == {}


def test_a_plain_complaint_escalates_nothing() -> None:
    day = date(2025, 8, 1)
    doc = StageDoc("d1", "review", "h", datetime(2025, 8, 1, tzinfo=UTC), day, "x", "物流太慢")
    assert EscalationStage().enrich([doc]) == []


def test_results_land_and_follow_a_rewrite(tmp_path: Path) -> None:
    stages = [NormaliseStage(), EscalationStage()]
    prints = fingerprints(stages)
    con = open_warehouse(tmp_path / "w.duckdb")

    def doc(text: str) -> Document:
        return Document(
            id=document_id("t", "1"),
            source="t",
            channel="ticket",
            external_id="1",
            author_hash=None,
            text=text,
            rating=None,
            created_at=datetime(2025, 8, 1, tzinfo=UTC),
            url=None,
            product=None,
            brand=None,
            content_hash=content_hash(text),
        )

    loaders.upsert_documents(con, [doc("不给退款就去12315投诉")], "r1")
    for stage in stages:
        enrichment.run_stage(con, stage, prints)
    rows = "SELECT kind, evidence FROM doc_escalation ORDER BY kind"
    assert con.execute(rows).fetchall() == [("regulator", "12315")]
    loaders.upsert_documents(con, [doc("问题解决了，谢谢客服")], "r2")
    for stage in stages:
        enrichment.run_stage(con, stage, prints)
    assert con.execute(rows).fetchall() == []
    con.close()
