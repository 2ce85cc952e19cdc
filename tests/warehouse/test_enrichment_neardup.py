"""The near-duplicate stage through `warehouse.enrichment` on a real DuckDB file: one voice
per repost wave, groups stable across runs (the stored history), voices and top voices."""

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from nlp.neardup import Assignment, NearDupConfig, NearDupIndex
from nlp.stages.neardup import NearDupStage
from nlp.stages.normalise import NormaliseStage
from voc.records import make_document
from voc.stages import fingerprints
from warehouse import loaders
from warehouse.db import open_warehouse
from warehouse.enrichment import run_stage, save_results, select_history, select_pending
from warehouse.neardup import count_voices, select_top_voices

TZ = timezone(timedelta(hours=8))
START = datetime(2025, 8, 10, 9, 0, tzinfo=TZ)
CAMPAIGN = (
    "客声优选的保温杯保温效果太差了，早上装的开水中午就凉透了，和宣传的完全不一样，大家千万别买"
)
OTHER = "耳机用了三天左边就没声音了，联系客服要求换货，客服一直推脱说是人为损坏"
NORMALISE = NormaliseStage()
GROUP = NearDupStage()


def _prints(stage: NearDupStage = GROUP) -> dict[str, str]:
    return fingerprints([NORMALISE, stage])


@pytest.fixture()
def con(tmp_path: Path, new_warehouse):
    c = open_warehouse(new_warehouse(tmp_path / "w.duckdb"))
    yield c
    c.close()


def _land(con: duckdb.DuckDBPyConnection, rows: list[tuple[str, str, int]], source="weibo"):
    """Land (external_id, text, minutes after START) and their normalised texts."""
    docs = [
        make_document(
            source=source,
            channel="social",
            external_id=ext,
            text=text,
            created_at=START + timedelta(minutes=minutes),
            author=f"user{ext}",
        )
        for ext, text, minutes in rows
    ]
    loaders.upsert_documents(con, docs, "r1")
    run_stage(con, NORMALISE, fingerprints([NORMALISE]))
    return [d.id for d in docs]


def _group_new(con: duckdb.DuckDBPyConnection, stage: NearDupStage = GROUP) -> dict[str, str]:
    """One run of the stage, step by step; doc_id → group_id of what it grouped."""
    prints = _prints(stage)
    batch = select_pending(con, stage, prints)
    assignments = stage.enrich(batch, select_history(con, stage, prints))
    save_results(con, stage, prints, batch, assignments)
    return {a.doc_id: a.group_id for a in assignments}


def test_migration_applies_after_a_gap_in_numbering(tmp_path: Path) -> None:
    c = open_warehouse(tmp_path / "w.duckdb")
    versions = [r[0] for r in c.execute("SELECT version FROM schema_migrations").fetchall()]
    assert 3 in versions
    cols = c.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_name = 'doc_groups' ORDER BY ordinal_position"
    ).fetchall()
    assert [r[0] for r in cols][:4] == ["doc_id", "group_id", "similarity", "signature"]
    c.close()


def test_pending_is_oldest_first_with_duplicates_and_skips_grouped_documents(con) -> None:
    late, early, mid = _land(
        con, [("1", OTHER, 30), ("2", CAMPAIGN, 0), ("3", "又一条不同的吐槽内容在这里", 10)]
    )
    copy = _land(con, [("4", CAMPAIGN, 40)])[0]
    # Exact duplicates are grouped too: 500 copies are one voice of size 500.
    assert [d.doc_id for d in select_pending(con, GROUP, _prints())] == [early, mid, late, copy]
    batch = select_pending(con, GROUP, _prints(), limit=1)
    save_results(con, GROUP, _prints(), batch, GROUP.enrich(batch))
    assert [d.doc_id for d in select_pending(con, GROUP, _prints())] == [mid, late, copy]


def test_500_copies_are_one_voice_of_size_500(con) -> None:
    copies = [(f"c{i}", f"转发微博 //@用户{i}: {CAMPAIGN} http://t.cn/A{i}", i) for i in range(499)]
    ids = _land(con, [("orig", CAMPAIGN, -5), *copies, ("other", OTHER, 3)])
    groups = _group_new(con)
    assert len(groups) == 501
    assert {groups[i] for i in ids[:500]} == {ids[0]}

    voices = con.execute(
        "SELECT group_id, size, first_doc_id, n_sources, n_authors FROM doc_voices "
        "ORDER BY size DESC"
    ).fetchall()
    assert voices == [(ids[0], 500, ids[0], 1, 500), (ids[-1], 1, ids[-1], 1, 1)]
    assert count_voices(con) == 2

    top = select_top_voices(con, date(2025, 8, 10), date(2025, 8, 10), limit=1)
    assert top[["group_id", "size", "total_size", "first_doc_id"]].values.tolist() == [
        [ids[0], 500, 500, ids[0]]
    ]
    assert top["text"][0] == CAMPAIGN


def test_second_run_joins_existing_groups_and_keeps_ids(con) -> None:
    first = _land(con, [("a", CAMPAIGN, 0), ("b", OTHER, 1)])
    assert _group_new(con) == {first[0]: first[0], first[1]: first[1]}
    second = _land(
        con,
        [("c", CAMPAIGN.replace("保温效果", "保冷效果"), 60), ("d", f"//@x:{OTHER}", 61)],
    )
    assert _group_new(con) == {second[0]: first[0], second[1]: first[1]}
    assert _group_new(con) == {}  # nothing left to group
    assert run_stage(con, GROUP, _prints()).n_docs == 0
    stored = dict(con.execute("SELECT doc_id, group_id FROM doc_groups").fetchall())
    assert stored == {
        first[0]: first[0],
        first[1]: first[1],
        second[0]: first[0],
        second[1]: first[1],
    }


def test_grouping_on_the_stored_history_gives_the_same_assignments(con) -> None:
    texts = [CAMPAIGN, OTHER, "第三条：客服电话一直打不通，等了四十分钟没人接"]
    batch1 = [(f"a{i}", texts[i % 3] + "!" * (i % 2), i) for i in range(30)]
    batch2 = [(f"b{i}", f"//@某人:{texts[i % 3]}", 100 + i) for i in range(10)]
    batch2.append(("b-new", "全新的一条：退款申请提交了半个月还没有到账，客服只会说耐心等待", 200))
    ids1 = _land(con, batch1)
    _group_new(con)
    ids2 = _land(con, batch2)
    pending = select_pending(con, GROUP, _prints())
    assert [d.doc_id for d in pending] == ids2

    uninterrupted = NearDupIndex()
    uninterrupted.add_many(
        con.execute(
            "SELECT t.doc_id, t.text_norm FROM doc_texts t JOIN raw_documents r ON r.id = t.doc_id "
            "WHERE t.doc_id IN (SELECT unnest(?)) ORDER BY r.created_at, r.id",
            [ids1],
        ).fetchall()
    )
    expected = uninterrupted.add_many((d.doc_id, d.text_norm) for d in pending)
    assert GROUP.enrich(pending, select_history(con, GROUP, _prints())) == expected
    assert {a.group_id for a in expected} == {ids1[0], ids1[1], ids1[2], ids2[-1]}


def test_saving_again_is_idempotent_and_a_new_assignment_replaces_the_old(con) -> None:
    (doc,) = _land(con, [("a", CAMPAIGN, 0)])
    batch = select_pending(con, GROUP, _prints())
    sig = GROUP.enrich(batch)[0].signature
    old, new = Assignment(doc, "old", 0.9, sig), Assignment(doc, doc, 1.0, sig)
    assert save_results(con, GROUP, _prints(), batch, [old]).n_records == 1
    assert save_results(con, GROUP, _prints(), batch, [new]).n_records == 1
    assert save_results(con, GROUP, _prints(), batch, [new]).n_records == 1
    assert save_results(con, GROUP, _prints(), [], []).n_records == 0
    assert con.execute(
        "SELECT doc_id, group_id, similarity, signature FROM doc_groups"
    ).fetchall() == [(doc, doc, 1.0, sig)]


def test_top_voices_count_only_documents_in_the_range(con) -> None:
    ids = _land(
        con,
        [
            ("a", CAMPAIGN, 0),
            ("b", CAMPAIGN, 60 * 24),
            ("c", CAMPAIGN, 60 * 24 + 1),
            ("d", OTHER, 60 * 24 + 2),
        ]
        + [(f"e{i}", OTHER, 60 * 48 + i) for i in range(3)],
    )
    _group_new(con)
    day2 = date(2025, 8, 11)
    top = select_top_voices(con, day2, day2)
    assert top[["group_id", "size", "total_size"]].values.tolist() == [
        [ids[0], 2, 3],
        [ids[3], 1, 4],
    ]
    assert top["first_day"].dt.date.tolist() == [date(2025, 8, 10), date(2025, 8, 11)]
    assert count_voices(con, date(2025, 8, 12), None) == 1


def test_another_config_regroups_instead_of_reading_signatures_it_cannot_use(con) -> None:
    ids = _land(con, [("a", CAMPAIGN, 0), ("b", CAMPAIGN + "!", 1)])
    small = NearDupStage(NearDupConfig(num_perm=64, bands=16))
    assert small.version != GROUP.version
    _group_new(con, small)
    assert len(select_history(con, small, _prints(small))) == 2
    # The default config's fingerprint differs: the 64-permutation signatures are not its
    # history, and every document is grouped again.
    assert select_history(con, GROUP, _prints()) == []
    assert [d.doc_id for d in select_pending(con, GROUP, _prints())] == ids
    assert _group_new(con) == {ids[0]: ids[0], ids[1]: ids[0]}
    assert len(select_history(con, GROUP, _prints())) == 2


def test_history_window_leaves_older_documents_out(con) -> None:
    _land(con, [("a", CAMPAIGN, 0), ("b", OTHER, 60 * 48)])
    _group_new(con)
    assert len(select_history(con, replace(GROUP, history_days=1), _prints())) == 1
    assert len(select_history(con, GROUP, _prints())) == 2
