"""Writing a table to a CSV or XLSX file for ``voc cases export`` and ``voc followups
export``: the format from the suffix, and never a half-written file left behind."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

EXPORT_FORMATS = ("csv", "xlsx")


def export_format(path: Path, fmt: str | None) -> str:
    """The export format: `fmt`, else the file's suffix; a clear error otherwise."""
    chosen = fmt or path.suffix.lower().lstrip(".")
    if chosen not in EXPORT_FORMATS:
        raise ValueError(
            f"{path}: 无法判断导出格式（用 .csv/.xlsx 或 --format）/ cannot tell the export "
            "format (use .csv or .xlsx, or --format)"
        )
    return chosen


def write_atomically(path: Path, write: Callable[[Path], int]) -> int:
    """`write(partial_path)` then move the file into place: a failed export never leaves
    a half-written file behind. Returns what `write` returned (the rows)."""
    partial = path.with_name(path.name + ".partial")
    try:
        n = write(partial)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return n


def write_rows(path: Path, fmt: str, columns: Sequence[str], rows: Iterable[dict]) -> int:
    """Write `rows` to `path` as CSV (UTF-8 with BOM, so Excel reads Chinese) or XLSX;
    returns the rows written."""

    def write(out: Path) -> int:
        n = 0
        if fmt == "csv":
            with out.open("w", newline="", encoding="utf-8-sig") as f:
                writer = csv.DictWriter(f, fieldnames=list(columns))
                writer.writeheader()
                for row in rows:
                    writer.writerow(row)
                    n += 1
            return n
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet("cases")
        sheet.append(list(columns))
        for row in rows:
            sheet.append([row.get(c) for c in columns])
            n += 1
        book.save(out)
        return n

    return write_atomically(path, write)
