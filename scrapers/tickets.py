"""Helpdesk ticket exports (CSV, XLSX or JSON files listed in an index, over HTTP or on disk).

Plain Python (urllib, csv, openpyxl), no Scrapy: an export is a handful of files, not a
crawl. Each file is read by `scrapers.ticket_files` (format by suffix, encoding detected per
file); the source's ``columns`` option maps its headers onto ticket fields.
"""

from __future__ import annotations

import json
import logging
import re
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from scrapers.parsers import CHINA_TZ
from scrapers.ticket_files import FORMATS, TableError, cell_text, decode_export, read_table
from voc.customers import SurveyResponse, find_customer_key
from voc.kinds.connectors import TicketExportOptions
from voc.records import Document, RecordError, make_document
from voc.response_times import MailReply
from voc.settings import SourceConfig

__all__ = [
    "ExportFiles",
    "TicketLoad",
    "decode_export",
    "load_ticket_export",
    "parse_ticket_time",
    "pick_customer_key",
]

logger = logging.getLogger(__name__)

#: Our field → the export's header: the helpdesk's default CSV layout.
DEFAULT_COLUMNS: dict[str, str] = {
    "id": "工单号",
    "created_at": "创建时间",
    "customer": "客户",
    "text": "问题描述",
}
#: Fields every ticket needs; their headers must be in every file.
REQUIRED_FIELDS = ("id", "created_at", "text")
#: Fields that become `Document` fields.
DOCUMENT_FIELDS = (
    "id",
    "created_at",
    "text",
    "customer",
    "customer_key",
    "product",
    "rating",
    "url",
)
#: Fields kept as `Document.attributes` (as text, whatever the file format).
ATTRIBUTE_FIELDS = (
    "subject",
    "status",
    "channel",
    "priority",
    "category",
    "resolution",
    "tags",
    "order_id",
)
USER_AGENT = "VoCMonitor/0.1 (helpdesk export loader)"

_STAMP = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?$")
_MONTH = re.compile(r"(\d{4})-(\d{2})")
_EXCEL_EPOCH = datetime(1899, 12, 30)


@dataclass(frozen=True)
class TicketLoad:
    """Tickets read from one export source.

    Attributes:
        documents: Valid tickets created within the window.
        problems: Messages naming the file (and row) of everything skipped.
        n_rows: Data rows read (all files, before the window filter).
        n_skipped: Rows skipped as invalid (outside-window rows are not counted here).
        cursor: Where the next incremental load starts (connectors with a cursor, such as
            a helpdesk API's incremental export); None = no cursor.
        responses: Survey responses' scores (``survey`` sources; their open answers are
            among `documents`).
        replies: Our own replies to customers' mails (``mailbox`` sources with
            ``our_domains``), for their first response times.
    """

    documents: list[Document] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    n_rows: int = 0
    n_skipped: int = 0
    cursor: str | None = None
    responses: list[SurveyResponse] = field(default_factory=list)
    replies: list[MailReply] = field(default_factory=list)


def pick_customer_key(
    key_from: str, *, author: str | None = None, column: str | None = None, text: str = ""
) -> str | None:
    """The raw customer key of a voice (`make_document` hashes it), by the source's
    ``customer_key`` option: ``author`` the person field, ``column`` a mapped key column,
    ``phone_in_text`` / ``email_in_text`` the first mobile number / e-mail address in the
    raw text (it must be the text before personal data is masked), ``none`` no key."""
    if key_from == "author":
        return author or None
    if key_from == "column":
        return column or None
    if key_from == "phone_in_text":
        return find_customer_key(text, "phone")
    if key_from == "email_in_text":
        return find_customer_key(text, "email")
    return None


def column_map(options: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """Field → export header(s) from a source's ``columns`` option over `DEFAULT_COLUMNS`.

    A field may name a list of headers (``text = ["主题", "描述"]``): their cells are
    joined with a newline.

    Raises:
        ValueError: naming unknown fields or headers that are not strings.
    """
    columns = options.get("columns") or {}
    if not isinstance(columns, Mapping):
        raise ValueError(f"option columns must be a table of field = header, got {columns!r}")
    known = DOCUMENT_FIELDS + ATTRIBUTE_FIELDS
    unknown = sorted(set(columns) - set(known))
    if unknown:
        raise ValueError(
            f"option columns: unknown field(s) {', '.join(unknown)}; known: {', '.join(known)}"
        )
    mapping: dict[str, tuple[str, ...]] = {k: (v,) for k, v in DEFAULT_COLUMNS.items()}
    for name, headers in columns.items():
        headers = (headers,) if isinstance(headers, str) else tuple(headers)
        if not headers or not all(isinstance(h, str) and h for h in headers):
            raise ValueError(f"option columns.{name}: expected a header or a list of headers")
        mapping[name] = headers
    return mapping


def load_ticket_export(
    source: SourceConfig,
    since: date,
    until: date,
    author_salt: str,
    cursor: str | None = None,
    timeout: float = 30.0,
) -> TicketLoad:
    """Load the tickets created in [since, until] from a helpdesk export.

    Args:
        source: A ``ticket_export`` source; ``url`` is the export index (``index.json``)
            over HTTP(S), or a local index file, directory (with an index.json, else every
            ``.csv``/``.xlsx``/``.json``/``.jsonl`` in it) or single export file. Options:
            ``columns`` (field → header(s), see `column_map`), ``sheet`` (XLSX sheet
            name), ``brand``, ``customer_key`` (`pick_customer_key`; default the
            ``columns.customer_key`` column if mapped, else the 客户 column).
        since: First day (inclusive, China time for naive timestamps).
        until: Last day (inclusive).
        author_salt: Salt for hashing the customer column.
        cursor: Unused (exports are re-read whole; the window selects the rows).
        timeout: Per-request timeout for HTTP sources.

    A file that cannot be fetched, decoded or parsed, or lacks a mapped column, is reported
    in `problems` and the other files still load; so is every skipped row.
    """
    try:
        columns = column_map(source.options)
        options = source.typed_options
    except ValueError as exc:
        return TicketLoad(problems=[f"{source.name}: {exc}"])
    assert isinstance(options, TicketExportOptions)
    load = _Loader(source, options, columns, since, until, author_salt, timeout)
    try:
        files = load.files.list_files()
    except (OSError, ValueError) as exc:
        return TicketLoad(problems=[f"{source.name}: cannot read export index {source.url}: {exc}"])
    for name, location in files:
        load.read_file(name, location)
    return TicketLoad(load.documents, load.problems, load.n_rows, load.n_skipped)


class ExportFiles:
    """The export files a source's ``url`` names, and their bytes: an index (``index.json``:
    ``{"exports": [{"file", "url", "month"}]}``) over HTTP(S) or on disk, a directory (with an
    index.json, else every ``.csv``/``.xlsx``/``.json``/``.jsonl`` in it) or one export file.
    Shared by the ticket_export and survey connectors."""

    def __init__(self, url: str, since: date, until: date, timeout: float = 30.0) -> None:
        self.url, self.since, self.until, self.timeout = url, since, until, timeout
        self.remote = urlsplit(url).scheme in ("http", "https")
        self.fetched: dict[str, bytes] = {}

    def read(self, location: str) -> bytes:
        """A listed file's bytes.

        Raises:
            OSError, urllib.error.URLError: it cannot be read.
        """
        raw = self.fetched.pop(location, None)
        if raw is None:
            raw = self._fetch(location) if self.remote else Path(location).read_bytes()
        return raw

    def list_files(self) -> list[tuple[str, str]]:
        """(file name, URL or path) of the exports that may hold days in the window.

        Raises:
            OSError, ValueError: the url or its index cannot be read.
        """
        url = self.url
        if self.remote:
            name = urlsplit(url).path.rsplit("/", 1)[-1]
            return self._single_or_index(name, url, self._fetch(url))
        path = Path(url.removeprefix("file://"))
        if path.is_dir():
            index = path / "index.json"
            if not index.exists():
                return [
                    (p.name, str(p))
                    for p in sorted(path.iterdir())
                    if p.suffix.lower() in FORMATS and p.is_file()
                ]
            path = index
        return self._single_or_index(path.name, str(path), path.read_bytes())

    def _single_or_index(self, name: str, location: str, raw: bytes) -> list[tuple[str, str]]:
        suffix = Path(name).suffix.lower()
        if suffix in FORMATS and suffix != ".json":
            self.fetched[location] = raw
            return [(name, location)]
        try:
            index = json.loads(raw.decode("utf-8-sig"))
        except ValueError:
            index = None
        # A .json file is an index if it lists exports, else it is itself an export.
        if suffix == ".json" and not (isinstance(index, dict) and "exports" in index):
            self.fetched[location] = raw
            return [(name, location)]
        if index is None:
            raise ValueError("the index is not JSON")
        return self._from_index(location, index)

    def _from_index(self, index_location: str, index: Any) -> list[tuple[str, str]]:
        exports = index.get("exports") if isinstance(index, dict) else None
        if not isinstance(exports, list):
            raise ValueError("no 'exports' list in the index")
        files = []
        for entry in exports:
            href = entry.get("url") or entry.get("file")
            name = entry.get("file") or href.rsplit("/", 1)[-1]
            # Skip months wholly outside the window instead of downloading them.
            month = _MONTH.fullmatch(str(entry.get("month", "")))
            if month:
                first = date(int(month[1]), int(month[2]), 1)
                if first > self.until or (first.year, first.month) < (
                    self.since.year,
                    self.since.month,
                ):
                    continue
            if self.remote:
                files.append((name, urljoin(index_location, href)))
            else:
                files.append((name, str(Path(index_location).parent / href)))
        return files

    def _fetch(self, url: str) -> bytes:
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            return response.read()


class _Loader:
    def __init__(
        self,
        source: SourceConfig,
        options: TicketExportOptions,
        columns: dict[str, tuple[str, ...]],
        since: date,
        until: date,
        author_salt: str,
        timeout: float,
    ) -> None:
        self.source, self.columns, self.since, self.until = source, columns, since, until
        self.author_salt, self.timeout = author_salt, timeout
        self.brand = options.brand or None
        self.sheet = options.sheet or None
        # Explicitly mapped columns must be there; a defaulted 客户 may be absent.
        mapped = set(source.options.get("columns") or {}) | set(REQUIRED_FIELDS)
        self.required = [h for f in columns if f in mapped for h in columns[f]]
        self.documents: list[Document] = []
        self.problems: list[str] = []
        self.n_rows = self.n_skipped = 0
        self.files = ExportFiles(source.url, since, until, timeout)
        self.key_from = options.key_from

    def read_file(self, name: str, location: str) -> None:
        try:
            raw = self.files.read(location)
        except (OSError, urllib.error.URLError) as exc:
            self._problem(f"{name}: cannot read {location}: {exc}")
            return
        try:
            table = read_table(name, raw, self.required, self.sheet)
            if table.lossy:
                self._problem(
                    f"{name}: neither UTF-8 nor GBK/GB18030/Big5; undecodable bytes "
                    "replaced with U+FFFD"
                )
            missing = [h for h in self.required if h not in table.header]
            # An empty JSON export has no keys at all; it is empty, not a changed layout.
            if missing and (
                table.header or FORMATS.get(Path(name).suffix.lower()) not in ("json", "jsonl")
            ):
                self._problem(
                    f"{name}: missing column(s) {', '.join(missing)}; header is {table.header}"
                )
                return
            logger.debug("%s: %d bytes, %s", name, len(raw), table.encoding)
            for where, row in table.rows:
                self.n_rows += 1
                if isinstance(row, str):
                    self._skip(f"{name} {where}: {row}")
                else:
                    self._read_row(f"{name} {where}", row)
        except TableError as exc:
            self._problem(f"{name}: {exc}")

    def _cell(self, row: dict[str, Any], name: str) -> Any:
        headers = self.columns.get(name, ())
        if len(headers) == 1:
            return row.get(headers[0])
        return "\n".join(t for t in (cell_text(row.get(h)) for h in headers) if t)

    def _read_row(self, where: str, row: dict[str, Any]) -> None:
        text = cell_text(self._cell(row, "text"))
        if not text:
            self._skip(f"{where}: {'/'.join(self.columns['text'])} is empty")
            return
        ticket_id = cell_text(self._cell(row, "id"))
        if not ticket_id:
            self._skip(f"{where}: {'/'.join(self.columns['id'])} is empty")
            return
        try:
            created = parse_ticket_value(self._cell(row, "created_at"))
        except ValueError as exc:
            self._skip(f"{where}: {'/'.join(self.columns['created_at'])} {exc}")
            return
        if not self.since <= created.astimezone(CHINA_TZ).date() <= self.until:
            return
        author = cell_text(self._cell(row, "customer")) or None
        attributes = {
            name: value
            for name in ATTRIBUTE_FIELDS
            if name in self.columns and (value := cell_text(self._cell(row, name)))
        }
        try:
            doc = make_document(
                source=self.source.name,
                channel="ticket",
                external_id=ticket_id,
                # The export's text as it is (not stripped): raw text is never edited.
                text=text if len(self.columns["text"]) > 1 else str(self._cell(row, "text")),
                created_at=created,
                author=author,
                rating=self._rating(where, row),
                url=cell_text(self._cell(row, "url")) or None,
                product=cell_text(self._cell(row, "product")) or None,
                brand=self.brand,
                attributes=attributes,
                author_salt=self.author_salt,
                customer=pick_customer_key(
                    self.key_from,
                    author=author,
                    column=cell_text(self._cell(row, "customer_key")) or None,
                    text=text,
                ),
            )
        except RecordError as exc:
            self._skip(f"{where}: {exc}")
            return
        self.documents.append(doc)

    def _rating(self, where: str, row: dict[str, Any]) -> float | None:
        value = cell_text(self._cell(row, "rating"))
        if not value:
            return None
        try:
            rating = float(value)
        except ValueError:
            rating = -1.0
        if 0 <= rating <= 5:
            return rating
        # A bad rating loses the rating, not the ticket.
        self._problem(f"{where}: {'/'.join(self.columns['rating'])} is not a 0-5 rating: {value!r}")
        return None

    def _skip(self, message: str) -> None:
        self.n_skipped += 1
        self._problem(message)

    def _problem(self, message: str) -> None:
        message = f"{self.source.name}: {message}"
        logger.warning(message)
        self.problems.append(message)


def parse_ticket_value(value: Any) -> datetime:
    """A created-at cell: a datetime (Excel date cells; naive = China time), an Excel
    serial day number, Unix seconds or milliseconds (JSON), or text (`parse_ticket_time`).

    Raises:
        ValueError: naming the value.
    """
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=CHINA_TZ)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=CHINA_TZ)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if 1 <= value < 100_000:  # Excel serial day (a date cell formatted as a number)
            return (_EXCEL_EPOCH + timedelta(days=value)).replace(tzinfo=CHINA_TZ)
        if 1e9 <= value < 1e14:  # Unix time, in milliseconds above 1e11
            seconds = value / 1000 if value >= 1e11 else value
            return datetime.fromtimestamp(seconds, tz=CHINA_TZ)
        raise ValueError(f"is not a date: {value!r}")
    return parse_ticket_time(cell_text(value))


def parse_ticket_time(text: str) -> datetime:
    """``2025-06-01 09:12:00`` or ``2025/6/1 9:12`` (China time unless an offset is given).

    Raises:
        ValueError: naming the text.
    """
    s = text.strip()
    m = _STAMP.match(s)
    try:
        if m:
            y, mo, d, h, mi, sec = (int(g) if g else 0 for g in m.groups())
            return datetime(y, mo, d, h, mi, sec, tzinfo=CHINA_TZ)
        stamp = datetime.fromisoformat(s)
    except ValueError:
        raise ValueError(f"is not a date: {text!r}") from None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=CHINA_TZ)
