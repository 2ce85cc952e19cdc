"""``voc sources …``: work with the configured sources (``check``: validate and dry-run;
``kinds``: list the source kinds and their options)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from datetime import date, timedelta

from cli.common import add_common, parse_date, settings_from


def add_sources_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``voc sources`` and its subcommands."""
    p = sub.add_parser(
        "sources",
        help="check the configured sources; list the source kinds",
        description="Work with the configured sources.",
    )
    srcsub = p.add_subparsers(dest="sources_command", required=True)
    p = srcsub.add_parser(
        "check",
        help="validate the sources file, probe each source and dry-run it",
        description="Validate the sources (settings) file, then for every enabled source "
        "report whether its URL or path is reachable and how many documents a dry run "
        "over the window yields (nothing is stored). Exit status 1 if any source is "
        "unreachable or reported problems.",
    )
    add_common(p)
    p.add_argument(
        "--since", type=parse_date, help="first day of the dry run (default: 6 days ago)"
    )
    p.add_argument("--until", type=parse_date, help="last day of the dry run (default: today)")
    p.add_argument("--json", action="store_true", help="machine-readable JSON output")
    p.set_defaults(func=cmd_sources_check)
    p = srcsub.add_parser(
        "kinds",
        help="list every source kind with its options, types, defaults and an example",
        description="List every source kind (its canonical name, deprecated aliases, "
        "spider or connector) with its options: type, default, whether required, and "
        "what it does; and an example [sources.NAME] table.",
    )
    p.add_argument("--json", action="store_true", help="machine-readable JSON output")
    p.set_defaults(func=cmd_sources_kinds)


def cmd_sources_kinds(args: argparse.Namespace) -> int:
    from voc.kinds import KINDS
    from voc.kinds.render import format_kinds, kinds_as_json

    if args.json:
        print(json.dumps(kinds_as_json(KINDS), ensure_ascii=False, indent=2))
    else:
        sys.stdout.write(format_kinds(KINDS))
    return 0


def cmd_sources_check(args: argparse.Namespace) -> int:
    from scrapers.check import STATES, check_source

    settings = settings_from(args)  # a bad sources file fails here, naming file and key
    until = args.until or date.today()
    since = args.since or until - timedelta(days=6)
    sources = [s for s in settings.sources if s.enabled]
    checks = []
    for source in sources:
        if not args.json:
            print(f"检查 {source.name} ({source.kind}) {source.url} …", file=sys.stderr)
        checks.append(check_source(source, since, until, settings.author_salt))
    if args.json:
        payload = {
            "since": since.isoformat(),
            "until": until.isoformat(),
            "sources": [asdict(c) | {"ok": c.ok, "state": c.state} for c in checks],
        }
        print(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        print(f"sources file OK: {len(sources)} enabled source(s); dry run {since} … {until}")
        for c in checks:
            state = "OK " if c.ok else "ERR"
            where = f"HTTP {c.status}" if c.status else ("path" if c.reachable else "unreachable")
            print(f"{state} {c.name:<16} {c.kind:<14} {where:<12} {c.items:>6} items")
            print(f"      {STATES[c.state]}")
            for message in [c.error, *c.problems]:
                if message:
                    print(f"      {message}")
    return 0 if all(c.ok for c in checks) else 1
