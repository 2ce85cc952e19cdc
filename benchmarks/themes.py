"""Theme identity over the demo: run 90 days, then one more day, and report the share of
documents whose theme id is unchanged, with the themes, their states and the events.

    python -m benchmarks.themes [--days 90]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import timedelta
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import duckdb

from demo.events import DEMO_START
from demo.server import start_demo_server
from warehouse.themes import unchanged_share


def _themes(db: Path) -> dict[str, str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return dict(con.execute("SELECT doc_id, theme_id FROM doc_themes").fetchall())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=90)
    args = parser.parse_args()
    from prefect.testing.utilities import prefect_test_harness

    from flows.daily import daily_ingest

    last = DEMO_START + timedelta(days=args.days - 1)
    with (
        tempfile.TemporaryDirectory(prefix="voc-themes-") as tmp,
        start_demo_server() as server,
        prefect_test_harness(server_startup_timeout=180),
    ):
        db = Path(tmp) / "voc.duckdb"
        started = time.perf_counter()
        daily_ingest(since=DEMO_START, until=last, db_path=str(db), demo_port=server.port)
        first = time.perf_counter() - started
        before = _themes(db)
        started = time.perf_counter()
        day = last + timedelta(days=1)
        daily_ingest(since=day, until=day, db_path=str(db), demo_port=server.port)
        second = time.perf_counter() - started
        after = _themes(db)
        with duckdb.connect(str(db), read_only=True) as con:
            themes = con.execute(
                "SELECT theme_id, label, n_docs, round(negativity, 2), first_seen, last_seen, "
                "state FROM tracked_themes WHERE merged_into IS NULL ORDER BY n_docs DESC"
            ).fetchall()
            events = con.execute(
                "SELECT run_id, event, count(*) FROM theme_events GROUP BY ALL ORDER BY ALL"
            ).fetchall()
    print(f"\n== theme identity: {DEMO_START}…{last} ({args.days} days), then {day} ==")
    print(f"first run {first:.1f} s, one more day {second:.1f} s")
    print(f"documents themed: {len(before)} → {len(after)} (+{len(after) - len(before)})")
    share = unchanged_share(before, after)
    print(f"share of documents whose theme id is unchanged: {share:.4f}")
    print("events:", ", ".join(f"{r[1]} ×{r[2]}" for r in events) or "none")
    print(f"\n{'theme':<16} {'label':<24} {'docs':>5} {'neg':>5}  first       last        state")
    for t in themes:
        print(f"{t[0]:<16} {t[1][:22]:<24} {t[2]:>5} {t[3]:>5}  {t[4]}  {t[5]}  {t[6]}")


if __name__ == "__main__":
    main()
