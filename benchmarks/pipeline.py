"""End-to-end throughput of the daily flow on the demo data, with the per-stage split.

Runs `voc demo --no-dashboard` into a fresh temporary warehouse (full demo period unless
--since/--until), then re-runs the same window (the idempotent no-op) as the baseline the
first run is compared with. Prints docs/s overall and per stage (fetch, load, normalise,
segment, sentiment, themes, spikes) and each stage's share of the wall time.

    python benchmarks/pipeline.py [--since 2025-06-01 --until 2025-09-30]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _stage_seconds(db: Path, run_id: str) -> list[tuple[str, int, int, float]]:
    from warehouse.db import read_only

    with read_only(db) as con:
        return con.execute(
            "SELECT stage, sum(n_in)::INTEGER, sum(n_out)::INTEGER, sum(seconds) "
            "FROM run_stages WHERE run_id = ? GROUP BY stage ORDER BY min(rowid)",
            [run_id],
        ).fetchall()


def _run(db: Path, since: str | None, until: str | None) -> tuple[float, str]:
    from cli.main import main
    from warehouse.db import read_only

    args = ["demo", "--db", str(db), "--no-dashboard"]
    if since:
        args += ["--since", since]
    if until:
        args += ["--until", until]
    started = time.perf_counter()
    code = main(args)
    wall = time.perf_counter() - started
    if code != 0:
        sys.exit(f"demo run failed with exit code {code}")
    with read_only(db) as con:
        run_id = con.execute(
            "SELECT run_id FROM run_log ORDER BY started_at DESC LIMIT 1"
        ).fetchall()[0][0]
    return wall, run_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--since")
    parser.add_argument("--until")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        wall, run_id = _run(db, args.since, args.until)
        stages = _stage_seconds(db, run_id)
        rerun_wall, _ = _run(db, args.since, args.until)
    fetched = sum(n_out for stage, _, n_out, _ in stages if stage == "fetch")
    staged = sum(s for *_, s in stages)
    print("\n=== pipeline benchmark (demo data) ===")
    print(f"documents fetched: {fetched}")
    print(
        f"wall time, first run: {wall:.1f} s  → {fetched / wall:.0f} docs/s end to end "
        "(includes Prefect start-up)"
    )
    print(f"stage time total:     {staged:.1f} s  → {fetched / staged:.0f} docs/s in stages")
    print(
        f"re-run of the same window (baseline, nothing new): {rerun_wall:.1f} s; "
        f"first run / re-run = {wall / rerun_wall:.2f}x"
    )
    print(f"{'stage':<10} {'in':>7} {'out':>7} {'seconds':>8} {'docs/s':>9} {'share':>6}")
    for stage, n_in, n_out, seconds in stages:
        rate = n_in / seconds if seconds > 0 else float("inf")
        print(
            f"{stage:<10} {n_in:>7} {n_out:>7} {seconds:>8.2f} {rate:>9.0f} "
            f"{seconds / staged:>6.1%}"
        )


if __name__ == "__main__":
    main()
