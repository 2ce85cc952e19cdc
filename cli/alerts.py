"""``voc alerts test --channel NAME``: send a sample alert (marked 测试) through one channel."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from notify.channels import DeliveryError, build_channel
from notify.message import AlertMessage, Verbatim, drilldown_url
from voc.alert_settings import AlertConfig, ChannelConfig, load_alert_config


def add_alerts_parser(subparsers: Any) -> None:
    """Add ``alerts test`` to a `voc` sub-command parser (`add_subparsers()` result)."""
    parent = subparsers.add_parser("alerts", help="告警投递 alert delivery")
    sub = parent.add_subparsers(dest="alerts_command", required=True, metavar="COMMAND")
    p = sub.add_parser(
        "test",
        help="发送一条测试告警 send a sample alert (marked 测试) through one channel",
    )
    p.add_argument("--channel", required=True, help="a channel name under [alerts.channels]")
    p.add_argument("--config", help="TOML settings file with an [alerts] table (or $VOC_CONFIG)")
    p.set_defaults(func=cmd_alerts_test)


def sample_message(config: AlertConfig, now: datetime) -> AlertMessage:
    """A realistic alert clearly marked as a test, for checking a channel end to end."""
    alert_id = f"test-{now:%Y%m%d%H%M%S}"
    link = drilldown_url(config.dashboard_url, alert=alert_id) if config.dashboard_url else None
    return AlertMessage(
        alert_id=alert_id,
        severity="warning",
        title="【测试】物流慢 负面声量激增（这是一条测试消息 test message）",
        source="demo_weibo",
        scope="主题 物流慢",
        window=f"{now:%Y-%m-%d}",
        metric="negative_volume",
        observed=42,
        expected=8,
        statistic="z = 5.1，5.3 倍",
        themes=("物流慢", "客服不回复"),
        aspects=("物流", "客服"),
        key_phrases=("三天没发货", "催了也没用"),
        verbatims=(
            Verbatim("下单三天了还没发货，客服也不回（测试）", 12, None),
            Verbatim("物流一直显示待揽收（测试）", 5, None),
        ),
        link=link,
        categories=("物流",),
        kind="test",
    )


def cmd_alerts_test(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> int:
    """Handler of ``voc alerts test``: 0 sent, 1 the channel failed, 2 bad config/channel."""
    env = os.environ if env is None else env
    path = args.config or env.get("VOC_CONFIG")
    if not path:
        print(
            "错误：未指定配置文件 / error: no config file (use --config or set VOC_CONFIG)",
            file=sys.stderr,
        )
        return 2
    try:
        config = load_alert_config(path)
        channel_config = config.channel(args.channel)
    except ValueError as exc:
        print(f"错误 / error: {exc}", file=sys.stderr)
        return 2
    except KeyError:
        configured = ", ".join(c.name for c in config.channels) or "无 none"
        print(
            f"错误：未知渠道 {args.channel!r} / error: unknown channel {args.channel!r}; "
            f"已配置 configured: {configured}",
            file=sys.stderr,
        )
        return 2
    message = sample_message(config, datetime.now().astimezone())
    label = f"{channel_config.name} ({channel_config.kind})"
    try:
        channel = build_channel(channel_config, env, config.timeout)
        channel.send(message)
    except DeliveryError as exc:
        # Errors never carry secrets, but a server may echo one back.
        error = str(exc)
        for secret in _secrets(channel_config, env):
            error = error.replace(secret, "***")
        print(f"发送失败 {label} / sending failed: {error}", file=sys.stderr)
        return 1
    print(f"测试告警已发送到 {label} / test alert sent to {label}")
    return 0


def _secrets(config: ChannelConfig, env: Mapping[str, str]) -> list[str]:
    names = (config.url_env, config.key_env, config.secret_env, config.password_env)
    return [env[n] for n in names if n and env.get(n)]
