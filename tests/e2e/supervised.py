"""Helpers for the `voc schedule` tests: the supervised server's REST API, its state file,
and a `voc schedule` process stopped with SIGTERM at the end."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from flows.supervisor import STATE_FILE

DEPLOYMENT = "voc-daily-ingest/voc-daily"
FINAL_STATES = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def api_call(api: str, path: str, body: dict | None = None, timeout: float = 10) -> object:
    """One JSON call to the Prefect REST API (POST when there is a body). A 503 (the
    server's SQLite database busy, e.g. while its scheduler inserts runs) is retried, as
    Prefect's own client does."""
    data = None if body is None else json.dumps(body).encode()
    for attempt in range(6):
        request = urllib.request.Request(
            f"{api}{path}",
            data=data,
            method="GET" if body is None else "POST",
            headers={"content-type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as resp:
                return json.load(resp)
        except urllib.error.HTTPError as exc:
            if exc.code != 503 or attempt == 5:
                raise
            time.sleep(1 + attempt)
    raise AssertionError("unreachable")


def read_state(home: Path) -> dict:
    """The supervisor's state file ({} before it is written)."""
    try:
        return json.loads((home / STATE_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def wait_for(predicate, timeout: float, proc: subprocess.Popen, what: str):
    """Poll `predicate` until it returns something truthy; fail naming `what`, with the
    supervisor's output, on timeout or if the supervisor exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"voc schedule exited {proc.returncode} waiting for {what}"
        with contextlib.suppress(OSError, ValueError):
            found = predicate()
            if found:
                return found
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def deployment_id(api: str) -> str | None:
    """The id of the served deployment, once it is registered."""
    return api_call(api, f"/deployments/name/{DEPLOYMENT}")["id"]


def trigger_run(api: str, deployment: str, parameters: dict) -> str:
    """Create a run of the deployment now (the runner picks it up); its id."""
    run = api_call(api, f"/deployments/{deployment}/create_flow_run", {"parameters": parameters})
    return run["id"]


def finished_run(api: str, run_id: str) -> dict | None:
    """The flow run once it is in a final state."""
    run = api_call(api, f"/flow_runs/{run_id}")
    return run if run["state_type"] in FINAL_STATES else None


def schedule_env(home: Path) -> dict[str, str]:
    """The environment of a `voc schedule` that must start its own server: no API URL,
    the runner polling every 2 s (Prefect's default is 10 s)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env.update(
        PREFECT_HOME=str(home / "client-home"),
        PREFECT_RUNNER_POLL_FREQUENCY="2",
        PREFECT_UI_ENABLED="false",
    )
    return env


@contextlib.contextmanager
def supervised(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """`voc schedule ARGS` with its output in `log`; SIGTERM on exit, which must stop it
    (exit 0) within a minute."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "schedule", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise


def alive(pid: int) -> bool:
    """Whether a process with this pid exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
