"""Satisfaction survey exports (kind survey): 问卷星 (wjx.cn), 腾讯问卷 (wj.qq.com) and
Qualtrics-style CSV/XLSX files, found like ticket exports (`scrapers.tickets.ExportFiles`).

Each response's NPS (0–10) and CSAT (1–5) answers become a `voc.customers.SurveyResponse`;
each non-empty open answer a `Document` (channel ``survey``, external id ``<response
id>#<question no>``, attributes ``question`` and ``response_id``) that flows through the
whole pipeline. The export layouts (see tests/fixtures/SOURCES.md):

- 问卷星: ``序号, 提交答卷时间, 所用时间, 来源, 来源详情, 来自IP`` then one column per
  question, ``1、您向朋友推荐我们的可能性有多大？``; a skipped question reads ``(跳过)``.
- 腾讯问卷: ``编号, 开始答题时间, 结束答题时间, 答题时长, …, 用户标识, 昵称, 自定义字段``
  then ``1.您…``; often GBK.
- Qualtrics: three header rows — column ids (``StartDate … ResponseId … Q1, Q3_TEXT``), the
  question texts, and ``{"ImportId": …, "timeZone": …}``; a mapping may name a column by
  its id or its question text, and times are in the export's time zone.
"""

from __future__ import annotations

import hashlib
import logging
import re
import urllib.error
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from scrapers.parsers import CHINA_TZ
from scrapers.survey_layout import (
    CSAT_HEADER,
    CSAT_LABELS,
    DEFAULT_COLUMNS,
    META_COLUMNS,
    NO_ANSWER,
    NPS_HEADER,
    OPEN_HEADER,
    SEQUENCE_COLUMNS,
    Layout,
    looks_open,
    parse_score,
    parse_submitted,
    read_layout,
)
from scrapers.ticket_files import TableError, cell_text, read_table
from scrapers.tickets import ExportFiles, TicketLoad, pick_customer_key
from voc.customers import SurveyResponse, hash_customer_key
from voc.kinds.connectors import SurveyOptions
from voc.records import Document, RecordError, document_id, make_document
from voc.settings import SourceConfig

__all__ = ["DEFAULT_COLUMNS", "load_survey", "parse_score"]

logger = logging.getLogger(__name__)


def load_survey(
    source: SourceConfig,
    since: date,
    until: date,
    author_salt: str,
    cursor: str | None = None,
    timeout: float = 30.0,
) -> TicketLoad:
    """Load the survey responses submitted in [since, until] from survey exports.

    Args:
        source: A ``survey`` source; ``url`` as for ``ticket_export`` (a file, a directory
            of ``.csv``/``.xlsx`` files or an index, local or HTTP(S)). Options
            (`voc.kinds.connectors.SurveyOptions`): ``columns`` (response_id, respondent,
            submitted_at, nps, csat → header(s)), ``questions`` (the open questions;
            default auto-detected), ``customer_key``, ``sheet``, ``brand``.
        since: First day (inclusive, China time).
        until: Last day (inclusive).
        author_salt: Salt of the respondent and customer-key hashes.
        cursor: Unused (exports are re-read whole; the window selects the responses).
        timeout: Per-request timeout for HTTP sources.

    A bad NPS/CSAT answer loses that score, not the response (a problem names the file, row
    and column); a row without a readable submitted time is skipped and counted; a file
    whose question columns differ from the first file's still loads, with a note.
    """
    try:
        options = source.typed_options
    except ValueError as exc:
        return TicketLoad(problems=[f"{source.name}: {exc}"])
    assert isinstance(options, SurveyOptions)
    reader = _Reader(source, options, since, until, author_salt)
    files = ExportFiles(source.url, since, until, timeout)
    try:
        listed = files.list_files()
    except (OSError, ValueError) as exc:
        return TicketLoad(problems=[f"{source.name}: cannot read export index {source.url}: {exc}"])
    for name, location in listed:
        try:
            raw = files.read(location)
        except (OSError, urllib.error.URLError) as exc:
            reader.problem(f"{name}: cannot read {location}: {exc}")
            continue
        try:
            reader.read_file(name, raw)
        except TableError as exc:
            reader.problem(f"{name}: {exc}")
    unlinked = sum(r.customer_key is None for r in reader.responses)
    logger.info(
        "%s: %d responses (%d without a customer key), %d open answers",
        source.name,
        len(reader.responses),
        unlinked,
        len(reader.documents),
    )
    return TicketLoad(
        reader.documents,
        reader.problems,
        reader.n_rows,
        reader.n_skipped,
        None,
        reader.responses,
    )


class _Reader:
    def __init__(
        self,
        source: SourceConfig,
        options: SurveyOptions,
        since: date,
        until: date,
        author_salt: str,
    ) -> None:
        self.source, self.options, self.since, self.until = source, options, since, until
        self.salt = author_salt
        self.brand = options.brand or None
        self.documents: list[Document] = []
        self.responses: list[SurveyResponse] = []
        self.problems: list[str] = []
        self.n_rows = self.n_skipped = 0
        self.first_questions: tuple[str, set[str]] | None = None

    def problem(self, message: str) -> None:
        message = f"{self.source.name}: {message}"
        logger.warning(message)
        self.problems.append(message)

    def skip(self, message: str) -> None:
        self.n_skipped += 1
        self.problem(message)

    def read_file(self, name: str, raw: bytes) -> None:
        table = read_table(name, raw, (), self.options.sheet)
        if table.lossy:
            self.problem(
                f"{name}: neither UTF-8 nor GBK/GB18030/Big5; undecodable bytes replaced "
                "with U+FFFD"
            )
        rows = list(table.rows)
        layout, rows = read_layout(table.header, rows)
        columns = self.options.columns
        mapped = {
            field: layout.find(given or DEFAULT_COLUMNS.get(field, ()))
            for field, given in (
                ("response_id", columns.response_id),
                ("respondent", columns.respondent),
                ("submitted_at", columns.submitted_at),
            )
        }
        if mapped["submitted_at"] is None:
            wanted = columns.submitted_at or DEFAULT_COLUMNS["submitted_at"]
            self.problem(
                f"{name}: no submitted-time column ({' / '.join(wanted)}); header is "
                f"{layout.header}; the file is skipped"
            )
            return
        for field in ("response_id", "respondent"):
            given = getattr(columns, field)
            if given and mapped[field] is None:
                self.problem(f"{name}: missing {field} column {' / '.join(given)}")
        mapped["nps"] = self._score_column(name, layout, columns.nps, NPS_HEADER, ())
        mapped["csat"] = self._score_column(
            name, layout, columns.csat, CSAT_HEADER, (mapped["nps"],)
        )
        sequence = layout.find(SEQUENCE_COLUMNS)
        taken = {c for c in (*mapped.values(), sequence) if c}
        questions = self._questions(name, layout, rows, taken)
        self._note_changed_questions(name, layout, questions)
        for where, row in rows:
            self.n_rows += 1
            if isinstance(row, str):
                self.skip(f"{name} {where}: {row}")
            else:
                self._read_row(f"{name} {where}", layout, mapped, sequence, questions, row)

    def _score_column(
        self,
        name: str,
        layout: Layout,
        given: Sequence[str] | None,
        pattern: re.Pattern[str],
        other: tuple[str | None, ...],
    ) -> str | None:
        if given:
            found = layout.find(given)
            if found is None:
                self.problem(
                    f"{name}: missing score column {' / '.join(given)}; the responses "
                    "load without that score"
                )
            return found
        for column in layout.header:
            label = layout.labels.get(column) or column
            if (
                column not in META_COLUMNS
                and column not in other
                and pattern.search(label)
                and not OPEN_HEADER.search(label)
            ):
                return column
        return None

    def _questions(self, name: str, layout: Layout, rows: list[Any], taken: set[str]) -> list[str]:
        given = self.options.questions
        if given:
            found = [c for c in (layout.find((h,)) for h in given) if c]
            missing = [h for h in given if layout.find((h,)) is None]
            if missing:
                self.problem(
                    f"{name}: missing question column(s) {', '.join(missing)}; the other "
                    "questions load"
                )
            return found
        return [
            c
            for c in layout.header
            if c
            and c not in taken
            and c not in META_COLUMNS
            and not c.startswith("Q_")
            and not c.endswith("_NPS_GROUP")
            and looks_open(layout.labels.get(c) or c, c, [r for _, r in rows])
        ]

    def _note_changed_questions(self, name: str, layout: Layout, questions: list[str]) -> None:
        texts = {layout.question(c)[1] for c in questions}
        if self.first_questions is None:
            self.first_questions = (name, texts)
            return
        first, before = self.first_questions
        if texts != before:
            added, gone = sorted(texts - before), sorted(before - texts)
            self.problem(
                f"{name}: 开放题与 {first} 不同 / open questions differ from {first}: "
                f"new {added or '-'}, gone {gone or '-'}; both files load"
            )

    def _read_row(
        self,
        where: str,
        layout: Layout,
        mapped: dict[str, str | None],
        sequence: str | None,
        questions: list[str],
        row: dict[str, Any],
    ) -> None:
        stamp = row.get(mapped["submitted_at"] or "")
        try:
            submitted = parse_submitted(stamp, layout.zone)
        except ValueError as exc:
            self.skip(f"{where}: {mapped['submitted_at']} {exc}")
            return
        if not self.since <= submitted.astimezone(CHINA_TZ).date() <= self.until:
            return
        respondent = _cell(row, mapped["respondent"]) or None
        answers = [
            (column, row.get(column)) for column in questions if _cell(row, column) not in NO_ANSWER
        ]
        key = pick_customer_key(
            self.options.customer_key,
            author=respondent,
            text="\n".join(str(value) for _, value in answers),
        )
        external = _cell(row, mapped["response_id"]) or _derived_id(
            hash_customer_key(respondent, self.salt), submitted, _cell(row, sequence)
        )
        response_key = document_id(self.source.name, external)
        scores = {}
        for field, low, high, labels in (("nps", 0, 10, None), ("csat", 1, 5, CSAT_LABELS)):
            column = mapped[field]
            try:
                scores[field] = parse_score(row.get(column), low, high, labels) if column else None
            except ValueError as exc:
                scores[field] = None
                self.problem(
                    f"{where}: column {column}: {exc}; the {field.upper()} score is dropped, "
                    "the rest of the response is kept"
                )
        ids = []
        for column, value in answers:
            number, question = layout.question(column)
            try:
                doc = make_document(
                    source=self.source.name,
                    channel="survey",
                    external_id=f"{external}#{number}",
                    # The answer as exported (not stripped): raw text is never edited.
                    text=value if isinstance(value, str) else cell_text(value),
                    created_at=submitted,
                    author=respondent,
                    brand=self.brand,
                    attributes={"question": question, "response_id": response_key},
                    author_salt=self.salt,
                    customer=key,
                )
            except RecordError as exc:
                self.problem(f"{where}: column {column}: {exc}")
                continue
            self.documents.append(doc)
            ids.append(doc.id)
        self.responses.append(
            SurveyResponse(
                source=self.source.name,
                external_id=external,
                customer_key=hash_customer_key(key, self.salt),
                submitted_at=submitted,
                nps=scores["nps"],
                csat=scores["csat"],
                answer_ids=tuple(ids),
            )
        )


def _cell(row: dict[str, Any], column: str | None) -> str:
    return cell_text(row.get(column)) if column else ""


def _derived_id(respondent_hash: str | None, submitted: datetime, sequence: str) -> str:
    """A response id from the hashed respondent, the submitted time and the export's own
    number (序号/编号): stable across re-exports, never the raw key."""
    basis = f"{respondent_hash or ''}\x1f{submitted.isoformat()}\x1f{sequence}"
    return "r" + hashlib.sha1(basis.encode()).hexdigest()[:16]
