"""The group stage's keyed history (`warehouse.history_keys`): a run that reads only the
stored documents sharing a key with its new ones groups exactly as an index rebuilt from the
whole history window, run after run, with reposts, copies, a campaign that fills its band
buckets, and documents leaving the window."""

import random
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from nlp.neardup import NearDupConfig, NearDupIndex, signatures
from nlp.neardup_keys import index_keys
from nlp.stages.neardup import NearDupStage
from nlp.stages.normalise import NormaliseStage
from voc.records import make_document
from voc.stages import fingerprints
from warehouse import loaders
from warehouse.db import open_warehouse
from warehouse.enrichment import run_stage, select_history, select_pending
from warehouse.history_keys import backfill_keys, lookup_history

TZ = timezone(timedelta(hours=8))
START = datetime(2025, 8, 10, 9, 0, tzinfo=TZ)
NORMALISE = NormaliseStage()
BASES = [
    "客声优选的保温杯保温效果太差了，早上装的开水中午就凉透了，和宣传的完全不一样",
    "耳机用了三天左边就没声音了，联系客服要求换货，客服一直推脱说是人为损坏",
    "快递整整晚了一个星期才到，包装盒子都压扁了，里面的东西也摔坏了两个",
    "退款申请提交了半个月还没有到账，客服只会说耐心等待，到底什么时候能处理",
    "客服电话一直打不通，等了四十分钟没人接，在线客服也是机器人自动回复",
]
FILLER = "的了是在我有他这个们中来上大为和国地到以说时要就出会可也你对生能而子那得于着下自之"


def _variant(rng: random.Random, text: str, edits: int) -> str:
    chars = list(text)
    for _ in range(edits):
        chars[rng.randrange(len(chars))] = rng.choice(FILLER)
    return "".join(chars)


def _day(rng: random.Random, day: int, n: int, earlier: list[str]) -> list[tuple[str, str]]:
    """(external id, text) of one day: campaign variants, reposts, copies and short texts."""
    rows = []
    for i in range(n):
        roll = rng.random()
        if roll < 0.45:  # a campaign: many one- or two-character variants of a few texts
            text = _variant(rng, rng.choice(BASES), rng.randint(0, 3))
        elif roll < 0.65 and earlier:  # reposts of earlier documents, with or without a URL
            text = f"转发微博 //@用户{i}: {rng.choice(earlier)}" + rng.choice(
                ["", " http://t.cn/A1"]
            )
        elif roll < 0.75 and earlier:  # exact copies
            text = rng.choice(earlier)
        elif roll < 0.85:
            text = rng.choice(["好评", "太坑了！", "还行吧", "差评差评", ""])
        else:  # distinct texts
            text = "".join(rng.choice(FILLER) for _ in range(rng.randint(10, 40)))
        rows.append((f"d{day}-{i}", text))
        earlier.append(text)
    return rows


def _land_day(con: duckdb.DuckDBPyConnection, day: int, rows: list[tuple[str, str]]) -> None:
    docs = [
        make_document(
            source="weibo",
            channel="social",
            external_id=ext,
            text=text or "。",
            created_at=START + timedelta(days=day, seconds=i),
            author=f"u{i % 7}",
        )
        for i, (ext, text) in enumerate(rows)
    ]
    loaders.upsert_documents(con, docs, f"r{day}")
    run_stage(con, NORMALISE, fingerprints([NORMALISE]))


def _rebuilt(con: duckdb.DuckDBPyConnection, stage: NearDupStage, prints) -> list[tuple]:
    """What the stage did before keyed history: the whole window restored, then the batch."""
    index = NearDupIndex(stage.config)
    for a in select_history(con, stage, prints):
        index.restore(a.doc_id, a.group_id, bytes(a.signature), a.similarity)
    batch = select_pending(con, stage, prints)
    return [
        (a.doc_id, a.group_id, a.similarity, a.signature)
        for a in index.add_many((d.doc_id, d.text_norm or "") for d in batch)
    ]


def _stored(con: duckdb.DuckDBPyConnection, ids: list[str]) -> list[tuple]:
    rows = con.execute(
        "SELECT doc_id, group_id, similarity, signature FROM doc_groups "
        "WHERE doc_id IN (SELECT unnest(?))",
        [ids],
    ).fetchall()
    order = {doc_id: i for i, doc_id in enumerate(ids)}
    return sorted(rows, key=lambda r: order[r[0]])


#: The stage's default, and short texts matched exactly with two-row bands.
CONFIGS = pytest.mark.parametrize(
    "config",
    [NearDupConfig(), NearDupConfig(short_exact=True, threshold=0.7, num_perm=64, bands=32)],
    ids=["default", "short-exact-two-row-bands"],
)


@CONFIGS
def test_keyed_history_groups_like_the_whole_window_run_after_run(
    tmp_path: Path, new_warehouse, config: NearDupConfig
) -> None:
    con = open_warehouse(new_warehouse(tmp_path / "w.duckdb"))
    # A one-day window: each run's history loses the day before yesterday.
    stage = NearDupStage(config, history_days=1)
    prints = fingerprints([NORMALISE, stage])
    rng, earlier = random.Random(7), []
    for day in range(4):
        _land_day(con, day, _day(rng, day, 150, earlier))
        expected = _rebuilt(con, stage, prints)
        assert run_stage(con, stage, prints).n_docs == len(expected) == 150
        assert _stored(con, [e[0] for e in expected]) == expected
        # Keys are kept for the window only (the day before and this one).
        kept_days = con.execute(
            "SELECT DISTINCT r.local_day - DATE '2025-08-10' FROM doc_group_keys k "
            "JOIN raw_documents r ON r.id = k.doc_id ORDER BY 1"
        ).fetchall()
        assert [d[0] for d in kept_days] == list(range(max(0, day - 1), day + 1))
    groups = con.execute("SELECT count(DISTINCT group_id), count(*) FROM doc_groups").fetchone()
    assert groups[0] < groups[1] / 2  # the corpus does group: campaigns, reposts, copies
    # Across days: documents joined groups founded on an earlier day.
    assert (
        con.execute(
            "SELECT count(*) FROM doc_groups g JOIN raw_documents r ON r.id = g.doc_id "
            "JOIN raw_documents f ON f.id = g.group_id WHERE r.local_day > f.local_day"
        ).fetchone()[0]
        > 50
    )
    con.close()


def test_a_warehouse_grouped_before_the_keys_table_gets_its_keys_and_the_same_groups(
    tmp_path: Path, new_warehouse
) -> None:
    con = open_warehouse(new_warehouse(tmp_path / "w.duckdb"))
    stage = NearDupStage()
    prints = fingerprints([NORMALISE, stage])
    rng, earlier = random.Random(11), []
    _land_day(con, 0, _day(rng, 0, 120, earlier))
    run_stage(con, stage, prints)
    keys = con.execute("SELECT * FROM doc_group_keys ORDER BY ALL").fetchall()
    n_short = con.execute("SELECT count(*) FROM doc_groups WHERE octet_length(signature) = 9")
    n_short = n_short.fetchone()[0]
    assert len(keys) == 120 + 32 * (120 - n_short)  # a digest each, bands for MinHash ones
    con.execute("DELETE FROM doc_group_keys")  # as an older warehouse has it

    _land_day(con, 1, _day(rng, 1, 80, earlier))
    expected = _rebuilt(con, stage, prints)
    run_stage(con, stage, prints)
    assert _stored(con, [e[0] for e in expected]) == expected
    backfilled = con.execute(
        "SELECT * FROM doc_group_keys WHERE doc_id IN "
        "(SELECT doc_id FROM doc_groups g JOIN raw_documents r ON r.id = g.doc_id "
        " WHERE r.local_day = DATE '2025-08-10') ORDER BY ALL"
    ).fetchall()
    assert backfilled == keys
    assert backfill_keys(con, stage, prints) == 0  # every document of the window has keys
    con.close()


def test_regrouping_a_document_replaces_its_keys(tmp_path: Path, new_warehouse) -> None:
    con = open_warehouse(new_warehouse(tmp_path / "w.duckdb"))
    stage = NearDupStage()
    _land_day(con, 0, [("a", BASES[0]), ("b", "好评")])
    run_stage(con, stage, fingerprints([NORMALISE, stage]))
    other = replace(stage, config=NearDupConfig(num_perm=64, bands=16))
    run_stage(con, other, fingerprints([NORMALISE, other]))
    assert con.execute(
        "SELECT count(*), count(DISTINCT doc_id) FROM doc_group_keys"
    ).fetchone() == (1 + 16 + 1, 2)
    con.close()


def test_lookup_reads_exactly_the_entries_of_the_buckets_the_batch_touches(
    tmp_path: Path, new_warehouse
) -> None:
    con = open_warehouse(new_warehouse(tmp_path / "w.duckdb"))
    stage = NearDupStage(NearDupConfig(short_exact=True))
    prints = fingerprints([NORMALISE, stage])
    rng, earlier = random.Random(3), []
    for day in range(2):
        _land_day(con, day, _day(rng, day, 200, earlier))
        run_stage(con, stage, prints)
    _land_day(con, 2, _day(rng, 2, 100, earlier))
    batch = select_pending(con, stage, prints)
    _, slots, keys = index_keys(
        signatures([d.text_norm for d in batch], stage.config), stage.config, probe=True
    )

    # The index rebuilt from the whole window, and which documents its entries are.
    index, entry_doc, first = NearDupIndex(stage.config), [], {}
    for a in select_history(con, stage, prints):
        sig = bytes(a.signature)
        index.restore(a.doc_id, a.group_id, sig, a.similarity)
        if len(sig) > 9 and sig not in first:
            entry_doc.append(a.doc_id)
        first.setdefault(sig, a.doc_id)
    batch_short = {s for s in signatures([d.text_norm for d in batch]) if len(s) == 9}
    want = {first[s] for s in batch_short if s in first and s[1:] != bytes(8)}
    for slot, key in zip(slots.tolist(), keys.tolist(), strict=True):
        if slot == 0:
            found = index._exact.get(int(key).to_bytes(8, "little"))
            want.update([entry_doc[found]] if found is not None else [])
        else:
            found = index._buckets[slot - 1].get(key)
            found = [] if found is None else [found] if isinstance(found, int) else found
            want.update(entry_doc[e] for e in found)
    got = lookup_history(con, stage, prints)(slots, keys)
    assert sorted(a.doc_id for a in got) == sorted(want)
    assert any(len(bytes(a.signature)) == 9 for a in got)  # short texts' first copies too
    # What the campaign makes of the buckets: some hold the most members one group keeps.
    assert (
        max(len(v) for b in index._buckets for v in b.values() if isinstance(v, list))
        >= stage.bucket_cap
    )
    con.close()


@CONFIGS
def test_batches_of_one_run_group_like_one_piece(
    tmp_path: Path, new_warehouse, config: NearDupConfig
) -> None:
    # A backfill of a million documents is grouped in batches (each batch's keys are saved
    # before the next looks them up), not read in one piece: the same groups either way.
    rng, earlier = random.Random(11), []
    days = [_day(rng, day, 120, earlier) for day in range(3)]
    stored = []
    for name, batch_size in (("one.duckdb", None), ("batched.duckdb", 37)):
        con = open_warehouse(new_warehouse(tmp_path / name))
        for day, rows in enumerate(days):
            _land_day(con, day, rows)
        stage = NearDupStage(config, batch_size=batch_size)
        prints = fingerprints([NORMALISE, stage])
        assert run_stage(con, stage, prints).n_docs == 360
        stored.append(
            con.execute(
                "SELECT doc_id, group_id, similarity FROM doc_groups ORDER BY ALL"
            ).fetchall()
        )
        con.close()
    assert stored[0] == stored[1]
    assert len({g for _, g, _ in stored[0]}) < 360 / 2  # the corpus does group
