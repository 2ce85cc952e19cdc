"""Helpdesk ticket exports: monthly CSV files listed in an index, over HTTP or on disk.

Plain Python (urllib, csv), no Scrapy: an export is a handful of files, not a crawl.
Helpdesks export in whatever encoding their Windows server used, so the encoding is
detected per file (UTF-8 with or without BOM, else GB18030 — a superset of GBK — or Big5,
whichever reads as ordinary Chinese; see `decode_export`).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from nlp.normalize import to_simplified
from scrapers.parsers import CHINA_TZ
from voc.records import Document, RecordError, make_document
from voc.settings import SourceConfig

logger = logging.getLogger(__name__)

COL_ID, COL_CREATED, COL_CUSTOMER, COL_TEXT = "工单号", "创建时间", "客户", "问题描述"
REQUIRED_COLUMNS = (COL_ID, COL_CREATED, COL_TEXT)
USER_AGENT = "VoCMonitor/0.1 (helpdesk export loader)"

_STAMP = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?$")
_MONTH = re.compile(r"(\d{4})-(\d{2})")


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
    """

    documents: list[Document] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    n_rows: int = 0
    n_skipped: int = 0
    cursor: str | None = None


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
            ``*.csv`` in it) or single CSV file.
        since: First day (inclusive, China time for naive timestamps).
        until: Last day (inclusive).
        author_salt: Salt for hashing the 客户 column.
        cursor: Unused (exports are re-read whole; the window selects the rows).
        timeout: Per-request timeout for HTTP sources.

    A file that cannot be fetched, decoded or parsed is reported in `problems` and the
    other files still load; so is every skipped row.
    """
    load = _Loader(source, since, until, author_salt, timeout)
    try:
        files = load.list_files()
    except (OSError, ValueError) as exc:
        return TicketLoad(problems=[f"{source.name}: cannot read export index {source.url}: {exc}"])
    for name, location in files:
        load.read_file(name, location)
    return TicketLoad(load.documents, load.problems, load.n_rows, load.n_skipped)


class _Loader:
    def __init__(
        self, source: SourceConfig, since: date, until: date, author_salt: str, timeout: float
    ) -> None:
        self.source, self.since, self.until = source, since, until
        self.author_salt, self.timeout = author_salt, timeout
        self.brand = source.options.get("brand") or None
        self.documents: list[Document] = []
        self.problems: list[str] = []
        self.n_rows = self.n_skipped = 0
        self.remote = urlsplit(source.url).scheme in ("http", "https")

    def list_files(self) -> list[tuple[str, str]]:
        """(file name, URL or path) of the exports that may hold days in the window."""
        if self.remote:
            return self._from_index(self.source.url, json.loads(self._fetch(self.source.url)))
        path = Path(self.source.url.removeprefix("file://"))
        if path.is_dir():
            index = path / "index.json"
            if not index.exists():
                return [(p.name, str(p)) for p in sorted(path.glob("*.csv"))]
            path = index
        if path.suffix.lower() == ".csv":
            return [(path.name, str(path))]
        return self._from_index(str(path), json.loads(path.read_text(encoding="utf-8")))

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

    def read_file(self, name: str, location: str) -> None:
        try:
            raw = self._fetch(location) if self.remote else Path(location).read_bytes()
        except (OSError, urllib.error.URLError) as exc:
            self._problem(f"{name}: cannot read {location}: {exc}")
            return
        text, encoding, lossy = decode_export(raw)
        if lossy:
            self._problem(
                f"{name}: neither UTF-8 nor GBK/GB18030; undecodable bytes replaced with U+FFFD"
            )
        logger.debug("%s: %d bytes, %s", name, len(raw), encoding)
        reader = csv.DictReader(io.StringIO(text, newline=""))
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            self._problem(
                f"{name}: missing column(s) {', '.join(missing)}; header is {reader.fieldnames}"
            )
            return
        row_no = 1
        try:
            # Row numbers as a spreadsheet shows them: the header is row 1.
            for row_no, row in enumerate(reader, start=2):
                self.n_rows += 1
                self._read_row(name, row_no, row)
        except csv.Error as exc:
            self._problem(f"{name}: unreadable CSV after row {row_no}: {exc}")

    def _read_row(self, name: str, row_no: int, row: dict[str, str | None]) -> None:
        where = f"{name} row {row_no}"
        text = (row.get(COL_TEXT) or "").strip()
        if not text:
            self._skip(f"{where}: {COL_TEXT} is empty")
            return
        ticket_id = (row.get(COL_ID) or "").strip()
        if not ticket_id:
            self._skip(f"{where}: {COL_ID} is empty")
            return
        try:
            created = parse_ticket_time(row.get(COL_CREATED) or "")
        except ValueError as exc:
            self._skip(f"{where}: {COL_CREATED} {exc}")
            return
        if not self.since <= created.astimezone(CHINA_TZ).date() <= self.until:
            return
        try:
            doc = make_document(
                source=self.source.name,
                channel="ticket",
                external_id=ticket_id,
                text=row.get(COL_TEXT) or "",
                created_at=created,
                author=(row.get(COL_CUSTOMER) or None),
                brand=self.brand,
                author_salt=self.author_salt,
            )
        except RecordError as exc:
            self._skip(f"{where}: {exc}")
            return
        self.documents.append(doc)

    def _skip(self, message: str) -> None:
        self.n_skipped += 1
        self._problem(message)

    def _problem(self, message: str) -> None:
        message = f"{self.source.name}: {message}"
        logger.warning(message)
        self.problems.append(message)


#: Very common characters (simplified). Text decoded with the right codec is mostly made of
#: them (after Traditional → Simplified); bytes decoded with the wrong double-byte codec
#: turn into rare characters.
_COMMON_CHARS = frozenset(
    "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之"
    "过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前"
    "所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声"
    "全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使"
    "教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑"
    "性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果"
    "亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让"
    "认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留"
    "红治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息"
    "写呢识极令黄德收脸钱党倒未持取设始版双历越史商千片容研像找友孩站广改议形委早房音火际则"
    "首单据导影失拿网香似斯专石若兵弟谁校读志飞观争究包组造落视济喜离虽坏兴切府货退换买卖款"
    "客服务态度订购快递物流质量价格售后维修包装坏损慢差错误投诉退款申请处理问题谢谢您好请"
)


def _common_share(text: str, sample: int = 20_000) -> float:
    # A sample is enough to tell the codecs apart; whole exports can be megabytes.
    cjk = [ch for ch in to_simplified(text[:sample]) if "\u4e00" <= ch <= "\u9fff"]
    return sum(ch in _COMMON_CHARS for ch in cjk) / len(cjk) if cjk else 0.0


def decode_export(raw: bytes) -> tuple[str, str, bool]:
    """Decode an export file: UTF-8 (BOM or not) if it is valid UTF-8; otherwise GB18030
    (GBK, GB2312) or Big5, whichever reads as ordinary Chinese.

    Big5 and GBK bytes are often valid in both codecs; the wrong one turns text into rare
    characters, so the decoding whose characters (converted to Simplified) are most often
    among the commonest Chinese characters wins; GB18030 on a tie.

    Returns:
        (text, encoding used, whether undecodable bytes had to be replaced).
    """
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw.decode("utf-8-sig", errors="replace"), "utf-8-sig", False
    try:
        return raw.decode("utf-8"), "utf-8", False
    except UnicodeDecodeError:
        pass
    candidates = []
    for codec in ("gb18030", "big5"):
        try:
            text = raw.decode(codec)
        except UnicodeDecodeError:
            continue
        candidates.append((_common_share(text), codec == "gb18030", codec, text))
    lossy = not candidates
    if lossy:
        # Keep the rest of the file rather than losing every row for a few bad bytes.
        for codec in ("gb18030", "big5"):
            text = raw.decode(codec, errors="replace")
            candidates.append((_common_share(text), codec == "gb18030", codec, text))
    _, _, codec, text = max(candidates)
    return text, codec, lossy


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
