"""Storing customer imports and linking voices to customers, on a real DuckDB file with
real CSV and XLSX customer files: segment-at-time attribution, idempotent re-imports,
conflicts, uid links, and no raw personal key anywhere in the warehouse."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest
from openpyxl import Workbook

from scrapers.customer_file import read_customer_file, read_uid_file
from voc.customers import CustomerConfig
from voc.records import hash_customer_key, make_document
from warehouse import loaders
from warehouse.customers import (
    UidRow,
    link_documents,
    linked_share_by_source,
    store_customers,
    store_uid_links,
)
from warehouse.db import open_warehouse

SALT = "test-salt"
CHINA = timezone(timedelta(hours=8))
HEADER = ["会员号", "姓名", "手机", "邮箱", "客户等级", "省份", "城市", "客户来源", "客户经理"]
ZHANG = ["M001", "张三丰", "138-0013-8000", "Zhang.San@Example.com", "一般", "广东", "深圳",
         "广告", "王经理"]  # fmt: skip
LI = ["M002", "李四光", "13900139000", "lisi@example.cn", "高价值", "浙江", "杭州", "CALL IN",
      "赵经理"]  # fmt: skip
WANG = ["M003", "王五郎", "", "", "休眠", "北京", "北京", "自主开发", "钱经理"]


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8",
              header: list[str] = HEADER) -> Path:  # fmt: skip
    buf = io.StringIO()
    csv.writer(buf).writerows([header, *rows])
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def write_xlsx(path: Path, rows: list[list[object]], header: list[str]) -> Path:
    book = Workbook()
    for row in [header, *rows]:
        book.active.append(row)
    book.save(path)
    return path


@pytest.fixture
def con(tmp_path: Path, new_warehouse) -> duckdb.DuckDBPyConnection:
    connection = open_warehouse(new_warehouse(tmp_path / "w.duckdb"))
    yield connection
    connection.close()


def import_file(con, path: Path, as_of: date, config: CustomerConfig | None = None, **kw):
    read = read_customer_file(path, config or CustomerConfig(), SALT)
    return store_customers(
        con, read.name, read.sha256, read.customers, as_of, present=read.columns.keys(),
        on_conflict=(config or CustomerConfig()).on_conflict, n_rows=read.n_rows,
        n_skipped=read.n_skipped, **kw,
    )  # fmt: skip


def doc(external_id: str, day: date, customer: str | None = None, channel: str = "ticket",
        author: str | None = None, source: str = "helpdesk"):  # fmt: skip
    return make_document(
        source=source, channel=channel, external_id=external_id, text=f"第{external_id}条反馈",
        created_at=datetime(day.year, day.month, day.day, 10, tzinfo=CHINA), author=author,
        author_salt=SALT, customer=customer,
    )  # fmt: skip


def add_response(con, response_id: str, day: date, key: str | None) -> None:
    con.execute(
        "INSERT INTO survey_responses VALUES (?, 'nps', ?, ?, ?, ?, 9, 5, 'r', 'r')",
        [response_id, response_id, hash_customer_key(key, SALT),
         datetime(day.year, day.month, day.day, 12, tzinfo=CHINA), day],
    )  # fmt: skip


def segment_of(con, doc_id: str) -> tuple | None:
    return con.execute(
        "SELECT segment, province, via FROM doc_customers WHERE doc_id = ?", [doc_id]
    ).fetchone()


def test_a_voice_gets_the_segment_its_customer_had_on_its_day(con, tmp_path: Path) -> None:
    first = write_csv(tmp_path / "may.csv", [ZHANG, LI])
    import_file(con, first, date(2025, 5, 1))
    # Mid-window 张三 moves from 一般 to 高价值 (the file of 15 May, in GBK this time).
    moved = write_csv(tmp_path / "mid.csv", [[*ZHANG[:4], "高价值", *ZHANG[5:]], LI], "gbk")
    second = import_file(con, moved, date(2025, 5, 15))
    assert (second.n_new, second.n_changed, second.n_unchanged) == (0, 1, 1)
    assert second.n_segment_changes == 1
    docs = [
        doc("early", date(2025, 3, 1), "M001"),  # before the first import: since ever
        doc("before", date(2025, 5, 14), "13800138000"),  # via the phone, normalised
        doc("on", date(2025, 5, 15), "zhang.san@example.com"),
        doc("after", date(2025, 5, 30), "M001"),
        doc("li", date(2025, 5, 3), "M002"),
    ]
    loaders.upsert_documents(con, docs, "run1")
    add_response(con, "resp-before", date(2025, 5, 10), "M001")
    add_response(con, "resp-after", date(2025, 5, 20), "+86 138 0013 8000")
    linked = link_documents(con)
    assert linked.full and linked.n_linked_total == 5 and linked.n_responses_linked == 2
    by_ext = {d.external_id: d.id for d in docs}
    assert segment_of(con, by_ext["early"]) == ("一般", "广东", "key")
    assert segment_of(con, by_ext["before"]) == ("一般", "广东", "key")
    assert segment_of(con, by_ext["on"]) == ("高价值", "广东", "key")
    assert segment_of(con, by_ext["after"]) == ("高价值", "广东", "key")
    assert segment_of(con, by_ext["li"])[0] == "高价值"
    assert dict(con.execute("SELECT response_id, segment FROM response_customers").fetchall()) == {
        "resp-before": "一般",
        "resp-after": "高价值",
    }
    history = con.execute(
        "SELECT valid_from, valid_to, segment FROM customer_segments WHERE customer_id = ? "
        "ORDER BY valid_from NULLS FIRST",
        [hash_customer_key("M001", SALT)],
    ).fetchall()
    assert history == [(None, date(2025, 5, 15), "一般"), (date(2025, 5, 15), None, "高价值")]


def test_the_segment_since_column_dates_the_change(con, tmp_path: Path) -> None:
    header = [*HEADER, "分层日期"]
    config = CustomerConfig.model_validate({"columns": {"segment_since": "分层日期"}})
    import_file(con, write_csv(tmp_path / "a.csv", [[*ZHANG, ""]], header=header),
                date(2025, 5, 1), config)  # fmt: skip
    changed = [[*ZHANG[:4], "高价值", *ZHANG[5:], "2025/05/08"]]
    import_file(con, write_csv(tmp_path / "b.csv", changed, header=header),
                date(2025, 5, 31), config)  # fmt: skip
    assert con.execute(
        "SELECT valid_to FROM customer_segments WHERE segment = '一般'"
    ).fetchone() == (date(2025, 5, 8),)
    loaders.upsert_documents(con, [doc("x", date(2025, 5, 9), "M001")], "run1")
    link_documents(con)
    assert con.execute("SELECT segment FROM doc_customers").fetchone() == ("高价值",)


def snapshot(con) -> dict[str, list]:
    tables = [r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' ORDER BY 1"
    ).fetchall()]  # fmt: skip
    return {t: sorted(map(repr, con.execute(f"SELECT * FROM {t}").fetchall())) for t in tables}


def test_reimporting_the_same_file_changes_nothing(con, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "crm.csv", [ZHANG, LI, WANG])
    first = import_file(con, path, date(2025, 5, 1))
    assert (first.n_new, first.n_keys_new) == (3, 7) and first.import_id
    loaders.upsert_documents(con, [doc("a", date(2025, 5, 2), "M001")], "run1")
    link_documents(con)
    before = snapshot(con)
    # The next day, with another --as-of: still the same file, nothing to do.
    again = import_file(con, path, date(2025, 5, 2))
    assert again.import_id is None
    assert (again.n_new, again.n_changed, again.n_unchanged, again.n_keys_new) == (0, 0, 3, 0)
    assert not link_documents(con).full
    after = snapshot(con)
    assert {t: len(r) for t, r in after.items()} == {t: len(r) for t, r in before.items()}
    before.pop("customer_link_state"), after.pop("customer_link_state")  # linked_at only
    assert after == before


def test_a_customer_is_found_again_through_any_of_its_keys(con, tmp_path: Path) -> None:
    import_file(con, write_csv(tmp_path / "a.csv", [ZHANG]), date(2025, 5, 1))
    # A later export without the member id: the phone finds the same customer.
    header = ["手机", "客户等级"]
    result = import_file(con, write_csv(tmp_path / "b.csv", [["13800138000", "高贡献"]],
                                        header=header), date(2025, 6, 1))  # fmt: skip
    assert (result.n_new, result.n_changed) == (0, 1)
    assert con.execute("SELECT count(*) FROM customers").fetchone() == (1,)
    # Columns this file lacks keep their stored values.
    assert con.execute("SELECT segment, province, owner FROM customers").fetchone() == (
        "高贡献", "广东", "王经理",
    )  # fmt: skip


def test_conflicting_tiers_in_one_file_last_wins_or_refused(con, tmp_path: Path) -> None:
    rows = [ZHANG, LI, [*ZHANG[:4], "高价值", *ZHANG[5:]]]
    path = write_csv(tmp_path / "dup.csv", rows)
    last = import_file(con, path, date(2025, 5, 1))
    assert (last.n_new, last.n_conflicts, last.n_skipped) == (2, 1, 0)
    assert last.messages == [
        "dup.csv row 4: same customer as dup.csv row 2 with a different 客户分层 一般 → 高价值; "
        "the last row wins / 以最后一行为准"
    ]
    zhang = hash_customer_key("M001", SALT)
    assert con.execute(
        "SELECT segment FROM customers WHERE customer_id = ?", [zhang]
    ).fetchone() == ("高价值",)
    other = tmp_path / "other"
    other.mkdir()
    con2 = open_warehouse(other / "w.duckdb")
    refused = import_file(con2, path, date(2025, 5, 1), CustomerConfig(on_conflict="refuse"))
    assert (refused.n_new, refused.n_conflicts, refused.n_skipped) == (1, 1, 2)
    assert "customer refused / 该客户未导入" in refused.messages[0]
    assert con2.execute("SELECT count(*) FROM customer_keys WHERE customer_id = ?",
                        [zhang]).fetchone() == (0,)  # fmt: skip
    con2.close()


def test_unlinked_documents_are_kept_and_counted(con, tmp_path: Path) -> None:
    import_file(con, write_csv(tmp_path / "crm.csv", [ZHANG]), date(2025, 5, 1))
    docs = [
        doc("1", date(2025, 5, 2), "M001"),
        doc("2", date(2025, 5, 2), "M999"),  # a key no customer has
        doc("3", date(2025, 5, 2)),  # no key at all
        doc("4", date(2025, 5, 2), None, "review", source="shop"),
    ]
    loaders.upsert_documents(con, docs, "run1")
    assert link_documents(con).n_linked_total == 1
    assert con.execute("SELECT count(*) FROM raw_documents").fetchone() == (4,)
    shares = {s.source: (s.docs, s.with_key, s.linked) for s in linked_share_by_source(con)}
    assert shares == {"helpdesk": (3, 2, 1), "shop": (1, 0, 0)}


def test_links_are_incremental_until_the_next_import(con, tmp_path: Path) -> None:
    import_file(con, write_csv(tmp_path / "a.csv", [ZHANG, LI]), date(2025, 5, 1))
    loaders.upsert_documents(con, [doc("1", date(2025, 5, 2), "M001")], "run1")
    assert link_documents(con).full
    loaders.upsert_documents(con, [doc("2", date(2025, 5, 3), "M002")], "run2")
    step = link_documents(con)
    assert (step.full, step.n_linked, step.n_linked_total) == (False, 1, 2)
    # A new import (李四 dormant from 1 June) rebuilds every link.
    dormant = [ZHANG, [*LI[:4], "休眠", *LI[5:]]]
    import_file(con, write_csv(tmp_path / "b.csv", dormant), date(2025, 6, 1))
    loaders.upsert_documents(con, [doc("3", date(2025, 6, 2), "M002")], "run3")
    rebuilt = link_documents(con)
    assert (rebuilt.full, rebuilt.n_linked_total) == (True, 3)
    assert sorted(r[0] for r in con.execute("SELECT segment FROM doc_customers").fetchall()) == [
        "一般", "休眠", "高价值",
    ]  # fmt: skip


def test_social_posts_link_through_a_uid_mapping(con, tmp_path: Path) -> None:
    import_file(con, write_csv(tmp_path / "crm.csv", [ZHANG, LI]), date(2025, 5, 1))
    uids = write_csv(tmp_path / "uids.csv", [["微博用户甲", "M001"], ["路人", "M404"]],
                     header=["uid", "会员号"])  # fmt: skip
    read = read_uid_file(uids, CustomerConfig(), SALT)
    rows = [UidRow(r.uid_hash, r.key_hash, r.where) for r in read.links]
    result = store_uid_links(con, read.name, read.sha256, rows, date(2025, 5, 1))
    assert (result.n_new, result.n_skipped) == (1, 1)
    assert result.messages == [
        "uids.csv row 3: no imported customer has this key / 客户文件中没有该客户"
    ]
    posts = [
        doc("p1", date(2025, 5, 5), channel="social", author="微博用户甲", source="weibo"),
        doc("p2", date(2025, 5, 5), channel="social", author="路人", source="weibo"),
        # Only social posts link by author: a ticket's author is no platform uid.
        doc("t1", date(2025, 5, 5), author="微博用户甲"),
    ]
    loaders.upsert_documents(con, posts, "run1")
    link_documents(con)
    assert con.execute("SELECT doc_id, segment, via FROM doc_customers").fetchall() == [
        (posts[0].id, "一般", "uid")
    ]
    again = store_uid_links(con, read.name, read.sha256, rows, date(2025, 5, 2))
    assert again.import_id is None and again.n_unchanged == 1


def test_xlsx_import_with_traditional_headers_links_voices(con, tmp_path: Path) -> None:
    header = ["會員號", "手機", "客戶等級", "省份", "城市"]
    path = write_xlsx(tmp_path / "crm.xlsx", [["M001", 13800138000, "高價值", "廣東", "深圳"]],
                      header)  # fmt: skip
    result = import_file(con, path, date(2025, 5, 1))
    assert result.n_new == 1
    loaders.upsert_documents(con, [doc("1", date(2025, 5, 2), "138 0013 8000")], "run1")
    link_documents(con)
    assert con.execute("SELECT segment, province FROM doc_customers").fetchone() == (
        "高价值", "广东",
    )  # fmt: skip


def test_no_raw_personal_key_is_stored_anywhere(con, tmp_path: Path) -> None:
    import_file(con, write_csv(tmp_path / "crm.csv", [ZHANG, LI, WANG], "gbk"), date(2025, 5, 1))
    import_file(con, write_xlsx(tmp_path / "crm.xlsx", [["M004", "赵六甲", 13700137000,
                                                         "zhao@example.com", "一般"]],
                                ["會員號", "姓名", "手機", "郵箱", "客戶等級"]),
                date(2025, 5, 2))  # fmt: skip
    uids = write_csv(tmp_path / "uids.csv", [["weibo_uid_88", "M002"]], header=["uid", "会员号"])
    read = read_uid_file(uids, CustomerConfig(), SALT)
    store_uid_links(con, read.name, read.sha256,
                    [UidRow(r.uid_hash, r.key_hash, r.where) for r in read.links],
                    date(2025, 5, 2))  # fmt: skip
    loaders.upsert_documents(
        con, [doc("1", date(2025, 5, 3), "13800138000"),
              doc("2", date(2025, 5, 3), "lisi@example.cn")], "run1",
    )  # fmt: skip
    add_response(con, "r1", date(2025, 5, 3), "M003")
    link_documents(con)
    assert con.execute("SELECT count(*) FROM doc_customers").fetchone() == (2,)
    raw = {"M001", "M002", "M003", "M004", "张三丰", "李四光", "王五郎", "赵六甲",
           "138-0013-8000", "13800138000", "13900139000", "13700137000",
           "Zhang.San@Example.com", "zhang.san@example.com", "lisi@example.cn",
           "zhao@example.com", "weibo_uid_88"}  # fmt: skip
    columns = con.execute(
        "SELECT table_name, column_name FROM duckdb_columns() WHERE schema_name = 'main' "
        "AND (data_type LIKE 'VARCHAR%' OR data_type = 'JSON')"
    ).fetchall()
    tables = {t for t, _ in columns}
    assert {"customers", "customer_keys", "customer_segments", "customer_imports",
            "doc_customers", "response_customers", "raw_documents"} <= tables  # fmt: skip

    def scan(values: set[str]) -> list[tuple[str, str, str]]:
        return [
            (table, column, value)
            for table, column in columns
            for value in values
            if con.execute(
                f'SELECT count(*) FROM "{table}" WHERE '  # names from duckdb_columns()
                f'contains(lower(CAST("{column}" AS VARCHAR)), lower(?))',
                [value],
            ).fetchone()[0]
        ]

    assert scan(raw) == []
    # The scan does find what is stored in clear: the account manager, a segment dimension.
    assert ("customers", "owner", "王经理") in scan({"王经理"})


def test_an_older_export_imported_again_does_not_undo_a_later_one(con, tmp_path: Path) -> None:
    may = write_csv(tmp_path / "crm-05.csv", [ZHANG, LI])
    vip = [*ZHANG[:4], "高价值", *ZHANG[5:]]
    july = write_csv(tmp_path / "crm-07.csv", [vip, LI])
    import_file(con, may, date(2025, 5, 1))
    assert import_file(con, july, date(2025, 7, 1)).n_segment_changes == 1
    before = snapshot(con)
    # A script (or `voc demo`) run again imports both files again, in the same order.
    again = import_file(con, may, date(2025, 5, 1))
    assert again.import_id is None and "already imported" in again.messages[0]
    assert import_file(con, july, date(2025, 7, 1)).import_id is None
    assert snapshot(con) == before
    segments = con.execute(
        "SELECT segment, valid_from, valid_to FROM customer_segments s JOIN customer_keys k "
        "ON k.customer_id = s.customer_id WHERE k.key_hash = ? ORDER BY valid_to NULLS LAST",
        [hash_customer_key("M001", SALT)],
    ).fetchall()
    assert segments == [("一般", None, date(2025, 7, 1)), ("高价值", date(2025, 7, 1), None)]
