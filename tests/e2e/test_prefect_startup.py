"""One-off runs on Prefect's temporary server: started with the project's timeout, so a
loaded machine (CPU burners on every core, and more) still ingests; a server that cannot
start in time fails the command clearly, after its retries, with nothing half-written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dashboard.data import read_only
from tests.e2e.conftest import E2E_UNTIL
from voc.records import make_document
from warehouse import loaders, queries
from warehouse.db import open_warehouse

pytestmark = pytest.mark.e2e

BURNERS = 4
UP = re.compile(r"temporary Prefect server at (\S+) \(up in ([\d.]+)s, attempt (\d+)\)")


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """No Prefect API configured: the command starts the temporary server itself."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env.update(PREFECT_HOME=str(tmp_path / "prefect-home"), **extra)
    return env


def _ingest(config: Path, db: Path, env: dict[str, str]) -> subprocess.Popen:
    day = str(E2E_UNTIL)
    args = ["ingest", "--config", str(config), "--db", str(db), "--since", day, "--until", day]
    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _left_behind(prefect_home: Path) -> list[int]:
    """Pids of processes still running with this PREFECT_HOME (a leaked server)."""
    marker = f"PREFECT_HOME={prefect_home}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                continue  # gone, or not ours
    return found


def test_a_one_off_ingest_starts_its_server_on_a_loaded_machine(e2e_server, tmp_path: Path) -> None:
    config = tmp_path / "voc.toml"
    config.write_text(
        f'[sources.demo_weibo]\nkind = "microblog"\nurl = "{e2e_server.base_url}/api/search"\n'
        'query = "客声优选"\n',
        encoding="utf-8",
    )
    db = tmp_path / "w.duckdb"
    burn = [sys.executable, "-c", "while 1: pass"]
    burners = [subprocess.Popen(burn) for _ in range(BURNERS)]
    lines: list[str] = []
    try:
        time.sleep(1)  # the burners are spinning before the command starts
        # Prefect's own 20 s is what failed under load (a temporary server took 40-49 s
        # with these burners on this 2-core machine; docs/operations.md).
        run = _ingest(config, db, _env(tmp_path, VOC_PREFECT_STARTUP_TIMEOUT="240"))
        for line in run.stdout:  # the load lasts until the server is up and the flow starts
            lines.append(line)
            if UP.search(line):
                break
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    lines += run.stdout.readlines()
    assert run.wait(timeout=300) == 0, "".join(lines)[-3000:]
    up = next(m for m in map(UP.search, lines) if m)
    print(f"temporary server up in {up[2]}s under {BURNERS} CPU burners (attempt {up[3]})")
    assert float(up[2]) > 0 and up[3] == "1"
    with read_only(db) as con:
        summary = queries.warehouse_summary(con)
    assert summary["documents"]["total"] > 0
    assert '"status": "ok"' in "".join(lines)


def test_a_server_that_cannot_start_in_time_fails_clearly_and_keeps_the_data(
    new_warehouse, tmp_path: Path
) -> None:
    db = new_warehouse(tmp_path / "w.duckdb")
    con = open_warehouse(db)
    stamp = datetime(2025, 8, 20, 2, tzinfo=UTC)
    kept = [
        make_document(source="s", channel="review", external_id=str(i), text=t, created_at=stamp)
        for i, t in enumerate(["物流太慢", "质量很好"])
    ]
    loaders.upsert_documents(con, kept, "earlier-run")
    runs_before = con.execute("SELECT count(*) FROM run_log").fetchone()[0]
    con.close()
    config = tmp_path / "voc.toml"  # a source that is never reached: the run never starts
    config.write_text(
        '[sources.x]\nkind = "microblog"\nurl = "http://127.0.0.1:9/api"\nquery = "q"\n',
        encoding="utf-8",
    )
    env = _env(tmp_path, VOC_PREFECT_STARTUP_TIMEOUT="1", VOC_PREFECT_STARTUP_RETRIES="1")
    run = _ingest(config, db, env)
    output = run.communicate(timeout=120)[0]
    assert run.returncode == 1, output
    assert "attempt 1 of 2" in output and "attempt 2 of 2" in output
    assert "did not start within 1s in 2 attempt(s); nothing was ingested" in output
    assert "prefect_startup_timeout (VOC_PREFECT_STARTUP_TIMEOUT)" in output
    assert "Traceback" not in output
    con = open_warehouse(db)
    try:
        ids = {r[0] for r in con.execute("SELECT external_id FROM raw_documents").fetchall()}
        assert ids == {"0", "1"}
        assert con.execute("SELECT count(*) FROM run_log").fetchone()[0] == runs_before
    finally:
        con.close()
    assert _left_behind(tmp_path / "prefect-home") == []
