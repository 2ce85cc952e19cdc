"""Labelled CSV files for evaluating and fine-tuning sentiment models, read with clear
errors: a missing column names the columns there are; a bad row is skipped and named."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

#: Label values accepted in a labelled file, per class.
NEGATIVE_VALUES = frozenset({"0", "neg", "negative", "负面", "差评", "-1"})
POSITIVE_VALUES = frozenset({"1", "pos", "positive", "正面", "好评"})


class LabelledFileError(ValueError):
    """A labelled file that cannot be used at all; the message names the file."""


@dataclass
class LabelledData:
    """Texts with binary labels (0 = negative, 1 = positive) read from one file.

    Attributes:
        texts: The texts, in file order.
        labels: 0 or 1 per text.
        problems: One message per skipped row, naming the file and row.
    """

    texts: list[str] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _decode(raw: bytes, path: Path) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", errors="replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gb18030")  # covers GBK/GB2312 exports
    except UnicodeDecodeError as exc:
        raise LabelledFileError(f"{path}: neither UTF-8 nor GB18030 text ({exc})") from exc


def read_labelled_csv(path: str | Path, text_col: str, label_col: str) -> LabelledData:
    """Read a CSV of texts with 0/1 (or negative/positive) labels.

    Rows with an empty text or an unknown label are skipped; each gets a message naming
    the file and its row number (the header is row 1, as in a spreadsheet).

    Raises:
        LabelledFileError: the file is missing, undecodable, or lacks a named column.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise LabelledFileError(f"cannot read {path}: {exc}") from exc
    reader = csv.DictReader(io.StringIO(_decode(raw, path), newline=""))
    columns = reader.fieldnames or []
    for col in (text_col, label_col):
        if col not in columns:
            raise LabelledFileError(
                f"{path}: no column {col!r}; columns are: {', '.join(columns) or '(none)'}"
            )
    data = LabelledData()
    for row_no, row in enumerate(reader, start=2):
        text = (row.get(text_col) or "").strip()
        value = (row.get(label_col) or "").strip().lower()
        if not text:
            data.problems.append(f"{path.name} row {row_no}: {text_col} is empty")
        elif value in NEGATIVE_VALUES:
            data.texts.append(text)
            data.labels.append(0)
        elif value in POSITIVE_VALUES:
            data.texts.append(text)
            data.labels.append(1)
        else:
            data.problems.append(
                f"{path.name} row {row_no}: {label_col} {value!r} is not 0/1 or negative/positive"
            )
    if not data.texts:
        raise LabelledFileError(f"{path}: no usable rows ({len(data.problems)} skipped)")
    return data
