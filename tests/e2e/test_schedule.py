"""`voc schedule` with no Prefect server configured: it starts and supervises one, and that
server really creates the scheduled runs (06:00 Asia/Shanghai = 22:00 UTC)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.conftest import free_port

pytestmark = pytest.mark.e2e


def _scheduled_runs(api: str) -> list[dict]:
    request = urllib.request.Request(
        f"{api}/flow_runs/filter",
        data=b"{}",
        method="POST",
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as resp:
        return [r for r in json.load(resp) if r["state_type"] == "SCHEDULED"]


def test_schedule_supervises_a_server_that_creates_daily_runs(tmp_path: Path) -> None:
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env.update(PREFECT_HOME=str(tmp_path / "prefect"), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli.main",
            "schedule",
            "--db",
            str(tmp_path / "w.duckdb"),
            "--prefect-port",
            str(port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    runs: list[dict] = []
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not runs:
            assert proc.poll() is None, proc.stdout.read().decode()
            with contextlib.suppress(OSError):
                runs = _scheduled_runs(api)
            time.sleep(2)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert runs, "no scheduled run was created"
    assert {r["expected_start_time"][11:16] for r in runs} == {"22:00"}
    assert all(r["parameters"]["db_path"] == str(tmp_path / "w.duckdb") for r in runs)
    with pytest.raises(OSError):  # the supervised server stopped with it
        _scheduled_runs(api)
