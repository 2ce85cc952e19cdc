"""Explore: Chinese full-text search with filters, paging, sorting and exports."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest

from nlp.segment import Segmenter
from tests.seeding import save_doc_texts, save_sentiment, save_tokens
from voc.records import make_document
from warehouse import loaders, search
from warehouse.aggregates import refresh_aggregates
from warehouse.db import open_warehouse
from warehouse.search import SearchFilters, export_matches, search_documents

TZ = timezone(timedelta(hours=8))
SEG = Segmenter()
TEXTS = [
    ("w1", "social", 1, "物流太慢了，三天还没到", "negative", 0.1),
    ("w2", "social", 2, "这次物流很快，点赞", "positive", 0.9),
    ("r1", "review", 3, "快递员态度差，物流也太慢", "negative", 0.2),
    ("r2", "review", 4, "质量不错，包装完好", "positive", 0.95),
]


@pytest.fixture(params=["base_tables", "search_table"])
def con(tmp_path: Path, request, new_warehouse):
    """The same documents searched through the base tables and through agg_search_docs."""
    c = open_warehouse(new_warehouse(tmp_path / "w.duckdb"))
    docs = [
        make_document(
            source="weibo" if ch == "social" else "shop",
            channel=ch,
            external_id=ext,
            text=text,
            created_at=datetime(2025, 6, day, 10, tzinfo=TZ),
            product="P-Phone" if ch == "review" else None,
        )
        for ext, ch, day, text, _, _ in TEXTS
    ]
    loaders.upsert_documents(c, docs, "r1")
    save_doc_texts(c, [(d.id, d.text, d.content_hash) for d in docs])
    save_tokens(c, [(d.id, SEG.tokens(d.text)) for d in docs])
    save_sentiment(c, [(d.id, t[4], t[5]) for d, t in zip(docs, TEXTS, strict=True)], "m1")
    if request.param == "search_table":
        refresh_aggregates(c, "m1", "Asia/Shanghai")
        assert search._documents(c, "m1")[0] == search._FROM_TABLE
        assert search._documents(c, "other-model")[0] == search._FROM_BASE  # its labels only
    yield c
    c.close()


def _search(con, query: str, **kw):
    return search_documents(con, query, SEG.tokens(query), "m1", **kw)


def test_segmented_query_finds_documents_with_every_term_in_any_order(con) -> None:
    found = _search(con, "物流太慢")
    assert found.total == 2 and set(found.rows["text"]) == {TEXTS[0][3], TEXTS[2][3]}
    assert _search(con, "包装").total == 1
    assert _search(con, "退款").total == 0


def test_filters_sorting_and_paging(con) -> None:
    negative = _search(con, "物流", filters=SearchFilters(sentiment="negative"))
    assert negative.total == 2
    reviews = _search(con, "物流", filters=SearchFilters(channels=["review"]))
    assert list(reviews.rows["text"]) == [TEXTS[2][3]]
    june2 = _search(con, "", filters=SearchFilters(since=date(2025, 6, 2), until=date(2025, 6, 3)))
    assert june2.total == 2
    worst = _search(con, "", sort="most_negative")
    assert list(worst.rows["score"])[:2] == [0.1, 0.2]
    page2 = _search(con, "", page=2, page_size=3)
    assert (page2.total, len(page2.rows)) == (4, 1)
    with pytest.raises(ValueError, match="unknown sort"):
        _search(con, "", sort="random")


def test_product_filter_caseless_latin_and_a_stopword_query(con) -> None:
    phones = _search(con, "物流", filters=SearchFilters(products=["P-Phone"]))
    assert list(phones.rows["text"]) == [TEXTS[2][3]]
    assert _search(con, "", filters=SearchFilters(brands=["nobody"])).total == 0
    assert _search(con, "太慢 物流").total == 2  # any order
    assert _search(con, "了").total == 1  # only a stopword: the phrase itself is matched


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "parquet"])
def test_exports_write_every_match(con, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"matches.{fmt}"
    n = export_matches(con, "物流", SEG.tokens("物流"), "m1", SearchFilters(), fmt, out)
    assert n == 3
    read = {"csv": pd.read_csv, "xlsx": pd.read_excel, "parquet": pd.read_parquet}[fmt]
    frame = read(out)
    assert len(frame) == 3 and "物流太慢了，三天还没到" in set(frame["text"])
    if fmt == "csv":
        assert out.read_bytes().startswith(b"\xef\xbb\xbf")  # Excel opens Chinese CSV right
