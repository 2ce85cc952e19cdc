from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from nlp.segment import Segmenter
from signals.theme_run import refresh_theme_stats
from signals.theme_tracker import TRACKER_VERSION, TrackedTheme, TrackResult
from tests.seeding import save_doc_texts, save_sentiment, save_tokens
from voc.records import make_document
from warehouse import loaders, queries, themes
from warehouse.db import open_warehouse

TZ = timezone(timedelta(hours=8))


@pytest.fixture()
def db(tmp_path: Path, new_warehouse):
    c = open_warehouse(new_warehouse(tmp_path / "w.duckdb"))
    docs = [
        make_document(
            source="weibo",
            channel="social",
            external_id=str(i),
            text=text,
            created_at=datetime(2025, 8, 12, 9 + i, tzinfo=TZ),
            repost_count=i,
        )
        for i, text in enumerate(["<a href='/n/x'>@店</a> 快递太慢", "质量很好", "客服不理人"])
    ]
    loaders.upsert_documents(c, docs, "r1")
    save_doc_texts(c, [(d.id, d.text, d.content_hash) for d in docs])
    seg = Segmenter()
    save_tokens(c, [(d.id, seg.tokens(d.text)) for d in docs])
    save_sentiment(
        c,
        [
            (docs[0].id, "negative", 0.1),
            (docs[1].id, "positive", 0.9),
            (docs[2].id, "negative", 0.2),
        ],
        "old",
    )
    save_sentiment(
        c,
        [
            (docs[0].id, "negative", 0.05),
            (docs[1].id, "positive", 0.95),
            (docs[2].id, "negative", 0.3),
        ],
        "new",
    )
    tracked = TrackResult(
        themes=[TrackedTheme("t1", {"快递": 0.8, "太慢": 0.6}, 2, ("快递", "太慢"), "r1")],
        assignments={docs[0].id: ("t1", 0.9), docs[2].id: ("t1", 0.4)},
    )
    themes.save_tracking(c, tracked, "r1", TRACKER_VERSION)
    refresh_theme_stats(c, "new", "r1")
    yield c, docs
    c.close()


def test_summary_counts_one_model_version(db) -> None:
    con, _ = db
    summary = queries.warehouse_summary(con)
    assert summary["documents"]["by_channel"] == {"social": 3}
    assert summary["sentiment"] == {
        "model_version": "new",
        "scored": 3,
        "by_label": {"negative": 2, "positive": 1},
    }
    assert summary["themes"][0]["keywords"] == ["快递", "太慢"]
