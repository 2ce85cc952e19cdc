"""Reading one helpdesk export file (CSV, XLSX or JSON) into rows of header → cell.

Pure functions from bytes to rows; what the rows mean (the column mapping, dates,
documents) is `scrapers.tickets`' business. Helpdesks export in whatever encoding their
Windows server used, so text exports are decoded per file (`decode_export`).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from itertools import chain
from typing import Any

from nlp.normalize import to_simplified

#: File suffix → format; ``.xls`` is listed so that it is reported, not silently ignored.
FORMATS = {
    ".csv": "csv",
    ".xlsx": "xlsx",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".xls": "xls",
}
#: Rows searched for the header: Excel exports often start with a title row or two.
HEADER_SEARCH_ROWS = 10


class TableError(ValueError):
    """A file that cannot be read as a table at all; the message says why."""


#: A data row: where it is ("row 5", "item 3", "line 7") and header → cell, or why the row
#: itself is unreadable.
Row = tuple[str, dict[str, Any] | str]


@dataclass
class Table:
    """An export file's rows.

    Attributes:
        header: Column names (JSON: every key any object has, nested keys dotted).
        rows: The data rows, read lazily; iterating may raise `TableError` for a file
            that breaks off (a CSV with an unterminated quote...).
        encoding: The text encoding used (``xlsx`` for workbooks).
        lossy: Undecodable bytes were replaced with U+FFFD.
    """

    header: list[str]
    rows: Iterator[Row]
    encoding: str
    lossy: bool = False


def read_table(
    name: str, raw: bytes, required: Collection[str] = (), sheet: str | None = None
) -> Table:
    """The rows of one export file, its format chosen by the file name's suffix.

    Args:
        name: File name (its suffix picks the format).
        raw: The file's bytes.
        required: Headers the mapping needs; in CSV and XLSX the header is the first of the
            first 10 rows that has them all (else the first non-empty row).
        sheet: XLSX worksheet name (default: the first sheet).

    Raises:
        TableError: unsupported format, not a workbook, not JSON, no sheet of that name.
    """
    fmt = FORMATS.get(name[name.rfind(".") :].lower()) if "." in name else None
    if fmt == "xlsx":
        return _grid_table(_xlsx_grid(raw, sheet), required, "xlsx", False)
    if fmt == "xls":
        raise TableError("old Excel .xls is not supported; export as .xlsx or .csv")
    if fmt is None:
        raise TableError("unsupported file type (expected .csv, .xlsx, .json or .jsonl)")
    text, encoding, lossy = decode_export(raw)
    if fmt == "csv":
        return _grid_table(_csv_grid(text), required, encoding, lossy)
    return _json_table(text, fmt == "jsonl", encoding, lossy)


def cell_text(value: Any) -> str:
    """A cell as text: integral floats without ``.0`` (Excel stores ids as numbers),
    datetimes in ISO form, None as empty."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    return str(value).strip()


def _csv_grid(text: str) -> Iterator[tuple[int, list[Any]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    row_no = 0
    try:
        # Row numbers as a spreadsheet shows them (a quoted multi-line cell is one row).
        for row_no, cells in enumerate(reader, start=1):
            yield row_no, cells
    except csv.Error as exc:
        raise TableError(f"unreadable CSV after row {row_no}: {exc}") from None


def _xlsx_grid(raw: bytes, sheet: str | None) -> Iterator[tuple[int, list[Any]]]:
    try:
        # Imported here so that CSV and JSON exports work without the optional dependency.
        from openpyxl import load_workbook
    except ImportError:
        raise TableError("reading .xlsx needs openpyxl: pip install 'openpyxl>=3.1,<4'") from None
    try:
        book = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zip, XML and key errors alike
        raise TableError(f"not a readable .xlsx workbook: {type(exc).__name__}: {exc}") from None
    if sheet is not None and sheet not in book.sheetnames:
        book.close()
        raise TableError(f"no sheet {sheet!r}; sheets are {book.sheetnames}")
    worksheet = book[sheet] if sheet else book.worksheets[0]

    def grid() -> Iterator[tuple[int, list[Any]]]:
        try:
            for row_no, cells in enumerate(worksheet.iter_rows(values_only=True), start=1):
                yield row_no, list(cells)
        finally:
            book.close()

    return grid()


def _grid_table(
    grid: Iterator[tuple[int, list[Any]]], required: Collection[str], encoding: str, lossy: bool
) -> Table:
    wanted = set(required)
    seen: list[tuple[int, list[Any]]] = []
    for row_no, cells in grid:
        if not any(cell_text(c) for c in cells):
            continue
        if wanted <= {cell_text(c) for c in cells}:
            header = [cell_text(c) for c in cells]
            return Table(header, _grid_rows(grid, header, []), encoding, lossy)
        seen.append((row_no, cells))
        if row_no >= HEADER_SEARCH_ROWS:
            break
    if not seen:
        return Table([], iter(()), encoding, lossy)
    # No row has every mapped header: the first row is the header (the loader reports what
    # is missing), and the rows read past it are data after all.
    header = [cell_text(c) for c in seen[0][1]]
    return Table(header, _grid_rows(grid, header, seen[1:]), encoding, lossy)


def _grid_rows(
    grid: Iterator[tuple[int, list[Any]]], header: list[str], before: list[tuple[int, list[Any]]]
) -> Iterator[Row]:
    for row_no, cells in chain(before, grid):
        # Blank rows (Excel's formatted-but-empty tail, CSV blank lines) are not data.
        if all(cell_text(c) == "" for c in cells):
            continue
        row: dict[str, Any] = {}
        for name, value in zip(header, cells, strict=False):
            if name and name not in row:
                row[name] = value
        yield f"row {row_no}", row


def _json_table(text: str, lines: bool, encoding: str, lossy: bool) -> Table:
    if not lines:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            # Several objects one per line in a .json file: JSON lines after all.
            if not exc.msg.startswith("Extra data"):
                raise TableError(f"not valid JSON: {exc}") from None
            lines = True
    if lines:
        items: list[tuple[str, Any]] = []
        for line_no, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    items.append((f"line {line_no}", json.loads(line)))
                except json.JSONDecodeError as exc:
                    items.append((f"line {line_no}", TableError(f"not valid JSON: {exc}")))
    else:
        if isinstance(data, dict) and isinstance(data.get("tickets"), list):
            data = data["tickets"]
        if not isinstance(data, list):
            keys = sorted(data)[:10] if isinstance(data, dict) else type(data).__name__
            raise TableError(f'expected a list of tickets or {{"tickets": [...]}}, got {keys}')
        items = [(f"item {i}", item) for i, item in enumerate(data, start=1)]
    rows: list[Row] = []
    header: dict[str, None] = {}
    for where, item in items:
        if isinstance(item, TableError):
            rows.append((where, str(item)))
        elif not isinstance(item, dict):
            rows.append((where, f"not an object: {type(item).__name__}"))
        else:
            flat = _flatten(item)
            header.update(dict.fromkeys(flat))
            rows.append((where, flat))
    return Table(list(header), iter(rows), encoding, lossy)


def _flatten(obj: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    # Helpdesk APIs nest ({"requester": {"name": ...}}); a mapping names "requester.name".
    flat: dict[str, Any] = {}
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        elif isinstance(value, list):
            flat[name] = ", ".join(cell_text(v) for v in value if not isinstance(v, dict | list))
        else:
            flat[name] = value
    return flat


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
