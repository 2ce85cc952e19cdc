"""The `voc` command line: the parser of every command group, and `main`."""

from __future__ import annotations

import argparse
import sys

from cli.alerts import add_alerts_parser
from cli.cases import add_cases_parser
from cli.common import quiet_defaults
from cli.customers import add_customers_parser
from cli.dashboard import add_dashboard_parser
from cli.demo import add_demo_parser, add_demo_server_parser
from cli.followups import add_followups_parser
from cli.ingest import add_ingest_parser, add_schedule_parser
from cli.sentiment import add_sentiment_parser
from cli.sources import add_sources_parser
from cli.stats import add_stats_parser
from cli.warehouse import add_warehouse_parser
from nlp.training.labelled import LabelledFileError
from voc.memory import limit_malloc_arenas
from voc.settings import SettingsError


def build_parser() -> argparse.ArgumentParser:
    """The `voc` parser with every command (in the order `voc --help` lists them)."""
    parser = argparse.ArgumentParser(
        prog="voc", description="VoC Monitor (客声): listen to Chinese-speaking customers."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_demo_parser(sub)
    add_ingest_parser(sub)
    add_schedule_parser(sub)
    add_sources_parser(sub)
    add_stats_parser(sub)
    add_warehouse_parser(sub)
    add_customers_parser(sub)
    add_cases_parser(sub)
    add_followups_parser(sub)
    add_dashboard_parser(sub)
    add_sentiment_parser(sub)
    add_alerts_parser(sub)
    add_demo_server_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one `voc` command; exit status 2 for a bad settings file, CSV or argument."""
    args = build_parser().parse_args(argv)
    quiet_defaults()
    # Before any worker thread exists: each would otherwise keep an arena of freed pages.
    limit_malloc_arenas()
    try:
        return args.func(args)
    except (SettingsError, LabelledFileError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
