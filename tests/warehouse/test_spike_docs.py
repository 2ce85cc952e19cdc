"""The documents spike explanations read, many windows per query: for each window exactly
the negative documents of its key and period, newest first, at most `limit`, whatever other
windows share the query (a real warehouse with every key kind)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from voc.signals import segment_key
from warehouse import spike_docs
from warehouse.db import warehouse
from warehouse.spike_docs import Window, explain_docs, explain_docs_many

MODEL = "m1"
TZ = "Asia/Shanghai"
FIRST = date(2025, 5, 1)
SOURCES = ("weibo", "shop")
PRODUCTS = ("p1", "p2")
CATEGORIES = ("物流", "价格", "质量")
ASPECTS = ("物流", "服务")
SEGMENTS = ("高价值", "新客")


def _docs() -> list[dict]:
    rng = random.Random(7)
    docs = []
    for i in range(600):
        created = datetime(2025, 5, 1, tzinfo=UTC) + timedelta(minutes=rng.randint(0, 20 * 24 * 60))
        docs.append(
            {
                "id": f"d{i:04d}",
                "source": rng.choice(SOURCES),
                "product": rng.choice(PRODUCTS),
                "created": created,
                "local": created.astimezone(ZoneInfo(TZ)).date(),
                "negative": rng.random() < 0.6,
                "categories": rng.sample(CATEGORIES, rng.randint(0, 2)),
                # (aspect, polarity, scored by how many aspect model versions)
                "aspects": [(a, rng.choice(("negative", "positive")), rng.randint(1, 2))
                            for a in rng.sample(ASPECTS, rng.randint(0, 2))],
                "theme": rng.choice(("t1", "t2", None)),
                "segment": rng.choice((*SEGMENTS, None)),
                "group": f"g{i % 150}" if i % 4 else None,
            }
        )  # fmt: skip
    return docs


def _seed(db: Path, docs: list[dict]) -> None:
    frame = pd.DataFrame(docs)
    cats = pd.DataFrame([(d["id"], c) for d in docs for c in d["categories"]], columns=["d", "c"])
    asps = pd.DataFrame(
        [(d["id"], a, p, f"v{v}") for d in docs for a, p, n in d["aspects"] for v in range(n)],
        columns=["d", "a", "p", "v"],
    )
    with warehouse(db) as con:
        con.register("frame", frame)
        con.register("cats", cats)
        con.register("asps", asps)
        con.execute(
            "INSERT INTO raw_documents (id, source, channel, external_id, text, created_at, "
            " local_day, product, content_hash, first_run_id, last_run_id) "
            "SELECT id, source, 'review', id, '原文' || id, created, local, product, id, 'r', 'r' "
            "FROM frame"
        )
        con.execute("INSERT INTO doc_texts SELECT id, '文本' || id, id, NULL FROM frame")
        con.execute("INSERT INTO doc_tokens SELECT id, ['物流', id] FROM frame")
        con.execute(
            "INSERT INTO doc_sentiment SELECT id, $m, CASE WHEN negative THEN 'negative' "
            "ELSE 'positive' END, 0.5, now() FROM frame",
            {"m": MODEL},
        )
        con.execute("INSERT INTO doc_categories SELECT d, c, 'keyword', c, 1.0, 'x' FROM cats")
        con.execute("INSERT INTO doc_aspects SELECT d, a, p, 0.5, 0.9, '', v, now() FROM asps")
        con.execute(
            "INSERT INTO doc_themes SELECT id, theme, 'm', NULL FROM frame WHERE theme IS NOT NULL"
        )
        for t in ("t1", "t2"):
            con.execute(
                "INSERT INTO tracked_themes (theme_id, centroid, n_members, keywords, key_phrases,"
                " label, n_docs, n_negative, negativity, state, born_run_id, updated_run_id) "
                "VALUES (?, '{}', 1, [], [], ?, 1, 0, 0, 'new', 'r', 'r')",
                [t, f"主题{t}"],
            )
        con.execute(
            "INSERT INTO doc_customers (doc_id, customer_id, via, segment) "
            "SELECT id, 'c' || id, 'key', segment FROM frame WHERE segment IS NOT NULL"
        )
        con.execute(
            "INSERT INTO doc_groups SELECT id, \"group\", 1.0, ''::BLOB, now() FROM frame "
            'WHERE "group" IS NOT NULL'
        )


def _matches(doc: dict, key: tuple[str, str]) -> bool:
    kind, value = key
    negative_aspects = {a for a, p, _ in doc["aspects"] if p == "negative"}
    if kind in ("segment_category", "segment_aspect"):
        segment, _, other = value.partition(" · ")
        if doc["segment"] != segment:
            return False
        return other in (doc["categories"] if kind == "segment_category" else negative_aspects)
    return {
        "source": lambda: doc["source"] == value,
        "product": lambda: doc["product"] == value,
        "category": lambda: value in doc["categories"],
        "theme": lambda: doc["theme"] == value,
        "aspect": lambda: value in negative_aspects,
        "segment": lambda: doc["segment"] == value,
    }[kind]()


def _expected(docs: list[dict], window: Window, limit: int) -> list[str]:
    zone = ZoneInfo(TZ)
    if isinstance(window.start, datetime):
        first, after = window.start, window.end + timedelta(hours=1)
    else:
        first = datetime.combine(window.start, datetime.min.time())
        after = datetime.combine(window.end, datetime.min.time()) + timedelta(days=1)
    hits = [
        d
        for d in docs
        if d["negative"]
        and _matches(d, window.key)
        and first <= d["created"].astimezone(zone).replace(tzinfo=None) < after
    ]
    hits.sort(key=lambda d: d["id"])
    hits.sort(key=lambda d: d["created"], reverse=True)
    return [d["id"] for d in hits[:limit]]


def _windows() -> list[Window]:
    keys = [
        *(("source", s) for s in SOURCES),
        *(("product", p) for p in PRODUCTS),
        *(("category", c) for c in CATEGORIES),
        ("theme", "t1"),
        *(("aspect", a) for a in ASPECTS),
        *(("segment", s) for s in SEGMENTS),
        segment_key("segment_category", "高价值", "物流"),
        segment_key("segment_aspect", "新客", "服务"),
    ]
    days = [
        (FIRST + timedelta(days=d), FIRST + timedelta(days=d + n))
        for d, n in ((0, 0), (3, 6), (10, 9))
    ]
    hours = [(datetime(2025, 5, 6, 9), datetime(2025, 5, 6, 20))]
    return [Window(k, s, e) for k in keys for s, e in [*days, *hours]]  # fmt: skip


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> tuple[Path, list[dict]]:
    db = tmp_path_factory.mktemp("spike_docs") / "w.duckdb"
    docs = _docs()
    _seed(db, docs)
    return db, docs


def test_every_window_gets_exactly_its_own_documents(seeded, monkeypatch) -> None:
    db, docs = seeded
    windows = _windows()
    monkeypatch.setattr(spike_docs, "CHUNK", 7)  # several chunks, mixed kinds in each
    with warehouse(db) as con:
        got = explain_docs_many(con, windows, MODEL, TZ, limit=40)
    assert len(got) == len(windows)
    for window, found in zip(windows, got, strict=True):
        assert [d.doc_id for d in found] == _expected(docs, window, 40), window
    assert sum(map(len, got)) > 300  # the windows are not empty
    assert any(len(found) == 40 for found in got)  # and the limit is reached per window


def test_a_window_asked_alone_reads_the_same_documents_and_details(seeded) -> None:
    db, docs = seeded
    windows = _windows()
    with warehouse(db) as con:
        together = explain_docs_many(con, windows, MODEL, TZ)
        alone = [explain_docs(con, w.key, w.start, w.end, MODEL, TZ) for w in windows]
    assert together == alone
    by_id = {d["id"]: d for d in docs}
    sizes = {g: sum(d["group"] == g for d in docs) for g in {d["group"] for d in docs} if g}
    for doc in (d for found in together for d in found):
        seed = by_id[doc.doc_id]
        assert doc.text == "文本" + doc.doc_id and doc.tokens == ("物流", doc.doc_id)
        assert doc.categories == tuple(sorted(seed["categories"]))
        assert doc.theme == (f"主题{seed['theme']}" if seed["theme"] else None)
        assert doc.group_id == seed["group"]
        assert doc.group_size == (sizes[seed["group"]] if seed["group"] else 1)


def test_an_unknown_key_kind_is_an_error_naming_it(seeded) -> None:
    db, _ = seeded
    with warehouse(db) as con, pytest.raises(ValueError, match="'brand'"):
        explain_docs_many(con, [Window(("brand", "x"), FIRST, FIRST)], MODEL, TZ)
