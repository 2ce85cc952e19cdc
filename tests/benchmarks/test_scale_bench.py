"""The scale benchmark at small scale: every document of every channel is ingested by the
real flow, each stage is timed, and the added day is measured on both warehouses."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from benchmarks import scale
from benchmarks.scale_corpus import CorpusWriter, day_counts, generate, text_pool

pytestmark = pytest.mark.e2e


def test_generated_documents_are_distinct_and_fill_every_channel(tmp_path) -> None:
    pool = [f"评论{i}很好" for i in range(50)]
    counts = day_counts(400, 4, date(2025, 6, 1))
    assert sum(counts.values()) == 400
    docs = list(generate(counts, pool, seed=1))
    assert len({d.text for d in docs}) == 400  # past the pool, pairs keep texts distinct
    assert len({d.doc_id for d in docs}) == 400
    written = CorpusWriter(tmp_path).write(iter(docs))
    assert sum(written.values()) == 400 and min(written.values()) > 0
    assert len(list((tmp_path / "tickets").glob("*.jsonl"))) == 4
    more = list(generate({date(2025, 6, 5): 10}, pool, seed=2, start_index=400))
    assert not {d.doc_id for d in more} & {d.doc_id for d in docs}


def test_the_report_has_every_size_stage_and_the_incremental_day(tmp_path) -> None:
    report = scale.run_benchmark([2000], tmp_path, days=5, day_docs=200, echo=lambda _m: None)
    assert report["corpus"]["pool_texts"] == len(text_pool()[0])
    (run,) = report["runs"]
    assert run["docs"] == run["loaded"] == run["warehouse_docs"] == 2000
    assert set(run["by_source"]) == {"shop", "social", "tickets"}
    stages = {s["stage"]: s for s in run["stages"]}
    assert {"fetch", "load", "segment", "sentiment", "emotion", "themes", "spikes"} <= set(stages)
    assert stages["fetch"]["n_out"] == 2000
    assert stages["sentiment"]["n_in"] == 2000  # no exact duplicates skipped
    assert 0 < stages["emotion"]["n_in"] < 2000  # social posts only
    assert run["staged_s"] == pytest.approx(sum(s["seconds"] for s in run["stages"]))
    assert run["wall_s"] > run["staged_s"] > 0
    assert run["peak_rss_mb"] > 50 and run["warehouse_mb"] > 0
    # The sampled peak is the same process's, seen at 1 s intervals, at a line of its log.
    assert 50 < run["sampled_peak_rss_mb"] <= run["peak_rss_mb"] + 1
    assert "|" in run["peak_during"]
    assert run["jieba_docs_per_s"] > run["docs_per_s"] > 0
    assert run["ratio_to_jieba"] == pytest.approx(run["docs_per_s"] / run["jieba_docs_per_s"])

    inc = report["incremental"]
    assert inc["day_docs"] == 200 and inc["warehouse_docs_before"] == 2000
    assert inc["on_empty"]["loaded"] == inc["on_empty"]["warehouse_docs"] == 200
    assert inc["on_large"]["loaded"] == 200
    assert inc["on_large"]["warehouse_docs"] == 2200
    assert inc["ratio_wall"] == pytest.approx(inc["on_large"]["wall_s"] / inc["on_empty"]["wall_s"])
    text = scale.format_report(report)
    assert "2,000 documents over 5 days" in text
    assert "incremental ratio (large / empty)" in text
    db = tmp_path / "n2000" / "voc.duckdb"
    with duckdb.connect(str(db), read_only=True) as con:
        channels = dict(
            con.execute("SELECT channel, count(*) FROM raw_documents GROUP BY 1").fetchall()
        )
    assert set(channels) == {"review", "social", "ticket"}
