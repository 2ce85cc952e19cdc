"""The query console on a real, published DuckDB warehouse: the documented views answer,
limits hold, and nothing but a single read-only SELECT gets through any layer."""

from __future__ import annotations

import hashlib
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from nlp.aspects import AspectSentiment
from nlp.segment import Segmenter
from nlp.taxonomy import CategoryMatch
from signals.theme_run import refresh_theme_stats
from signals.theme_tracker import TRACKER_VERSION, TrackedTheme, TrackResult
from tests.seeding import (
    save_aspects,
    save_categories,
    save_doc_texts,
    save_sentiment,
    save_tokens,
)
from voc.records import make_document
from warehouse import loaders, themes
from warehouse.db import WarehouseError, open_warehouse
from warehouse.snapshot import publish_snapshot, snapshot_path
from warehouse.sql_console import (
    CONSOLE_CONFIG,
    SCHEMA_REFERENCE,
    QueryRejected,
    QueryTimeout,
    _open_console,
    run_query,
    schema_reference_markdown,
)

TZ = timezone(timedelta(hours=8))
TEXTS = ["快递太慢了", "质量很好", "客服不理人", "快递太慢了"]  # the last one is a duplicate


def _fingerprint(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.is_file()
    }


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("console")
    db_path = folder / "w.duckdb"
    con = open_warehouse(db_path)
    docs = [
        make_document(
            source="weibo" if i < 2 else "jd",
            channel="social" if i < 2 else "review",
            external_id=str(i),
            text=text,
            created_at=datetime(2025, 8, 12, 9 + i, tzinfo=TZ),
            product="X1",
            brand="客声",
            rating=None if i < 2 else 2.0,
        )
        for i, text in enumerate(TEXTS)
    ]
    loaders.upsert_documents(con, docs, "r1")
    save_doc_texts(con, [(d.id, d.text, d.content_hash) for d in docs])
    seg = Segmenter()
    save_tokens(con, [(d.id, seg.tokens(d.text)) for d in docs])
    scores = [(docs[0].id, "negative", 0.1), (docs[1].id, "positive", 0.9)]
    save_sentiment(con, [*scores, (docs[2].id, "positive", 0.8)], "old")
    save_sentiment(con, [*scores, (docs[2].id, "negative", 0.2)], "new")
    loaders.refresh_daily_source_stats(con, "new")
    tracked = TrackResult(
        themes=[TrackedTheme("t1", {"快递": 0.8, "太慢": 0.6}, 2, ("快递", "太慢"), "r1")],
        assignments={docs[0].id: ("t1", 0.9), docs[2].id: ("t1", 0.4)},
    )
    themes.save_tracking(con, tracked, "r1", TRACKER_VERSION)
    refresh_theme_stats(con, "new", "r1")
    save_categories(
        con,
        [(docs[0].id, [CategoryMatch(c, "keyword", "快递", 1.0) for c in ("物流", "时效")])],
        "tax-v1",
    )
    save_aspects(
        con,
        [(docs[0].id, [AspectSentiment("物流", "negative", "快递太慢了", 0.1, 0.9)])],
        "aspects-v1",
    )
    con.close()
    publish_snapshot(db_path)
    return db_path, docs, _fingerprint(folder)


def _assert_unchanged(published) -> None:
    db_path, _, before = published
    assert _fingerprint(db_path.parent) == before


def test_schema_reference_matches_the_views_column_for_column(published) -> None:
    db_path, _, _ = published
    con = duckdb.connect(str(snapshot_path(db_path)), read_only=True)
    try:
        views = {
            r[0]
            for r in con.execute(
                "SELECT view_name FROM duckdb_views() WHERE view_name LIKE 'v\\_%' ESCAPE '\\'"
            ).fetchall()
        }
        assert views == {v.name for v in SCHEMA_REFERENCE}
        for view in SCHEMA_REFERENCE:
            actual = [r[0] for r in con.execute(f"DESCRIBE {view.name}").fetchall()]
            assert actual == [c.name for c in view.columns], view.name
            assert all(c.zh and c.en for c in view.columns)
    finally:
        con.close()
    text = schema_reference_markdown()
    assert "`v_documents`" in text and "`negative_share`" in text


def test_v_documents_shows_newest_sentiment_theme_and_categories(published) -> None:
    _, docs, _ = published
    result = run_query(
        published[0],
        "SELECT id, source, sentiment, sentiment_score, theme, categories, duplicate_of "
        "FROM v_documents ORDER BY created_at",
    )
    assert result.columns == [
        "id",
        "source",
        "sentiment",
        "sentiment_score",
        "theme",
        "categories",
        "duplicate_of",
    ]
    assert not result.truncated
    by_id = {r[0]: r for r in result.rows}
    assert len(by_id) == 4
    assert by_id[docs[0].id][2:6] == ("negative", 0.1, "快递、太慢", ["时效", "物流"])
    assert by_id[docs[2].id][2:4] == ("negative", 0.2)  # the "new" model, not "old"
    assert by_id[docs[1].id][4:6] == (None, [])
    # the exact duplicate shows the sentiment of the document it duplicates
    assert by_id[docs[3].id][2] == "negative" and by_id[docs[3].id][6] == docs[0].id
    _assert_unchanged(published)


def test_v_daily_counts_documents_per_day_and_source(published) -> None:
    result = run_query(
        published[0], "SELECT source, n_docs, n_negative FROM v_daily ORDER BY source"
    )
    assert result.rows == [("jd", 1, 1), ("weibo", 2, 1)]


def test_v_themes_lists_live_themes(published) -> None:
    result = run_query(published[0], "SELECT theme_id, label, n_docs, state FROM v_themes")
    assert [r[:3] for r in result.rows] == [("t1", "快递、太慢", 2)]
    assert result.rows[0][3] in {"new", "growing", "recurring", "fading", "resolved"}


def test_v_aspects_lists_aspect_sentiment(published) -> None:
    _, docs, _ = published
    result = run_query(published[0], "SELECT doc_id, source, aspect, polarity FROM v_aspects")
    assert result.rows == [(docs[0].id, "weibo", "物流", "negative")]


def test_row_limit_truncates_and_says_so(published) -> None:
    result = run_query(published[0], "SELECT * FROM range(50)", row_limit=10)
    assert result.rows == [(i,) for i in range(10)]
    assert result.truncated
    exact = run_query(published[0], "SELECT * FROM range(10);", row_limit=10)
    assert len(exact.rows) == 10 and not exact.truncated
    assert exact.seconds >= 0


def test_slow_query_is_interrupted_at_the_time_limit(published) -> None:
    started = time.monotonic()
    with pytest.raises(QueryTimeout, match=r"0\.5 s"):
        run_query(
            published[0],
            "SELECT sum(a.range * b.range) FROM range(1000000) a, range(1000000) b",
            timeout_s=0.5,
        )
    assert time.monotonic() - started < 5
    assert run_query(published[0], "SELECT count(*) FROM v_documents").rows == [(4,)]
    _assert_unchanged(published)


FORBIDDEN = {
    "insert": "INSERT INTO raw_documents (id) VALUES ('x')",
    "update": "UPDATE raw_documents SET text = 'x'",
    "delete": "DELETE FROM raw_documents",
    "create_table": "CREATE TABLE evil AS SELECT 1",
    "drop": "DROP VIEW v_documents",
    "alter": "ALTER TABLE raw_documents ADD COLUMN evil INTEGER",
    "attach": "ATTACH '{folder}/other.duckdb' AS other",
    "detach": "DETACH other",
    "install": "INSTALL httpfs",
    "load": "LOAD httpfs",
    "copy_to_file": "COPY (SELECT * FROM raw_documents) TO '{folder}/leak.csv'",
    "export": "EXPORT DATABASE '{folder}/dump'",
    "pragma": "PRAGMA database_list",
    "set": "SET enable_external_access = true",
    "reset": "RESET lock_configuration",
    "call": "CALL pragma_version()",
    "checkpoint": "CHECKPOINT",
    "transaction": "BEGIN TRANSACTION",
    "two_statements": "SELECT 1; DELETE FROM raw_documents",
    "select_then_select": "SELECT 1; SELECT 2",
    "empty": "  ;  ",
    "syntax_error": "SELEKT 1",
}


@pytest.mark.parametrize("name", sorted(FORBIDDEN))
def test_anything_but_one_select_is_rejected(published, name: str) -> None:
    sql = FORBIDDEN[name].format(folder=published[0].parent)
    with pytest.raises(QueryRejected, match=r"SELECT|SQL"):
        run_query(published[0], sql)
    _assert_unchanged(published)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/passwd')",
        "SELECT * FROM read_blob('/etc/passwd')",
        "SELECT * FROM read_parquet('{folder}/w.duckdb')",
        "SELECT * FROM glob('/etc/*')",
        "SELECT * FROM '/etc/passwd.csv'",
        "SELECT * FROM sniff_csv('/etc/passwd')",
    ],
)
def test_a_select_cannot_read_files(published, sql: str) -> None:
    with pytest.raises(QueryRejected, match="disabled by configuration"):
        run_query(published[0], sql.format(folder=published[0].parent))
    _assert_unchanged(published)


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("INSERT INTO raw_documents (id) VALUES ('x')", "read-only"),
        ("CREATE TABLE evil AS SELECT 1", "read-only"),
        ("DROP VIEW v_documents", "read-only"),
        ("ATTACH '{folder}/other.duckdb' AS other", "disabled by configuration"),
        ("COPY raw_documents TO '{folder}/leak.csv'", "disabled by configuration"),
        ("INSTALL httpfs", "disabled"),
        ("LOAD httpfs", "disabled"),
        ("SET enable_external_access = true", "locked"),
        ("SET threads = 1", "locked"),
        ("RESET lock_configuration", "locked"),
    ],
)
def test_the_connection_refuses_what_the_parser_check_would_miss(
    published, sql: str, message: str
) -> None:
    # Layer 2 on its own: the console's connection refuses these even unparsed.
    con = _open_console(published[0])
    try:
        with pytest.raises(duckdb.Error, match=message):
            con.execute(sql.format(folder=published[0].parent))
    finally:
        con.close()
    _assert_unchanged(published)


def test_the_console_configuration_is_in_force(published) -> None:
    con = _open_console(published[0])
    try:
        settings = dict(
            con.execute(
                "SELECT name, value FROM duckdb_settings() WHERE name IN ?",
                [list(CONSOLE_CONFIG)],
            ).fetchall()
        )
    finally:
        con.close()
    assert settings == {k: str(v).lower() for k, v in CONSOLE_CONFIG.items()}


def test_the_console_reads_the_published_snapshot(tmp_path: Path) -> None:
    db_path = tmp_path / "w.duckdb"
    doc, later = (
        make_document(
            source="weibo",
            channel="social",
            external_id=str(i),
            text="快递太慢",
            created_at=datetime(2025, 8, 12, 9 + i, tzinfo=TZ),
        )
        for i in range(2)
    )
    con = open_warehouse(db_path)
    loaders.upsert_documents(con, [doc], "r1")
    con.close()
    publish_snapshot(db_path)
    con = open_warehouse(db_path)  # a run in progress: written, not yet published
    loaders.upsert_documents(con, [later], "r2")
    try:
        assert run_query(db_path, "SELECT id FROM v_documents").rows == [(doc.id,)]
    finally:
        con.close()


def test_a_missing_warehouse_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(WarehouseError, match="does not exist"):
        run_query(tmp_path / "none.duckdb", "SELECT 1")
    assert not (tmp_path / "none.duckdb").exists()
