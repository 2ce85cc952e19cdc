"""``voc ingest`` and ``voc schedule``: run the daily flow once, or on a cron schedule."""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from cli.common import add_common, parse_date, settings_from, wait_for_http


def add_ingest_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``voc ingest``."""
    p = sub.add_parser(
        "ingest",
        help="run the daily flow once: incremental per source, or for --since/--until",
        description="Run the daily ingestion flow once over the configured sources. "
        "Without dates each source runs incrementally: from the newest document it has "
        "landed minus lookback_days (a new source: backfill_days back) up to today, and "
        "connectors resume from their stored cursor. With --since/--until every source "
        "is fetched for those local days (a backfill).",
    )
    add_common(p)
    p.add_argument(
        "--since", type=parse_date, help="first day, YYYY-MM-DD (default: incremental per source)"
    )
    p.add_argument("--until", type=parse_date, help="last day, YYYY-MM-DD (default: today)")
    p.set_defaults(func=cmd_ingest)


def add_schedule_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``voc schedule``."""
    p = sub.add_parser(
        "schedule",
        help="serve the daily flow on a cron schedule",
        description="Serve the daily flow on a cron schedule (default 06:00 "
        "Asia/Shanghai). Uses $PREFECT_API_URL if set, otherwise starts and "
        "supervises a local `prefect server`.",
    )
    add_common(p)
    p.add_argument("--cron", help="cron expression (default from settings: '0 6 * * *')")
    p.add_argument("--prefect-port", type=int, help="port for the supervised Prefect server")
    p.set_defaults(func=cmd_schedule)


def cmd_ingest(args: argparse.Namespace) -> int:
    from flows.daily import daily_ingest

    settings = settings_from(args)
    result = daily_ingest(
        since=args.since, until=args.until, config_path=args.config, db_path=str(settings.db_path)
    )
    print(json.dumps(result, ensure_ascii=False))
    return 0 if result["status"] in ("ok", "partial") else 1


def cmd_schedule(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    cron = args.cron or settings.schedule_cron
    server = None
    if not os.environ.get("PREFECT_API_URL"):
        # A temporary Prefect server cannot run schedules: supervise a real one.
        port = args.prefect_port or _free_port()
        log_path = settings.runs_dir / "prefect-server.log"
        print(
            f"启动 Prefect 服务 / starting a Prefect server on 127.0.0.1:{port} (log: {log_path})",
            flush=True,
        )
        server = _start_prefect_server(port, log_path)
        os.environ["PREFECT_API_URL"] = f"http://127.0.0.1:{port}/api"
    from flows.schedule import serve_daily

    try:
        print(
            f"按计划运行 / serving voc-daily-ingest on cron '{cron}' ({settings.timezone}); "
            "Ctrl-C to stop",
            flush=True,
        )
        serve_daily(cron, settings.timezone, config_path=args.config, db_path=str(settings.db_path))
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
    return 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_prefect_server(port: int, log_path: Path, timeout: float = 120.0) -> subprocess.Popen:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "prefect",
                "server",
                "start",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    health = f"http://127.0.0.1:{port}/api/health"
    if wait_for_http(health, proc, timeout):
        return proc
    if proc.poll() is not None:
        raise RuntimeError(f"prefect server exited with code {proc.returncode}; see {log_path}")
    proc.terminate()
    raise RuntimeError(
        f"prefect server did not answer on {health} within {timeout:.0f}s; see {log_path}"
    )
