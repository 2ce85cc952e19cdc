"""Reading a CRM customer export (CSV or XLSX) into `voc.customers.Customer` records, and a
platform-uid → customer mapping file into uid links.

Pure functions from a file's bytes to records; storing them is `warehouse.customers`'
business. The file is decoded like a helpdesk export (`scrapers.ticket_files`: UTF-8,
GBK/GB18030 or Big5), headers are matched after Traditional → Simplified conversion, and
every key (member id, mobile, e-mail) is hashed on the spot: no raw key leaves this module.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from nlp.normalize import to_simplified
from scrapers.ticket_files import (
    HEADER_SEARCH_ROWS,
    Table,
    TableError,
    cell_text,
    decode_export,
    read_table,
)
from scrapers.tickets import parse_ticket_value
from voc.customers import Customer, CustomerConfig
from voc.records import hash_author, hash_customer_key

#: Key fields, in the order a row's primary key is chosen.
KEY_FIELDS = ("member_id", "mobile", "email")
#: Segment dimensions that are labels (converted to Simplified: 高價值 → 高价值).
LABEL_FIELDS = ("segment", "province", "city", "acquisition")
#: Every other mapped field.
OTHER_FIELDS = (
    "owner",
    "first_order",
    "last_order",
    "order_count",
    "spend",
    "segment_since",
)
DATE_FIELDS = ("first_order", "last_order", "segment_since")
#: 2025-06-01, 2025/6/1, 2025.6.1, 2025年6月1日, optionally followed by a time.
_DAY = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T].*)?$")
_MONEY = re.compile(r"[,，¥￥元\s]|RMB|CNY", re.IGNORECASE)
#: Messages kept per kind of problem (the counts are always complete).
MAX_MESSAGES = 200


class CustomerFileError(ValueError):
    """A customer or uid file that cannot be imported at all; the message names the file
    and says why (unreadable, a configured header missing, no key column)."""


@dataclass
class CustomerFile:
    """One customer export, read.

    Attributes:
        name: The file's name (messages, `customer_imports.file_name`).
        sha256: Digest of its bytes (a re-import of the same file is recognised).
        customers: One record per data row with a key (duplicates are kept; the warehouse
            applies the conflict policy).
        columns: Field → the header used for it (fields the file lacks are absent: their
            stored values are kept on import).
        encoding: The text encoding used (``xlsx`` for workbooks).
        n_rows: Data rows read.
        skipped: Rows left out (no key), each naming file and row.
        problems: Cells that could not be read (the row still lands without them).
        n_skipped: Rows left out (all of them, also beyond the kept messages).
        n_problems: Unreadable cells.
    """

    name: str
    sha256: str
    customers: list[Customer] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)
    encoding: str = ""
    n_rows: int = 0
    skipped: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    n_skipped: int = 0
    n_problems: int = 0


@dataclass(frozen=True, slots=True)
class UidLink:
    """One uid-file row: the platform uid's hash (as sources hash authors) and the hashed
    customer key it belongs to."""

    uid_hash: str
    key_hash: str
    where: str


@dataclass
class UidFile:
    """One platform-uid → customer mapping file, read."""

    name: str
    sha256: str
    links: list[UidLink] = field(default_factory=list)
    encoding: str = ""
    n_rows: int = 0
    skipped: list[str] = field(default_factory=list)
    n_skipped: int = 0


def _open_table(path: Path, raw: bytes, headers: list[str], sheet: str | None) -> Table:
    """The file's table with the header row found even below a title row (Excel exports),
    comparing headers after Traditional → Simplified conversion."""
    wanted = {to_simplified(h) for h in headers}
    try:
        table = read_table(path.name, raw, (), sheet)
        if not table.header or wanted & {to_simplified(h) for h in table.header}:
            return table
        # The first row is a title: find the row that has one of our headers and read the
        # file again with that row's own spelling of it as the required header.
        for cells in _first_rows(path.name, raw, sheet, table.encoding):
            found = [c for c in cells if c and to_simplified(c) in wanted]
            if found:
                return read_table(path.name, raw, found[:1], sheet)
        return table
    except TableError as exc:
        raise CustomerFileError(f"{path.name}: {exc}") from None


def _first_rows(name: str, raw: bytes, sheet: str | None, encoding: str) -> list[list[str]]:
    # The rows of a table are keyed by its header; a title row's header drops their cells.
    if name.lower().endswith(".xlsx"):
        from openpyxl import load_workbook

        book = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
        try:
            ws = book[sheet] if sheet else book.worksheets[0]
            rows = ws.iter_rows(max_row=HEADER_SEARCH_ROWS, values_only=True)
            return [[cell_text(c) for c in row] for row in rows]
        finally:
            book.close()
    text = raw[: 64 * 1024].decode(encoding, errors="ignore")
    lines = text.splitlines()[:HEADER_SEARCH_ROWS]
    return [[c.strip() for c in row] for row in csv.reader(lines)]


def _header_index(header: list[str]) -> dict[str, str]:
    index: dict[str, str] = {}
    for h in header:
        if h:
            index.setdefault(to_simplified(h), h)
    return index


def map_columns(name: str, header: list[str], config: CustomerConfig) -> dict[str, str]:
    """Field → header of this file: for each field the first configured header the file has
    (compared after Traditional → Simplified conversion).

    Raises:
        CustomerFileError: a field set in the config has none of its headers in the file, or
            the file has no key column at all (naming the file and the headers).
    """
    index = _header_index(header)
    columns = config.columns
    mapping: dict[str, str] = {}
    for fieldname in (*KEY_FIELDS, *LABEL_FIELDS, *OTHER_FIELDS):
        wanted = getattr(columns, fieldname)
        if not wanted:
            continue
        found = next((index[to_simplified(h)] for h in wanted if to_simplified(h) in index), None)
        if found is not None:
            mapping[fieldname] = found
        elif fieldname in columns.model_fields_set:
            raise CustomerFileError(
                f"{name}: configured column {'/'.join(wanted)} ({fieldname}) is not in the "
                f"header; header is {header} / 表头中没有配置的列"
            )
    if not any(f in mapping for f in KEY_FIELDS):
        keys = "; ".join("/".join(getattr(columns, f) or ()) for f in KEY_FIELDS)
        raise CustomerFileError(
            f"{name}: no key column ({keys}) in the header; header is {header} / 没有客户键列"
        )
    return mapping


class _Cells:
    """Cell readers with per-value caches: a million rows repeat a few hundred tiers,
    regions and dates."""

    def __init__(self) -> None:
        self.labels: dict[str, str] = {}
        self.days: dict[Any, date | str] = {}

    def label(self, value: Any) -> str | None:
        got = self.labels.get(value) if isinstance(value, str) else None
        if got is None:
            text = cell_text(value)
            got = to_simplified(text) if text else ""
            if isinstance(value, str):
                self.labels[value] = got
        return got or None

    def day(self, value: Any) -> date | str | None:
        """A date, None for an empty cell, or the message for an unreadable one."""
        if value is None or value == "":
            return None
        if isinstance(value, date):  # datetime too
            return value if type(value) is date else value.date()
        try:
            return self.days[value]
        except (KeyError, TypeError):
            pass
        got: date | str
        try:
            found = _DAY.match(value.strip()) if isinstance(value, str) else None
            if found:
                got = date(*(int(g) for g in found.groups()))
            else:
                got = parse_ticket_value(value).date()
        except ValueError:
            got = f"is not a date: {value!r}"
        if isinstance(value, str | int | float):
            self.days[value] = got
        return got


def _number(value: Any, cast: Callable[[float], int | float]) -> int | float | str | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return cast(value)
    text = _MONEY.sub("", str(value))
    if not text:
        return None
    try:
        return cast(float(text))
    except ValueError:
        return f"is not a number: {str(value)!r}"


def read_customer_file(path: str | Path, config: CustomerConfig, salt: str) -> CustomerFile:
    """Read one CRM customer export into hashed `Customer` records.

    Args:
        path: The ``.csv`` or ``.xlsx`` file.
        config: The ``[customers]`` settings (column mapping, sheet).
        salt: The author salt (`settings.author_salt`) every key is hashed with.

    A row without any key is skipped and reported with its row number; an unreadable date or
    number is reported and left empty (the row still lands).

    Raises:
        CustomerFileError: unreadable file, a configured header missing, no key column.
        FileNotFoundError: no such file.
    """
    path = Path(path)
    raw = path.read_bytes()
    wanted = [h for f in (*KEY_FIELDS, *LABEL_FIELDS) for h in getattr(config.columns, f) or ()]
    out = CustomerFile(path.name, hashlib.sha256(raw).hexdigest())
    if path.suffix.lower() == ".csv":
        # A million-row export: rows as lists, cells by index (no dict per row).
        text, out.encoding, lossy = decode_export(raw)
        header, rows = _csv_rows(text, {to_simplified(h) for h in wanted})
    else:
        table = _open_table(path, raw, wanted, config.sheet)
        out.encoding, lossy, header = table.encoding, table.lossy, table.header
        rows = _table_rows(table)
    if lossy:
        out.problems.append(f"{path.name}: undecodable bytes replaced with U+FFFD / 无法解码")
        out.n_problems += 1
    out.columns = map_columns(path.name, header, config)
    try:
        out.customers = list(_customers(path.name, header, rows, out, salt))
    except TableError as exc:
        raise CustomerFileError(f"{path.name}: {exc}") from None
    return out


def _csv_rows(text: str, wanted: set[str]) -> tuple[list[str], Iterator[tuple[int, list[Any]]]]:
    """The header (the first of the first rows that has one of our headers, else the first
    non-empty row) and the data rows after it, numbered as a spreadsheet shows them."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] = []
    first: list[str] | None = None
    row_no = 0
    try:
        for row_no, cells in enumerate(reader, start=1):
            cells = [c.strip() for c in cells]
            if not any(cells):
                continue
            first = first or cells
            if wanted & {to_simplified(c) for c in cells if c}:
                header = cells
                break
            if row_no >= HEADER_SEARCH_ROWS:
                break
    except csv.Error as exc:
        raise TableError(f"unreadable CSV after row {row_no}: {exc}") from None
    if not header:
        return first or [], iter(())  # map_columns says which key column is missing

    def rows() -> Iterator[tuple[int, list[Any]]]:
        n = row_no
        try:
            for n, cells in enumerate(reader, start=row_no + 1):
                yield n, cells
        except csv.Error as exc:
            raise TableError(f"unreadable CSV after row {n}: {exc}") from None

    return header, rows()


def _table_rows(table: Table) -> Iterator[tuple[int, list[Any] | str]]:
    for where, row in table.rows:
        row_no = int(where.rpartition(" ")[2])
        yield row_no, row if isinstance(row, str) else [row.get(h) for h in table.header]


def _customers(
    name: str,
    header: list[str],
    rows: Iterator[tuple[int, list[Any] | str]],
    out: CustomerFile,
    salt: str,
) -> Iterator[Customer]:
    at = {h: i for i, h in reversed(list(enumerate(header)))}
    cols = {f: at[h] for f, h in out.columns.items()}
    width = len(header)
    keys = [(f, cols[f]) for f in KEY_FIELDS if f in cols]
    key_names = "/".join(out.columns[f] for f, _ in keys)
    labels = [(f, cols[f]) for f in LABEL_FIELDS if f in cols]
    dates = [(f, cols[f]) for f in DATE_FIELDS if f in cols]
    numbers = [(f, cols[f], cast) for f, cast in (("order_count", int), ("spend", float))
               if f in cols]  # fmt: skip
    owner = cols.get("owner")
    cells = _Cells()
    label = cells.label
    for row_no, row in rows:
        where = f"{name} row {row_no}"
        if isinstance(row, str):
            out.n_rows += 1
            _note(out.skipped, f"{where}: {row}")
            out.n_skipped += 1
            continue
        if len(row) < width:
            if not any(row):
                continue  # a blank line is not a row
            row = row + [""] * (width - len(row))
        out.n_rows += 1
        hashes = []
        for key_type, i in keys:
            value = row[i]
            if value is not None and value != "":
                hashed = hash_customer_key(value, salt)
                if hashed:
                    hashes.append((key_type, hashed))
        if not hashes:
            if not any(cell_text(c) for c in row):
                out.n_rows -= 1  # a blank row (Excel's formatted-but-empty tail)
                continue
            _note(out.skipped, f"{where}: empty key {key_names} / 客户键为空，已跳过")
            out.n_skipped += 1
            continue
        values: dict[str, Any] = {f: label(row[i]) for f, i in labels}
        for f, i in dates:
            got = cells.day(row[i])
            if isinstance(got, str):
                _note(out.problems, f"{where}: {header[i]} {got}")
                out.n_problems += 1
                got = None
            values[f] = got
        for f, i, cast in numbers:
            got = _number(row[i], cast)
            if isinstance(got, str):
                _note(out.problems, f"{where}: {header[i]} {got}")
                out.n_problems += 1
                got = None
            values[f] = got
        if owner is not None:
            values["owner"] = cell_text(row[owner]) or None
        yield Customer(hashes[0][1], tuple(hashes), where=where, **values)


def _note(messages: list[str], message: str) -> None:
    if len(messages) < MAX_MESSAGES:
        messages.append(message)


def read_uid_file(path: str | Path, config: CustomerConfig, salt: str) -> UidFile:
    """Read a platform-uid → customer mapping file (CSV or XLSX: `config.uid_column` and
    `config.uid_key_column`).

    The uid is hashed exactly as sources hash a post's author (`voc.records.hash_author`
    of the cell as written), the customer key as every customer key
    (`voc.records.hash_customer_key`), so the link joins ``raw_documents.author_hash`` to
    the customer. Rows with an empty uid or key are skipped and reported.

    Raises:
        CustomerFileError: unreadable file or a configured header missing.
    """
    path = Path(path)
    raw = path.read_bytes()
    table = _open_table(path, raw, [config.uid_column, config.uid_key_column], config.sheet)
    out = UidFile(path.name, hashlib.sha256(raw).hexdigest(), encoding=table.encoding)
    index = _header_index(table.header)
    headers = []
    for wanted in (config.uid_column, config.uid_key_column):
        found = index.get(to_simplified(wanted))
        if found is None:
            raise CustomerFileError(
                f"{path.name}: configured column {wanted} is not in the header; header is "
                f"{table.header} / 表头中没有配置的列"
            )
        headers.append(found)
    uid_header, key_header = headers
    try:
        for where, row in table.rows:
            out.n_rows += 1
            where = f"{path.name} {where}"
            if isinstance(row, str):
                _note(out.skipped, f"{where}: {row}")
                out.n_skipped += 1
                continue
            uid_hash = hash_author(cell_text(row.get(uid_header)), salt)
            key_hash = hash_customer_key(row.get(key_header), salt)
            if uid_hash is None or key_hash is None:
                empty = uid_header if uid_hash is None else key_header
                _note(out.skipped, f"{where}: {empty} is empty / 为空，已跳过")
                out.n_skipped += 1
                continue
            out.links.append(UidLink(uid_hash, key_hash, where))
    except TableError as exc:
        raise CustomerFileError(f"{path.name}: {exc}") from None
    return out
