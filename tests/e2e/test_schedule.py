"""`voc schedule` with no Prefect server configured: it starts and supervises one, that
server really creates the scheduled runs (06:00 Asia/Shanghai = 22:00 UTC), a run of the
deployment executes and lands documents in a DuckDB file, and a server killed with
SIGKILL comes back and serves again."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest

from dashboard.data import read_only
from tests.e2e.conftest import E2E_UNTIL, free_port
from tests.e2e.supervised import (
    alive,
    api_call,
    deployment_id,
    finished_run,
    read_state,
    schedule_env,
    supervised,
    trigger_run,
    wait_for,
)
from warehouse import queries

pytestmark = pytest.mark.e2e


def _scheduled_runs(api: str) -> list[dict]:
    return [r for r in api_call(api, "/flow_runs/filter", {}) if r["state_type"] == "SCHEDULED"]


def test_schedule_supervises_a_server_that_creates_daily_runs(tmp_path: Path) -> None:
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    args = ["--db", str(tmp_path / "w.duckdb"), "--prefect-port", str(port)]
    with supervised(args, schedule_env(tmp_path), tmp_path / "out.log") as proc:
        runs = wait_for(lambda: _scheduled_runs(api), 180, proc, "a scheduled run")
    assert proc.returncode == 0, (tmp_path / "out.log").read_text()
    assert {r["expected_start_time"][11:16] for r in runs} == {"22:00"}
    assert all(r["parameters"]["db_path"] == str(tmp_path / "w.duckdb") for r in runs)
    # The server's home defaults to the runs directory beside the warehouse.
    assert (tmp_path / "runs" / "prefect" / "prefect.db").exists()
    with pytest.raises(OSError):  # the supervised server stopped with it
        _scheduled_runs(api)


def test_a_run_of_the_served_deployment_lands_documents_in_the_warehouse(
    e2e_server, tmp_path: Path
) -> None:
    config = tmp_path / "voc.toml"
    config.write_text(
        f'[sources.demo_weibo]\nkind = "microblog"\nurl = "{e2e_server.base_url}/api/search"\n'
        'query = "客声优选"\n',
        encoding="utf-8",
    )
    db, home, port = tmp_path / "w.duckdb", tmp_path / "prefect", free_port()
    api = f"http://127.0.0.1:{port}/api"
    args = ["--config", str(config), "--db", str(db), "--prefect-port", str(port)]
    args += ["--prefect-home", str(home)]
    with supervised(args, schedule_env(tmp_path), tmp_path / "out.log") as proc:
        deployment = wait_for(lambda: deployment_id(api), 120, proc, "the deployment")
        day = str(E2E_UNTIL)
        run_id = trigger_run(api, deployment, {"since": day, "until": day})
        run = wait_for(lambda: finished_run(api, run_id), 150, proc, "the triggered run")
    runner_log = (home / "runner.log").read_text(errors="replace")
    assert run["state_type"] == "COMPLETED", runner_log[-3000:]
    assert run["parameters"]["db_path"] == str(db)
    with read_only(db) as con:
        summary = queries.warehouse_summary(con)
    assert summary["documents"]["total"] > 0
    assert set(summary["documents"]["by_source"]) == {"demo_weibo"}
    assert proc.returncode == 0


def test_a_killed_server_is_restarted_and_serves_again(tmp_path: Path) -> None:
    home, port = tmp_path / "prefect", free_port()
    api = f"http://127.0.0.1:{port}/api"
    args = ["--db", str(tmp_path / "w.duckdb"), "--prefect-port", str(port)]
    args += ["--prefect-home", str(home), "--startup-timeout", "120"]
    log = tmp_path / "out.log"
    with supervised(args, schedule_env(tmp_path), log) as proc:
        deployment = wait_for(lambda: deployment_id(api), 120, proc, "the deployment")
        first = read_state(home)
        os.kill(first["server_pid"], signal.SIGKILL)
        state = wait_for(
            lambda: (s := read_state(home))["server_restarts"] == 1 and s, 120, proc, "a restart"
        )
        assert state["server_pid"] != first["server_pid"] and alive(state["server_pid"])
        # The deployment lives in the server's SQLite database: the same one, still served.
        assert wait_for(lambda: deployment_id(api), 60, proc, "the API") == deployment
        # A run that fails at once (since after until) shows the runner executing runs
        # against the restarted server, without paying for a whole ingestion.
        run_id = trigger_run(api, deployment, {"since": "2025-08-21", "until": "2025-08-20"})
        run = wait_for(lambda: finished_run(api, run_id), 120, proc, "the triggered run")
        pids = read_state(home)
    assert run["state_type"] == "FAILED"
    assert "is after" in run["state"]["message"]
    output = log.read_text(encoding="utf-8")
    assert proc.returncode == 0, output
    assert re.search(r"the Prefect server exited \(code -9\); restarting it in \d+s", output)
    assert "Prefect server ready" in output
    assert not alive(pids["server_pid"]) and not alive(pids["runner_pid"])
