"""Orders for the day-5 / day-15 回访: the customer file's first and last order dates
(``customers``), or an order export (CSV or XLSX: a customer key column and an order date
column), whose keys are hashed like the customer file's and matched through
``customer_keys``. A key is never stored raw."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb

from voc.followup_rules import FollowupsConfig, Window
from voc.records import hash_customer_key

_DAY = re.compile(r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")


class OrderFileError(ValueError):
    """An order export that cannot be read (the message names the file and the column)."""


@dataclass(frozen=True, slots=True)
class Order:
    """One order of a known customer: the customer, its account manager, the order day."""

    customer_id: str
    owner: str | None
    day: date


@dataclass
class OrderRead:
    """Orders found, and the rows left out (file and row named in each message)."""

    orders: list[Order] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    n_unmatched: int = 0


def order_days_between(rules: FollowupsConfig, window: Window) -> tuple[date, date]:
    """The order days whose day-N 回访 can fall in `window`."""
    return (
        window.first - timedelta(days=max(rules.order_days)),
        window.last - timedelta(days=min(rules.order_days)),
    )


def customer_file_orders(
    con: duckdb.DuckDBPyConnection, rules: FollowupsConfig, window: Window
) -> list[Order]:
    """The customer file's order dates (``rules.order_dates``) whose 回访 can fall in
    `window`, with each customer's current account manager."""
    low, high = order_days_between(rules, window)
    out: list[Order] = []
    for column in rules.order_dates:  # validated names: first_order / last_order
        rows = con.execute(
            f"SELECT customer_id, owner, {column} FROM customers "
            f"WHERE {column} BETWEEN ? AND ? ORDER BY customer_id",
            [low, high],
        ).fetchall()
        out.extend(Order(cid, owner, day) for cid, owner, day in rows)
    return list(dict.fromkeys(out))


def parse_day(value: object) -> date | None:
    """An order day from a cell: a date/datetime, ``2025-03-01``, ``2025/3/1 10:00``,
    ``2025年3月1日``; None when it is none of these."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    found = _DAY.match(str(value or ""))
    if not found:
        return None
    try:
        return date(int(found[1]), int(found[2]), int(found[3]))
    except ValueError:
        return None


def _rows(path: Path) -> tuple[list[str], list[list[object]]]:
    raw = path.read_bytes()
    if path.suffix.lower() == ".xlsx":
        from openpyxl import load_workbook

        book = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
        try:
            rows = [list(r) for r in book.worksheets[0].iter_rows(values_only=True)]
        finally:
            book.close()
    else:
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = raw.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise OrderFileError(f"{path.name}: 无法识别的编码 / unknown text encoding")
        rows = [list(r) for r in csv.reader(io.StringIO(text))]
    if not rows:
        raise OrderFileError(f"{path.name}: 文件为空 / the file is empty")
    return [str(h or "").strip() for h in rows[0]], rows[1:]


def read_order_export(
    path: str | Path, rules: FollowupsConfig, salt: str, con: duckdb.DuckDBPyConnection
) -> OrderRead:
    """Orders of an export file whose keys belong to known customers.

    Raises:
        OrderFileError: the file is missing, unreadable, or lacks the configured key or
            date column (``[cases.followups] order_key_column`` / ``order_date_column``).
    """
    path = Path(path)
    if not path.is_file():
        raise OrderFileError(
            f"[cases.followups] order_export: 找不到文件 {path} / file not found: {path}"
        )
    header, rows = _rows(path)
    missing = [
        f"{key} = {name!r}"
        for key, name in (
            ("order_key_column", rules.order_key_column),
            ("order_date_column", rules.order_date_column),
        )
        if name not in header
    ]
    if missing:
        raise OrderFileError(
            f"{path.name}: 缺少列 {', '.join(missing)}（[cases.followups]）/ missing column(s) "
            f"{', '.join(missing)}; the header has: {', '.join(h for h in header if h)}"
        )
    k, d = header.index(rules.order_key_column), header.index(rules.order_date_column)
    read = OrderRead()
    wanted: list[tuple[str, date]] = []
    for n, row in enumerate(rows, 2):
        if not any(c not in (None, "") for c in row):
            continue
        key = hash_customer_key(row[k] if k < len(row) else None, salt)
        day = parse_day(row[d] if d < len(row) else None)
        if key is None or day is None:
            what = "客户键为空 / no customer key" if key is None else "日期无法识别 / bad date"
            read.problems.append(f"{path.name} 第 {n} 行 / row {n}: {what}")
            continue
        wanted.append((key, day))
    if not wanted:
        return read
    known = dict(
        (h, (cid, owner))
        for h, cid, owner in con.execute(
            "SELECT k.key_hash, k.customer_id, c.owner FROM customer_keys k "
            "LEFT JOIN customers c USING (customer_id) WHERE list_contains(?, k.key_hash)",
            [sorted({h for h, _ in wanted})],
        ).fetchall()
    )
    for key, day in wanted:
        if key in known:
            cid, owner = known[key]
            read.orders.append(Order(cid, owner, day))
        else:
            read.n_unmatched += 1
    read.orders = list(dict.fromkeys(read.orders))
    return read
