"""The taxonomy stage through `warehouse.enrichment` on a real DuckDB file: what gets
tagged, re-tagging all history on a new taxonomy version, day counts and the summary."""

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from nlp.segment import Segmenter
from nlp.stages.normalise import NormaliseStage
from nlp.stages.segment import SegmentStage
from nlp.stages.taxonomy import TaxonomyStage
from nlp.taxonomy import Taxonomy, default_taxonomy_path, load_taxonomy
from tests.seeding import save_sentiment
from voc.records import make_document
from voc.stages import fingerprints
from warehouse import loaders
from warehouse.db import open_warehouse
from warehouse.enrichment import SaveCounts, run_stage, select_pending, stage_versions
from warehouse.taxonomy import CategoryDayCount, category_day_counts, category_summary

TZ = timezone(timedelta(hours=8))
MODEL = "sentiment-test"
TEXTS = {
    "1": ("快递三天没到，客服也不回", 1, "negative"),
    "2": ("物流很快但是质量太差", 1, "negative"),
    "3": ("这次的色号选错了，有点显黑", 2, "neutral"),
    "4": ("包装很用心，发货也快", 2, "positive"),
    "5": ("今天天气晴朗", 2, "neutral"),
}
NORMALISE = NormaliseStage()


@pytest.fixture(scope="module")
def segment() -> SegmentStage:
    return SegmentStage(Segmenter())


@pytest.fixture()
def con(tmp_path: Path, new_warehouse):
    c = open_warehouse(new_warehouse(tmp_path / "w.duckdb"))
    yield c
    c.close()


def _land(
    con: duckdb.DuckDBPyConnection,
    segment: SegmentStage,
    texts: dict[str, tuple[str, int, str]],
    source: str = "shop",
) -> None:
    """Land documents the way the daily flow does: raw, normalised, tokens, sentiment."""
    docs = [
        make_document(
            source=source,
            channel="review",
            external_id=ext,
            text=text,
            created_at=datetime(2025, 6, day, 10, tzinfo=TZ),
        )
        for ext, (text, day, _) in texts.items()
    ]
    loaders.upsert_documents(con, docs, "r1")
    prints = fingerprints([NORMALISE, segment])
    run_stage(con, NORMALISE, prints)
    run_stage(con, segment, prints)
    labels = {d.id: texts[d.external_id][2] for d in docs}
    save_sentiment(con, [(i, label, 0.9) for i, label in labels.items()], MODEL)


def _stage(segment: SegmentStage, taxonomy: Taxonomy) -> tuple[TaxonomyStage, dict[str, str]]:
    stage = TaxonomyStage(taxonomy)
    return stage, fingerprints([NORMALISE, segment, stage])


def _tag(con: duckdb.DuckDBPyConnection, segment: SegmentStage, taxonomy: Taxonomy) -> SaveCounts:
    return run_stage(con, *_stage(segment, taxonomy))


def _n_categorised(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute(
        "SELECT count(*) FROM doc_categorisations WHERE n_categories > 0"
    ).fetchone()[0]


def _tags(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], tuple]:
    rows = con.execute(
        "SELECT r.external_id, c.category, c.matched_by, c.evidence, c.taxonomy_version "
        "FROM doc_categories c JOIN raw_documents r ON r.id = c.doc_id"
    ).fetchall()
    return {(r[0], r[1]): r[2:] for r in rows}


def _snapshot(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple]:
    return con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()


def test_first_run_tags_every_document_and_later_runs_only_new_ones(con, segment) -> None:
    taxonomy = load_taxonomy()
    _land(con, segment, TEXTS)
    assert stage_versions(con, "taxonomy") == {}
    counts = _tag(con, segment, taxonomy)
    assert (counts.n_docs, _n_categorised(con), counts.rows["doc_categories"]) == (5, 3, 6)
    tags = _tags(con)
    assert {k for k in tags if k[0] in {"1", "2"}} == {
        ("1", "物流"),
        ("1", "客服态度"),
        ("2", "物流"),
        ("2", "商品质量"),
    }
    assert {v[2] for v in tags.values()} == {taxonomy.version}
    assert select_pending(con, *_stage(segment, taxonomy)) == []

    _land(con, segment, {"6": ("申请退款三天了钱还没到账", 3, "negative")})
    untagged = select_pending(con, *_stage(segment, taxonomy))
    text = "申请退款三天了钱还没到账"
    assert [(d.text_norm, d.tokens) for d in untagged] == [
        (text, tuple(segment.segmenter.tokens(text)))
    ]
    counts = _tag(con, segment, taxonomy)
    assert counts.n_docs == 1
    assert stage_versions(con, "taxonomy") == {taxonomy.version: 6}
    assert ("6", "退换货") in _tags(con)


def test_retag_with_the_same_taxonomy_changes_nothing(con, segment) -> None:
    taxonomy = load_taxonomy()
    _land(con, segment, TEXTS)
    _tag(con, segment, taxonomy)
    tables = ("doc_categories", "doc_stage_state")
    before = [_snapshot(con, t) for t in tables]
    counts = _tag(con, segment, load_taxonomy())
    assert (counts.n_docs, counts.n_records) == (0, 0)
    assert [_snapshot(con, t) for t in tables] == before


def test_editing_the_taxonomy_retags_history_without_touching_raw_documents(
    con, segment, tmp_path: Path
) -> None:
    old = load_taxonomy()
    _land(con, segment, TEXTS)
    _tag(con, segment, old)
    assert not any(k[0] == "3" for k in _tags(con))
    raw_before = _snapshot(con, "raw_documents")
    texts_before = _snapshot(con, "doc_texts")

    edited = tmp_path / "taxonomy.yaml"
    yaml_text = default_taxonomy_path().read_text(encoding="utf-8")
    assert "keywords: [质量," in yaml_text
    edited.write_text(yaml_text.replace("keywords: [质量,", "keywords: [色号, 质量,"), "utf-8")
    new = load_taxonomy(edited)
    assert new.version != old.version

    assert stage_versions(con, "taxonomy") == {old.version: 5}
    assert len(select_pending(con, *_stage(segment, new))) == 5  # all history
    counts = _tag(con, segment, new)
    assert counts.n_docs == 5
    tags = _tags(con)
    assert tags[("3", "商品质量")] == ("keyword", "色号", new.version)
    assert {v[2] for v in tags.values()} == {new.version}
    assert con.execute("SELECT DISTINCT taxonomy_version FROM doc_categorisations").fetchall() == [
        (new.version,)
    ]
    assert _snapshot(con, "raw_documents") == raw_before
    assert _snapshot(con, "doc_texts") == texts_before

    # Going back to the bundled taxonomy is a change too: history follows it again.
    assert _tag(con, segment, old).n_docs == 5
    assert not any(k[0] == "3" for k in _tags(con))


def test_a_rewritten_document_is_tagged_again_from_its_new_text(con, segment) -> None:
    taxonomy = load_taxonomy()
    _land(con, segment, TEXTS)
    _tag(con, segment, taxonomy)
    assert ("5", "价格") not in _tags(con)
    # The source edits post 5: its content hash changes, so every stage redoes it.
    _land(con, segment, {"5": ("今天天气晴朗，可惜买完第二天就降价了", 2, "negative")})
    counts = _tag(con, segment, taxonomy)
    assert counts.n_docs == 1
    assert _tags(con)[("5", "价格")] == ("keyword", "降价", taxonomy.version)


def test_exact_duplicates_are_not_tagged_twice(con, segment) -> None:
    taxonomy = load_taxonomy()
    _land(con, segment, {"1": TEXTS["1"]})
    _land(con, segment, {"1": TEXTS["1"]}, source="weibo")
    counts = _tag(con, segment, taxonomy)
    assert counts.n_docs == 1
    assert con.execute("SELECT count(DISTINCT doc_id) FROM doc_categories").fetchone()[0] == 1


def test_category_day_counts_give_documents_and_negatives_per_day_and_source(con, segment) -> None:
    taxonomy = load_taxonomy()
    _land(con, segment, TEXTS)
    _land(con, segment, {"w1": ("顺丰送错地址了", 2, "negative")}, source="weibo")
    _tag(con, segment, taxonomy)
    counts = category_day_counts(con, MODEL)
    logistics = [c for c in counts if c.category == "物流"]
    assert logistics == [
        CategoryDayCount("物流", "shop", date(2025, 6, 1), 2, 2),
        CategoryDayCount("物流", "shop", date(2025, 6, 2), 1, 0),
        CategoryDayCount("物流", "weibo", date(2025, 6, 2), 1, 1),
    ]
    # Another model version has no sentiment here: documents count, negatives do not.
    assert {c.n_negative for c in category_day_counts(con, "other-model")} == {0}


def test_category_summary_reports_versions_counts_and_match_kinds(con, segment) -> None:
    taxonomy = load_taxonomy()
    _land(con, segment, TEXTS)
    _land(con, segment, {"7": ("等了五天才到", 3, "negative")})
    _tag(con, segment, taxonomy)
    summary = category_summary(con, MODEL)
    assert summary.versions == (taxonomy.version,)
    assert (summary.n_tagged, summary.n_uncategorised) == (6, 2)
    by_name = {c.category: c for c in summary.categories}
    assert summary.categories[0].category == "物流"
    logistics = by_name["物流"]
    assert (logistics.n_docs, logistics.n_negative) == (4, 3)
    assert (logistics.n_keyword, logistics.n_regex, logistics.n_example) == (3, 1, 0)
    assert (logistics.first_day, logistics.last_day) == (date(2025, 6, 1), date(2025, 6, 3))
    assert by_name["包装"].n_negative == 0
    as_json = summary.as_dict()
    assert as_json["categories"][0]["first_day"] == "2025-06-01"
    assert category_summary(con).categories[0].n_negative is None
