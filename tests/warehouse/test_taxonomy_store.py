from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from nlp.normalize import hash_normalized, normalize_text
from nlp.segment import Segmenter
from nlp.taxonomy import default_taxonomy_path, load_taxonomy
from voc.records import make_document
from warehouse import loaders
from warehouse.db import open_warehouse
from warehouse.taxonomy import (
    CategoryDayCount,
    category_day_counts,
    category_summary,
    retag,
    select_untagged,
)

TZ = timezone(timedelta(hours=8))
MODEL = "sentiment-test"
TEXTS = {
    "1": ("快递三天没到，客服也不回", 1, "negative"),
    "2": ("物流很快但是质量太差", 1, "negative"),
    "3": ("这次的色号选错了，有点显黑", 2, "neutral"),
    "4": ("包装很用心，发货也快", 2, "positive"),
    "5": ("今天天气晴朗", 2, "neutral"),
}


@pytest.fixture(scope="module")
def segmenter() -> Segmenter:
    return Segmenter()


@pytest.fixture()
def con(tmp_path: Path, new_warehouse):
    c = open_warehouse(new_warehouse(tmp_path / "w.duckdb"))
    yield c
    c.close()


def _land(
    con: duckdb.DuckDBPyConnection,
    segmenter: Segmenter,
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
    rows = [(d.id, normalize_text(d.text)) for d in docs]
    loaders.save_doc_texts(con, [(i, t, hash_normalized(t)) for i, t in rows])
    loaders.save_tokens(con, [(i, segmenter.tokens(t)) for i, t in loaders.select_unsegmented(con)])
    labels = {d.id: texts[d.external_id][2] for d in docs}
    loaders.save_sentiment(con, [(i, labels[i], 0.9) for i, _ in rows], MODEL)


def _tags(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], tuple]:
    rows = con.execute(
        "SELECT r.external_id, c.category, c.matched_by, c.evidence, c.taxonomy_version "
        "FROM doc_categories c JOIN raw_documents r ON r.id = c.doc_id"
    ).fetchall()
    return {(r[0], r[1]): r[2:] for r in rows}


def _snapshot(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple]:
    return con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()


def test_first_run_tags_every_document_and_later_runs_only_new_ones(con, segmenter) -> None:
    taxonomy = load_taxonomy()
    _land(con, segmenter, TEXTS)
    counts = retag(con, taxonomy)
    assert (counts.full, counts.previous_versions) == (False, ())
    assert (counts.n_docs, counts.n_categorised, counts.n_matches) == (5, 3, 6)
    tags = _tags(con)
    assert {k for k in tags if k[0] in {"1", "2"}} == {
        ("1", "物流"),
        ("1", "客服态度"),
        ("2", "物流"),
        ("2", "商品质量"),
    }
    assert {v[2] for v in tags.values()} == {taxonomy.version}
    assert select_untagged(con, taxonomy.version) == []

    _land(con, segmenter, {"6": ("申请退款三天了钱还没到账", 3, "negative")})
    untagged = select_untagged(con, taxonomy.version)
    assert [(t[1], t[2]) for t in untagged] == [
        ("申请退款三天了钱还没到账", segmenter.tokens("申请退款三天了钱还没到账"))
    ]
    counts = retag(con, taxonomy)
    assert (counts.full, counts.n_docs) == (False, 1)
    assert ("6", "退换货") in _tags(con)


def test_retag_with_the_same_taxonomy_changes_nothing(con, segmenter) -> None:
    taxonomy = load_taxonomy()
    _land(con, segmenter, TEXTS)
    retag(con, taxonomy)
    before = [_snapshot(con, t) for t in ("doc_categories", "doc_categorisations")]
    counts = retag(con, load_taxonomy())
    assert (counts.full, counts.n_docs, counts.n_matches, counts.n_removed) == (False, 0, 0, 0)
    assert [_snapshot(con, t) for t in ("doc_categories", "doc_categorisations")] == before


def test_editing_the_taxonomy_retags_history_without_touching_raw_documents(
    con, segmenter, tmp_path: Path
) -> None:
    old = load_taxonomy()
    _land(con, segmenter, TEXTS)
    retag(con, old)
    assert not any(k[0] == "3" for k in _tags(con))
    raw_before = _snapshot(con, "raw_documents")
    texts_before = _snapshot(con, "doc_texts")

    edited = tmp_path / "taxonomy.yaml"
    yaml_text = default_taxonomy_path().read_text(encoding="utf-8")
    assert "keywords: [质量," in yaml_text
    edited.write_text(yaml_text.replace("keywords: [质量,", "keywords: [色号, 质量,"), "utf-8")
    new = load_taxonomy(edited)
    assert new.version != old.version

    counts = retag(con, new)
    assert counts.full
    assert counts.previous_versions == (old.version,)
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
    assert retag(con, old).full
    assert not any(k[0] == "3" for k in _tags(con))


def test_a_rewritten_document_is_tagged_again_from_its_new_text(con, segmenter) -> None:
    taxonomy = load_taxonomy()
    _land(con, segmenter, TEXTS)
    retag(con, taxonomy)
    assert ("5", "价格") not in _tags(con)
    # The source edits post 5: the loader drops its normalised text, the flow redoes it.
    _land(con, segmenter, {"5": ("今天天气晴朗，可惜买完第二天就降价了", 2, "negative")})
    counts = retag(con, taxonomy)
    assert (counts.full, counts.n_docs) == (False, 1)
    assert _tags(con)[("5", "价格")] == ("keyword", "降价", taxonomy.version)


def test_exact_duplicates_are_not_tagged_twice(con, segmenter) -> None:
    taxonomy = load_taxonomy()
    _land(con, segmenter, {"1": TEXTS["1"]})
    _land(con, segmenter, {"1": TEXTS["1"]}, source="weibo")
    counts = retag(con, taxonomy)
    assert counts.n_docs == 1
    assert con.execute("SELECT count(DISTINCT doc_id) FROM doc_categories").fetchone()[0] == 1


def test_category_day_counts_give_documents_and_negatives_per_day_and_source(
    con, segmenter
) -> None:
    taxonomy = load_taxonomy()
    _land(con, segmenter, TEXTS)
    _land(con, segmenter, {"w1": ("顺丰送错地址了", 2, "negative")}, source="weibo")
    retag(con, taxonomy)
    counts = category_day_counts(con, MODEL)
    logistics = [c for c in counts if c.category == "物流"]
    assert logistics == [
        CategoryDayCount("物流", "shop", date(2025, 6, 1), 2, 2),
        CategoryDayCount("物流", "shop", date(2025, 6, 2), 1, 0),
        CategoryDayCount("物流", "weibo", date(2025, 6, 2), 1, 1),
    ]
    # Another model version has no sentiment here: documents count, negatives do not.
    assert {c.n_negative for c in category_day_counts(con, "other-model")} == {0}


def test_category_summary_reports_versions_counts_and_match_kinds(con, segmenter) -> None:
    taxonomy = load_taxonomy()
    _land(con, segmenter, TEXTS)
    _land(con, segmenter, {"7": ("等了五天才到", 3, "negative")})
    retag(con, taxonomy)
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
