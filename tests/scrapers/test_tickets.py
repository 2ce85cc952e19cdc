from __future__ import annotations

import json
import shutil
import socket
from datetime import date, datetime
from pathlib import Path

import pytest

from demo.data import EMPTY_TICKET_ROW, GBK_MONTH, build_corpus
from demo.server import DemoServer
from scrapers.parsers import CHINA_TZ
from scrapers.tickets import decode_export, load_ticket_export, parse_ticket_time
from voc.records import hash_author
from voc.settings import SourceConfig, demo_sources

FIXTURE_DIR = Path(__file__).parent.parent / "fixtures" / "tickets"
JULY, AUGUST = date(2025, 7, 1), date(2025, 8, 31)


def local_source(path: Path) -> SourceConfig:
    return SourceConfig("local_helpdesk", "ticket_export", str(path), {"brand": "客声优选"})


def test_server_export_loads_every_ticket_but_the_empty_one(demo_server: DemoServer) -> None:
    source = demo_sources(demo_server.base_url)[2]
    load = load_ticket_export(source, date(2025, 6, 1), date(2025, 9, 30), "salt")
    corpus = build_corpus()
    assert load.n_rows == len(corpus.tickets)
    assert load.n_skipped == 1
    assert load.problems == [
        f"demo_helpdesk: tickets_{GBK_MONTH}.csv row {EMPTY_TICKET_ROW}: 问题描述 is empty"
    ]
    expected = {t.ticket_id: t for t in corpus.tickets if t.description}
    assert {d.external_id for d in load.documents} == set(expected)
    for doc in load.documents:
        ticket = expected[doc.external_id]
        # The GBK month decodes to exactly the text that was exported.
        assert doc.text == ticket.description
        assert doc.created_at.replace(second=0) == ticket.created_at.replace(second=0)
        assert doc.author_hash == hash_author(ticket.customer, "salt")
        assert (doc.channel, doc.source, doc.brand) == ("ticket", "demo_helpdesk", "客声优选")


def test_server_export_is_filtered_to_the_window(demo_server: DemoServer) -> None:
    source = demo_sources(demo_server.base_url)[2]
    since, until = date(2025, 9, 20), date(2025, 9, 30)
    load = load_ticket_export(source, since, until, "salt")
    expected = {
        t.ticket_id for t in build_corpus().tickets if since <= t.created_at.date() <= until
    }
    assert {d.external_id for d in load.documents} == expected
    # Only September's file was fetched: months outside the window are not downloaded.
    assert load.n_rows == len(build_corpus().ticket_months()["2025-09"])
    assert load.problems == []


def test_gbk_fixture_is_decoded_and_the_empty_row_skipped() -> None:
    load = load_ticket_export(
        local_source(FIXTURE_DIR / "tickets_2025-07.csv"), JULY, AUGUST, "salt"
    )
    assert load.n_rows == 5 and load.n_skipped == 1
    assert load.problems == ["local_helpdesk: tickets_2025-07.csv row 4: 问题描述 is empty"]
    docs = {d.external_id: d for d in load.documents}
    assert sorted(docs) == ["T20250701-0001", "T20250701-0002", "T20250715-0003", "T20250731-0009"]
    assert docs["T20250701-0001"].text == "快递三天还没到，物流信息一直不更新"
    assert docs["T20250715-0003"].text.endswith("“增值税专用发票”")
    assert docs["T20250701-0001"].created_at == datetime(2025, 7, 1, 9, 12, tzinfo=CHINA_TZ)
    assert docs["T20250731-0009"].created_at.date() == date(2025, 7, 31)


def test_directory_without_index_reads_every_csv_in_any_encoding() -> None:
    load = load_ticket_export(
        local_source(FIXTURE_DIR), date(2025, 7, 31), date(2025, 8, 12), "salt"
    )
    assert sorted(d.external_id for d in load.documents) == [
        "T20250731-0009",
        "T20250801-0001",
        "T20250812-0004",
    ]
    assert load.n_rows == 7
    by_id = {d.external_id: d for d in load.documents}
    assert by_id["T20250812-0004"].text.startswith("配送员把包裹")  # UTF-8 with BOM


def test_unreadable_files_are_reported_and_the_rest_still_load(tmp_path: Path) -> None:
    shutil.copy(FIXTURE_DIR / "tickets_2025-07.csv", tmp_path)
    (tmp_path / "tickets_2025-08.csv").write_text("id,text\n1,坏了\n", encoding="utf-8")
    (tmp_path / "index.json").write_text(
        json.dumps(
            {
                "exports": [
                    {"file": "tickets_2025-06.csv", "month": "2025-06"},
                    {"file": "tickets_2025-07.csv", "month": "2025-07"},
                    {"file": "tickets_2025-08.csv", "month": "2025-08"},
                ]
            }
        ),
        encoding="utf-8",
    )
    load = load_ticket_export(local_source(tmp_path), date(2025, 6, 1), AUGUST, "salt")
    assert len(load.documents) == 4
    assert len(load.problems) == 3
    assert load.problems[0].startswith("local_helpdesk: tickets_2025-06.csv: cannot read ")
    assert "row 4: 问题描述 is empty" in load.problems[1]
    assert load.problems[2].startswith(
        "local_helpdesk: tickets_2025-08.csv: missing column(s) 工单号, 创建时间, 问题描述"
    )


def test_unreachable_index_is_a_problem_not_a_crash() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/helpdesk/exports/index.json"
    source = SourceConfig("dead_helpdesk", "ticket_export", url)
    load = load_ticket_export(source, JULY, AUGUST, "salt", timeout=5)
    assert load.documents == [] and load.n_rows == 0
    [problem] = load.problems
    assert problem.startswith(f"dead_helpdesk: cannot read export index {url}: ")


def test_bad_timestamps_are_skipped_naming_the_row(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(
        "工单号,创建时间,客户,问题描述\nA1,2025-07-02 10:00:00,王,好慢\nA2,上周三,李,太慢了\n",
        encoding="utf-8",
    )
    load = load_ticket_export(local_source(path), JULY, AUGUST, "salt")
    assert [d.external_id for d in load.documents] == ["A1"]
    assert load.problems == ["local_helpdesk: t.csv row 3: 创建时间 is not a date: '上周三'"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-06-01 09:12:00", datetime(2025, 6, 1, 9, 12, tzinfo=CHINA_TZ)),
        ("2025/6/1 9:12", datetime(2025, 6, 1, 9, 12, tzinfo=CHINA_TZ)),
        ("2025-06-01T01:12:00+00:00", datetime(2025, 6, 1, 9, 12, tzinfo=CHINA_TZ)),
    ],
)
def test_ticket_times(text: str, expected: datetime) -> None:
    assert parse_ticket_time(text) == expected


def test_encoding_detection() -> None:
    assert decode_export("工单".encode("utf-8-sig")) == ("工单", "utf-8-sig", False)
    assert decode_export("工单".encode()) == ("工单", "utf-8", False)
    assert decode_export("工单".encode("gbk")) == ("工单", "gb18030", False)
    text, _, lossy = decode_export(b"\x81\x30\xff")
    assert lossy and "\ufffd" in text


TRADITIONAL = (
    "工單號,問題描述\n1,快遞三天沒有更新，客服態度很差，要求退款\n2,商品品質不錯，物流很快\n"
)
SIMPLIFIED = "工单号,问题描述\n1,快递三天没有更新，客服态度很差，要求退款\n2,东西不错，物流很快\n"


@pytest.mark.parametrize(
    ("text", "encoding", "detected"),
    [
        (TRADITIONAL, "big5", "big5"),
        (TRADITIONAL, "gb18030", "gb18030"),  # Traditional characters written as GB18030
        (SIMPLIFIED, "gbk", "gb18030"),
        (SIMPLIFIED, "utf-8-sig", "utf-8-sig"),
        (TRADITIONAL, "utf-8", "utf-8"),
    ],
)
def test_export_encoding_is_detected(text: str, encoding: str, detected: str) -> None:
    assert decode_export(text.encode(encoding)) == (text, detected, False)


def test_a_big5_file_with_a_bad_byte_keeps_its_other_rows() -> None:
    decoded, encoding, lossy = decode_export(TRADITIONAL.encode("big5") + b"3,\xff\xfe\n")
    assert (encoding, lossy) == ("big5", True)
    assert decoded.startswith(TRADITIONAL)
