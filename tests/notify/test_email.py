"""E-mail over a real local SMTP server (aiosmtpd): plain relay, STARTTLS and implicit TLS
with a private CA, login with the password from the environment, UTF-8 subject, escaped
HTML."""

from __future__ import annotations

import email
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest

from notify.channels import DeliveryError, build_channel
from tests.notify.conftest import make_message
from voc.alert_settings import ChannelConfig

pytest.importorskip("aiosmtpd")
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

PASSWORD = "smtp-password-42"


@dataclass
class Mailbox:
    """What the SMTP server received and which logins it saw."""

    port: int = 0
    envelopes: list[Any] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.logins.append((login, password))
        return AuthResult(success=password == PASSWORD, handled=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (it is its own CA)."""
    if not shutil.which("openssl"):
        pytest.skip("openssl not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *(
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
            ),
            *("-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2"),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def _serve(mailbox: Mailbox, **kwargs: Any) -> Iterator[Mailbox]:
    mailbox.port = _free_port()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=mailbox.port,
        authenticator=mailbox.authenticate,
        **kwargs,
    )
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()


@pytest.fixture()
def plain_server() -> Iterator[Mailbox]:
    yield from _serve(Mailbox(), auth_require_tls=False)


def _tls_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*map(str, certificate))
    return context


def _channel(port: int, security: str, **kw: Any) -> ChannelConfig:
    values: dict[str, Any] = dict(
        name="mail",
        kind="email",
        host="127.0.0.1",
        port=port,
        security=security,
        user="voc@example.cn",
        password_env="VOC_SMTP_PASSWORD",
        sender="voc@example.cn",
        recipients=("cx-lead@example.cn", "ops@example.cn"),
        timeout=5.0,
    )
    values.update(kw)
    return ChannelConfig(**values)


def _received(mailbox: Mailbox) -> email.message.EmailMessage:
    (envelope,) = mailbox.envelopes
    return email.message_from_bytes(envelope.original_content, policy=default_policy)


def test_mail_is_multipart_with_utf8_subject_and_escaped_html(plain_server: Mailbox) -> None:
    env = {"VOC_SMTP_PASSWORD": PASSWORD}
    build_channel(_channel(plain_server.port, "none"), env).send(make_message())
    assert plain_server.logins == [("voc@example.cn", PASSWORD)]
    (envelope,) = plain_server.envelopes
    assert envelope.rcpt_tos == ["cx-lead@example.cn", "ops@example.cn"]
    raw = envelope.original_content
    assert b"Subject: =?utf-8?" in raw  # RFC 2047: the Chinese subject is encoded
    mail = _received(plain_server)
    assert mail["Subject"] == "[客声][警告] 物流慢 负面声量激增"
    assert mail.get_content_type() == "multipart/alternative"
    text = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert text.get_content_charset() == "utf-8" and html.get_content_charset() == "utf-8"
    assert "下单三天了还没发货" in text.get_content()
    body = html.get_content()
    assert "<script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<a href='http://dash.example:8501/?alert=a1'>查看详情</a>" in body


def test_wrong_password_fails_without_retry_or_leak(plain_server: Mailbox) -> None:
    channel = build_channel(_channel(plain_server.port, "none"), {"VOC_SMTP_PASSWORD": "nope"})
    with pytest.raises(DeliveryError, match="SMTP login refused") as info:
        channel.send(make_message())
    assert info.value.retryable is False
    assert "nope" not in str(info.value)
    assert plain_server.envelopes == []


def test_non_ascii_password_is_a_clear_error(plain_server: Mailbox) -> None:
    channel = build_channel(_channel(plain_server.port, "none"), {"VOC_SMTP_PASSWORD": "pässwort"})
    with pytest.raises(DeliveryError, match="user and password must be ASCII") as info:
        channel.send(make_message())
    assert "pässwort" not in str(info.value)


def test_starttls_with_a_private_ca(certificate: tuple[Path, Path]) -> None:
    context = _tls_context(certificate)
    for mailbox in _serve(Mailbox(), tls_context=context, require_starttls=True):
        config = _channel(mailbox.port, "starttls", ca_file=str(certificate[0]))
        build_channel(config, {"VOC_SMTP_PASSWORD": PASSWORD}).send(make_message())
        assert _received(mailbox)["Subject"] == "[客声][警告] 物流慢 负面声量激增"
        # Without the CA the certificate is not trusted: no mail, a clear error.
        mailbox.envelopes.clear()
        untrusted = build_channel(
            _channel(mailbox.port, "starttls"), {"VOC_SMTP_PASSWORD": PASSWORD}
        )
        with pytest.raises(DeliveryError, match="CERTIFICATE_VERIFY_FAILED"):
            untrusted.send(make_message())
        assert mailbox.envelopes == []


def test_implicit_tls(certificate: tuple[Path, Path]) -> None:
    # aiosmtpd only knows about STARTTLS sessions; this one is TLS from the first byte.
    context = _tls_context(certificate)
    for mailbox in _serve(Mailbox(), ssl_context=context, auth_require_tls=False):
        config = _channel(mailbox.port, "ssl", ca_file=str(certificate[0]))
        build_channel(config, {"VOC_SMTP_PASSWORD": PASSWORD}).send(make_message())
        assert mailbox.logins == [("voc@example.cn", PASSWORD)]
        assert len(mailbox.envelopes) == 1
