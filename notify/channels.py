"""Channels behind one small interface: ``send(message)`` returns or raises `DeliveryError`.

Generic JSON webhook, 企业微信 (WeCom) group robot, 钉钉 (DingTalk) robot with signing,
飞书 (Feishu) bot with optional signing, Slack incoming webhook, and e-mail over SMTP.
Secrets are read from the environment when a channel is built, kept on the channel for
the request only, and listed in ``secrets`` so callers can scrub them from any text they
keep. Error messages name the channel, never its URL (WeCom, DingTalk, Feishu and Slack
URLs embed their token).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Protocol
from urllib.parse import quote, quote_plus

from notify.message import (
    AlertMessage,
    headline,
    render_email,
    render_feishu_post,
    render_feishu_text,
    render_markdown,
    render_slack,
    to_payload,
)
from voc.alert_settings import WECOM_BASE_URL, ChannelConfig

#: Error codes that mean "sent too fast": worth a retry after the backoff.
_RATE_LIMIT_CODES = {"wecom": {45009}, "dingtalk": {130101}, "feishu": {11232}}
_USER_AGENT = "voc-monitor-notify/1"


class DeliveryError(RuntimeError):
    """A channel did not accept a message.

    Attributes:
        retryable: Whether trying again may help (a timeout, HTTP 5xx or 429, a rate limit)
            or not (a wrong key, a refused recipient, a missing environment variable).
    """

    def __init__(self, message: str, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class Channel(Protocol):
    """Anything that can deliver an alert message."""

    name: str
    secrets: tuple[str, ...]

    def send(self, message: AlertMessage) -> None:
        """Deliver `message` or raise `DeliveryError`."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A robot endpoint never redirects; following one would re-send the body (and a token
    # in the URL) to wherever it points, or silently turn the POST into a GET.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _post_json(
    url: str, payload: Any, timeout: float, headers: Mapping[str, str] | None = None
) -> bytes:
    """POST JSON and return the body of a 2xx answer; anything else is a DeliveryError."""
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": _USER_AGENT,
            **(headers or {}),
        },
    )
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.read(1 << 16)
    except urllib.error.HTTPError as exc:
        detail = exc.read(300).decode("utf-8", "replace").strip()
        if 300 <= exc.code < 400:
            raise DeliveryError(f"HTTP {exc.code}: redirects are not followed", False) from None
        retryable = exc.code == 429 or exc.code >= 500
        raise DeliveryError(f"HTTP {exc.code}: {detail or exc.reason}", retryable) from None
    except urllib.error.URLError as exc:
        raise DeliveryError(f"connection failed: {exc.reason}") from None
    except (TimeoutError, OSError) as exc:
        raise DeliveryError(f"connection failed: {exc}") from None


def _json_answer(raw: bytes, kind: str, code_keys: tuple[str, ...]) -> None:
    """Raise unless the robot's JSON answer carries a zero code."""
    try:
        answer = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise DeliveryError(f"{kind} answered with something that is not JSON") from None
    if not isinstance(answer, dict):
        raise DeliveryError(f"{kind} answered with a JSON {type(answer).__name__}")
    code = next((answer[k] for k in code_keys if k in answer), None)
    if code != 0:
        message = answer.get("errmsg") or answer.get("msg") or answer.get("StatusMessage")
        retryable = code in _RATE_LIMIT_CODES.get(kind, set())
        raise DeliveryError(f"{kind} error {code}: {message}", retryable)


def _hmac_b64(key: bytes, msg: bytes) -> str:
    return base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode("ascii")


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's signature: base64(HmacSHA256(secret, "timestamp\\nsecret")), URL-encoded."""
    return quote_plus(_hmac_b64(secret.encode(), f"{timestamp_ms}\n{secret}".encode()))


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu's signature: base64(HmacSHA256(key="timestamp\\nsecret", msg=b""))."""
    return _hmac_b64(f"{timestamp_s}\n{secret}".encode(), b"")


@dataclass
class WebhookChannel:
    """POSTs the alert's fields as JSON; with a secret, signs the body in ``X-VOC-Signature``
    (``sha256=`` + hex HmacSHA256 of the raw body). Any 2xx answer is success."""

    name: str
    url: str
    timeout: float
    secret: str | None = None
    secrets: tuple[str, ...] = field(default=())

    def send(self, message: AlertMessage) -> None:
        payload = to_payload(message)
        headers = {}
        if self.secret:
            body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            digest = hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
            headers["X-VOC-Signature"] = f"sha256={digest}"
        _post_json(self.url, payload, self.timeout, headers)


@dataclass
class WeComChannel:
    """企业微信 group robot, ``msgtype = markdown`` (content ≤ 4096 bytes)."""

    name: str
    url: str
    timeout: float
    secrets: tuple[str, ...] = field(default=())

    def send(self, message: AlertMessage) -> None:
        payload = {"msgtype": "markdown", "markdown": {"content": render_markdown(message)}}
        _json_answer(_post_json(self.url, payload, self.timeout), "wecom", ("errcode",))


@dataclass
class DingTalkChannel:
    """钉钉 robot, ``msgtype = markdown``; with a secret, signed in the query string."""

    name: str
    url: str
    timeout: float
    secret: str | None = None
    secrets: tuple[str, ...] = field(default=())

    def send(self, message: AlertMessage) -> None:
        url = self.url
        if self.secret:
            timestamp = int(time.time() * 1000)
            joiner = "&" if "?" in url else "?"
            url += f"{joiner}timestamp={timestamp}&sign={dingtalk_sign(self.secret, timestamp)}"
        payload = {
            "msgtype": "markdown",
            "markdown": {"title": headline(message), "text": render_markdown(message, "dingtalk")},
        }
        _json_answer(_post_json(url, payload, self.timeout), "dingtalk", ("errcode",))


@dataclass
class FeishuChannel:
    """飞书 bot, ``msg_type`` post (rich text) or text; with a secret, signed in the body."""

    name: str
    url: str
    timeout: float
    msg_type: str = "post"
    secret: str | None = None
    secrets: tuple[str, ...] = field(default=())

    def send(self, message: AlertMessage) -> None:
        payload: dict[str, Any]
        if self.msg_type == "text":
            payload = {"msg_type": "text", "content": {"text": render_feishu_text(message)}}
        else:
            payload = {"msg_type": "post", "content": render_feishu_post(message)}
        if self.secret:
            timestamp = int(time.time())
            payload = {
                "timestamp": str(timestamp),
                "sign": feishu_sign(self.secret, timestamp),
                **payload,
            }
        # Older Feishu answers carry StatusCode, newer ones code.
        raw = _post_json(self.url, payload, self.timeout)
        _json_answer(raw, "feishu", ("code", "StatusCode"))


@dataclass
class SlackChannel:
    """Slack incoming webhook: notification text plus a mrkdwn section; answers ``ok``."""

    name: str
    url: str
    timeout: float
    secrets: tuple[str, ...] = field(default=())

    def send(self, message: AlertMessage) -> None:
        raw = _post_json(self.url, render_slack(message), self.timeout)
        answer = raw.decode("utf-8", "replace").strip()
        if answer != "ok":
            raise DeliveryError(f"slack answered {answer[:200]!r} instead of 'ok'", False)


@dataclass
class EmailChannel:
    """E-mail over SMTP (implicit TLS, STARTTLS or, for local relays, plain): a multipart
    plain-text + HTML message with a UTF-8 subject."""

    name: str
    host: str
    port: int
    security: str
    sender: str
    recipients: tuple[str, ...]
    timeout: float
    user: str | None = None
    password: str | None = None
    ca_file: str | None = None
    secrets: tuple[str, ...] = field(default=())

    def build(self, message: AlertMessage) -> EmailMessage:
        """The e-mail for `message` (exposed so its rendering can be inspected)."""
        parts = render_email(message)
        mail = EmailMessage()
        mail["Subject"] = parts.subject
        mail["From"] = self.sender
        mail["To"] = ", ".join(self.recipients)
        mail["Date"] = formatdate(localtime=True)
        mail["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2] or None)
        mail.set_content(parts.text, charset="utf-8")
        mail.add_alternative(parts.html, subtype="html", charset="utf-8")
        return mail

    def send(self, message: AlertMessage) -> None:
        mail = self.build(message)
        context = ssl.create_default_context(cafile=self.ca_file)
        try:
            if self.security == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=context
                )
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with smtp:
                if self.security == "starttls":
                    smtp.starttls(context=context)
                if self.user:
                    smtp.login(self.user, self.password or "")
                smtp.send_message(mail)
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"SMTP login refused ({exc.smtp_code})", False) from None
        except smtplib.SMTPRecipientsRefused as exc:
            refused = ", ".join(sorted(exc.recipients))
            raise DeliveryError(f"SMTP recipients refused: {refused}", False) from None
        except smtplib.SMTPResponseException as exc:
            text = exc.smtp_error.decode("utf-8", "replace") if exc.smtp_error else ""
            raise DeliveryError(
                f"SMTP error {exc.smtp_code}: {text}", 400 <= exc.smtp_code < 500
            ) from None
        except UnicodeEncodeError:
            # smtplib sends AUTH credentials as ASCII only.
            raise DeliveryError("SMTP login: user and password must be ASCII", False) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise DeliveryError(f"SMTP server: {exc}", False) from None
        except (smtplib.SMTPException, ssl.SSLError, OSError) as exc:
            raise DeliveryError(f"SMTP connection to {self.host}:{self.port}: {exc}") from None


def _env(env: Mapping[str, str], var: str | None, channel: str) -> str | None:
    if not var:
        return None
    value = env.get(var, "").strip()
    if not value:
        raise DeliveryError(
            f"channel {channel!r}: environment variable {var} is not set", retryable=False
        )
    return value


def build_channel(
    config: ChannelConfig, env: Mapping[str, str], default_timeout: float = 10.0
) -> Channel:
    """Make the channel `config` describes, reading its secrets from `env`.

    Raises:
        DeliveryError: a named environment variable is not set (not retryable).
    """
    timeout = config.timeout if config.timeout is not None else default_timeout
    name = config.name
    url = _env(env, config.url_env, name)
    secret = _env(env, config.secret_env, name)
    found = tuple(s for s in (url, secret) if s)
    if config.kind == "webhook":
        return WebhookChannel(name, url or config.url or "", timeout, secret, found)
    if config.kind == "wecom":
        key = _env(env, config.key_env, name)
        if key:
            url = f"{config.base_url or WECOM_BASE_URL}?key={quote(key, safe='')}"
            found += (key,)
        return WeComChannel(name, url or "", timeout, found)
    if config.kind == "dingtalk":
        return DingTalkChannel(name, url or "", timeout, secret, found)
    if config.kind == "feishu":
        return FeishuChannel(name, url or "", timeout, config.msg_type, secret, found)
    if config.kind == "slack":
        return SlackChannel(name, url or "", timeout, found)
    if config.kind == "email":
        password = _env(env, config.password_env, name)
        port = config.port or {"ssl": 465, "starttls": 587}.get(config.security, 25)
        return EmailChannel(
            name,
            config.host or "",
            port,
            config.security,
            config.sender or "",
            config.recipients,
            timeout,
            config.user,
            password,
            config.ca_file,
            tuple(s for s in (password,) if s),
        )
    raise ValueError(f"channel {name!r}: unknown kind {config.kind!r}")
