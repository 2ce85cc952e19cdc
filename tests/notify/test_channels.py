"""Each channel against a real local receiver: what goes over the wire, signatures checked
the way the platforms check them, and answers that count as failures."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest

from notify.channels import DeliveryError, build_channel
from tests.notify.conftest import HOSTILE, Received, Receiver, make_message
from voc.alert_settings import ChannelConfig

DING_SECRET = "SECdingtalk-secret-123"
FEISHU_SECRET = "feishu-secret-456"


def _ok(code_key: str = "errcode") -> tuple[int, bytes]:
    return 200, json.dumps({code_key: 0, "msg": "ok"}).encode()


def test_webhook_posts_every_field_and_signs_the_body(receiver: Receiver) -> None:
    config = ChannelConfig("hook", "webhook", url=receiver.url + "/alerts", secret_env="HOOK_SEC")
    build_channel(config, {"HOOK_SEC": "s3cret"}).send(make_message())
    (request,) = receiver.requests
    assert request.path == "/alerts"
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    body = request.json
    assert (body["alert_id"], body["severity"], body["observed"]) == ("a1", "warning", 42)
    assert body["verbatims"][1] == {"text": HOSTILE, "count": 3, "url": None}
    expected = hmac.new(b"s3cret", request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-voc-signature"] == f"sha256={expected}"


def test_wecom_markdown_with_key_from_env(receiver: Receiver) -> None:
    config = ChannelConfig("wx", "wecom", key_env="WX_KEY", base_url=receiver.url + "/send")
    build_channel(config, {"WX_KEY": "k-1/2"}).send(make_message())
    (request,) = receiver.requests
    assert request.path == "/send"
    assert request.query == {"key": ["k-1/2"]}
    assert request.json["msgtype"] == "markdown"
    content = request.json["markdown"]["content"]
    assert content.startswith("### 【警告】客声预警：物流慢 负面声量激增")
    assert "<script>" not in content


def test_wecom_errcode_is_a_failure_without_the_key(receiver: Receiver) -> None:
    receiver.default = (200, b'{"errcode": 93000, "errmsg": "invalid webhook url"}')
    config = ChannelConfig("wx", "wecom", key_env="WX_KEY", base_url=receiver.url + "/send")
    channel = build_channel(config, {"WX_KEY": "TOPSECRETKEY"})
    with pytest.raises(DeliveryError, match="wecom error 93000: invalid webhook url") as info:
        channel.send(make_message())
    assert info.value.retryable is False
    assert "TOPSECRETKEY" not in str(info.value)
    assert channel.secrets == ("TOPSECRETKEY",)


def _dingtalk_judge(request: Received) -> tuple[int, bytes]:
    # What DingTalk does: recompute the sign from the timestamp, reject a stale timestamp.
    timestamp = request.query["timestamp"][0]
    string_to_sign = f"{timestamp}\n{DING_SECRET}".encode()
    digest = hmac.new(DING_SECRET.encode(), string_to_sign, hashlib.sha256).digest()
    fresh = abs(time.time() * 1000 - int(timestamp)) < 3600 * 1000
    if request.query["sign"][0] != base64.b64encode(digest).decode() or not fresh:
        return 200, b'{"errcode": 310000, "errmsg": "sign not match"}'
    return _ok()


def test_dingtalk_signature_is_accepted(receiver: Receiver) -> None:
    receiver.judge = _dingtalk_judge
    url = receiver.url + "/robot/send?access_token=TOKEN"
    env = {"DING_URL": url, "DING_SECRET": DING_SECRET}
    config = ChannelConfig("ding", "dingtalk", url_env="DING_URL", secret_env="DING_SECRET")
    build_channel(config, env).send(make_message())
    (request,) = receiver.requests
    assert request.query["access_token"] == ["TOKEN"]
    body = request.json
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["title"] == "【警告】客声预警：物流慢 负面声量激增"
    assert "\n\n**范围**：主题 物流慢" in body["markdown"]["text"]


def test_dingtalk_wrong_secret_is_rejected(receiver: Receiver) -> None:
    receiver.judge = _dingtalk_judge
    env = {"DING_URL": receiver.url + "/robot/send?access_token=T", "DING_SECRET": "wrong"}
    config = ChannelConfig("ding", "dingtalk", url_env="DING_URL", secret_env="DING_SECRET")
    with pytest.raises(DeliveryError, match="dingtalk error 310000: sign not match"):
        build_channel(config, env).send(make_message())


def _feishu_judge(request: Received) -> tuple[int, bytes]:
    body = request.json
    key = f"{body['timestamp']}\n{FEISHU_SECRET}".encode()
    expected = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    if body.get("sign") != expected:
        return 200, b'{"code": 19021, "msg": "sign match fail or timestamp is not within one hour"}'
    return _ok("code")


def test_feishu_post_signed_in_the_body(receiver: Receiver) -> None:
    receiver.judge = _feishu_judge
    env = {"FS_URL": receiver.url + "/open-apis/bot/v2/hook/abc", "FS_SECRET": FEISHU_SECRET}
    config = ChannelConfig("fs", "feishu", url_env="FS_URL", secret_env="FS_SECRET")
    build_channel(config, env).send(make_message())
    body = receiver.requests[0].json
    assert body["msg_type"] == "post"
    post = body["content"]["post"]["zh_cn"]
    assert post["title"] == "【警告】客声预警：物流慢 负面声量激增"
    links = [e["href"] for p in post["content"] for e in p if e["tag"] == "a"]
    assert links == ["https://weibo.example/p/1", "http://dash.example:8501/?alert=a1"]


def test_feishu_text_and_a_bad_sign_is_a_failure(receiver: Receiver) -> None:
    receiver.judge = _feishu_judge
    env = {"FS_URL": receiver.url + "/hook", "FS_SECRET": "not-the-secret"}
    config = ChannelConfig(
        "fs", "feishu", url_env="FS_URL", secret_env="FS_SECRET", msg_type="text"
    )
    with pytest.raises(DeliveryError, match="feishu error 19021"):
        build_channel(config, env).send(make_message())
    body = receiver.requests[0].json
    assert body["msg_type"] == "text"
    assert body["content"]["text"].startswith("【警告】客声预警")


def test_slack_ok_and_not_ok(receiver: Receiver) -> None:
    receiver.answers = [(200, b"ok"), (400, b"invalid_blocks")]
    config = ChannelConfig("sl", "slack", url_env="SLACK_URL")
    channel = build_channel(config, {"SLACK_URL": receiver.url + "/services/T/B/X"})
    channel.send(make_message())
    body = receiver.requests[0].json
    assert body["text"] == "【警告】客声预警：物流慢 负面声量激增"
    assert body["blocks"][0]["text"]["type"] == "mrkdwn"
    with pytest.raises(DeliveryError, match="HTTP 400: invalid_blocks") as info:
        channel.send(make_message())
    assert info.value.retryable is False


def test_http_errors_say_whether_to_retry(receiver: Receiver) -> None:
    receiver.answers = [(500, b"boom"), (429, b"slow down"), (302, b"")]
    channel = build_channel(ChannelConfig("hook", "webhook", url=receiver.url), {})
    retryable = []
    for _ in range(3):
        with pytest.raises(DeliveryError) as info:
            channel.send(make_message())
        retryable.append((str(info.value).split(":")[0], info.value.retryable))
    assert retryable == [("HTTP 500", True), ("HTTP 429", True), ("HTTP 302", False)]


def test_unreachable_endpoint_and_missing_environment_variable() -> None:
    channel = build_channel(ChannelConfig("hook", "webhook", url="http://127.0.0.1:9/x"), {})
    with pytest.raises(DeliveryError, match="connection failed") as info:
        channel.send(make_message())
    assert info.value.retryable
    config = ChannelConfig("sl", "slack", url_env="VOC_TEST_UNSET_SLACK_URL")
    with pytest.raises(DeliveryError, match="'sl': environment variable VOC_TEST_UNSET") as info:
        build_channel(config, {})
    assert info.value.retryable is False
