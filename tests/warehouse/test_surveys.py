"""warehouse.surveys: survey responses and their open answers, landed from real export files
into a real DuckDB file."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pytest

from nlp.pii import mask_documents
from scrapers.survey import load_survey
from tests.scrapers.survey_exports import (
    JULY,
    WJX_OPTIONS,
    WJX_ROWS,
    survey_source,
    write_tencent_csv,
    write_wjx_xlsx,
)
from voc.records import document_id
from warehouse import loaders, surveys
from warehouse.db import open_warehouse

TABLES = ("raw_documents", "survey_responses", "survey_answers")


@pytest.fixture()
def con(tmp_path: Path, new_warehouse):
    c = open_warehouse(new_warehouse(tmp_path / "w.duckdb"))
    yield c
    c.close()


def _land(con, load, run_id: str) -> surveys.SurveyCounts:
    docs, _ = mask_documents(load.documents)
    loaders.upsert_documents(con, docs, run_id)
    return surveys.upsert_survey_responses(con, load.responses, docs, run_id)


def _counts(con) -> tuple[int, ...]:
    # Table names from the constant above, never from input.
    return tuple(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES)


def test_responses_and_answers_land_and_a_reload_adds_nothing(con, tmp_path: Path) -> None:
    load = load_survey(
        survey_source(write_wjx_xlsx(tmp_path / "w.xlsx"), **WJX_OPTIONS), *JULY, "s"
    )
    first = _land(con, load, "run1")
    assert (first.new, first.updated, first.unchanged) == (3, 0, 0)
    assert (first.unlinked, first.answers) == (1, 2)
    rows = con.execute(
        "SELECT external_id, nps, csat, local_day, customer_key IS NULL, first_run_id "
        "FROM survey_responses ORDER BY submitted_at"
    ).fetchall()
    ids = [r.external_id for r in sorted(load.responses, key=lambda r: r.submitted_at)]
    assert rows == [
        (ids[0], 9, 5, date(2025, 7, 1), False, "run1"),
        (ids[1], 3, 2, date(2025, 7, 2), False, "run1"),
        (ids[2], 10, 5, date(2025, 7, 3), True, "run1"),
    ]
    answers = con.execute(
        "SELECT a.response_id, a.question, r.channel, r.external_id FROM survey_answers a "
        "JOIN raw_documents r ON r.id = a.doc_id ORDER BY r.external_id"
    ).fetchall()
    assert {a[1] for a in answers} == {"您给出这个分数的主要原因是什么？"}
    assert {a[2] for a in answers} == {"survey"}
    assert {a[0] for a in answers} == {document_id("nps", ids[0]), document_id("nps", ids[1])}
    before = _counts(con)
    again = _land(
        con, load_survey(survey_source(tmp_path / "w.xlsx", **WJX_OPTIONS), *JULY, "s"), "run2"
    )
    assert (again.new, again.updated, again.unchanged) == (0, 0, 3)
    assert _counts(con) == before
    assert con.execute("SELECT DISTINCT last_run_id FROM survey_responses").fetchall() == [
        ("run1",)
    ]


def test_a_changed_score_updates_and_a_removed_answer_goes(con, tmp_path: Path) -> None:
    path = write_wjx_xlsx(tmp_path / "w.xlsx")
    _land(con, load_survey(survey_source(path, **WJX_OPTIONS), *JULY, "s"), "run1")
    rows = [list(r) for r in WJX_ROWS]
    rows[0][6] = 7  # NPS corrected in the platform
    rows[1][8] = "(跳过)"  # the open answer withdrawn
    write_wjx_xlsx(path, rows)
    load = load_survey(survey_source(path, **WJX_OPTIONS), *JULY, "s")
    counts = _land(con, load, "run2")
    assert (counts.new, counts.updated, counts.unchanged, counts.answers) == (0, 1, 2, 1)
    assert con.execute(
        "SELECT nps, last_run_id FROM survey_responses WHERE last_run_id = 'run2'"
    ).fetchall() == [(7, "run2")]
    assert con.execute("SELECT count(*) FROM survey_answers").fetchone()[0] == 1


def test_duplicate_responses_in_one_batch_are_collapsed_last_wins(con, tmp_path: Path) -> None:
    load = load_survey(survey_source(write_tencent_csv(tmp_path / "t.csv")), *JULY, "s")
    later = dataclasses.replace(load.responses[0], nps=0)
    counts = surveys.upsert_survey_responses(con, [*load.responses, later], load.documents, "run1")
    assert counts.new == 2
    nps = con.execute(
        "SELECT nps FROM survey_responses WHERE external_id = ?", [later.external_id]
    ).fetchone()[0]
    assert nps == 0


def test_an_empty_batch_writes_nothing(con) -> None:
    assert surveys.upsert_survey_responses(con, [], [], "run1") == surveys.SurveyCounts(
        0, 0, 0, 0, 0
    )
    assert _counts(con) == (0, 0, 0)


def test_no_raw_respondent_key_is_stored_anywhere(con, tmp_path: Path) -> None:
    rows = [list(r) for r in WJX_ROWS]
    rows[0][8] = "退款没到账，请回电 13800138000"  # the respondent's own number in the text
    load = load_survey(
        survey_source(write_wjx_xlsx(tmp_path / "w.xlsx", rows), **WJX_OPTIONS), *JULY, "s"
    )
    _land(con, load, "run1")
    raw_keys = ("13800138000", "139-1234-5678", "13912345678")
    tables = [t[0] for t in con.execute("SHOW TABLES").fetchall()]
    for table in tables:
        # Every column of every table, cast to text; the table name comes from SHOW TABLES.
        dump = con.execute(f'SELECT CAST(t AS VARCHAR) FROM "{table}" t').fetchall()
        text = "\n".join(str(r[0]) for r in dump)
        for key in raw_keys:
            assert key not in text, (table, key)


def test_an_answer_whose_question_was_renamed_is_rewritten_in_place(con, tmp_path: Path) -> None:
    load = load_survey(survey_source(write_tencent_csv(tmp_path / "t.csv")), *JULY, "s")
    _land(con, load, "run1")
    renamed = [
        dataclasses.replace(d, attributes={**d.attributes, "question": "哪些方面需要改进？"})
        for d in load.documents
    ]
    counts = surveys.upsert_survey_responses(con, load.responses, renamed, "run2")
    assert counts.answers == 1
    assert con.execute("SELECT question FROM survey_answers").fetchall() == [
        ("哪些方面需要改进？",)
    ]
