"""The planted demo event reaches people: one alert, on the right day, naming the right
theme and aspect, delivered to a local webhook receiver and a local SMTP server, once."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import duckdb
import pytest

pytest.importorskip("aiosmtpd")

from demo.events import PLANTED_EVENTS
from tests.e2e.conftest import E2E_SINCE
from tests.localserver import serve, url_of
from tests.notify.conftest import Receiver, _Handler
from tests.notify.test_email import PASSWORD, Mailbox, _serve

pytestmark = pytest.mark.e2e
EVENT = PLANTED_EVENTS[0]
UNTIL = EVENT.dates[-1]  # the run on the event's last day


def test_the_planted_event_is_one_alert_delivered_to_webhook_and_mail(
    prefect_harness, e2e_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.daily import daily_ingest

    receiver = Receiver(url="")
    with serve(_Handler, receiver=receiver) as hook, _serve_mail() as mailbox:
        monkeypatch.setenv("VOC_TEST_HOOK", url_of(hook) + "/hook")
        monkeypatch.setenv("VOC_TEST_SMTP", PASSWORD)
        config = tmp_path / "voc.toml"
        config.write_text(
            '[alerts]\ndashboard_url = "http://voc.example:8501"\nretry_base_delay = 0.05\n'
            '[alerts.channels.hook]\nkind = "webhook"\nurl_env = "VOC_TEST_HOOK"\n'
            '[alerts.channels.mail]\nkind = "email"\nhost = "127.0.0.1"\n'
            f'port = {mailbox.port}\nsecurity = "none"\nuser = "voc@example.cn"\n'
            'password_env = "VOC_TEST_SMTP"\nsender = "voc@example.cn"\n'
            'recipients = ["pr-lead@example.cn"]\n',
            encoding="utf-8",
        )
        db = tmp_path / "w.duckdb"
        args = dict(config_path=str(config), db_path=str(db), demo_port=e2e_server.port)
        daily_ingest(since=E2E_SINCE, until=UNTIL, **args)
        # The next day's run sees the same open spike: nothing is sent twice.
        daily_ingest(since=UNTIL, until=UNTIL, **args)

    [request] = receiver.requests
    alert = request.json
    assert alert["source"] == EVENT.source and alert["window"].startswith(str(EVENT.start))
    assert alert["severity"] in ("warning", "critical")
    named = " ".join(alert["themes"] + alert["key_phrases"] + [alert["title"]])
    assert any(k in named for k in EVENT.keywords), named
    assert any(a.startswith("物流") for a in alert["aspects"]), alert["aspects"]
    assert 3 <= len(alert["verbatims"]) <= 5
    assert alert["link"] == f"http://voc.example:8501/?alert={alert['alert_id']}"

    [envelope] = mailbox.envelopes
    mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert EVENT.source in mail["Subject"] and mail["To"] == "pr-lead@example.cn"

    with duckdb.connect(str(db), read_only=True) as con:
        sent = con.execute(
            "SELECT alert_id, channel, status FROM alert_deliveries ORDER BY channel"
        ).fetchall()
        episodes = con.execute(
            "SELECT count(*) FROM spike_episodes WHERE key_kind = 'source' AND key_value = ? "
            "AND metric = 'negative_volume' AND granularity = 'day'",
            [EVENT.source],
        ).fetchone()[0]
    assert sent == [(alert["alert_id"], "hook", "sent"), (alert["alert_id"], "mail", "sent")]
    assert episodes == 1


def _serve_mail():
    from contextlib import contextmanager

    @contextmanager
    def run():
        yield from _serve(Mailbox(), auth_require_tls=False)

    return run()
