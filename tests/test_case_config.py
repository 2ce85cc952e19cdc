"""The ``[cases]`` settings table: defaults, teams, parts kept until wired, and clear
errors naming the file and key."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from voc import case_config
from voc.case_config import CaseConfig, TeamConfig, parse_case_config
from warehouse.case_db import store_url

EXAMPLE = """
[cases]
database_url_env = "VOC_TEAM_CASES_URL"
merge_days = 5

[cases.teams."客服一组"]
channels = ["wecom_service"]
owners = ["张三", " 李四 "]

[cases.teams."电商组"]

[cases.sla]
[[cases.sla.policies]]
name = "全部"
first_response = "24h"
time = "calendar"
"""


def test_defaults_are_the_embedded_store_and_a_week() -> None:
    assert parse_case_config(None, "voc.toml") == CaseConfig()
    assert CaseConfig().merge_days == 7 and CaseConfig().database_url is None


def test_a_full_table_parses(tmp_path: Path) -> None:
    config = parse_case_config(tomllib.loads(EXAMPLE)["cases"], "voc.toml", {"wecom_service"})
    assert config.merge_days == 5 and config.database_url_env == "VOC_TEAM_CASES_URL"
    assert config.team("客服一组") == TeamConfig("客服一组", ("wecom_service",), ("张三", "李四"))
    assert config.team("电商组") == TeamConfig("电商组") and config.team("无") is None
    # The SLA part is parsed at load (voc.sla_policy): one calendar-time policy of 24 h.
    (policy,) = config.sla.policies
    assert (policy.name, policy.first_response, policy.time) == ("全部", 24 * 60, "calendar")

    class Settings:
        db_path = tmp_path / "voc.duckdb"
        cases = config

    env = {"VOC_TEAM_CASES_URL": "postgresql+psycopg://voc:pw@db/voc"}
    assert store_url(Settings(), env=env) == "postgresql+psycopg://voc:pw@db/voc"
    assert store_url(Settings(), env={}).endswith("voc.actions.sqlite")


def test_a_wired_part_parser_gets_origin_and_teams(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {}

    def parse_rules(value, origin, teams):
        seen.update(value=value, origin=origin, teams=sorted(teams))
        return ("rules", len(value))

    monkeypatch.setitem(case_config.PART_PARSERS, "rules", parse_rules)
    table = {"teams": {"一组": {}}, "rules": [{"name": "a"}]}
    config = parse_case_config(table, "team.toml")
    assert config.rules == ("rules", 1)
    assert seen == {"value": [{"name": "a"}], "origin": "team.toml", "teams": ["一组"]}


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        (
            {"merge_dayz": 3},
            r"voc.toml: \[cases\] 未知设置 merge_dayz.*unknown key\(s\)",
        ),
        ({"merge_days": 0}, r"\[cases\] merge_days: 必须是正整数 / must be a positive integer"),
        ({"merge_days": "7"}, r"merge_days: .*got '7'"),
        ({"merge_days": True}, r"merge_days"),
        ({"database_url": "mysql://h/db"}, r"database_url: .*got 'mysql'"),
        ({"database_url": "postgresql+psycopg://voc:secret@db/voc"}, r"do not put a password"),
        ({"database_url": "postgresql://db/voc?password=x"}, r"do not put a password"),
        ({"database_url_env": "not a name"}, r"database_url_env: .*environment variable"),
        (
            {"teams": {"一组": {"channel": ["x"]}}},
            r"\[cases.teams.一组\] .*unknown key\(s\)",
        ),
        ({"teams": {"一组": {"channels": "x"}}}, r"\[cases.teams.一组\] channels: .*list"),
        (
            {"teams": {"一组": {"channels": ["nope"]}}},
            r"未定义的渠道 nope.*configured: ops",
        ),
        ({"teams": ["一组"]}, r"\[cases.teams\] 必须是表"),
    ],
)
def test_bad_values_name_the_file_and_key(table: dict, expected: str) -> None:
    with pytest.raises(ValueError, match=expected):
        parse_case_config(table, "voc.toml", {"ops"})


def test_a_sqlite_url_without_password_is_kept() -> None:
    url = "sqlite:////var/lib/voc/cases.sqlite"
    assert parse_case_config({"database_url": url}, "voc.toml").database_url == url
