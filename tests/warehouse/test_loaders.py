from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from nlp.pii import mask_documents
from nlp.segment import Segmenter
from nlp.stages.normalise import NormaliseStage
from nlp.stages.records import SentimentScore
from nlp.stages.segment import SegmentStage
from tests.seeding import SENTIMENT
from voc.records import make_document
from voc.stages import StageSpec, fingerprints
from warehouse import loaders
from warehouse.db import open_warehouse
from warehouse.enrichment import run_stage, save_results, select_pending

TZ = timezone(timedelta(hours=8))
NORMALISE = NormaliseStage()
# Sentiment as the pipeline declares it, without loading the model.
SENTIMENT_SPEC = StageSpec(
    "sentiment", "m1", after=("normalise",), reads="text_norm", outputs=(SENTIMENT,)
)


def _doc(ext: str, text: str, hour: int = 10, day: int = 1, **kw):
    return make_document(
        source="s",
        channel="review",
        external_id=ext,
        text=text,
        created_at=datetime(2025, 6, day, hour, tzinfo=TZ),
        **kw,
    )


@pytest.fixture()
def con(tmp_path: Path, new_warehouse):
    c = open_warehouse(new_warehouse(tmp_path / "w.duckdb"))
    yield c
    c.close()


@pytest.fixture(scope="module")
def segment() -> SegmentStage:
    return SegmentStage(Segmenter())


def _pending(con, stage, prints) -> list[tuple[str, str]]:
    return [(d.doc_id, d.text) for d in select_pending(con, stage, prints)]


def test_upsert_is_idempotent_and_updates_changed_documents(con) -> None:
    docs = [_doc("1", "物流太慢"), _doc("2", "质量很好"), _doc("3", "客服态度差")]
    assert loaders.upsert_documents(con, docs, "r1") == loaders.UpsertCounts(3, 0, 0)
    assert loaders.upsert_documents(con, docs, "r2") == loaders.UpsertCounts(0, 0, 3)
    assert con.execute("SELECT count(*) FROM raw_documents").fetchone()[0] == 3

    edited = _doc("2", "质量很好，但是包装破了")
    counts = loaders.upsert_documents(con, [edited], "r3")
    assert counts == loaders.UpsertCounts(0, 1, 0)
    row = con.execute(
        "SELECT text, first_run_id, last_run_id FROM raw_documents WHERE id = ?", [edited.id]
    ).fetchone()
    assert row == ("质量很好，但是包装破了", "r1", "r3")


def test_duplicate_ids_inside_one_batch_collapse_to_the_last(con) -> None:
    first, second = _doc("1", "第一版"), _doc("1", "第二版")
    counts = loaders.upsert_documents(con, [first, second], "r1")
    assert counts.new == 1
    assert con.execute("SELECT text FROM raw_documents").fetchone()[0] == "第二版"


def test_local_day_uses_the_configured_timezone(con) -> None:
    late = _doc("1", "深夜下单", hour=23)  # 23:00 +08:00 is 15:00 UTC the same day
    utc_evening = replace(
        late, id="x", external_id="x", created_at=datetime(2025, 6, 1, 20, tzinfo=UTC)
    )
    loaders.upsert_documents(con, [late, utc_evening], "r1", timezone="Asia/Shanghai")
    days = dict(con.execute("SELECT external_id, local_day::VARCHAR FROM raw_documents").fetchall())
    assert days == {"1": "2025-06-01", "x": "2025-06-02"}


def test_exact_duplicates_point_at_the_earliest_document(con, segment) -> None:
    docs = [_doc("a", "一样的话", hour=12), _doc("b", "一样的话", hour=9), _doc("c", "别的话")]
    loaders.upsert_documents(con, docs, "r1")
    prints = fingerprints([NORMALISE, segment])
    assert len(select_pending(con, NORMALISE, prints)) == 3
    run_stage(con, NORMALISE, prints)
    assert loaders.count_duplicates(con) == 1
    dup = dict(con.execute("SELECT doc_id, duplicate_of FROM doc_texts").fetchall())
    assert dup[docs[0].id] == docs[1].id  # b was written earlier in the day
    assert dup[docs[1].id] is None and dup[docs[2].id] is None
    assert select_pending(con, NORMALISE, prints) == []
    assert {d.doc_id for d in select_pending(con, segment, prints)} == {docs[1].id, docs[2].id}


def test_an_edited_document_is_pending_again_for_every_stage(con) -> None:
    doc = _doc("1", "旧文本")
    loaders.upsert_documents(con, [doc], "r1")
    prints = fingerprints([NORMALISE, SENTIMENT_SPEC])
    run_stage(con, NORMALISE, prints)
    batch = select_pending(con, SENTIMENT_SPEC, prints)
    save_results(con, SENTIMENT_SPEC, prints, batch, [SentimentScore(doc.id, "negative", 0.1)])
    assert _pending(con, NORMALISE, prints) == _pending(con, SENTIMENT_SPEC, prints) == []

    loaders.upsert_documents(con, [_doc("1", "新文本")], "r2")
    assert _pending(con, NORMALISE, prints) == [(doc.id, "新文本")]
    # Sentiment waits for the new normalised text, then reads it.
    assert _pending(con, SENTIMENT_SPEC, prints) == []
    run_stage(con, NORMALISE, prints)
    assert [d.text_norm for d in select_pending(con, SENTIMENT_SPEC, prints)] == ["新文本"]


def test_run_log_records_stages_and_errors(con) -> None:
    loaders.start_run(con, "r1", "daily_ingest", None, None)
    loaders.record_stage(con, "r1", "fetch", source="s", n_in=5, n_out=4, n_skipped=1, n_errors=1)
    loaders.record_errors(con, "r1", "fetch", "s", ["s: page 3: no date"])
    loaders.finish_run(con, "r1", "partial")
    assert con.execute("SELECT status, ended_at IS NOT NULL FROM run_log").fetchone() == (
        "partial",
        True,
    )
    assert con.execute("SELECT n_in, n_out, n_skipped FROM run_stages").fetchone() == (5, 4, 1)
    assert con.execute("SELECT message FROM run_errors").fetchone()[0] == "s: page 3: no date"


def test_personal_data_is_masked_before_storage_and_reloads_unchanged(con) -> None:
    docs = [
        _doc("p1", "快递一直没到，请联系我13812345678，订单号：202403011234567"),
        _doc("p2", "质量很好"),
    ]
    masked, found = mask_documents(docs)
    assert found == {"phone": 1, "order": 1}
    assert docs[0].text.endswith("202403011234567")  # the originals are not changed
    counts = loaders.upsert_documents(con, masked, "run-1")
    assert counts.new == 2
    stored = dict(con.execute("SELECT external_id, text FROM raw_documents").fetchall())
    assert stored["p1"] == "快递一直没到，请联系我[手机号]，订单号：[订单号]"
    assert stored["p2"] == "质量很好"
    assert "13812345678" not in str(con.execute("SELECT * FROM raw_documents").fetchall())
    again = loaders.upsert_documents(con, mask_documents(docs)[0], "run-2")
    assert (again.new, again.updated, again.unchanged) == (0, 0, 2)
    # Masking can be switched off (settings.mask_pii = false): the text is then stored as is.
    raw = loaders.upsert_documents(con, [_doc("p3", "电话13812345678")], "run-3")
    assert raw.new == 1
    assert con.execute("SELECT text FROM raw_documents WHERE external_id = 'p3'").fetchone() == (
        "电话13812345678",
    )


def test_attribute_change_updates_the_row_but_keeps_derived_rows(con) -> None:
    first = _doc("c1", "快递丢件，商家不处理", attributes={"status": "处理中", "target": "某快递"})
    loaders.upsert_documents(con, [first], "r1")
    prints = fingerprints([NORMALISE])
    run_stage(con, NORMALISE, prints)
    same = _doc("c1", "快递丢件，商家不处理", attributes={"target": "某快递", "status": "处理中"})
    assert loaders.upsert_documents(con, [same], "r2") == loaders.UpsertCounts(0, 0, 1)

    resolved = _doc(
        "c1", "快递丢件，商家不处理", attributes={"status": "已完成", "target": "某快递"}
    )
    assert loaders.upsert_documents(con, [resolved], "r3") == loaders.UpsertCounts(0, 1, 0)
    status = con.execute("SELECT attributes->>'status' FROM raw_documents").fetchone()[0]
    assert status == "已完成"
    # The text did not change, so its normalised text (and sentiment, theme) stays current.
    assert con.execute("SELECT count(*) FROM doc_texts").fetchone()[0] == 1
    assert select_pending(con, NORMALISE, prints) == []

    rewritten = _doc("c1", "快递丢件，已经退款了", attributes={"status": "已完成"})
    assert loaders.upsert_documents(con, [rewritten], "r4").updated == 1
    assert _pending(con, NORMALISE, prints) == [(first.id, "快递丢件，已经退款了")]


def test_unmasked_text_is_kept_apart_only_when_configured(con) -> None:
    docs = [
        _doc("u1", "请回电13812345678", attributes={"title": "联系13812345678"}),
        _doc("u2", "没有个人信息"),
    ]
    masked, _ = mask_documents(docs)
    loaders.upsert_documents(con, masked, "r1")
    assert con.execute("SELECT count(*) FROM raw_texts_unmasked").fetchone()[0] == 0
    row = con.execute("SELECT text, attributes->>'title' FROM raw_documents WHERE external_id='u1'")
    assert row.fetchone() == ("请回电[手机号]", "联系[手机号]")

    loaders.upsert_documents(con, masked, "r2", originals=docs)
    kept = con.execute("SELECT doc_id, text FROM raw_texts_unmasked").fetchall()
    assert kept == [(docs[0].id, "请回电13812345678")]
