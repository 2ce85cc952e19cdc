"""A survey source through the real daily flow (Prefect test harness, DuckDB file): the
scores land as survey responses, the open answers as survey documents that are masked,
normalised and scored like every other voice; a second run adds nothing."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.scrapers.survey_exports import (
    JULY,
    WJX_ROWS,
    write_qualtrics_csv,
    write_tencent_csv,
    write_wjx_xlsx,
)

pytestmark = pytest.mark.e2e

CONFIG = """\
[sources.nps_survey]
kind = "survey"
url = "{exports}"
brand = "客声优选"

[sources.nps_survey.columns]
respondent = ["5、您的手机号码是？", "自定义字段", "ExternalReference"]
"""


def _table(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_survey_answers_flow_through_the_pipeline_and_a_rerun_adds_nothing(
    prefect_harness, tmp_path: Path
) -> None:
    from flows.daily import daily_ingest

    exports = tmp_path / "surveys"
    exports.mkdir()
    rows = [list(r) for r in WJX_ROWS]
    rows[1][8] = "快递太慢了，等了一个星期才到，请打 13912345678 联系我"
    write_wjx_xlsx(exports / "wjx_2025-07.xlsx", rows)
    write_tencent_csv(exports / "qq_2025-07.csv")
    write_qualtrics_csv(exports / "qualtrics_2025-07.csv")
    config = tmp_path / "voc.toml"
    config.write_text(CONFIG.format(exports=exports), encoding="utf-8")
    db = tmp_path / "w.duckdb"

    first = daily_ingest(since=JULY[0], until=JULY[1], config_path=str(config), db_path=str(db))
    # Three files with different question columns: noted, not failed.
    assert first["status"] == "partial"
    notes = _table(db, "SELECT message FROM run_errors WHERE source = 'nps_survey'")
    assert len(notes) == 2 and all("open questions differ" in n[0] for n in notes)
    responses = _table(
        db, "SELECT count(*), count(nps), count(csat), count(customer_key) FROM survey_responses"
    )
    # wjx 3 + Tencent 2 + Qualtrics 2; every score readable; wjx row 3 and Qualtrics' bob
    # have no key and land unlinked.
    assert responses == [(7, 7, 7, 5)]
    docs = _table(
        db,
        "SELECT r.id, r.text, r.customer_key IS NOT NULL FROM raw_documents r "
        "WHERE r.channel = 'survey' ORDER BY r.id",
    )
    assert len(docs) == 4  # two wjx answers, one Tencent, one Qualtrics
    assert all("13912345678" not in text for _, text, _ in docs)  # masked before landing
    scored = _table(
        db,
        "SELECT count(DISTINCT s.doc_id) FROM doc_sentiment s "
        "JOIN raw_documents r ON r.id = s.doc_id WHERE r.channel = 'survey'",
    )
    assert scored == [(4,)]
    normalised = _table(
        db,
        "SELECT count(*) FROM doc_texts t JOIN raw_documents r ON r.id = t.doc_id "
        "WHERE r.channel = 'survey'",
    )
    assert normalised == [(4,)]
    linked = _table(
        db,
        "SELECT count(*) FROM survey_answers a JOIN survey_responses s "
        "ON s.response_id = a.response_id JOIN raw_documents r ON r.id = a.doc_id "
        "WHERE r.customer_key IS NOT DISTINCT FROM s.customer_key",
    )
    assert linked == [(4,)]

    tables = ("raw_documents", "survey_responses", "survey_answers", "doc_sentiment")
    before = [_table(db, f"SELECT count(*) FROM {t}") for t in tables]
    daily_ingest(since=JULY[0], until=JULY[1], config_path=str(config), db_path=str(db))
    assert [_table(db, f"SELECT count(*) FROM {t}") for t in tables] == before
    fetched = _table(
        db,
        "SELECT fetched, new, updated, unchanged FROM source_runs "
        "WHERE source = 'nps_survey' ORDER BY finished_at",
    )
    assert fetched[-1] == (4, 0, 0, 4)
