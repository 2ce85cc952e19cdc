"""Reading CRM customer exports: real CSV (UTF-8, GBK, Big5) and XLSX files, Traditional
headers, hashed keys, and the bad-input messages."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest
from openpyxl import Workbook

from scrapers.customer_file import CustomerFileError, read_customer_file, read_uid_file
from voc.customers import CustomerColumns, CustomerConfig
from voc.records import hash_author, hash_customer_key

SALT = "test-salt"
HEADER = ["会员号", "姓名", "手机", "邮箱", "客户等级", "省份", "城市", "客户来源", "客户经理",
          "首次下单", "最近下单", "订单数", "累计消费"]  # fmt: skip
ROWS = [
    ["M001", "张三", "138-0013-8000", "Zhang@Example.com", "一般", "广东", "深圳", "广告",
     "王经理", "2024-01-02", "2025/3/4", "3", "￥1,200.50"],
    ["M002", "李四", "13900139000", "", "高价值", "浙江", "杭州", "CALL IN", "赵经理",
     "2023年5月6日", "", "12", "8800"],
]  # fmt: skip


def write_csv(path: Path, header: list[str], rows: list[list[str]], encoding: str) -> Path:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def test_utf8_csv_gives_hashed_keys_and_every_field(tmp_path: Path) -> None:
    got = read_customer_file(write_csv(tmp_path / "crm.csv", HEADER, ROWS, "utf-8"),
                             CustomerConfig(), SALT)  # fmt: skip
    assert got.encoding == "utf-8" and got.n_rows == 2 and got.n_skipped == 0
    first, second = got.customers
    assert first.customer_id == hash_customer_key("M001", SALT)
    assert dict((t, h) for t, h in first.key_hashes) == {
        "member_id": hash_customer_key("M001", SALT),
        # Normalised before hashing: the same person as a mail's zhang@example.com or a
        # ticket's 13800138000.
        "mobile": hash_customer_key("13800138000", SALT),
        "email": hash_customer_key("zhang@example.com", SALT),
    }
    assert (first.segment, first.province, first.city, first.acquisition, first.owner) == (
        "一般", "广东", "深圳", "广告", "王经理"
    )  # fmt: skip
    assert (first.first_order, first.last_order) == (date(2024, 1, 2), date(2025, 3, 4))
    assert (first.order_count, first.spend) == (3, 1200.5)
    assert second.first_order == date(2023, 5, 6) and second.last_order is None
    assert [t for t, _ in second.key_hashes] == ["member_id", "mobile"]
    assert got.columns["segment"] == "客户等级" and "segment_since" not in got.columns
    assert first.where == "crm.csv row 2"


def test_gbk_csv_reads_like_the_utf8_one(tmp_path: Path) -> None:
    utf8 = read_customer_file(write_csv(tmp_path / "a.csv", HEADER, ROWS, "utf-8"),
                              CustomerConfig(), SALT)  # fmt: skip
    gbk = read_customer_file(write_csv(tmp_path / "b.csv", HEADER, ROWS, "gbk"),
                             CustomerConfig(), SALT)  # fmt: skip
    assert gbk.encoding == "gb18030"
    strip = [(c.customer_id, c.key_hashes, c.segment, c.city, c.spend) for c in gbk.customers]
    assert strip == [
        (c.customer_id, c.key_hashes, c.segment, c.city, c.spend) for c in utf8.customers
    ]


def test_traditional_headers_in_xlsx_with_a_title_row(tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["客戶名單 2025年6月"])  # Excel exports often start with a title
    sheet.append(["序號", "會員號", "手機", "電子郵件", "客戶等級", "省份", "城市", "客戶來源",
                  "客戶經理", "首單日期", "訂單數"])  # fmt: skip
    # Excel stores phone numbers and member ids as numbers, dates as date cells.
    sheet.append([1, 10001, 13800138000, "a@b.cn", "高價值", "臺灣", "臺北", "老客戶推薦", "陳經理",
                  date(2024, 2, 3), 7])  # fmt: skip
    path = tmp_path / "crm.xlsx"
    book.save(path)
    got = read_customer_file(path, CustomerConfig(), SALT)
    assert got.encoding == "xlsx"
    assert got.columns["member_id"] == "會員號" and got.columns["email"] == "電子郵件"
    (c,) = got.customers
    assert c.customer_id == hash_customer_key("10001", SALT)
    assert ("mobile", hash_customer_key("+86 138 0013 8000", SALT)) in c.key_hashes
    # Labels are converted to Simplified, like the headers; the owner stays as written.
    assert (c.segment, c.acquisition, c.owner) == ("高价值", "老客户推荐", "陳經理")
    assert (c.first_order, c.order_count) == (date(2024, 2, 3), 7)
    assert c.where == "crm.xlsx row 3"


def test_big5_legacy_encoding_with_traditional_headers(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "tw.csv", ["會員號", "客戶等級", "城市"],
                     [["T1", "高價值", "臺北"], ["T2", "一般", "高雄"]], "big5")  # fmt: skip
    got = read_customer_file(path, CustomerConfig(), SALT)
    assert got.encoding == "big5"
    assert [(c.segment, c.city) for c in got.customers] == [("高价值", "台北"), ("一般", "高雄")]


def test_empty_key_row_is_skipped_and_reported_with_its_row(tmp_path: Path) -> None:
    rows = [ROWS[0], ["", "王五", " ", "", "一般", "", "", "", "", "", "", "", ""], ROWS[1]]
    got = read_customer_file(write_csv(tmp_path / "crm.csv", HEADER, rows, "utf-8"),
                             CustomerConfig(), SALT)  # fmt: skip
    assert len(got.customers) == 2 and got.n_rows == 3 and got.n_skipped == 1
    assert got.skipped == ["crm.csv row 3: empty key 会员号/手机/邮箱 / 客户键为空，已跳过"]


def test_unreadable_date_and_number_are_reported_and_the_row_lands(tmp_path: Path) -> None:
    rows = [[*ROWS[0][:9], "昨天", "", "很多", "abc"]]
    got = read_customer_file(write_csv(tmp_path / "crm.csv", HEADER, rows, "utf-8"),
                             CustomerConfig(), SALT)  # fmt: skip
    (c,) = got.customers
    assert (c.first_order, c.order_count, c.spend, c.segment) == (None, None, None, "一般")
    assert got.n_problems == 3
    assert got.problems[0] == "crm.csv row 2: 首次下单 is not a date: '昨天'"
    assert "crm.csv row 2: 订单数 is not a number: '很多'" in got.problems


def test_configured_header_missing_names_the_file_and_header(tmp_path: Path) -> None:
    config = CustomerConfig(columns=CustomerColumns(segment=["客户级别"]))
    path = write_csv(tmp_path / "crm.csv", HEADER, ROWS, "utf-8")
    with pytest.raises(
        CustomerFileError, match=r"crm\.csv: configured column 客户级别 \(segment\)"
    ):
        read_customer_file(path, config, SALT)
    # A default header that is absent is not an error: the field is simply not imported.
    few = write_csv(tmp_path / "few.csv", ["会员号", "客户等级"], [["M1", "一般"]], "utf-8")
    got = read_customer_file(few, CustomerConfig(), SALT)
    assert set(got.columns) == {"member_id", "segment"}


def test_a_file_without_any_key_column_is_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "nokey.csv", ["姓名", "客户等级"], [["张三", "一般"]], "utf-8")
    with pytest.raises(CustomerFileError, match=r"nokey\.csv: no key column"):
        read_customer_file(path, CustomerConfig(), SALT)


def test_unsupported_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "old.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(CustomerFileError, match=r"old\.xls: old Excel \.xls is not supported"):
        read_customer_file(path, CustomerConfig(), SALT)


def test_uid_file_hashes_uids_as_authors_and_keys_as_customer_keys(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "uids.csv", ["uid", "會員號"],
                     [["weibo_7788", "M001"], ["", "M002"], ["u2", "Zhang@Example.com"]],
                     "utf-8")  # fmt: skip
    got = read_uid_file(path, CustomerConfig(), SALT)
    assert [(r.uid_hash, r.key_hash) for r in got.links] == [
        (hash_author("weibo_7788", SALT), hash_customer_key("M001", SALT)),
        (hash_author("u2", SALT), hash_customer_key("zhang@example.com", SALT)),
    ]
    assert got.n_skipped == 1 and got.skipped[0].startswith("uids.csv row 3: uid is empty")
    with pytest.raises(CustomerFileError, match=r"uids\.csv: configured column 平台ID"):
        read_uid_file(path, CustomerConfig(uid_column="平台ID"), SALT)
