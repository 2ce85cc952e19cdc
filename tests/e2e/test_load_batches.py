"""A source's documents travel from the fetch to the load as a file and land batch by
batch (real daily flow, Prefect test harness, DuckDB file): every document lands once
whatever the batch size, with a PII mask in a later batch, and a re-run changes nothing."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.e2e
DAY = date(2025, 5, 20)


def _export(folder: Path, n: int) -> None:
    rows = [
        {
            "工单号": f"T{i:03d}",
            "创建时间": f"2025-05-20 {9 + i % 10:02d}:{i % 60:02d}:00",
            "问题描述": f"第{i}单：快递太慢了，等了{i}天" + ("，请打 13912345678" * (i == 6)),
        }
        for i in range(n)
    ]
    folder.mkdir()
    (folder / "20250520.jsonl").write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8"
    )


def test_a_source_lands_in_batches_from_its_file_and_a_rerun_changes_nothing(
    prefect_harness, tmp_path: Path, monkeypatch
) -> None:
    import flows.tasks
    from flows.daily import daily_ingest

    monkeypatch.setattr(flows.tasks, "LOAD_BATCH", 3)
    _export(tmp_path / "exports", 8)
    config = tmp_path / "voc.toml"
    config.write_text(
        f'[sources.helpdesk]\nkind = "ticket_export"\nurl = "{tmp_path / "exports"}"\n',
        encoding="utf-8",
    )
    db = tmp_path / "w.duckdb"

    first = daily_ingest(since=DAY, until=DAY, config_path=str(config), db_path=str(db))
    second = daily_ingest(since=DAY, until=DAY, config_path=str(config), db_path=str(db))

    assert first["status"] == second["status"] == "ok"
    with duckdb.connect(str(db), read_only=True) as con:
        texts = dict(con.execute("SELECT external_id, text FROM raw_documents").fetchall())
        loads = con.execute(
            "SELECT s.run_id, s.n_in, s.n_out, s.n_skipped FROM run_stages s "
            "JOIN run_log r USING (run_id) WHERE s.stage = 'load' ORDER BY r.started_at"
        ).fetchall()
        health = con.execute(
            "SELECT fetched, new, unchanged FROM source_runs ORDER BY finished_at"
        ).fetchall()
        watermark = con.execute(
            "SELECT strftime(watermark AT TIME ZONE 'Asia/Shanghai', '%H:%M') "
            "FROM source_state WHERE source = 'helpdesk'"
        ).fetchone()[0]
    assert sorted(texts) == [f"T{i:03d}" for i in range(8)]
    # The masked document is in the third batch of three.
    assert "13912345678" not in texts["T006"] and "快递太慢了" in texts["T006"]
    assert [(n_in, n_out, skipped) for _, n_in, n_out, skipped in loads] == [
        (8, 8, 0),
        (8, 0, 8),
    ]
    assert health == [(8, 8, 0), (8, 0, 8)]
    assert watermark == "16:07"  # the newest ticket's time (T007), found in the file
