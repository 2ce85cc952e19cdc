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
from scrapers.tickets import (
    decode_export,
    load_ticket_export,
    parse_ticket_time,
    parse_ticket_value,
)
from voc.records import hash_author, hash_customer_key
from voc.settings import SourceConfig, demo_sources

FIXTURE_DIR = Path(__file__).parent.parent / "fixtures" / "tickets"
SAMPLES = Path(__file__).parent / "samples"
MARCH = (date(2024, 3, 1), date(2024, 3, 31))
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


def export_source(path: Path, **options: object) -> SourceConfig:
    return SourceConfig("hd", "ticket_export", str(path), options)


XLSX_COLUMNS = {"status": "状态", "channel": "渠道", "rating": "满意度", "product": "产品"}


def test_xlsx_export_reads_dates_numbers_and_mapped_extras() -> None:
    pytest.importorskip("openpyxl")
    path = SAMPLES / "tickets_helpdesk_2024-03.xlsx"
    load = load_ticket_export(export_source(path, columns=XLSX_COLUMNS), *MARCH, "salt")
    docs = {d.external_id: d for d in load.documents}
    # Numeric ids lose Excel's ".0"; the title rows above the header are not data, the
    # blank tail rows are not counted, February's row is outside the window.
    assert sorted(docs) == ["20240301001", "20240302017", "20240315-0042", "20240331009"]
    assert (load.n_rows, load.n_skipped) == (6, 1)
    assert load.problems == [
        "hd: tickets_helpdesk_2024-03.xlsx row 6: 满意度 is not a 0-5 rating: '五星'",
        "hd: tickets_helpdesk_2024-03.xlsx row 8: 问题描述 is empty",
    ]
    first = docs["20240301001"]
    assert first.created_at == datetime(2024, 3, 1, 9, 12, 5, tzinfo=CHINA_TZ)
    assert first.author_hash == hash_author("王喆", "salt")
    assert (first.rating, first.product) == (2.0, "KS-空气炸锅AF5")
    assert first.attributes == {"status": "处理中", "channel": "在线客服"}
    # A bad rating loses the rating, not the ticket; a text date and an Excel serial read.
    assert docs["20240315-0042"].rating is None
    assert docs["20240315-0042"].created_at == datetime(2024, 3, 15, 8, 5, tzinfo=CHINA_TZ)
    assert docs["20240331009"].created_at == datetime(2024, 3, 31, 18, 0, tzinfo=CHINA_TZ)


def test_renamed_xlsx_columns_need_a_mapping_and_load_with_one() -> None:
    pytest.importorskip("openpyxl")
    path = SAMPLES / "tickets_renamed_2024-03.xlsx"
    load = load_ticket_export(export_source(path), *MARCH, "salt")
    assert load.documents == []
    assert load.problems == [
        "hd: tickets_renamed_2024-03.xlsx: missing column(s) 工单号, 创建时间, 问题描述; "
        "header is ['编号', '提交时间', '联系人', '标题', '详细描述', '处理状态', '来源渠道']"
    ]
    columns = {
        "id": "编号",
        "created_at": "提交时间",
        "customer": "联系人",
        "text": ["标题", "详细描述"],
        "subject": "标题",
        "status": "处理状态",
    }
    load = load_ticket_export(export_source(path, columns=columns), *MARCH, "salt")
    assert load.problems == []
    docs = {d.external_id: d for d in load.documents}
    assert docs["GD-88301"].text == (
        "洗碗机漏水\n安装第二天底部就开始漏水，地板都泡了，要求上门检修并赔偿"
    )
    assert docs["GD-88301"].attributes == {"subject": "洗碗机漏水", "status": "处理中"}
    # Either half of a joined text is enough; an ISO text date with an offset reads.
    assert docs["GD-88302"].text == "催发货"
    assert docs["GD-88303"].text == "会员积分莫名其妙被清零了"
    assert docs["GD-88303"].created_at == datetime(2024, 3, 7, 10, 15, tzinfo=CHINA_TZ)


def test_broken_and_empty_exports_are_reported_and_the_good_ones_load(tmp_path: Path) -> None:
    pytest.importorskip("openpyxl")
    for name in (
        "tickets_helpdesk_2024-03.xlsx",
        "tickets_broken.xlsx",
        "tickets_empty.xlsx",
        "tickets_empty.json",
        "tickets_empty.csv",
        "tickets_broken.json",
        "tickets_lines_2024-03.jsonl",
    ):
        shutil.copy(SAMPLES / name, tmp_path)
    (tmp_path / "tickets_2023.xls").write_bytes(b"\xd0\xcf\x11\xe0 old excel")
    (tmp_path / "notes.txt").write_text("不是导出文件", encoding="utf-8")
    load = load_ticket_export(export_source(tmp_path), *MARCH, "salt")
    assert sorted(d.external_id for d in load.documents) == [
        "20240301001",
        "20240302017",
        "20240315-0042",
        "20240331009",
        "L-301",
        "L-303",
    ]
    assert load.n_skipped == 2  # the xlsx row without text, the broken JSON line
    assert load.problems == [
        "hd: tickets_2023.xls: old Excel .xls is not supported; export as .xlsx or .csv",
        "hd: tickets_broken.json: not valid JSON: Unterminated string starting at: "
        "line 9 column 22 (char 255)",
        "hd: tickets_broken.xlsx: not a readable .xlsx workbook: BadZipFile: "
        "File is not a zip file",
        "hd: tickets_helpdesk_2024-03.xlsx row 8: 问题描述 is empty",
        "hd: tickets_lines_2024-03.jsonl line 2: not valid JSON: Expecting ',' delimiter: "
        "line 1 column 89 (char 88)",
    ]


def test_json_export_with_nested_fields_offsets_and_epoch_millis() -> None:
    columns = {
        "id": "ticket_no",
        "created_at": "created",
        "customer": "requester.name",
        "text": ["subject", "description"],
        "subject": "subject",
        "status": "status",
        "tags": "tags",
        "rating": "satisfaction",
    }
    path = SAMPLES / "tickets_api_2024-03.json"
    load = load_ticket_export(export_source(path, columns=columns), *MARCH, "salt")
    docs = {d.external_id: d for d in load.documents}
    assert sorted(docs) == ["HD-10021", "HD-10022", "HD-10025"]
    assert (load.n_rows, load.n_skipped) == (5, 2)
    assert load.problems == [
        "hd: tickets_api_2024-03.json item 3: not an object: str",
        "hd: tickets_api_2024-03.json item 4: ticket_no is empty",
        "hd: tickets_api_2024-03.json item 5: satisfaction is not a 0-5 rating: '9'",
    ]
    first = docs["HD-10021"]
    assert first.created_at == datetime(2024, 3, 8, 9, 30, tzinfo=CHINA_TZ)
    assert first.author_hash == hash_author("刘女士", "salt")
    assert first.attributes == {
        "subject": "扫地机器人充不上电",
        "status": "open",
        "tags": "售后, 充电",
    }
    assert first.rating == 2.0
    assert docs["HD-10022"].created_at == datetime(2024, 3, 10, 10, 0, tzinfo=CHINA_TZ)
    assert docs["HD-10025"].created_at == datetime(2024, 3, 12, 20, 5, tzinfo=CHINA_TZ)
    assert docs["HD-10025"].text == "赠品少发了一个，联系客服说会补寄但一直没有消息"


def test_renamed_json_keys_are_a_problem_until_mapped() -> None:
    path = SAMPLES / "tickets_renamed_2024-03.json"
    load = load_ticket_export(export_source(path), *MARCH, "salt")
    assert load.documents == []
    assert load.problems == [
        "hd: tickets_renamed_2024-03.json: missing column(s) 工单号, 创建时间, 问题描述; "
        "header is ['ticketId', 'createdAt', 'user', 'content', 'state']"
    ]
    columns = {"id": "ticketId", "created_at": "createdAt", "text": "content", "status": "state"}
    load = load_ticket_export(export_source(path, columns=columns), *MARCH, "salt")
    assert [(d.external_id, d.attributes) for d in load.documents] == [
        ("R-501", {"status": "open"}),
        ("R-502", {"status": "closed"}),
    ]
    # The default 客户 column is optional: without it the author is unknown.
    assert {d.author_hash for d in load.documents} == {None}


def test_a_json_file_that_lists_exports_is_an_index(tmp_path: Path) -> None:
    shutil.copy(SAMPLES / "tickets_lines_2024-03.jsonl", tmp_path)
    index = tmp_path / "exports.json"
    index.write_text(
        json.dumps({"exports": [{"file": "tickets_lines_2024-03.jsonl", "month": "2024-03"}]}),
        encoding="utf-8",
    )
    load = load_ticket_export(export_source(index), *MARCH, "salt")
    assert [d.external_id for d in load.documents] == ["L-301", "L-303"]


def test_big5_export_with_traditional_headers_loads_via_the_mapping() -> None:
    columns = {
        "id": "工單號",
        "created_at": "建立時間",
        "customer": "客戶",
        "text": "問題描述",
        "status": "狀態",
    }
    path = SAMPLES / "tickets_big5_2024-03.csv"
    load = load_ticket_export(export_source(path, columns=columns), *MARCH, "salt")
    assert load.problems == ["hd: tickets_big5_2024-03.csv row 4: 問題描述 is empty"]
    docs = {d.external_id: d for d in load.documents}
    assert docs["TW-240301"].text == "收到的吹風機外盒破損，機身也有刮痕，希望能換一台新的"
    assert docs["TW-240301"].author_hash == hash_author("陳小姐", "salt")
    assert docs["TW-240302"].attributes == {"status": "已結案"}
    assert docs["TW-240301"].created_at == datetime(2024, 3, 1, 10, 20, tzinfo=CHINA_TZ)


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"colour": "颜色"}, "hd: option columns: unknown field(s) colour; known: id, "),
        ({"text": []}, "hd: option columns.text: expected a header or a list of headers"),
        ("问题描述", "hd: option columns must be a table of field = header"),
    ],
)
def test_a_bad_column_mapping_is_one_clear_problem(columns: object, message: str) -> None:
    path = SAMPLES / "tickets_big5_2024-03.csv"
    load = load_ticket_export(export_source(path, columns=columns), *MARCH, "salt")
    assert load.documents == [] and load.n_rows == 0
    [problem] = load.problems
    assert problem.startswith(message)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2024, 3, 1, 9, 0), datetime(2024, 3, 1, 9, 0, tzinfo=CHINA_TZ)),
        (45382.75, datetime(2024, 3, 31, 18, 0, tzinfo=CHINA_TZ)),  # Excel serial day
        (1710036000, datetime(2024, 3, 10, 10, 0, tzinfo=CHINA_TZ)),  # Unix seconds
        (1710036000000, datetime(2024, 3, 10, 10, 0, tzinfo=CHINA_TZ)),  # milliseconds
        ("2024-03-08T01:30:00Z", datetime(2024, 3, 8, 9, 30, tzinfo=CHINA_TZ)),
        ("2024-03-12T20:05:00.000+0800", datetime(2024, 3, 12, 20, 5, tzinfo=CHINA_TZ)),
    ],
)
def test_ticket_cell_values(value: object, expected: datetime) -> None:
    assert parse_ticket_value(value) == expected


@pytest.mark.parametrize("value", [None, "", True, -5, 123456.0, "上周三"])
def test_ticket_cell_values_that_are_not_dates(value: object) -> None:
    with pytest.raises(ValueError, match="is not a date"):
        parse_ticket_value(value)


def _keyed_export(tmp_path: Path) -> Path:
    path = tmp_path / "keys.csv"
    path.write_text(
        "工单号,创建时间,客户,会员号,问题描述\n"
        "T1,2025-07-01 09:00,张三,M0001,快递三天还没到\n"
        "T2,2025-07-02 10:00,李四,,退款一直没到账，我的手机 138 0013 8000 邮箱 Li.Si@Example.com\n"
        "T3,2025-07-03 11:00,,,发票开错了\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        # Default: the 客户 column (as the author), hashed.
        ({}, {"T1": "张三", "T2": "李四", "T3": None}),
        # Mapping columns.customer_key makes it the default key.
        ({"columns": {"customer_key": "会员号"}}, {"T1": "M0001", "T2": None, "T3": None}),
        ({"customer_key": "phone_in_text"}, {"T1": None, "T2": "13800138000", "T3": None}),
        ({"customer_key": "email_in_text"}, {"T1": None, "T2": "li.si@example.com", "T3": None}),
        ({"customer_key": "none"}, {"T1": None, "T2": None, "T3": None}),
    ],
)
def test_customer_key_option_picks_the_key_and_unlinked_tickets_are_kept(
    tmp_path: Path, options: dict, expected: dict
) -> None:
    source = SourceConfig("keys", "ticket_export", str(_keyed_export(tmp_path)), options)
    load = load_ticket_export(source, JULY, AUGUST, "salt")
    assert load.problems == []
    docs = {d.external_id: d for d in load.documents}
    assert {k: d.customer_key for k, d in docs.items()} == {
        k: hash_customer_key(v, "salt") for k, v in expected.items()
    }
    # The key is read before masking; the text is stored as the export gives it.
    assert "138 0013 8000" in docs["T2"].text
    assert docs["T1"].author_hash == hash_author("张三", "salt")


def test_customer_key_column_without_its_mapping_is_refused(tmp_path: Path) -> None:
    source = SourceConfig(
        "keys", "ticket_export", str(_keyed_export(tmp_path)), {"customer_key": "column"}
    )
    load = load_ticket_export(source, JULY, AUGUST, "salt")
    assert load.documents == []
    assert len(load.problems) == 1 and "columns.customer_key" in load.problems[0]
