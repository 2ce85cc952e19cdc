"""``voc ingest`` and ``voc schedule``: run the daily flow once, or on a cron schedule."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from cli.common import add_common, parse_date, settings_from, start_prefect_api


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
        help="serve the daily flow on a cron schedule (supervises its own Prefect server)",
        description="Serve the daily flow on a cron schedule (default 06:00 "
        "Asia/Shanghai). With $PREFECT_API_URL set (a team's own server) it serves the "
        "deployment there and starts nothing. Otherwise it starts `prefect server start` "
        "on 127.0.0.1 (its own PREFECT_HOME and SQLite database, analytics off), waits for "
        "its health check, serves the deployment against it, restarts the server or the "
        "runner if either dies (with a backoff and a log line), and stops both on Ctrl-C "
        "or SIGTERM. Logs: server.log and runner.log in the Prefect home.",
    )
    add_common(p)
    p.add_argument("--cron", help="cron expression (default from settings: '0 6 * * *')")
    p.add_argument(
        "--prefect-port",
        type=int,
        help="port of the supervised Prefect server and its UI (default: prefect_port, 4200)",
    )
    p.add_argument(
        "--prefect-home",
        help="PREFECT_HOME of the supervised server (default: prefect_home or "
        "$VOC_PREFECT_HOME, else <runs dir>/prefect beside the warehouse)",
    )
    p.add_argument(
        "--startup-timeout",
        type=float,
        help="seconds the server may take to answer its health check (default: "
        "prefect_startup_timeout or $VOC_PREFECT_STARTUP_TIMEOUT, 120)",
    )
    p.set_defaults(func=cmd_schedule)


def cmd_ingest(args: argparse.Namespace) -> int:
    from flows.daily import daily_ingest

    settings = settings_from(args)
    if not start_prefect_api(settings):
        return 1
    result = daily_ingest(
        since=args.since, until=args.until, config_path=args.config, db_path=str(settings.db_path)
    )
    print(json.dumps(result, ensure_ascii=False))
    return 0 if result["status"] in ("ok", "partial") else 1


def cmd_schedule(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    cron = args.cron or settings.schedule_cron
    db_path = str(settings.db_path.resolve())
    config = str(Path(args.config).resolve()) if args.config else None
    if os.environ.get("PREFECT_API_URL"):
        # A team's server, or the one a supervising `voc schedule` started for this runner.
        from flows.schedule import serve_daily

        print(
            f"按计划运行 / serving voc-daily-ingest on cron '{cron}' ({settings.timezone}) "
            f"against {os.environ['PREFECT_API_URL']}; Ctrl-C to stop",
            flush=True,
        )
        serve_daily(cron, settings.timezone, config_path=config, db_path=db_path)
        return 0
    from flows.schedule import build_schedule
    from flows.supervisor import ServerStartError, Supervisor

    build_schedule(cron, settings.timezone)  # a bad cron fails here, not in a restart loop
    log = logging.getLogger("voc.schedule")
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False  # not through the handlers importing prefect installed
    runner = [sys.executable, "-m", "cli.main", "schedule", "--cron", cron, "--db", db_path]
    supervisor = Supervisor(
        home=Path(args.prefect_home) if args.prefect_home else settings.prefect_server_home,
        port=args.prefect_port or settings.prefect_port,
        runner_argv=[*runner, "--config", config] if config else runner,
        startup_timeout=args.startup_timeout or settings.prefect_startup_timeout,
    )
    print(
        f"启动 Prefect 服务 / starting a Prefect server on {supervisor.api_url} "
        f"(home {supervisor.home})",
        flush=True,
    )
    try:
        supervisor.run(
            on_ready=lambda: print(
                f"按计划运行 / serving voc-daily-ingest on cron '{cron}' ({settings.timezone}); "
                f"UI {supervisor.api_url.removesuffix('/api')}; Ctrl-C to stop",
                flush=True,
            )
        )
    except ServerStartError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
