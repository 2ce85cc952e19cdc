"""The ``[alerts]`` settings table: channels, routes, severity floor, quiet hours, retries.

Settings, not delivery: `voc.settings` builds these, `notify` reads them.

Secrets never appear here: a channel names the environment variables that hold its key,
signing secret, password or token-bearing webhook URL (``key_env``, ``secret_env``,
``password_env``, ``url_env``), and they are read only when the channel is built.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: Alert severities, least severe first.
SEVERITIES = ("info", "warning", "critical")
CHANNEL_KINDS = ("webhook", "wecom", "dingtalk", "feishu", "slack", "email")

_COMMON_KEYS = {"kind", "enabled", "min_severity", "retry_attempts", "retry_base_delay", "timeout"}
#: Connection keys each kind accepts (besides the common ones).
_KIND_KEYS = {
    "webhook": {"url", "url_env", "secret_env"},
    "wecom": {"key_env", "url_env", "base_url"},
    "dingtalk": {"url_env", "secret_env"},
    "feishu": {"url_env", "secret_env", "msg_type"},
    "slack": {"url_env"},
    "email": {
        "host",
        "port",
        "security",
        "user",
        "password_env",
        "sender",
        "recipients",
        "ca_file",
    },
}
#: Keys people write by habit that would put a secret in the file.
_SECRET_KEYS = {
    "key": "key_env",
    "secret": "secret_env",
    "password": "password_env",
    "token": "url_env",
    "access_token": "url_env",
}
_QUIET = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_ROUTE_CRITERIA = ("severity", "source", "scope", "kind", "category", "segment")
WECOM_BASE_URL = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"


class RoutedAlert(Protocol):
    """What routing reads of an alert (`notify.message.AlertMessage` has it all)."""

    severity: str
    source: str
    scope: str
    kind: str
    categories: tuple[str, ...]
    segments: tuple[str, ...]  # customer segments (高价值 ...); empty when none


@dataclass(frozen=True)
class QuietHours:
    """A daily window, possibly across midnight, during which only critical alerts go out."""

    start: time
    end: time

    def contains(self, moment: time) -> bool:
        """Whether a local time of day falls inside the window (start included, end not)."""
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end


@dataclass(frozen=True)
class ChannelConfig:
    """One configured channel.

    Attributes:
        name: The table name under ``[alerts.channels]``.
        kind: ``webhook``, ``wecom``, ``dingtalk``, ``feishu``, ``slack`` or ``email``.
        enabled: A disabled channel receives nothing (its deliveries are ``skipped``).
        min_severity: The least severe alert this channel receives.
        url: Generic webhook URL without a token in it (else use `url_env`).
        url_env: Variable holding a webhook URL (WeCom, DingTalk, Feishu and Slack URLs
            embed their token).
        key_env: Variable holding the WeCom robot key (alternative to `url_env`).
        secret_env: Variable holding the DingTalk/Feishu signing secret, or the generic
            webhook's HMAC secret (sent as ``X-VOC-Signature``).
        base_url: WeCom endpoint the key is appended to (default: the public one).
        msg_type: Feishu message type, ``post`` (rich text) or ``text``.
        host: SMTP server.
        port: SMTP port (default 465 for ``ssl``, 587 for ``starttls``, 25 for ``none``).
        security: ``ssl`` (implicit TLS), ``starttls`` or ``none`` (local relays only).
        user: SMTP login; with `password_env`.
        password_env: Variable holding the SMTP password.
        sender: The From address.
        recipients: The To addresses.
        ca_file: CA bundle for a mail server with a private certificate authority.
        retry_attempts: Attempts before the delivery counts as failed (default: global).
        retry_base_delay: Seconds before the first retry, doubled each time (default: global).
        timeout: Seconds per attempt (default: global).
    """

    name: str
    kind: str
    enabled: bool = True
    min_severity: str = "info"
    url: str | None = None
    url_env: str | None = None
    key_env: str | None = None
    secret_env: str | None = None
    base_url: str | None = None
    msg_type: str = "post"
    host: str | None = None
    port: int | None = None
    security: str = "ssl"
    user: str | None = None
    password_env: str | None = None
    sender: str | None = None
    recipients: tuple[str, ...] = ()
    ca_file: str | None = None
    retry_attempts: int | None = None
    retry_base_delay: float | None = None
    timeout: float | None = None


@dataclass(frozen=True)
class Route:
    """Which channels an alert goes to.

    Every criterion given must match; an omitted one matches everything. A criterion lists
    values, any of which may match; source, scope, kind, category and segment are
    shell-style globs (``demo_*``, ``主题 物流*``, ``高价值*``); category and segment match if
    any of the alert's categories or customer segments does (an alert about no segment
    never matches a segment criterion).
    """

    channels: tuple[str, ...]
    severity: tuple[str, ...] = ()
    source: tuple[str, ...] = ()
    scope: tuple[str, ...] = ()
    kind: tuple[str, ...] = ()
    category: tuple[str, ...] = ()
    segment: tuple[str, ...] = ()

    def matches(self, msg: RoutedAlert) -> bool:
        """Whether every given criterion matches the message."""
        if self.severity and msg.severity not in self.severity:
            return False
        for patterns, value in (
            (self.source, msg.source),
            (self.scope, msg.scope),
            (self.kind, msg.kind),
        ):
            if patterns and not any(fnmatch.fnmatchcase(value, p) for p in patterns):
                return False
        for patterns, values in (
            (self.category, msg.categories),
            (self.segment, msg.segments),
        ):
            if patterns and not any(fnmatch.fnmatchcase(v, p) for v in values for p in patterns):
                return False
        return True


@dataclass(frozen=True)
class AlertConfig:
    """The parsed ``[alerts]`` table.

    Attributes:
        channels: Configured channels, in file order.
        routes: Routes in file order; the first that matches decides (see `channels_for`).
        dashboard_url: Base URL of the dashboard, for drill-down links.
        timezone: IANA zone quiet hours are read in.
        quiet_hours: Window in which only critical alerts are sent; the rest are held.
        min_severity: Alerts below this are not sent anywhere.
        retry_attempts: Attempts per channel before a delivery counts as failed.
        retry_base_delay: Seconds before the first retry, doubled each time.
        timeout: Seconds per HTTP request or SMTP session.
    """

    channels: tuple[ChannelConfig, ...] = ()
    routes: tuple[Route, ...] = ()
    dashboard_url: str | None = None
    timezone: str = "Asia/Shanghai"
    quiet_hours: QuietHours | None = None
    min_severity: str = "info"
    retry_attempts: int = 3
    retry_base_delay: float = 2.0
    timeout: float = 10.0

    def channel(self, name: str) -> ChannelConfig:
        """The channel called `name`.

        Raises:
            KeyError: naming the configured channels.
        """
        for channel in self.channels:
            if channel.name == name:
                return channel
        configured = ", ".join(c.name for c in self.channels) or "none"
        raise KeyError(f"unknown channel {name!r}; configured: {configured}")

    def channels_for(self, msg: RoutedAlert) -> tuple[str, ...]:
        """Channel names an alert is routed to: those of the first matching route, or
        every channel when no route is configured or none matches."""
        for route in self.routes:
            if route.matches(msg):
                return route.channels
        return tuple(c.name for c in self.channels)


def load_alert_config(path: str | Path) -> AlertConfig:
    """Read the ``[alerts]`` table of a TOML settings file.

    Raises:
        ValueError: the file is missing, is not TOML, has no ``[alerts]`` table, or the
            table is invalid (naming the key).
    """
    path = Path(path)
    try:
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError:
        raise ValueError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: invalid TOML: {exc}") from None
    table = raw.get("alerts")
    if not isinstance(table, dict):
        raise ValueError(f"{path}: no [alerts] table")
    return parse_alert_config(table, str(path))


def parse_alert_config(table: Mapping[str, Any], origin: str) -> AlertConfig:
    """Build an `AlertConfig` from the ``[alerts]`` table of a TOML file.

    Args:
        table: The table's contents (``tomllib`` output).
        origin: The file name, for error messages.

    Raises:
        ValueError: naming the file and the offending key.
    """
    where = f"{origin}: [alerts]"
    known = {
        "dashboard_url",
        "timezone",
        "quiet_hours",
        "min_severity",
        "retry_attempts",
        "retry_base_delay",
        "timeout",
        "channels",
        "routes",
    }
    _no_unknown(table, known, where)
    values: dict[str, Any] = {}
    if table.get("dashboard_url") is not None:
        values["dashboard_url"] = _str(table, "dashboard_url", where)
    if "timezone" in table:
        values["timezone"] = _str(table, "timezone", where)
        try:
            ZoneInfo(values["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{where}: timezone: unknown zone {values['timezone']!r}") from None
    if table.get("quiet_hours"):
        values["quiet_hours"] = _quiet_hours(table["quiet_hours"], where)
    if "min_severity" in table:
        values["min_severity"] = _severity(table["min_severity"], f"{where}: min_severity")
    values.update(_retry_fields(table, where))

    raw_channels = table.get("channels", {})
    if not isinstance(raw_channels, Mapping):
        raise ValueError(f"{where}: channels must be a table of [alerts.channels.NAME] tables")
    channels = tuple(_channel(name, spec, origin) for name, spec in raw_channels.items())
    names = {c.name for c in channels}

    raw_routes = table.get("routes", [])
    if not isinstance(raw_routes, list):
        raise ValueError(f"{where}: routes must be an array of [[alerts.routes]] tables")
    routes = tuple(_route(i, spec, names, origin) for i, spec in enumerate(raw_routes, 1))
    return AlertConfig(channels=channels, routes=routes, **values)


def _no_unknown(table: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise ValueError(f"{where}: unknown key(s): {', '.join(unknown)}")


def _str(table: Mapping[str, Any], key: str, where: str) -> str:
    value = table[key]
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where}: {key} must be a non-empty string, got {value!r}")
    return value.strip()


def _severity(value: Any, where: str) -> str:
    if value not in SEVERITIES:
        raise ValueError(f"{where} must be one of {', '.join(SEVERITIES)}, got {value!r}")
    return value


def _quiet_hours(value: Any, where: str) -> QuietHours:
    match = _QUIET.match(value) if isinstance(value, str) else None
    if not match:
        raise ValueError(f'{where}: quiet_hours must look like "22:00-08:00", got {value!r}')
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise ValueError(f"{where}: quiet_hours has an impossible time: {value!r}")
    if (h1, m1) == (h2, m2):
        raise ValueError(f"{where}: quiet_hours starts and ends at the same time: {value!r}")
    return QuietHours(time(h1, m1), time(h2, m2))


def _retry_fields(table: Mapping[str, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "retry_attempts" in table:
        value = table["retry_attempts"]
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 10:
            raise ValueError(f"{where}: retry_attempts must be an integer from 1 to 10")
        out["retry_attempts"] = value
    for key in ("retry_base_delay", "timeout"):
        if key in table:
            value = table[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{where}: {key} must be a number of seconds ≥ 0, got {value!r}")
            if key == "timeout" and value == 0:
                raise ValueError(f"{where}: timeout must be more than 0 seconds")
            out[key] = float(value)
    return out


def _channel(name: str, spec: Any, origin: str) -> ChannelConfig:
    where = f"{origin}: [alerts.channels.{name}]"
    if not isinstance(spec, Mapping):
        raise ValueError(f"{where} must be a table")
    kind = spec.get("kind")
    if kind not in CHANNEL_KINDS:
        raise ValueError(f"{where}: kind must be one of {', '.join(CHANNEL_KINDS)}, got {kind!r}")
    secrets = sorted(set(spec) & set(_SECRET_KEYS))
    if secrets:
        raise ValueError(
            f"{where}: {secrets[0]} must not be written in the file: put it in an environment "
            f"variable and name that variable with {_SECRET_KEYS[secrets[0]]}"
        )
    if kind != "webhook" and "url" in spec:
        raise ValueError(f"{where}: a {kind} webhook URL embeds its token: use url_env")
    _no_unknown(spec, _COMMON_KEYS | _KIND_KEYS[kind], where)

    values: dict[str, Any] = {"name": name, "kind": kind}
    if "enabled" in spec:
        if not isinstance(spec["enabled"], bool):
            raise ValueError(f"{where}: enabled must be true or false")
        values["enabled"] = spec["enabled"]
    if "min_severity" in spec:
        values["min_severity"] = _severity(spec["min_severity"], f"{where}: min_severity")
    values.update(_retry_fields(spec, where))
    for key in _KIND_KEYS[kind] - {"port", "recipients"}:
        if key in spec:
            values[key] = _str(spec, key, where)
    if "port" in spec:
        port = spec["port"]
        if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
            raise ValueError(f"{where}: port must be an integer from 1 to 65535, got {port!r}")
        values["port"] = port
    if "recipients" in spec:
        recipients = spec["recipients"]
        if isinstance(recipients, str):
            recipients = [recipients]
        if not isinstance(recipients, list) or not all(
            isinstance(r, str) and "@" in r for r in recipients
        ):
            raise ValueError(f"{where}: recipients must be a list of e-mail addresses")
        values["recipients"] = tuple(recipients)

    config = ChannelConfig(**values)
    _check_required(config, where)
    return config


def _check_required(c: ChannelConfig, where: str) -> None:
    if c.kind == "webhook" and bool(c.url) == bool(c.url_env):
        raise ValueError(f"{where}: give exactly one of url or url_env")
    if c.kind == "wecom" and bool(c.key_env) == bool(c.url_env):
        raise ValueError(f"{where}: give exactly one of key_env or url_env")
    if c.kind in ("dingtalk", "feishu", "slack") and not c.url_env:
        raise ValueError(f"{where}: url_env is required (the variable holding the webhook URL)")
    if c.kind == "feishu" and c.msg_type not in ("post", "text"):
        raise ValueError(f"{where}: msg_type must be post or text, got {c.msg_type!r}")
    for key in ("url", "base_url"):
        value = getattr(c, key)
        if value and not re.match(r"(?i)^https?://", value):
            raise ValueError(f"{where}: {key} must be an http(s) URL, got {value!r}")
    if c.kind == "email":
        if not c.host:
            raise ValueError(f"{where}: host is required")
        if not c.sender or "@" not in c.sender:
            raise ValueError(f"{where}: sender must be an e-mail address")
        if not c.recipients:
            raise ValueError(f"{where}: recipients is required")
        if c.security not in ("ssl", "starttls", "none"):
            raise ValueError(f"{where}: security must be ssl, starttls or none")
        if bool(c.user) != bool(c.password_env):
            raise ValueError(f"{where}: user and password_env go together")


def _route(index: int, spec: Any, channel_names: set[str], origin: str) -> Route:
    where = f"{origin}: [[alerts.routes]] #{index}"
    if not isinstance(spec, Mapping):
        raise ValueError(f"{where} must be a table")
    _no_unknown(spec, {"channels", *_ROUTE_CRITERIA}, where)
    if "channels" not in spec:
        raise ValueError(f"{where}: channels is required (an empty list drops the alert)")
    values: dict[str, tuple[str, ...]] = {}
    for key in ("channels", *_ROUTE_CRITERIA):
        if key not in spec:
            continue
        raw = spec[key]
        items = [raw] if isinstance(raw, str) else raw
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise ValueError(f"{where}: {key} must be a string or a list of strings")
        values[key] = tuple(items)
    for severity in values.get("severity", ()):
        _severity(severity, f"{where}: severity")
    unknown = [c for c in values["channels"] if c not in channel_names]
    if unknown:
        configured = ", ".join(sorted(channel_names)) or "none"
        raise ValueError(
            f"{where}: channels: unknown channel {unknown[0]!r}; configured: {configured}"
        )
    return Route(**values)
