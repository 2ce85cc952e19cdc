"""``voc cases`` and ``voc followups`` on a real case store (`case_engine`: a SQLite file
and a real PostgreSQL server): list with filters and ``--json``, show with voices and the
history, CSV and XLSX exports that open with the rows, move and assign with the name on
the event, a refused move naming the allowed moves, a stale ``--expect-version`` refused,
the store down, and the day's 回访 list, its export and an outcome."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from cli.main import main
from voc.cases import CaseOpening, CaseVoice
from voc.followup_rules import PlannedFollowup
from warehouse.case_store import CaseFilters, CaseStore
from warehouse.followup_store import FollowupStore

NOW = datetime.now(UTC).replace(microsecond=0)


def opening(i: int, priority: str, channel: str = "ticket", team: str = "售后") -> CaseOpening:
    voice = CaseVoice(
        doc_id=f"doc-{i}",
        source="helpdesk",
        channel=channel,
        created_at=NOW - timedelta(hours=i + 1),
        excerpt=f"第 {i} 单：退款一周没到账",
        sentiment="negative",
        negative_score=0.8,
    )
    return CaseOpening(
        merge_key=f"doc:doc-{i}",
        rule="negative_ticket",
        title=f"退款慢 #{i}",
        voices=(voice,),
        priority=priority,
        severity={"negative_score": 0.8},
        team=team,
        source="helpdesk",
        channel=channel,
    )


@pytest.fixture()
def store(case_engine, tmp_path: Path, monkeypatch) -> CaseStore:
    """Five open cases: P1 ticket, P2 ticket, P2 social (舆情 team), P3 and P4 tickets."""
    from warehouse.case_db import create_schema

    create_schema(case_engine)
    monkeypatch.setenv(
        "VOC_CASES_DATABASE_URL", case_engine.url.render_as_string(hide_password=False)
    )
    monkeypatch.setenv("VOC_DB", str(tmp_path / "voc.duckdb"))
    cases = CaseStore(case_engine)
    cases.open_cases(
        [
            opening(0, "P1"),
            opening(1, "P2"),
            opening(2, "P2", channel="social", team="舆情"),
            opening(3, "P3"),
            opening(4, "P4"),
        ],
        NOW,
    )
    return cases


def run_json(capsys, *args: str):
    capsys.readouterr()
    assert main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def the_id(store: CaseStore, title: str) -> str:
    """The case's id, as typed on the command line."""
    return str(next(c.case_id for c in store.list_cases(CaseFilters()) if c.title == title))


def test_list_filters_and_json(store, capsys) -> None:
    out = run_json(capsys, "cases", "list")
    assert out["total"] == 5 and len(out["cases"]) == 5
    assert {c["status_name"] for c in out["cases"]} == {"新建"}
    out = run_json(capsys, "cases", "list", "--priority", "P2", "--team", "舆情")
    assert [c["title"] for c in out["cases"]] == ["退款慢 #2"]
    assert out["cases"][0]["channel"] == "social"
    out = run_json(capsys, "cases", "list", "--limit", "2", "--offset", "1")
    assert out["total"] == 5 and len(out["cases"]) == 2
    # Status by its Chinese name; none resolved yet.
    assert run_json(capsys, "cases", "list", "--status", "已解决")["total"] == 0
    assert main(["cases", "list"]) == 0
    text = capsys.readouterr().out
    assert "5 matching" in text and "退款慢 #0" in text


def test_move_assign_and_show(store, capsys) -> None:
    case_id = the_id(store, "退款慢 #1")
    assert main(["cases", "move", case_id, "已受理", "--who", "张三", "--note", "已致电"]) == 0
    assert "已受理" in capsys.readouterr().out
    moved = run_json(capsys, "cases", "assign", case_id, "--owner", "小王", "--who", "组长")
    assert (moved["owner"], moved["team"], moved["status"]) == ("小王", "售后", "acknowledged")
    shown = run_json(capsys, "cases", "show", case_id)
    assert shown["case"]["version"] == moved["version"]
    assert [v["excerpt"] for v in shown["voices"]] == ["第 1 单：退款一周没到账"]
    assert [(e["action"], e["who"]) for e in shown["events"]] == [
        ("open", "system"),
        ("status", "张三"),
        ("assign", "组长"),
    ]
    assert shown["events"][1]["note"] == "已致电"
    assert "in_progress" in shown["allowed_moves"]
    assert main(["cases", "show", case_id]) == 0
    text = capsys.readouterr().out
    assert "小王" in text and "张三" in text and "第 1 单" in text


def test_refusals_and_conflicts(store, capsys) -> None:
    case_id = the_id(store, "退款慢 #3")
    capsys.readouterr()
    # 新建 → 已解决 is not allowed; the message names the allowed moves.
    assert main(["cases", "move", case_id, "resolved", "--who", "张三"]) == 1
    err = capsys.readouterr().err
    assert "拒绝" in err and "acknowledged" in err
    # What this terminal saw (version 1) is stale once someone else moved the case.
    store.move(int(case_id), "acknowledged", "李四", 1)
    assert main(["cases", "move", case_id, "closed", "--who", "张三", "--expect-version", "1"]) == 1
    assert "冲突" in capsys.readouterr().err
    assert store.get(int(case_id)).status == "acknowledged"
    with pytest.raises(SystemExit):
        main(["cases", "move", case_id, "nonsense", "--who", "x"])
    assert "unknown status" in capsys.readouterr().err
    assert main(["cases", "show", "999999"]) == 1


def test_export_csv_and_xlsx(store, tmp_path: Path, capsys) -> None:
    store.move(int(the_id(store, "退款慢 #4")), "acknowledged", "张三", 1)
    out = tmp_path / "cases.csv"
    assert main(["cases", "export", str(out), "--priority", "P1", "--priority", "P4"]) == 0
    with out.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["title"] for r in rows) == ["退款慢 #0", "退款慢 #4"]
    assert {r["status_name"] for r in rows} == {"新建", "已受理"}
    book = tmp_path / "cases.xlsx"
    assert main(["cases", "export", str(book), "--all"]) == 0
    sheet = load_workbook(book).active
    values = list(sheet.values)
    assert values[0][:4] == ("case_id", "priority", "status", "status_name")
    assert len(values) == 1 + 5
    assert main(["cases", "export", str(tmp_path / "cases.txt")]) == 2
    assert "--format" in capsys.readouterr().err
    assert not (tmp_path / "cases.txt").exists()


def test_store_down(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("VOC_CASES_DATABASE_URL", "postgresql+psycopg://voc@127.0.0.1:9/none")
    monkeypatch.setenv("VOC_DB", str(tmp_path / "voc.duckdb"))
    assert main(["cases", "list"]) == 2
    err = capsys.readouterr().err
    assert "工单库无法连接" in err and "Background on this error" not in err


def test_followups_list_export_and_record(store, tmp_path: Path, capsys) -> None:
    followups = FollowupStore(store.engine)
    day = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    plan = [
        PlannedFollowup("a", "case_resolved", day, "王经理", "售后", None, "c-h01"),
        PlannedFollowup("b", "order_day5", day - timedelta(days=1), "李经理", None, None, "c-g01"),
        PlannedFollowup("c", "order_day15", day + timedelta(days=5), "李经理", None, None, "c-g02"),
    ]
    followups.plan(plan, NOW)
    first = str(followups.list_followups(customer_ids=("c-h01",))[0].followup_id)
    out = run_json(capsys, "followups", "list", "--day", day.isoformat())
    assert [(f["owner"], f["days_overdue"]) for f in out["followups"]] == [
        ("李经理", 1),
        ("王经理", 0),
    ]
    out = run_json(capsys, "followups", "list", "--day", day.isoformat(), "--owner", "王经理")
    assert [str(f["followup_id"]) for f in out["followups"]] == [first]
    book = tmp_path / "today.xlsx"
    assert main(["followups", "export", str(book), "--day", day.isoformat()]) == 0
    assert len(list(load_workbook(book).active.values)) == 1 + 2
    recorded = run_json(
        capsys,
        "followups",
        "record",
        first,
        "--reached",
        "--satisfaction",
        "4",
        "--note",
        "已满意",
        "--second",
        "--who",
        "王经理",
    )
    assert (recorded["reached"], recorded["satisfaction"], recorded["needs_second"]) == (
        True,
        4,
        True,
    )
    assert recorded["second"]["reason"] == "second" and recorded["second"]["owner"] == "王经理"
    # A second outcome for the same 回访 is refused: someone recorded it already.
    assert main(["followups", "record", first, "--not-reached", "--who", "李经理"]) == 1
    assert "王经理" in capsys.readouterr().err
    later = run_json(capsys, "followups", "list", "--day", (day + timedelta(days=30)).isoformat())
    reasons = sorted(f["reason"] for f in later["followups"])
    assert reasons == ["order_day15", "order_day5", "second"]  # the first one is done
    with pytest.raises(SystemExit):
        main(["followups", "record", first, "--reached", "--satisfaction", "9", "--who", "x"])


def test_list_and_export_show_the_sla(store, tmp_path: Path, capsys) -> None:
    config = tmp_path / "voc.toml"
    config.write_text(
        '[[cases.sla.policies]]\npriority = ["P1"]\nfirst_response = "2h"\ntime = "calendar"\n',
        encoding="utf-8",
    )
    out = run_json(capsys, "cases", "list", "--config", str(config))
    by_priority = {c["priority"]: c for c in out["cases"]}
    p1 = by_priority["P1"]
    assert p1["sla_state"] == "running" and p1["first_response_state"] == "running"
    assert 0 < p1["first_response_left_min"] <= 120
    assert by_priority["P3"]["sla_state"] == "none"  # no policy for P3
    book = tmp_path / "sla.csv"
    assert main(["cases", "export", str(book), "--sla", "--config", str(config)]) == 0
    with book.open(encoding="utf-8-sig", newline="") as f:
        rows = {r["priority"]: r for r in csv.DictReader(f)}
    assert rows["P1"]["first_response_state"] == "running" and rows["P1"]["first_response_due"]


def test_assign_checks_configured_teams(store, tmp_path: Path, capsys) -> None:
    config = tmp_path / "voc.toml"
    config.write_text('[cases.teams."售后"]\nowners = ["小王"]\n', encoding="utf-8")
    case_id = the_id(store, "退款慢 #0")
    base = ["cases", "assign", case_id, "--who", "组长", "--config", str(config)]
    capsys.readouterr()
    assert main([*base, "--team", "物流"]) == 1
    assert "未知团队 物流" in capsys.readouterr().err
    assert main([*base, "--owner", "老张"]) == 1  # team 售后 kept: 老张 is not in it
    assert "老张 不是团队 售后 的成员" in capsys.readouterr().err
    assert main([*base, "--owner", "小王"]) == 0
    assert store.get(int(case_id)).owner == "小王"
