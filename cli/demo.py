"""``voc demo`` and ``voc demo-server``: the bundled demo sources, ingested or served alone."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from cli.common import add_common, parse_date, settings_from, start_prefect_api
from cli.dashboard import run_dashboard
from cli.stats import print_stats
from voc.settings import Settings


def add_demo_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``voc demo``."""
    p = sub.add_parser(
        "demo",
        help="start the bundled demo sources, ingest them, open the dashboard",
        description="Serve the bundled demo sources on localhost, import the demo "
        "customer files (two CRM exports and a microblog uid map, written to demo-customers/ "
        "beside the warehouse), run the daily flow over the whole demo period "
        "(2025-06-01..2025-09-30), play the demo team's case history (cases opened at its "
        "install 10 days ago, answered, resolved and called back: breached and due-soon "
        "SLAs, today's 回访 list, recovered and unrecovered customers; see the README, 闭环) "
        "and open the dashboard. Without --config the demo's case settings (teams and "
        "routing) are written to demo-voc.toml beside the warehouse and used.",
    )
    add_common(p)
    p.add_argument("--since", type=parse_date, help="first day (default: start of the demo data)")
    p.add_argument("--until", type=parse_date, help="last day (default: end of the demo data)")
    p.add_argument(
        "--port",
        type=int,
        help="demo server port (default 8765, or a free one if that is taken; 0 = any free port)",
    )
    p.add_argument("--dashboard-port", type=int, help="dashboard port (default 8501)")
    p.add_argument(
        "--no-dashboard",
        action="store_true",
        help="ingest only, then exit (exit code 0 when the run completed)",
    )
    p.set_defaults(func=cmd_demo)


def add_demo_server_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``voc demo-server``."""
    p = sub.add_parser(
        "demo-server",
        help="serve the bundled demo sources only",
        description="Serve the bundled demo sources (shop review pages, "
        "microblog search API, helpdesk exports) until Ctrl-C.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    p.set_defaults(func=cmd_demo_server)


def cmd_demo(args: argparse.Namespace) -> int:
    from cli.demo_cases import demo_config, mix_lines, now_clock, play_demo_history
    from demo.cases import demo_clock
    from demo.events import DEMO_END, DEMO_START
    from demo.server import start_demo_server
    from flows.daily import daily_ingest

    settings = settings_from(args)
    args.config = demo_config(args.config, settings.db_path)
    settings = settings_from(args)
    clock = demo_clock(zone=settings.timezone)
    since, until = args.since or DEMO_START, args.until or DEMO_END
    port = settings.demo_port if args.port is None else args.port
    try:
        server = start_demo_server(settings.demo_host, port)
    except OSError as exc:
        # Stored URLs name the port, so a stable one keeps re-runs idempotent; any port
        # still beats no demo.
        print(f"port {port} unavailable ({exc}); using a free port", file=sys.stderr)
        server = start_demo_server(settings.demo_host, 0)
    if import_demo_customers(args, settings) != 0:
        return 1
    with server:
        print(f"演示数据源已启动 / demo sources at {server.base_url}", flush=True)
        if not start_prefect_api(settings):
            return 1
        result = daily_ingest(
            since=since,
            until=until,
            config_path=args.config,
            db_path=str(settings.db_path),
            demo_port=server.port,
            now=clock.installed_at,
        )
    print(json.dumps(result, ensure_ascii=False), flush=True)
    print_stats(settings.db_path)
    if result["status"] == "failed":
        return 1
    report, mix = play_demo_history(settings, now_clock(clock))
    for line in mix_lines(report, mix):
        print(line, flush=True)
    if args.no_dashboard:
        return 0
    # The dashboard loads its settings from VOC_CONFIG: the demo's teams for its forms.
    os.environ.setdefault("VOC_CONFIG", args.config)
    return run_dashboard(settings.db_path, args.dashboard_port or settings.dashboard_port)


def import_demo_customers(args: argparse.Namespace, settings: Settings) -> int:
    """Write the demo's customer files beside the warehouse and import them with
    ``voc customers import`` / ``import-uids`` (the later export changes some tiers)."""
    from cli.customers import cmd_customers_import, cmd_customers_import_uids
    from demo.customers import SECOND_EXPORT, build_customers, customer_csv, uid_csv
    from demo.events import DEMO_START

    data = build_customers()
    folder = settings.db_path.parent / "demo-customers"
    folder.mkdir(parents=True, exist_ok=True)
    files = (
        ("customers", folder / "crm-2025-06-01-gbk.csv", customer_csv(data), DEMO_START),
        ("customers", folder / "crm-2025-07-25.csv", customer_csv(data, True), SECOND_EXPORT),
        ("uids", folder / "weibo-uids.csv", uid_csv(data), SECOND_EXPORT),
    )
    for kind, path, raw, as_of in files:
        path.write_bytes(raw)
        command = cmd_customers_import if kind == "customers" else cmd_customers_import_uids
        given = argparse.Namespace(
            file=str(path), as_of=as_of, on_conflict=None, config=args.config, db=args.db
        )
        code = command(given)
        if code != 0:
            print(f"error: importing the demo file {path} failed ({code})", file=sys.stderr)
            return code
    return 0


def cmd_demo_server(args: argparse.Namespace) -> int:
    from demo.server import start_demo_server

    with start_demo_server(args.host, args.port) as server:
        print(f"demo sources at {server.base_url} (Ctrl-C to stop)", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0
