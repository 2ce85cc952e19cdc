"""survey: 问卷星 XLSX, 腾讯问卷 GBK CSV and Qualtrics CSV exports, written by the tests as
the platforms lay them out (tests/fixtures/SOURCES.md)."""

from __future__ import annotations

import csv
import http.server
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from scrapers.connectors import load_source
from scrapers.parsers import CHINA_TZ
from scrapers.survey import load_survey, parse_score
from tests.localserver import reply, serve, url_of
from tests.scrapers.survey_exports import (
    JULY,
    TENCENT_HEADER,
    TENCENT_ROWS,
    WJX_HEADER,
    WJX_OPTIONS,
    survey_source,
    write_qualtrics_csv,
    write_tencent_csv,
    write_wjx_xlsx,
)
from voc.records import document_id, hash_customer_key
from voc.settings import SourceConfig


def test_wjx_xlsx_scores_open_answers_and_hashed_respondents(tmp_path: Path) -> None:
    path = write_wjx_xlsx(tmp_path / "满意度调查_2025-07.xlsx")
    load = load_survey(survey_source(path, **WJX_OPTIONS), *JULY, "salt")
    assert load.problems == [] and (load.n_rows, load.n_skipped) == (3, 0)
    responses = sorted(load.responses, key=lambda r: r.submitted_at)
    assert [(r.nps, r.csat) for r in responses] == [(9, 5), (3, 2), (10, 5)]
    assert responses[0].submitted_at == datetime(2025, 7, 1, 9, 12, 30, tzinfo=CHINA_TZ)
    assert responses[1].submitted_at == datetime(2025, 7, 2, 20, 5, 1, tzinfo=CHINA_TZ)
    # 139-1234-5678 and 13912345678 are one customer; the empty key lands unlinked.
    assert [r.customer_key for r in responses] == [
        hash_customer_key("13800138000", "salt"),
        hash_customer_key("13912345678", "salt"),
        None,
    ]
    # Only the open question becomes documents; (跳过) is no answer; the gender and the
    # phone-number questions are not open text.
    assert len(load.documents) == 2
    docs = {d.id: d for d in load.documents}
    first = docs[responses[0].answer_ids[0]]
    assert first.external_id == f"{responses[0].external_id}#3"
    assert first.text == "客服回复很快，退款当天就到账了"
    assert (first.channel, first.source, first.brand, first.rating) == (
        "survey",
        "nps",
        "客声优选",
        None,
    )
    assert first.attributes == {
        "question": "您给出这个分数的主要原因是什么？",
        "response_id": document_id("nps", responses[0].external_id),
    }
    assert first.customer_key == responses[0].customer_key
    assert first.created_at == responses[0].submitted_at
    assert responses[2].answer_ids == ()
    assert not any("13800138000" in d.external_id for d in load.documents)


def test_derived_response_ids_are_stable_across_reloads_and_never_the_raw_key(
    tmp_path: Path,
) -> None:
    path = write_wjx_xlsx(tmp_path / "wjx.xlsx")
    source = survey_source(path, **WJX_OPTIONS)
    first, again = (load_survey(source, *JULY, "salt") for _ in range(2))
    ids = [r.external_id for r in first.responses]
    assert ids == [r.external_id for r in again.responses] and len(set(ids)) == 3
    assert all(i.startswith("r") and "1380013" not in i for i in ids)
    # Another salt, another id: the id is made from the hashed key.
    assert ids != [r.external_id for r in load_survey(source, *JULY, "other").responses]


def test_tencent_gbk_csv_is_decoded_and_its_custom_field_is_the_respondent(
    tmp_path: Path,
) -> None:
    path = write_tencent_csv(tmp_path / "腾讯问卷_导出.csv")
    load = load_source(survey_source(path), *JULY, "salt")
    assert load.problems == []
    by_key = {r.customer_key: r for r in load.responses}
    m1001 = by_key[hash_customer_key("M1001", "salt")]
    assert (m1001.nps, m1001.csat) == (6, 3)
    assert m1001.submitted_at == datetime(2025, 7, 5, 10, 2, 11, tzinfo=CHINA_TZ)
    [doc] = load.documents
    assert doc.text == "希望客服电话能更容易打通"
    assert doc.attributes["question"] == "您觉得我们哪些方面需要改进？"
    assert doc.external_id.endswith("#3")
    assert (by_key[hash_customer_key("M1002", "salt")].nps, len(load.responses)) == (10, 2)


def test_qualtrics_three_header_rows_ids_texts_and_time_zone(tmp_path: Path) -> None:
    path = write_qualtrics_csv(tmp_path / "Customer+Satisfaction_July+2025.csv")
    load = load_survey(survey_source(path), *JULY, "salt")
    assert load.problems == [] and load.n_rows == 2  # the two extra header rows are not data
    ann, bob = sorted(load.responses, key=lambda r: r.submitted_at)
    assert ann.external_id == "R_1a2B3c4D5e6F7g8"
    assert (ann.nps, ann.csat, bob.nps, bob.csat) == (2, 2, 9, 5)
    # RecordedDate is in the export's time zone (America/Denver, UTC-6 in July).
    assert ann.submitted_at.astimezone(UTC) == datetime(2025, 7, 11, 0, 44, tzinfo=UTC)
    assert ann.customer_key == hash_customer_key("M2001", "salt")  # ExternalReference
    assert bob.customer_key is None  # empty key: kept, unlinked
    [doc] = load.documents
    assert doc.external_id == "R_1a2B3c4D5e6F7g8#Q3_TEXT"
    assert doc.attributes["question"] == "What is the main reason for your score?"
    assert doc.text == "The app keeps logging me out."


def test_a_mapping_may_name_a_qualtrics_column_by_its_question_text(tmp_path: Path) -> None:
    path = write_qualtrics_csv(tmp_path / "q.csv")
    source = survey_source(
        path,
        columns={"respondent": "Recipient Email"},
        questions=["Which store did you visit?"],
    )
    load = load_survey(source, *JULY, "salt")
    assert {r.customer_key for r in load.responses} == {
        hash_customer_key("ann@example.com", "salt"),
        hash_customer_key("bob@example.com", "salt"),
    }
    assert sorted(d.text for d in load.documents) == ["Boulder", "Denver"]
    assert {d.external_id.split("#")[1] for d in load.documents} == {"Q4"}


def test_bad_scores_are_dropped_and_named_the_rest_of_the_row_lands(tmp_path: Path) -> None:
    rows = [
        [
            1,
            "2025/7/1 10:00:00",
            "1秒",
            "微信",
            "N/A",
            "ip",
            11,
            "满意",
            "发货慢了两天才发出",
            "女",
            "",
        ],
        [
            2,
            "2025/7/1 11:00:00",
            "1秒",
            "微信",
            "N/A",
            "ip",
            "很好",
            6,
            "客服态度很好很耐心",
            "男",
            "",
        ],
        [
            3,
            "2025/7/1 12:00:00",
            "1秒",
            "微信",
            "N/A",
            "ip",
            7.5,
            "一般",
            "价格有点贵但是质量不错",
            "男",
            "",
        ],
        [
            4,
            "2025/7/1 13:00:00",
            "1秒",
            "微信",
            "N/A",
            "ip",
            "8分",
            4,
            "总体还行吧下次还会再来",
            "女",
            "",
        ],
    ]
    path = write_wjx_xlsx(tmp_path / "bad.xlsx", rows)
    load = load_survey(survey_source(path, **WJX_OPTIONS), *JULY, "salt")
    nps_col, csat_col = WJX_HEADER[6], WJX_HEADER[7]
    assert load.problems == [
        f"nps: bad.xlsx row 2: column {nps_col}: '11' is not a score 0-10; the NPS score is "
        "dropped, the rest of the response is kept",
        f"nps: bad.xlsx row 3: column {nps_col}: '很好' is not a number; the NPS score is "
        "dropped, the rest of the response is kept",
        f"nps: bad.xlsx row 3: column {csat_col}: '6' is not a score 1-5; the CSAT score is "
        "dropped, the rest of the response is kept",
        f"nps: bad.xlsx row 4: column {nps_col}: '7.5' is not a score 0-10; the NPS score is "
        "dropped, the rest of the response is kept",
    ]
    scores = [(r.nps, r.csat) for r in sorted(load.responses, key=lambda r: r.submitted_at)]
    assert scores == [(None, 4), (None, None), (None, 3), (8, 4)]
    assert len(load.documents) == 4 and load.n_skipped == 0


def test_changed_question_columns_load_both_files_with_a_note(tmp_path: Path) -> None:
    exports = tmp_path / "exports"
    exports.mkdir()
    write_tencent_csv(exports / "2025-07a.csv")
    header = [*TENCENT_HEADER[:13], "3.您希望我们增加哪些商品？", "4.还有什么想对我们说的？"]
    row = [*TENCENT_ROWS[0][:10], "M3001", "8", "满意", "多上一些进口零食", "客服很耐心，点赞"]
    out = io.StringIO()
    csv.writer(out).writerows([header, row])
    (exports / "2025-07b.csv").write_bytes(out.getvalue().encode("gbk"))
    load = load_survey(survey_source(exports), *JULY, "salt")
    assert load.problems == [
        "nps: 2025-07b.csv: 开放题与 2025-07a.csv 不同 / open questions differ from "
        "2025-07a.csv: new ['您希望我们增加哪些商品？', '还有什么想对我们说的？'], gone "
        "['您觉得我们哪些方面需要改进？']; both files load"
    ]
    assert len(load.responses) == 3
    assert sorted(d.attributes["question"] for d in load.documents) == [
        "您希望我们增加哪些商品？",
        "您觉得我们哪些方面需要改进？",
        "还有什么想对我们说的？",
    ]
    assert len({d.id for d in load.documents}) == 3


def test_a_file_without_a_submitted_time_is_named_and_skipped_others_load(tmp_path: Path) -> None:
    exports = tmp_path / "exports"
    exports.mkdir()
    write_tencent_csv(exports / "good.csv")
    (exports / "broken.csv").write_text("编号,1.您满意吗？\n1,满意\n", encoding="utf-8")
    load = load_survey(survey_source(exports), *JULY, "salt")
    assert len(load.problems) == 1
    assert load.problems[0].startswith("nps: broken.csv: no submitted-time column (提交答卷时间")
    assert len(load.responses) == 2


def test_a_row_with_an_unreadable_time_is_skipped_and_counted(tmp_path: Path) -> None:
    rows = [
        *TENCENT_ROWS,
        ["3", "", "昨天下午", "1秒", "", "", "", "", "", "", "M9", "7", "满意", "好"],
    ]
    load = load_survey(survey_source(write_tencent_csv(tmp_path / "t.csv", rows)), *JULY, "s")
    assert load.n_skipped == 1 and len(load.responses) == 2
    assert load.problems == ["nps: t.csv row 4: 结束答题时间 is not a date: '昨天下午'"]


def test_responses_outside_the_window_are_left_out(tmp_path: Path) -> None:
    path = write_wjx_xlsx(tmp_path / "wjx.xlsx")
    load = load_survey(
        survey_source(path, **WJX_OPTIONS), date(2025, 7, 2), date(2025, 7, 2), "salt"
    )
    assert [r.nps for r in load.responses] == [3] and len(load.documents) == 1


def test_phone_in_text_links_a_response_by_the_number_in_its_open_answer(tmp_path: Path) -> None:
    rows = [
        [
            1,
            "2025/7/1 9:00:00",
            "1秒",
            "微信",
            "N/A",
            "ip",
            4,
            "不满意",
            "退款没到账，请回电 13800138000",
            "女",
            "",
        ]
    ]
    path = write_wjx_xlsx(tmp_path / "wjx.xlsx", rows)
    load = load_survey(survey_source(path, customer_key="phone_in_text"), *JULY, "salt")
    [response] = load.responses
    assert response.customer_key == hash_customer_key("13800138000", "salt")
    assert load.documents[0].customer_key == response.customer_key


class _Files(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        path = self.server.root / self.path.lstrip("/")  # type: ignore[attr-defined]
        self.server.requested.append(self.path)  # type: ignore[attr-defined]
        if path.is_file():
            reply(self, 200, path.read_bytes(), "application/octet-stream")
        else:
            reply(self, 404, b"not found")

    def log_message(self, *args: object) -> None:
        pass


def test_an_http_index_is_read_like_a_ticket_export_index(tmp_path: Path) -> None:
    write_wjx_xlsx(tmp_path / "wjx_2025-07.xlsx")
    write_tencent_csv(tmp_path / "qq_2025-06.csv")
    (tmp_path / "index.json").write_text(
        json.dumps(
            {
                "exports": [
                    {"file": "wjx_2025-07.xlsx", "month": "2025-07"},
                    {"file": "qq_2025-06.csv", "month": "2025-06"},
                ]
            }
        ),
        encoding="utf-8",
    )
    with serve(_Files, root=tmp_path, requested=[]) as server:
        source = SourceConfig("nps", "survey", f"{url_of(server)}/index.json", WJX_OPTIONS)
        load = load_survey(source, *JULY, "salt")
        # June's export is outside the window: the shared listing does not download it.
        assert server.requested == ["/index.json", "/wjx_2025-07.xlsx"]
    assert load.problems == [] and len(load.responses) == 3
    missing = load_survey(survey_source(tmp_path / "nowhere"), *JULY, "salt")
    assert missing.problems[0].startswith("nps: cannot read export index")


@pytest.mark.parametrize(
    ("value", "low", "high", "expected"),
    [
        (9, 0, 10, 9),
        ("10 - 极有可能", 0, 10, 10),
        ("9分", 0, 10, 9),
        ("(跳过)", 0, 10, None),
        (None, 1, 5, None),
        (4.0, 1, 5, 4),
    ],
)
def test_parse_score(value: object, low: int, high: int, expected: int | None) -> None:
    assert parse_score(value, low, high) == expected


@pytest.mark.parametrize("value", ["非常不满意", "0", 4.5, "-1"])
def test_parse_score_refuses_what_is_not_a_score(value: object) -> None:
    with pytest.raises(ValueError, match="is not a"):
        parse_score(value, 1, 5)
