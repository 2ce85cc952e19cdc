"""Sentiment corrections made on the dashboard's 质量 Quality page, kept in the actions side
store (`warehouse.action_store`) and read back for training (`load_corrections`).

The latest row per document stands. Withdrawing one appends a row whose corrected label
equals the model's label (the model was right after all), so the log keeps every step and
readers leave such a document out.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from warehouse.action_store import (
    ActionError,
    actions_path,
    as_utc,
    check_encodable,
    checked_note,
    checked_who,
    required_id,
    store_reader,
    store_writer,
    utc_now,
)

SENTIMENT_LABELS = ("negative", "neutral", "positive")
_CORRECTION_COLUMNS = (
    "doc_id, text, model_version, predicted_label, corrected_label, who, note, corrected_at"
)


@dataclass(frozen=True)
class Correction:
    """A user's verdict that the model's sentiment of one document is wrong.

    Attributes:
        doc_id: The document.
        text: The text the user saw (the masked text), used for training.
        model_version: The model whose label was wrong.
        predicted_label: Its label, one of `SENTIMENT_LABELS`.
        corrected_label: The right label, one of `SENTIMENT_LABELS`, not the predicted one.
        who: Who corrected it.
        note: Free text as typed (may be empty).
        at: When, an aware UTC datetime.
    """

    doc_id: str
    text: str
    model_version: str
    predicted_label: str
    corrected_label: str
    who: str
    note: str
    at: datetime


def add_correction(
    db_path: str | Path,
    doc_id: str,
    text: str,
    model_version: str,
    predicted_label: str,
    corrected_label: str,
    who: str,
    note: str = "",
) -> Correction:
    """Record that a document's sentiment is wrong; a later correction of it wins.

    Args:
        db_path: The warehouse file; the store beside it is created on first use.
        doc_id: The document.
        text: The text shown to the user; what `voc sentiment train --corrections` trains on.
        model_version: The model that gave `predicted_label`.
        predicted_label: The model's label, one of `SENTIMENT_LABELS`.
        corrected_label: The right label, one of `SENTIMENT_LABELS`, different from it.
        who: Who corrects; stripped, 1 to `MAX_WHO` characters.
        note: At most `MAX_NOTE` characters.

    Raises:
        ActionError: a bad field, or the corrected label equals the predicted one.
    """
    doc_id = required_id(doc_id, "doc_id", "文档 ID")
    model_version = required_id(model_version, "model_version", "模型版本")
    if not isinstance(text, str) or not text.strip():
        raise ActionError("文本 text 不能为空 / text must not be empty")
    check_encodable(text, "text", "文本")
    for field, value in (
        ("predicted_label", predicted_label),
        ("corrected_label", corrected_label),
    ):
        if value not in SENTIMENT_LABELS:
            raise ActionError(
                f"情感标签 {field} 必须是 {' / '.join(SENTIMENT_LABELS)} 之一，收到 {value!r} / "
                f"{field} must be one of {', '.join(SENTIMENT_LABELS)}, got {value!r}"
            )
    if corrected_label == predicted_label:
        raise ActionError(
            f"更正后的标签 corrected_label 与模型的预测相同（{predicted_label}） / "
            f"corrected_label must differ from predicted_label ({predicted_label})"
        )
    who = checked_who(who)
    note = checked_note(note)
    correction = Correction(
        doc_id, text, model_version, predicted_label, corrected_label, who, note, utc_now()
    )
    with store_writer(db_path) as con:
        con.execute(
            "INSERT INTO sentiment_corrections (doc_id, text, model_version, predicted_label,"
            " corrected_label, who, note, corrected_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                doc_id,
                text,
                model_version,
                predicted_label,
                corrected_label,
                who,
                note,
                correction.at.isoformat(),
            ],
        )
    return correction


def withdraw_correction(db_path: str | Path, doc_id: str, who: str, note: str = "") -> Correction:
    """Take back a document's standing correction, e.g. one saved by mistake.

    Appends a row whose corrected label is the model's label, so the model's judgement
    stands again: `corrections`, training and ``v_sentiment_corrections`` leave the
    document out until someone corrects it anew. The log keeps both rows.

    Args:
        db_path: The warehouse file.
        doc_id: The corrected document.
        who: Who withdraws; stripped, 1 to `MAX_WHO` characters.
        note: Why, at most `MAX_NOTE` characters.

    Returns:
        The withdrawal as stored (``corrected_label == predicted_label``).

    Raises:
        ActionError: a bad field, or the document has no standing correction.
    """
    doc_id = required_id(doc_id, "doc_id", "文档 ID")
    who = checked_who(who)
    note = checked_note(note)
    missing = ActionError(
        f"文档 {doc_id} 没有可撤回的更正 / document {doc_id} has no correction to withdraw"
    )
    if not actions_path(db_path).is_file():
        raise missing
    with store_writer(db_path) as con:
        latest = con.execute(
            "SELECT text, model_version, predicted_label, corrected_label "
            "FROM sentiment_corrections WHERE doc_id = ? ORDER BY correction_id DESC LIMIT 1",
            [doc_id],
        ).fetchone()
        if latest is None or latest[2] == latest[3]:
            raise missing
        text, model_version, predicted, _ = latest
        withdrawal = Correction(
            doc_id, text, model_version, predicted, predicted, who, note, utc_now()
        )
        con.execute(
            "INSERT INTO sentiment_corrections (doc_id, text, model_version, predicted_label,"
            " corrected_label, who, note, corrected_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                doc_id,
                text,
                model_version,
                predicted,
                predicted,
                who,
                note,
                withdrawal.at.isoformat(),
            ],
        )
    return withdrawal


def corrections(db_path: str | Path) -> list[Correction]:
    """The standing correction per document (its latest, unless withdrawn), oldest first.

    Empty when there are none.
    """
    with store_reader(db_path) as con:
        if con is None:
            return []
        rows = con.execute(
            f"SELECT {_CORRECTION_COLUMNS} FROM sentiment_corrections WHERE correction_id IN "
            "(SELECT max(correction_id) FROM sentiment_corrections GROUP BY doc_id) "
            "AND corrected_label <> predicted_label ORDER BY correction_id"
        ).fetchall()
    return [_correction(r) for r in rows]


def load_corrections(db_path: str | Path) -> tuple[list[Correction], Path]:
    """Corrections for training: from the side store, else the warehouse's copy.

    The side store is the source of truth; a warehouse copied without it still has the
    last synced ``sentiment_corrections`` table.

    Returns:
        The standing correction per document (oldest first; withdrawn ones left out) and
        the file they came from.

    Raises:
        FileNotFoundError: neither the side store nor the warehouse file exists.
    """
    store = actions_path(db_path)
    if store.is_file():
        return corrections(db_path), store
    db_path = Path(db_path)
    if not db_path.is_file():
        raise FileNotFoundError(
            f"no corrections: neither {store} nor the warehouse {db_path} exists"
        )
    with closing(duckdb.connect(str(db_path), read_only=True)) as con:
        found = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'sentiment_corrections'"
        ).fetchone()
        if not found or not found[0]:
            return [], db_path
        rows = con.execute(
            f"SELECT {_CORRECTION_COLUMNS} FROM sentiment_corrections "
            "QUALIFY row_number() OVER (PARTITION BY doc_id ORDER BY correction_id DESC) = 1 "
            "AND corrected_label <> predicted_label ORDER BY correction_id"
        ).fetchall()
    return [_correction(r) for r in rows], db_path


def _correction(row: tuple) -> Correction:
    return Correction(*row[:7], as_utc(row[7]))
