"""``voc customers``: import (GBK CSV and XLSX), re-import, import-uids, link and status on a
real warehouse file; bad files fail with a message naming the file and the row/header."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from openpyxl import Workbook

from cli.main import main
from voc.records import make_document
from warehouse import loaders
from warehouse.db import warehouse

SALT = "cli-salt"
HEADER = ["会员号", "姓名", "手机", "客户等级", "省份", "城市", "客户经理"]
ROWS = [
    ["M001", "张三丰", "13800138000", "一般", "广东", "深圳", "王经理"],
    ["", "无名氏", "", "一般", "广东", "深圳", "王经理"],
    ["M002", "李四光", "13900139000", "高价值", "浙江", "杭州", "赵经理"],
]


@pytest.fixture
def env(tmp_path: Path, new_warehouse, monkeypatch) -> dict[str, Path]:
    db = new_warehouse(tmp_path / "w.duckdb")
    config = tmp_path / "voc.toml"
    config.write_text(f'[voc]\nauthor_salt = "{SALT}"\n[customers]\non_conflict = "last"\n',
                      encoding="utf-8")  # fmt: skip
    monkeypatch.delenv("VOC_AUTHOR_SALT", raising=False)
    return {"db": db, "config": config, "dir": tmp_path}


def gbk_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    buf = io.StringIO()
    csv.writer(buf).writerows([header, *rows])
    path.write_bytes(buf.getvalue().encode("gbk"))
    return path


def run(env, *args: str) -> int:
    return main([*args, "--db", str(env["db"]), "--config", str(env["config"])])


def test_import_reports_counts_and_the_skipped_row(env, capsys) -> None:
    with warehouse(env["db"]) as con:
        loaders.upsert_documents(con, [make_document(
            source="helpdesk", channel="ticket", external_id="1", text="物流太慢了",
            created_at=datetime(2025, 5, 2, 9, tzinfo=timezone(timedelta(hours=8))),
            author_salt=SALT, customer="M002")], "run1")  # fmt: skip
    path = gbk_csv(env["dir"] / "crm.csv", ROWS)
    assert run(env, "customers", "import", str(path), "--as-of", "2025-05-01") == 0
    out, err = capsys.readouterr()
    assert "crm.csv: 3 rows (gb18030), 2 with a key, 1 skipped" in err
    assert "crm.csv row 3: empty key 会员号/手机 / 客户键为空，已跳过" in err
    assert "imported crm.csv as of 2025-05-01: 2 new, 0 changed" in out
    assert "linked: 1 of 1 documents (full rebuild)" in out
    assert "helpdesk: 1/1 linked (100%), 1 with a customer key" in out
    assert run(env, "customers", "import", str(path)) == 0
    assert "nothing changed, already imported" in capsys.readouterr().out
    assert run(env, "customers", "status", "--json") == 0
    status = json.loads(capsys.readouterr().out)
    assert status["customers"] == 2 and status["segments"] == {"一般": 1, "高价值": 1}
    assert status["keys"] == {"member_id": 2, "mobile": 2}
    assert [i["n_new"] for i in status["imports"]] == [2]
    assert status["sources"] == [
        {"source": "helpdesk", "docs": 1, "with_key": 1, "linked": 1, "share_linked": 1.0}
    ]
    assert run(env, "customers", "status") == 0
    assert "当前分层 current segments: 一般=1  高价值=1" in capsys.readouterr().out


def test_a_configured_header_missing_fails_naming_file_and_header(env, capsys) -> None:
    env["config"].write_text(
        f'[voc]\nauthor_salt = "{SALT}"\n[customers.columns]\nsegment = "会员等级"\n',
        encoding="utf-8",
    )
    path = gbk_csv(env["dir"] / "crm.csv", ROWS)
    assert run(env, "customers", "import", str(path)) == 2
    err = capsys.readouterr().err
    assert "error: crm.csv: configured column 会员等级 (segment) is not in the header" in err
    with warehouse(env["db"]) as con:
        assert con.execute("SELECT count(*) FROM customers").fetchone() == (0,)


def test_an_unknown_customers_setting_is_refused(env, capsys) -> None:
    env["config"].write_text('[customers]\non_conflicts = "last"\n', encoding="utf-8")
    assert run(env, "customers", "status") == 2
    assert "[customers] on_conflicts" in capsys.readouterr().err


def test_conflicts_are_listed_and_refuse_keeps_the_customer_out(env, capsys) -> None:
    rows = [ROWS[0], ["M001", "张三丰", "13800138000", "高价值", "广东", "深圳", "王经理"]]
    book = Workbook()
    for row in [HEADER, *rows]:
        book.active.append(row)
    path = env["dir"] / "dup.xlsx"
    book.save(path)
    assert run(env, "customers", "import", str(path), "--on-conflict", "refuse") == 0
    out, err = capsys.readouterr()
    assert "dup.xlsx row 3: same customer as dup.xlsx row 2 with a different 客户分层" in err
    assert "0 new" in out and "2 skipped, 1 conflicts" in out


def test_import_uids_and_link(env, capsys) -> None:
    assert run(env, "customers", "import", str(gbk_csv(env["dir"] / "crm.csv", ROWS))) == 0
    uids = gbk_csv(env["dir"] / "uids.csv", [["博主甲", "M001"], ["博主乙", "M404"]],
                   ["uid", "会员号"])  # fmt: skip
    capsys.readouterr()
    assert run(env, "customers", "import-uids", str(uids), "--as-of", "2025-05-01") == 0
    out, err = capsys.readouterr()
    assert "1 new uids" in out and "(1 unknown customers)" in out
    assert "uids.csv row 3: no imported customer has this key" in err
    with warehouse(env["db"]) as con:
        loaders.upsert_documents(con, [make_document(
            source="weibo", channel="social", external_id="p1", text="客服不理人",
            created_at=datetime(2025, 5, 2, 9, tzinfo=UTC), author="博主甲",
            author_salt=SALT)], "run1")  # fmt: skip
    assert run(env, "customers", "link") == 0
    assert "weibo: 1/1 linked (100%), 0 with a customer key" in capsys.readouterr().out
    assert run(env, "customers", "link", "--full") == 0
    assert "(full rebuild)" in capsys.readouterr().out


def test_a_missing_file_is_a_clear_error(env, capsys) -> None:
    assert run(env, "customers", "import", str(env["dir"] / "nope.csv")) == 2
    assert "nope.csv" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["import", "import-uids", "link", "status"])
def test_every_customers_subcommand_has_help(command: str, capsys) -> None:
    with pytest.raises(SystemExit) as done:
        main(["customers", command, "--help"])
    assert done.value.code == 0
    assert "--config" in capsys.readouterr().out


def test_as_of_must_be_a_day(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["customers", "import", "x.csv", "--as-of", str(date(2025, 1, 1)) + "x"])
    assert "not a date" in capsys.readouterr().err
