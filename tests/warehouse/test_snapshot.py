"""Published snapshots: a copy readers open instead of the warehouse, without private rows."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb

from nlp.pii import mask_documents
from voc.records import make_document
from warehouse import loaders
from warehouse.db import open_warehouse
from warehouse.snapshot import publish_snapshot, readable_path, snapshot_path


def test_snapshot_is_a_copy_without_unmasked_texts(tmp_path: Path) -> None:
    db = tmp_path / "voc.duckdb"
    assert readable_path(db) == db  # nothing published yet
    con = open_warehouse(db)
    doc = make_document(
        source="s",
        channel="ticket",
        external_id="1",
        text="请回电13812345678",
        created_at=datetime(2025, 6, 1, tzinfo=timezone(timedelta(hours=8))),
    )
    masked, _ = mask_documents([doc])
    loaders.upsert_documents(con, masked, "r1", originals=[doc])
    con.close()

    snap = publish_snapshot(db)
    assert snap == snapshot_path(db) == readable_path(db) and snap.exists()
    with duckdb.connect(str(snap), read_only=True) as s:
        assert s.execute("SELECT text FROM raw_documents").fetchall() == [("请回电[手机号]",)]
        assert s.execute("SELECT count(*) FROM raw_texts_unmasked").fetchone() == (0,)
    with duckdb.connect(str(db), read_only=True) as w:
        assert w.execute("SELECT count(*) FROM raw_texts_unmasked").fetchone() == (1,)
    assert not list(tmp_path.glob(".*.tmp"))
