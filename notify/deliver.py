"""One delivery run: route each alert, honour severity floors and quiet hours, send with
retries, and report one `Delivery` per alert and channel.

De-duplication is by (alert id, channel): an alert id stays the same while its spike is
open, so a pair already sent (the caller passes those in, from the warehouse) is skipped
when the daily flow re-runs. Held (quiet hours) and failed pairs are not in that set, so
the next run that is given the alert again sends them.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from notify.channels import Channel, DeliveryError, build_channel
from notify.message import AlertMessage, severity_rank
from voc.alert_settings import AlertConfig, ChannelConfig, QuietHours

DELIVERY_STATUSES = ("sent", "failed", "held", "skipped")


@dataclass(frozen=True)
class Delivery:
    """The outcome for one alert on one channel.

    Attributes:
        alert_id: The alert.
        channel: The channel name.
        status: ``sent``; ``failed`` (after its retries); ``held`` (quiet hours: a later
            run sends it); ``skipped`` (already sent, disabled, or below a severity floor).
        attempts: Send attempts made in this run (0 when nothing was tried).
        error: Why it failed, was held or was skipped; None when sent.
        at: When this run decided (the `now` it was given).
    """

    alert_id: str
    channel: str
    status: str
    attempts: int
    error: str | None
    at: datetime


def deliver(
    messages: Iterable[AlertMessage],
    config: AlertConfig,
    already_delivered: set[tuple[str, str]],
    now: datetime,
    env: Mapping[str, str] | None = None,
) -> list[Delivery]:
    """Send each alert to its routed channels, at most once per (alert id, channel).

    A channel that fails is retried `retry_attempts` times with a delay doubling from
    `retry_base_delay` (unless the error cannot be cured by waiting, such as a wrong key),
    then recorded as failed; the other channels are delivered regardless.

    Args:
        messages: Alerts to deliver (an alert id given twice is handled once).
        config: The parsed ``[alerts]`` table.
        already_delivered: (alert id, channel) pairs sent earlier; they are skipped.
        now: The current time (timezone-aware), judged against quiet hours.
        env: Where channels read their secrets (default: ``os.environ``).

    Returns:
        One delivery per alert and routed channel, in message then route order.

    Raises:
        ValueError: `now` has no timezone.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    env = os.environ if env is None else env
    local = now.astimezone(ZoneInfo(config.timezone))
    quiet = config.quiet_hours is not None and config.quiet_hours.contains(local.time())
    built: dict[str, Channel | DeliveryError] = {}
    done: set[tuple[str, str]] = set()
    out: list[Delivery] = []
    for msg in messages:
        for name in dict.fromkeys(config.channels_for(msg)):
            key = (msg.alert_id, name)
            if key in done:
                continue
            done.add(key)
            channel_config = config.channel(name)
            reason = _skip_reason(msg, config, channel_config, key in already_delivered)
            if reason:
                out.append(Delivery(msg.alert_id, name, "skipped", 0, reason, now))
            elif quiet and msg.severity != "critical":
                reason = f"quiet hours {_window(config.quiet_hours)} ({config.timezone})"
                out.append(Delivery(msg.alert_id, name, "held", 0, reason, now))
            else:
                if name not in built:
                    built[name] = _build(channel_config, config, env)
                out.append(_send(msg, built[name], channel_config, config, now))
    return out


def count_statuses(deliveries: Iterable[Delivery]) -> dict[str, int]:
    """How many deliveries ended in each status (every status present, 0 included)."""
    counts = Counter(d.status for d in deliveries)
    return {status: counts.get(status, 0) for status in DELIVERY_STATUSES}


def _skip_reason(
    msg: AlertMessage, config: AlertConfig, channel: ChannelConfig, sent_before: bool
) -> str | None:
    if sent_before:
        return "already sent"
    if not channel.enabled:
        return "channel disabled"
    if severity_rank(msg.severity) < severity_rank(config.min_severity):
        return f"below min_severity {config.min_severity}"
    if severity_rank(msg.severity) < severity_rank(channel.min_severity):
        return f"below the channel's min_severity {channel.min_severity}"
    return None


def _window(quiet: QuietHours | None) -> str:
    if quiet is None:
        return ""
    return f"{quiet.start:%H:%M}-{quiet.end:%H:%M}"


def _build(
    channel: ChannelConfig, config: AlertConfig, env: Mapping[str, str]
) -> Channel | DeliveryError:
    try:
        return build_channel(channel, env, config.timeout)
    except DeliveryError as exc:
        return exc


def _send(
    msg: AlertMessage,
    channel: Channel | DeliveryError,
    channel_config: ChannelConfig,
    config: AlertConfig,
    now: datetime,
) -> Delivery:
    if isinstance(channel, DeliveryError):
        return Delivery(msg.alert_id, channel_config.name, "failed", 0, str(channel), now)
    attempts = channel_config.retry_attempts or config.retry_attempts
    delay = (
        channel_config.retry_base_delay
        if channel_config.retry_base_delay is not None
        else config.retry_base_delay
    )
    error = ""
    for attempt in range(1, attempts + 1):
        try:
            channel.send(msg)
            return Delivery(msg.alert_id, channel.name, "sent", attempt, None, now)
        except DeliveryError as exc:
            error = _scrub(str(exc), channel.secrets)
            if not exc.retryable:
                break
        except Exception as exc:
            # A bug in one channel must not stop the others; it is recorded, not retried.
            error = _scrub(f"{type(exc).__name__}: {exc}", channel.secrets)
            break
        if attempt < attempts:
            time.sleep(delay * 2 ** (attempt - 1))
    return Delivery(msg.alert_id, channel.name, "failed", attempt, error, now)


def _scrub(text: str, secrets: Iterable[str]) -> str:
    # Belt and braces: channels never put secrets in errors, but a server might echo one.
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text[:500]
