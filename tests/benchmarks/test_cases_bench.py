"""The case-opening benchmark at small scale: its warehouse has what the rules read, every
rule opens cases, and the re-run opens nothing."""

from __future__ import annotations

import duckdb

from benchmarks import cases as bench


def test_the_benchmark_opens_cases_by_every_rule_and_a_rerun_opens_nothing(tmp_path) -> None:
    db = tmp_path / "cases.duckdb"
    meta = bench.build_warehouse(db, 20_000, 2_000)
    assert meta["customers"]["customers"] == 2_000
    with duckdb.connect(str(db), read_only=True) as con:
        social, reached = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE repost_count + comment_count >= 500) "
            "FROM raw_documents WHERE channel = 'social'"
        ).fetchone()
        others = con.execute(
            "SELECT count(*) FROM raw_documents WHERE channel <> 'social' "
            "AND (repost_count IS NOT NULL OR comment_count IS NOT NULL)"
        ).fetchone()[0]
    assert 0 < reached < social and others == 0
    out = bench.run(db)
    assert out["n_candidates"] > 1000
    assert out["n_openings"] <= out["n_voices"] <= out["n_candidates"]
    rules = {r["name"] for r in bench.CASES_TABLE["rules"]} - {"alert_verbatims"}
    assert rules <= set(out["by_rule"])
    assert set(out["by_priority"]) == {"P1", "P2", "P3", "P4"}
    assert out["opened"]["opened"] + out["opened"]["merged"] == out["n_openings"]
    assert out["rerun"] == {"opened": 0, "merged": 0, "known": out["n_voices"]}
    assert out["total_s"] > 0
