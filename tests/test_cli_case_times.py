"""``voc cases times`` over a real DuckDB warehouse with planted response times
(tests/dashboard/service_seed.py: medians, p90s, breach rates and outcomes computed by hand
there): text and ``--json`` output, ``--by``, filters, the threshold from the config and
the command line, the slowest breaches, and bad input. ``voc cases recovery`` over closed
cases in a real SQLite case store beside it (tests/dashboard/recovery_seed.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cli.main import main
from tests.dashboard.recovery_seed import plant_recovery
from tests.dashboard.service_seed import build_service_warehouse

MARCH = ["--since", "2025-03-01", "--until", "2025-03-31"]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    path = tmp_path_factory.mktemp("times") / "voc.duckdb"
    return path, build_service_warehouse(path)


def voc(*argv: str, command: str = "times") -> int:
    return main(["cases", command, *argv])


def as_json(capsys, db: Path, *argv: str) -> dict:
    capsys.readouterr()
    assert voc("--db", str(db), "--json", *argv) == 0
    return json.loads(capsys.readouterr().out)


def test_text_report_has_medians_p90_and_breach_rates(seeded, capsys) -> None:
    db, _ = seeded
    assert voc("--db", str(db), "--min-n", "1", *MARCH) == 0
    lines = capsys.readouterr().out.splitlines()
    overall = next(line for line in lines if "全部 all" in line)
    assert overall.split()[2:12] == [
        "8", "6", "6.0h", "37.5h", "4", "15.0h", "41.0h", "8", "4", "50.0%",
    ]  # fmt: skip
    assert overall.endswith("50.0% [21.5%, 78.5%]")
    ticket = next(line for line in lines if line.strip().startswith("ticket"))
    assert ticket.split()[1:11] == [
        "5",
        "4",
        "1.5h",
        "18.1h",
        "3",
        "10.0h",
        "18.0h",
        "5",
        "2",
        "40.0%",
    ]
    social = next(line for line in lines if line.strip().startswith("social"))
    assert "30.0h" in social and "46.0h" in social and "66.7% [20.8%, 93.9%]" in social
    within = next(line for line in lines if "answered in time" in line)
    assert "negative 50.0% [18.8%, 81.2%]" in within and "NPS n=3 100.0" in within
    later = next(line for line in lines if "answered late" in line)
    assert "NPS n=2 0.0 [-100.0, 100.0]" in later


def test_json_by_theme_with_the_sample_guard(seeded, capsys) -> None:
    db, _ = seeded
    r = as_json(capsys, db, "--by", "theme", *MARCH)
    assert (r["threshold_hours"], r["window_days"], r["min_n"], r["by"]) == (24.0, 90, 30, "theme")
    groups = {g["group"]: g for g in r["groups"]}
    assert set(groups) == {"退款慢", "物流延误", None}
    assert (groups["物流延误"]["n_due"], groups["物流延误"]["n_breached"]) == (2, 2)
    assert groups["退款慢"]["first_response_median"] == 90.0  # 60 and 120
    assert groups["退款慢"]["business_first_response_median"] == 45.0  # 30 and 60
    # No theme: t4, t5, c1, c3; resolved t5 (300) and c1 (3000).
    assert (groups[None]["n_resolved"], groups[None]["resolution_median"]) == (2, 1650.0)
    overall = r["overall"]
    assert overall["first_response_median"] == 360.0
    assert overall["first_response_p90"] == pytest.approx(2250.0)
    assert overall["breach"]["value"] == 0.5 and not overall["breach"]["enough"]  # 8 < 30
    assert overall["breach"]["low"] == pytest.approx(0.2152, abs=1e-4)
    within, later, never = r["outcomes"]
    assert (within["speed"], within["n_later_voices"], within["n_later_negative"]) == (
        "within",
        6,
        3,
    )
    assert not within["negative_enough"] and not within["nps_enough"]
    assert (later["nps"], never["nps"]) == (0.0, -100.0)
    assert "voices" not in r


def test_by_all_and_the_filters(seeded, capsys) -> None:
    db, _ = seeded
    r = as_json(capsys, db, "--by", "all", *MARCH)
    assert [(g["group"], g["n_voices"]) for g in r["groups"]] == [("全部", 8)]
    r = as_json(capsys, db, "--by", "segment", "--channel", "social", *MARCH)
    assert {g["group"]: g["n_voices"] for g in r["groups"]} == {"一般": 1, "高价值": 1, None: 1}
    r = as_json(capsys, db, "--by", "owner", "--segment", "高价值", *MARCH)
    assert [(g["group"], g["n_breached"]) for g in r["groups"]] == [("张三", 2)]
    # Without dates the ticket opened two hours ago is counted, but pending, not due.
    r = as_json(capsys, db, "--by", "channel")
    ticket = next(g for g in r["groups"] if g["group"] == "ticket")
    assert (ticket["n_voices"], ticket["n_due"]) == (6, 5)


def test_threshold_from_the_config_and_the_command_line(seeded, capsys, tmp_path) -> None:
    db, _ = seeded
    config = tmp_path / "voc.toml"
    config.write_text("[cases.response_times]\nthreshold_hours = 60\n", encoding="utf-8")
    r = as_json(capsys, db, "--config", str(config), *MARCH)
    assert r["threshold_hours"] == 60.0
    assert r["overall"]["n_breached"] == 2  # only the never answered (t4, c3)
    assert r["outcomes"][0]["n_voices"] == 5
    r = as_json(capsys, db, "--config", str(config), "--threshold-hours", "1", *MARCH)
    # An hour: all but t1 (60 min) and t5 (30 min).
    assert r["overall"]["n_breached"] == 6


def test_slowest_breaches_unanswered_first(seeded, capsys) -> None:
    db, ids = seeded
    r = as_json(capsys, db, "--voices", "3", *MARCH)
    assert [v["doc_id"] for v in r["voices"]] == [ids["t4"], ids["c3"], ids["c2"]]
    assert [v["speed"] for v in r["voices"]] == ["unanswered", "unanswered", "later"]
    assert r["voices"][2]["first_response_minutes"] == 3000.0
    assert r["voices"][0]["opened_at"].startswith("2025-03-01T16:00:00")  # 03-02 00:00 +08
    assert voc("--db", str(db), "--voices", "1", *MARCH) == 0
    out = capsys.readouterr().out
    assert "最慢的超时 slowest breaches (1)" in out and "2025-03-02 00:00" in out
    assert "客服一直不回复" in out


def test_no_tracked_voices_and_bad_input(seeded, capsys, tmp_path) -> None:
    db, _ = seeded
    assert voc("--db", str(db), "--since", "2025-03-10", "--until", "2025-03-31") == 0
    assert "没有记录回复时间的声音 no voices" in capsys.readouterr().out
    assert voc("--db", str(tmp_path / "missing.duckdb")) == 2
    assert "does not exist yet" in capsys.readouterr().err
    for bad, message in (
        (["--threshold-hours", "-1"], "必须大于 0 must be positive"),
        (["--threshold-hours", "soon"], "不是数字 not a number"),
        (["--window-days", "1.5"], "不是整数 not a whole number"),
        (["--by", "weather"], "invalid choice: 'weather'"),
        (["--since", "March"], "not a date"),
    ):
        with pytest.raises(SystemExit) as exc:
            voc("--db", str(db), *bad)
        assert exc.value.code == 2
        assert message in capsys.readouterr().err
    config = tmp_path / "bad.toml"
    config.write_text("[cases.response_times]\nthreshold_hours = -1\n", encoding="utf-8")
    assert voc("--db", str(db), "--config", str(config)) == 2
    assert "threshold_hours: 必须大于 0 / must be positive" in capsys.readouterr().err


@pytest.fixture(scope="module")
def recovered(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    path = tmp_path_factory.mktemp("recovery") / "voc.duckdb"
    now = datetime.now(UTC)
    build_service_warehouse(path, now)
    return path, plant_recovery(path, now)


def test_recovery_rates_and_churn_risk(recovered, capsys, tmp_path, monkeypatch) -> None:
    db, ids = recovered
    monkeypatch.delenv("VOC_CASES_DATABASE_URL", raising=False)
    config = tmp_path / "voc.toml"
    config.write_text("[cases.followups.recovery]\nmin_n = 2\n", encoding="utf-8")
    capsys.readouterr()
    argv = ("--db", str(db), "--config", str(config), "--by", "owner", "--json")
    assert voc(*argv, "--window", "90", command="recovery") == 0
    r = json.loads(capsys.readouterr().out)
    assert (r["window_days"], r["by"], r["min_n"]) == (90, "owner", 2)
    assert (r["overall"]["n_measured"], r["overall"]["n_recovered"]) == (4, 2)
    assert r["overall"]["low"] == pytest.approx(15.0, abs=0.05)  # Wilson, 2 of 4
    rates = {g["owner"]: g for g in r["rates"]}
    assert (rates["王五"]["n_measured"], rates["王五"]["rate"]) == (2, 50.0)
    assert rates["王五"]["followup_score"] == 3.5
    assert [c["customer_id"] for c in r["churn_risk"]] == ["r2", "r6", "r4"]
    assert r["churn_risk"][1]["case_ids"] == str(ids["K6"])
    assert voc("--db", str(db), "--config", str(config), command="recovery") == 0
    out = capsys.readouterr().out  # 30 days, by theme: 物流慢 1 of 2, 价格 1 of 1
    assert "measured 3, recovered 2, rate 66.7% [20.8%, 93.9%]" in out
    assert "价格" in out and "样本不足" in out and "r2" in out


def test_recovery_bad_window_and_store_down(recovered, capsys, monkeypatch) -> None:
    db, _ = recovered
    monkeypatch.delenv("VOC_CASES_DATABASE_URL", raising=False)
    assert voc("--db", str(db), "--window", "45", command="recovery") == 2
    assert "--window 45: 不是配置的观察期 / not a configured window" in capsys.readouterr().err
    monkeypatch.setenv("VOC_CASES_DATABASE_URL", "postgresql+psycopg://voc@127.0.0.1:9/voc")
    assert voc("--db", str(db), command="recovery") == 2
    assert "error: 工单库无法连接 / case store unreachable" in capsys.readouterr().err
