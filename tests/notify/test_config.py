"""Parsing the [alerts] table: a full example, routing, quiet hours, errors naming keys."""

from __future__ import annotations

import tomllib
from datetime import time

import pytest

from tests.notify.conftest import make_message
from voc.alert_settings import QuietHours, parse_alert_config

EXAMPLE = """
[alerts]
dashboard_url = "http://voc.example.cn:8501"
timezone = "Asia/Shanghai"
quiet_hours = "22:00-08:00"
min_severity = "warning"
retry_attempts = 4
retry_base_delay = 1.5

[alerts.channels.ops_wecom]
kind = "wecom"
key_env = "VOC_WECOM_KEY"

[alerts.channels.oncall_dingtalk]
kind = "dingtalk"
url_env = "VOC_DINGTALK_URL"
secret_env = "VOC_DINGTALK_SECRET"
min_severity = "critical"

[alerts.channels.cx_feishu]
kind = "feishu"
url_env = "VOC_FEISHU_URL"
msg_type = "text"
enabled = false

[alerts.channels.mail]
kind = "email"
host = "smtp.example.cn"
security = "starttls"
user = "voc@example.cn"
password_env = "VOC_SMTP_PASSWORD"
sender = "voc@example.cn"
recipients = ["cx-lead@example.cn"]

[[alerts.routes]]
severity = "critical"
channels = ["oncall_dingtalk", "ops_wecom", "mail"]

[[alerts.routes]]
scope = "主题 物流*"
channels = ["ops_wecom"]

[[alerts.routes]]
source = ["test_*"]
channels = []
"""


def _parse(text: str):
    return parse_alert_config(tomllib.loads(text)["alerts"], "voc.toml")


def test_full_example_parses() -> None:
    config = _parse(EXAMPLE)
    assert config.dashboard_url == "http://voc.example.cn:8501"
    assert config.quiet_hours == QuietHours(time(22, 0), time(8, 0))
    assert (config.min_severity, config.retry_attempts, config.retry_base_delay) == (
        "warning",
        4,
        1.5,
    )
    assert [c.name for c in config.channels] == [
        "ops_wecom",
        "oncall_dingtalk",
        "cx_feishu",
        "mail",
    ]
    mail = config.channel("mail")
    assert (mail.security, mail.port, mail.recipients) == (
        "starttls",
        None,
        ("cx-lead@example.cn",),
    )
    assert config.channel("cx_feishu").enabled is False
    assert config.channel("oncall_dingtalk").min_severity == "critical"


def test_routes_first_match_wins_else_every_channel() -> None:
    config = _parse(EXAMPLE)
    critical = make_message(severity="critical", scope="主题 物流慢")
    assert config.channels_for(critical) == ("oncall_dingtalk", "ops_wecom", "mail")
    assert config.channels_for(make_message(scope="主题 物流慢")) == ("ops_wecom",)
    assert config.channels_for(make_message(source="test_weibo", scope="来源 x")) == ()
    unmatched = make_message(scope="主题 客服")
    assert config.channels_for(unmatched) == ("ops_wecom", "oncall_dingtalk", "cx_feishu", "mail")


def test_a_route_can_match_customer_segments() -> None:
    config = _parse(
        EXAMPLE.replace(
            '[[alerts.routes]]\nseverity = "critical"',
            '[[alerts.routes]]\nsegment = ["高价值", "VIP*"]\nchannels = ["mail"]\n\n'
            '[[alerts.routes]]\nseverity = "critical"',
        )
    )
    assert config.routes[0].segment == ("高价值", "VIP*")
    vip = make_message(severity="critical", scope="高价值 客户 · 物流", segments=("高价值",))
    assert config.channels_for(vip) == ("mail",)
    assert config.channels_for(make_message(segments=("一般", "VIP 金卡"))) == ("mail",)
    # No segment, or another one: the next routes decide.
    assert config.channels_for(make_message(severity="critical")) == (
        "oncall_dingtalk",
        "ops_wecom",
        "mail",
    )
    assert config.channels_for(make_message(scope="主题 物流慢", segments=("一般",))) == (
        "ops_wecom",
    )
    with pytest.raises(ValueError, match=r"#1: segment must be a string or a list of strings"):
        _parse(
            '[alerts]\n[alerts.channels.x]\nkind = "slack"\nurl_env = "U"\n'
            '[[alerts.routes]]\nsegment = 3\nchannels = ["x"]'
        )


def test_quiet_hours_across_midnight_and_within_a_day() -> None:
    night = QuietHours(time(22), time(8))
    assert night.contains(time(23, 30)) and night.contains(time(7, 59))
    assert not night.contains(time(8, 0)) and not night.contains(time(12))
    lunch = QuietHours(time(12), time(13, 30))
    assert lunch.contains(time(12, 45)) and not lunch.contains(time(14))


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('quiet_hours = "10pm-8am"', r"quiet_hours must look like"),
        ('quiet_hours = "25:00-08:00"', r"impossible time"),
        ('min_severity = "urgent"', r"min_severity must be one of info, warning, critical"),
        ('timezone = "Mars/Olympus"', r"timezone: unknown zone"),
        ("retry_attempts = 0", r"retry_attempts must be an integer from 1 to 10"),
        ("colour = 1", r"\[alerts\]: unknown key\(s\): colour"),
        (
            '[alerts.channels.x]\nkind = "wecom"\nkey = "abc123"',
            r"\[alerts.channels.x\]: key must not be written in the file.*key_env",
        ),
        (
            '[alerts.channels.x]\nkind = "slack"\nurl = "https://hooks.slack.com/services/T/B/X"',
            r"\[alerts.channels.x\]: a slack webhook URL embeds its token: use url_env",
        ),
        (
            '[alerts.channels.x]\nkind = "email"\nhost = "h"\nsender = "a@b"\n'
            'recipients = ["c@d"]\npassword = "hunter2"',
            r"password must not be written in the file.*password_env",
        ),
        ('[alerts.channels.x]\nkind = "pager"', r"kind must be one of webhook, wecom"),
        ('[alerts.channels.x]\nkind = "dingtalk"', r"\[alerts.channels.x\]: url_env is required"),
        (
            '[alerts.channels.x]\nkind = "webhook"\nurl_env = "U"\nheaders = 1',
            r"\[alerts.channels.x\]: unknown key\(s\): headers",
        ),
        (
            '[alerts.channels.x]\nkind = "feishu"\nurl_env = "U"\nmsg_type = "card"',
            r"msg_type must be post or text",
        ),
        (
            '[alerts.channels.x]\nkind = "email"\nhost = "h"\nsender = "a@b"\nrecipients = []',
            r"recipients is required",
        ),
        (
            '[alerts.channels.x]\nkind = "slack"\nurl_env = "U"\n'
            '[[alerts.routes]]\nchannels = ["y"]',
            r"\[\[alerts.routes\]\] #1: channels: unknown channel 'y'; configured: x",
        ),
        ('[[alerts.routes]]\nseverity = "warning"', r"#1: channels is required"),
    ],
)
def test_bad_tables_are_named(table: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        _parse("[alerts]\n" + table)
    assert str(info.value).startswith("voc.toml: ")


def test_secret_values_never_appear_in_errors() -> None:
    with pytest.raises(ValueError) as info:
        _parse('[alerts]\n[alerts.channels.x]\nkind = "dingtalk"\nsecret = "SEC-very-secret"')
    assert "SEC-very-secret" not in str(info.value)


def test_unknown_channel_lookup_names_configured_ones() -> None:
    with pytest.raises(KeyError, match="unknown channel 'nope'; configured: ops_wecom"):
        _parse(EXAMPLE).channel("nope")
