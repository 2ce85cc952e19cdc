"""`voc alerts test --channel NAME` end to end: a TOML file, a real local receiver, exit
codes and what the user reads."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from cli.alerts import add_alerts_parser
from tests.notify.conftest import Receiver


def _run(argv: list[str], env: dict[str, str]) -> int:
    parser = argparse.ArgumentParser(prog="voc")
    add_alerts_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args, env=env)


def _config_file(tmp_path: Path, receiver: Receiver) -> Path:
    path = tmp_path / "voc.toml"
    path.write_text(
        f"""
[voc]
timezone = "Asia/Shanghai"

[alerts]
dashboard_url = "http://voc.example.cn:8501"
retry_base_delay = 0

[alerts.channels.ops]
kind = "wecom"
key_env = "VOC_WECOM_KEY"
base_url = "{receiver.url}/cgi-bin/webhook/send"

[alerts.channels.hook]
kind = "webhook"
url = "{receiver.url}/hook"
""",
        encoding="utf-8",
    )
    return path


def test_sends_a_sample_alert_marked_as_a_test(
    tmp_path: Path, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config_file(tmp_path, receiver)
    code = _run(
        ["alerts", "test", "--channel", "ops", "--config", str(config)],
        {"VOC_WECOM_KEY": "wecom-key-0123"},
    )
    assert code == 0
    assert (
        capsys.readouterr().out.strip()
        == "测试告警已发送到 ops (wecom) / test alert sent to ops (wecom)"
    )
    (request,) = receiver.requests
    assert request.path == "/cgi-bin/webhook/send" and request.query == {"key": ["wecom-key-0123"]}
    content = request.json["markdown"]["content"]
    assert content.startswith("### 【警告】客声预警：【测试】")
    assert "[查看详情](http://voc.example.cn:8501/?alert=test-" in content


def test_config_from_voc_config_and_a_failure_exits_1(
    tmp_path: Path, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    receiver.default = (200, b'{"errcode": 93000, "errmsg": "invalid webhook url"}')
    env = {"VOC_CONFIG": str(_config_file(tmp_path, receiver)), "VOC_WECOM_KEY": "wecom-key-0123"}
    assert _run(["alerts", "test", "--channel", "ops"], env) == 1
    err = capsys.readouterr().err
    assert "发送失败 ops (wecom) / sending failed: wecom error 93000: invalid webhook url" in err


def test_missing_secret_exits_1_naming_the_variable(
    tmp_path: Path, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config_file(tmp_path, receiver)
    assert _run(["alerts", "test", "--channel", "ops", "--config", str(config)], {}) == 1
    assert "environment variable VOC_WECOM_KEY is not set" in capsys.readouterr().err
    assert receiver.requests == []


def test_unknown_channel_exits_2_naming_the_configured_ones(
    tmp_path: Path, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config_file(tmp_path, receiver)
    assert _run(["alerts", "test", "--channel", "pager", "--config", str(config)], {}) == 2
    err = capsys.readouterr().err
    assert "未知渠道 'pager' / error: unknown channel 'pager'; 已配置 configured: ops, hook" in err
    assert receiver.requests == []


def test_bad_or_missing_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["alerts", "test", "--channel", "ops"], {}) == 2
    assert "no config file" in capsys.readouterr().err
    no_alerts = tmp_path / "empty.toml"
    no_alerts.write_text("[voc]\n", encoding="utf-8")
    assert _run(["alerts", "test", "--channel", "ops", "--config", str(no_alerts)], {}) == 2
    assert "no [alerts] table" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text('[alerts]\nquiet_hours = "late"\n', encoding="utf-8")
    assert _run(["alerts", "test", "--channel", "ops", "--config", str(bad)], {}) == 2
    assert "bad.toml: [alerts]: quiet_hours must look like" in capsys.readouterr().err
