"""``voc customers …``: import a CRM customer file or a platform-uid mapping, link voices
to customers, and show what is linked (docs/customers.md)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date, datetime
from zoneinfo import ZoneInfo

from cli.common import add_common, parse_date, settings_from
from voc.settings import Settings

#: Messages printed per import (all are counted).
SHOWN_MESSAGES = 20


def add_customers_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``voc customers`` and its subcommands."""
    p = sub.add_parser(
        "customers",
        help="import customer files, link voices to customers",
        description="Customers (客户细分): import a CRM export, a platform-uid mapping, link "
        "voices to customers and show the share linked per source. Keys are hashed, never "
        "stored raw (docs/customers.md).",
    )
    csub = p.add_subparsers(dest="customers_command", required=True)
    p = csub.add_parser(
        "import",
        help="import a CRM customer export (CSV/XLSX)",
        description="Import a customer file (CSV or XLSX; UTF-8, GBK/GB18030 or Big5; "
        "Simplified or Traditional headers) with the [customers] column mapping. Re-importing "
        "updates in place; a changed segment closes the old one at --as-of (or the file's "
        "segment_since column). Then links voices to customers.",
    )
    p.add_argument("file", help="the customer file (.csv or .xlsx)")
    p.add_argument("--as-of", type=parse_date, help="the day the file describes (default: today)")
    p.add_argument(
        "--on-conflict",
        choices=("last", "refuse"),
        help="rows of one customer with different segments: the last wins, or the customer "
        "is refused (default: [customers] on_conflict)",
    )
    add_common(p)
    p.set_defaults(func=cmd_customers_import)
    p = csub.add_parser(
        "import-uids",
        help="import a platform-uid → customer mapping file",
        description="Import a file of platform uids (what a social source records as the "
        "author) and customer keys ([customers] uid_column, uid_key_column), so posts link "
        "to customers. Then links voices to customers.",
    )
    p.add_argument("file", help="the uid mapping file (.csv or .xlsx)")
    p.add_argument("--as-of", type=parse_date, help="the day the file describes (default: today)")
    add_common(p)
    p.set_defaults(func=cmd_customers_import_uids)
    p = csub.add_parser(
        "link",
        help="link voices and survey responses to customers",
        description="Link documents and survey responses to imported customers, each with "
        "the segment the customer had on its day: fully after an import, else only new "
        "documents (--full: always rebuild).",
    )
    p.add_argument("--full", action="store_true", help="rebuild every link")
    add_common(p)
    p.set_defaults(func=cmd_customers_link)
    p = csub.add_parser(
        "status",
        help="customers, segments, imports and the share linked per source",
        description="Show the imported customers, their keys and current segments, the last "
        "imports, and per source the documents, those with a customer key and those linked.",
    )
    p.add_argument("--json", action="store_true", help="machine-readable JSON output")
    add_common(p)
    p.set_defaults(func=cmd_customers_status)


def _today(settings: Settings) -> date:
    return datetime.now(ZoneInfo(settings.timezone)).date()


def _print_messages(title: str, messages: list[str], total: int) -> None:
    if not total:
        return
    print(f"{title}: {total}", file=sys.stderr)
    for message in messages[:SHOWN_MESSAGES]:
        print(f"  - {message}", file=sys.stderr)
    if total > min(len(messages), SHOWN_MESSAGES):
        print(f"  … {total - min(len(messages), SHOWN_MESSAGES)} more", file=sys.stderr)


def _link_and_report(con, full: bool | None = None) -> None:
    from warehouse.customers import link_documents, linked_share_by_source

    linked = link_documents(con, full)
    print(
        f"关联 linked: {linked.n_linked_total} of {linked.n_documents} documents"
        f" ({'full rebuild' if linked.full else 'incremental'}), "
        f"{linked.n_responses_linked} survey responses, {linked.seconds:.1f}s"
    )
    for share in linked_share_by_source(con):
        print(
            f"  {share.source}: {share.linked}/{share.docs} linked "
            f"({share.share_linked:.0%}), {share.with_key} with a customer key"
        )


def cmd_customers_import(args: argparse.Namespace) -> int:
    from scrapers.customer_file import read_customer_file
    from warehouse.customers import store_customers
    from warehouse.db import WarehouseError, warehouse

    settings = settings_from(args)
    config = settings.customers
    as_of = args.as_of or _today(settings)
    started = time.perf_counter()
    print(f"读取 reading {args.file} …", file=sys.stderr)
    read = read_customer_file(args.file, config, settings.author_salt)
    print(
        f"{read.name}: {read.n_rows} rows ({read.encoding}), {len(read.customers)} with a key, "
        f"{read.n_skipped} skipped; columns: "
        + ", ".join(f"{f}={h}" for f, h in read.columns.items())
        + f" ({time.perf_counter() - started:.1f}s)",
        file=sys.stderr,
    )
    _print_messages("跳过的行 skipped rows", read.skipped, read.n_skipped)
    _print_messages("无法读取的单元格 unreadable cells", read.problems, read.n_problems)
    try:
        with warehouse(settings.db_path) as con:
            result = store_customers(
                con,
                read.name,
                read.sha256,
                read.customers,
                as_of,
                present=read.columns.keys(),
                on_conflict=args.on_conflict or config.on_conflict,
                n_rows=read.n_rows,
                n_skipped=read.n_skipped,
            )
            _print_messages("冲突 conflicts", result.messages, result.n_conflicts)
            print(
                f"导入 imported {read.name} as of {as_of}: {result.n_new} new, "
                f"{result.n_changed} changed ({result.n_segment_changes} segment changes), "
                f"{result.n_unchanged} unchanged, {result.n_skipped} skipped, "
                f"{result.n_conflicts} conflicts; keys {result.n_keys_new} new, "
                f"{result.n_keys_moved} moved"
                + ("" if result.import_id else " — nothing changed, already imported / 无变化")
            )
            _link_and_report(con)
    except WarehouseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_customers_import_uids(args: argparse.Namespace) -> int:
    from scrapers.customer_file import read_uid_file
    from warehouse.customers import UidRow, store_uid_links
    from warehouse.db import WarehouseError, warehouse

    settings = settings_from(args)
    read = read_uid_file(args.file, settings.customers, settings.author_salt)
    print(
        f"{read.name}: {read.n_rows} rows ({read.encoding}), {read.n_skipped} skipped",
        file=sys.stderr,
    )
    _print_messages("跳过的行 skipped rows", read.skipped, read.n_skipped)
    rows = [UidRow(r.uid_hash, r.key_hash, r.where) for r in read.links]
    try:
        with warehouse(settings.db_path) as con:
            result = store_uid_links(
                con,
                read.name,
                read.sha256,
                rows,
                args.as_of or _today(settings),
                n_rows=read.n_rows,
                n_skipped=read.n_skipped,
            )
            unknown = result.n_skipped - read.n_skipped
            _print_messages(
                "未找到的客户 unknown customers / conflicts",
                result.messages,
                unknown + result.n_conflicts,
            )
            print(
                f"导入 imported {read.name}: {result.n_new} new uids, {result.n_changed} "
                f"moved, {result.n_unchanged} unchanged, {result.n_skipped} skipped "
                f"({unknown} unknown customers), {result.n_conflicts} conflicts"
            )
            _link_and_report(con)
    except WarehouseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_customers_link(args: argparse.Namespace) -> int:
    from warehouse.db import WarehouseError, warehouse

    settings = settings_from(args)
    try:
        with warehouse(settings.db_path) as con:
            _link_and_report(con, True if args.full else None)
    except WarehouseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_customers_status(args: argparse.Namespace) -> int:
    from warehouse.customers import customer_status
    from warehouse.db import WarehouseError, read_only

    settings = settings_from(args)
    try:
        with read_only(settings.db_path) as con:
            status = customer_status(con)
    except WarehouseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(status, ensure_ascii=False, indent=2, default=str))
        return 0
    keys = "  ".join(f"{k}={v}" for k, v in status["keys"].items()) or "none"
    print(f"客户 customers: {status['customers']}  keys: {keys}")
    print(
        "当前分层 current segments: "
        + ("  ".join(f"{k}={v}" for k, v in status["segments"].items()) or "none")
    )
    print(f"导入 imports: {len(status['imports'])} (latest first)")
    for imp in status["imports"]:
        print(
            f"  {imp['imported_at']:%Y-%m-%d %H:%M}  {imp['kind']:<9} {imp['file_name']}  "
            f"as of {imp['as_of']}: {imp['n_rows']} rows, {imp['n_new']} new, "
            f"{imp['n_changed']} changed, {imp['n_skipped']} skipped, "
            f"{imp['n_conflicts']} conflicts"
        )
    print(f"关联 linked per source (survey responses linked: {status['linked_responses']}):")
    for s in status["sources"]:
        print(
            f"  {s['source']}: {s['linked']}/{s['docs']} linked ({s['share_linked']:.0%}), "
            f"{s['with_key']} with a customer key"
        )
    return 0
