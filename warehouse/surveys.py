"""Survey responses (满意度测评): their scores in ``survey_responses`` and which documents
are their open answers in ``survey_answers``, upserted idempotently.

A response is keyed by (source, external_id) — its ``response_id`` is
`voc.records.document_id` of the two — and its open answers are ordinary documents
(channel ``survey``), landed by `warehouse.loaders.upsert_documents` before this.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd

from voc.customers import SurveyResponse
from voc.records import Document, document_id
from warehouse.db import register_frame, transaction

__all__ = ["SurveyCounts", "upsert_survey_responses"]

_RESPONSE_COLUMNS = [
    "response_id",
    "source",
    "external_id",
    "customer_key",
    "submitted_at",
    "local_day",
    "nps",
    "csat",
]
# Columns whose change makes an incoming response an update rather than unchanged.
_COMPARED = ["customer_key", "submitted_at", "local_day", "nps", "csat"]


@dataclass(frozen=True)
class SurveyCounts:
    """What an upsert did.

    Attributes:
        new, updated, unchanged: Responses inserted, changed, already stored as they are.
        unlinked: Responses without a customer key (kept, not linked to a customer).
        answers: Open answers (survey_answers rows) the responses have now.
    """

    new: int
    updated: int
    unchanged: int
    unlinked: int
    answers: int


def _frames(
    responses: Sequence[SurveyResponse], documents: Sequence[Document], tz: ZoneInfo
) -> tuple[pd.DataFrame, pd.DataFrame]:
    latest: dict[tuple[str, str], SurveyResponse] = {}
    for response in responses:  # last one wins, deterministically
        latest[(response.source, response.external_id)] = response
    questions = {d.id: str((d.attributes or {}).get("question") or "") for d in documents}
    rows, answers = [], {}
    for (source, external_id), response in latest.items():
        response_id = document_id(source, external_id)
        rows.append(
            {
                "response_id": response_id,
                "source": source,
                "external_id": external_id,
                "customer_key": response.customer_key,
                "submitted_at": pd.Timestamp(response.submitted_at).tz_convert("UTC"),
                "local_day": response.submitted_at.astimezone(tz).date(),
                "nps": response.nps,
                "csat": response.csat,
            }
        )
        for doc_id in response.answer_ids:
            if doc_id in questions:  # only answers that landed as documents
                answers[doc_id] = (doc_id, response_id, questions[doc_id])
    frame = pd.DataFrame(rows, columns=_RESPONSE_COLUMNS)
    frame["nps"] = frame["nps"].astype("Int16")
    frame["csat"] = frame["csat"].astype("Int16")
    answer_frame = pd.DataFrame(
        list(answers.values()), columns=["doc_id", "response_id", "question"], dtype=object
    )
    return frame, answer_frame


def upsert_survey_responses(
    con: duckdb.DuckDBPyConnection,
    responses: Sequence[SurveyResponse],
    documents: Sequence[Document],
    run_id: str,
    timezone: str = "Asia/Shanghai",
) -> SurveyCounts:
    """Insert new responses, update changed ones and set their open answers, in one
    transaction; re-loading the same responses writes nothing.

    Args:
        con: Writable warehouse connection.
        responses: Responses to land; duplicates by (source, external_id) are collapsed
            (last wins).
        documents: The documents of the same load (their ``question`` attribute names
            each answer's question); answers whose document is not among them are left out.
        run_id: Recorded as first/last run of the rows it writes.
        timezone: Defines `local_day`.
    """
    if not responses:
        return SurveyCounts(0, 0, 0, 0, 0)
    frame, answers = _frames(responses, documents, ZoneInfo(timezone))
    register_frame(con, "incoming_responses", frame)
    con.register("incoming_answers", answers)
    try:
        with transaction(con):
            changed_cond = " OR ".join(f"r.{c} IS DISTINCT FROM i.{c}" for c in _COMPARED)
            n_existing, n_changed = con.execute(
                "SELECT count(*), count(*) FILTER (WHERE "
                f"{changed_cond}) "  # column names only, from the constant above
                "FROM incoming_responses i JOIN survey_responses r "
                "ON r.response_id = i.response_id"
            ).fetchone()
            assignments = ", ".join(f"{c} = i.{c}" for c in _COMPARED)
            con.execute(
                f"UPDATE survey_responses r SET {assignments}, last_run_id = ? "
                f"FROM incoming_responses i WHERE r.response_id = i.response_id "
                f"AND ({changed_cond})",
                [run_id],
            )
            con.execute(
                f"INSERT INTO survey_responses ({', '.join(_RESPONSE_COLUMNS)}, first_run_id, "
                f"last_run_id) SELECT {', '.join('i.' + c for c in _RESPONSE_COLUMNS)}, ?, ? "
                "FROM incoming_responses i ANTI JOIN survey_responses r "
                "ON r.response_id = i.response_id",
                [run_id, run_id],
            )
            # A response's answers are exactly the incoming ones: a removed answer goes.
            con.execute(
                "DELETE FROM survey_answers a "
                "WHERE a.response_id IN (SELECT response_id FROM incoming_responses) "
                "AND NOT EXISTS (SELECT 1 FROM incoming_answers i WHERE i.doc_id = a.doc_id "
                "AND i.response_id = a.response_id AND i.question = a.question)"
            )
            con.execute(
                "DELETE FROM survey_answers a "
                "WHERE a.doc_id IN (SELECT doc_id FROM incoming_answers) "
                "AND NOT EXISTS (SELECT 1 FROM incoming_answers i WHERE i.doc_id = a.doc_id "
                "AND i.response_id = a.response_id AND i.question = a.question)"
            )
            con.execute(
                "INSERT INTO survey_answers SELECT i.doc_id, i.response_id, i.question "
                "FROM incoming_answers i ANTI JOIN survey_answers a ON a.doc_id = i.doc_id"
            )
    finally:
        con.unregister("incoming_responses")
        con.unregister("incoming_answers")
    return SurveyCounts(
        new=len(frame) - n_existing,
        updated=n_changed,
        unchanged=n_existing - n_changed,
        unlinked=int(frame["customer_key"].isna().sum()),
        answers=len(answers),
    )
