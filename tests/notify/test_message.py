"""Rendering per channel format: hostile user text neutralised, limits met by dropping
verbatims (never the header)."""

from __future__ import annotations

import re

import pytest

from notify.message import (
    DINGTALK_MARKDOWN_MAX_CHARS,
    SLACK_SECTION_MAX_CHARS,
    WECOM_MARKDOWN_MAX_BYTES,
    AlertMessage,
    Verbatim,
    drilldown_url,
    render_email,
    render_feishu_post,
    render_feishu_text,
    render_markdown,
    render_slack,
    render_text,
    safe_url,
    to_payload,
)
from tests.notify.conftest import make_message


def _many_long_verbatims(n: int = 60) -> list[Verbatim]:
    return [Verbatim(f"第{i}条：" + "快递太慢了还没到货" * 30, n - i, None) for i in range(n)]


def test_markdown_neutralises_hostile_verbatims() -> None:
    for flavor in ("wecom", "dingtalk"):
        md = render_markdown(make_message(), flavor)
        assert "<script>" not in md
        assert "**bold**" not in md
        assert "[link]" not in md
        assert "](http://evil" not in md
        # Defanged: not clickable, still readable.
        assert "http://evil.example" not in md
        assert "http：//evil.example" in md
        # Our own markup survives: bold labels and the links we add.
        assert "**范围**：主题 物流慢" in md
        assert "[原文](https://weibo.example/p/1)" in md
        assert "[查看详情](http://dash.example:8501/?alert=a1)" in md


def test_slack_escapes_angle_brackets_and_formatting() -> None:
    message = make_message(verbatims=[("<!channel> *urgent* `x` <http://evil|click>", 1, None)])
    text = render_slack(message)["blocks"][0]["text"]["text"]
    assert "<!channel>" not in text
    assert "&lt;!channel&gt;" in text
    assert "*urgent*" not in text and "`x`" not in text
    assert "<http://evil|click>" not in text
    assert "<http://dash.example:8501/?alert=a1|查看详情>" in text


def test_feishu_cannot_mention_everyone_from_a_verbatim() -> None:
    message = make_message(verbatims=[('<at user_id="all">所有人</at> 快来', 1, None)])
    assert "<at" not in render_feishu_text(message)
    paragraphs = render_feishu_post(message)["post"]["zh_cn"]["content"]
    texts = [e.get("text", "") for p in paragraphs for e in p]
    assert not any("<at" in t for t in texts)
    assert any("＜at" in t for t in texts)


def test_email_html_escapes_every_user_text() -> None:
    message = make_message(title="<b>标题</b>", scope="主题 <i>x</i>", themes=["<img src=x>"])
    parts = render_email(message)
    assert "<script>" not in parts.html and "<img" not in parts.html
    assert "&lt;script&gt;" in parts.html
    assert "&lt;b&gt;标题&lt;/b&gt;" in parts.html
    assert "&lt;i&gt;x&lt;/i&gt;" in parts.html
    assert parts.subject == "[客声][警告] <b>标题</b>"
    assert "<script>alert(1)</script>" in parts.text  # plain text keeps the voice as said


def test_wecom_markdown_fits_4096_bytes_by_dropping_verbatims() -> None:
    message = make_message(verbatims=_many_long_verbatims())
    md = render_markdown(message, "wecom")
    assert len(md.encode("utf-8")) <= WECOM_MARKDOWN_MAX_BYTES
    assert md.startswith("### 【警告】客声预警：物流慢 负面声量激增\n**范围**：主题 物流慢")
    shown = len(re.findall(r"^\d+\. 「", md, flags=re.M))
    assert 0 < shown < 60
    assert f"……另有 {60 - shown} 条原声未显示" in md
    assert md.endswith("告警编号：a1")  # the footer (link, id) is kept too
    # Each verbatim is cut to a readable length.
    assert "…」×" in md


def test_dingtalk_and_slack_limits_in_characters() -> None:
    message = make_message(verbatims=_many_long_verbatims(200))
    md = render_markdown(message, "dingtalk")
    assert len(md) <= DINGTALK_MARKDOWN_MAX_CHARS
    assert "**主题**：物流慢、客服不回复" in md
    assert "条原声未显示" in md
    slack = render_slack(message)["blocks"][0]["text"]["text"]
    assert len(slack) <= SLACK_SECTION_MAX_CHARS
    assert "*主题*：物流慢、客服不回复" in slack


def test_header_is_never_cut_even_without_room_for_any_verbatim() -> None:
    message = make_message(
        title="很长的标题" * 100,
        themes=["主题" * 40] * 20,
        verbatims=_many_long_verbatims(5),
    )
    md = render_markdown(message, "wecom")
    assert md.startswith("### 【警告】客声预警：很长的标题")
    # Titles and list items are capped so the header always fits.
    assert len(md.encode("utf-8")) <= WECOM_MARKDOWN_MAX_BYTES
    themes_line = next(line for line in md.splitlines() if line.startswith("**主题**"))
    assert themes_line.count("、") == 5  # six themes at most
    assert all(len(t) == 30 for t in themes_line.removeprefix("**主题**：").split("、"))


def test_share_metrics_as_percentages_and_links_validated() -> None:
    message = make_message(metric="negative_share", observed=0.425, expected=0.1)
    assert "负面占比：42.5%，预期 10.0%" in render_text(message)
    assert safe_url("javascript:alert(1)") is None
    assert safe_url("https://x.example/a b(c)") == "https://x.example/a%20b%28c%29"
    bad_link = make_message(link="javascript:alert(1)", verbatims=[("x", 1, "data:text/html,hi")])
    assert "javascript" not in render_markdown(bad_link)
    assert "data:" not in render_email(bad_link).html


def test_newlines_and_bidi_overrides_cannot_forge_lines() -> None:
    message = make_message(verbatims=[("好评\n### 【严重】假告警\u202e反转", 1, None)])
    text = render_text(message)
    assert "\n### " not in text and "\u202e" not in text
    assert "好评 ### 【严重】假告警反转" in text


def test_message_checks_severity_and_payload_carries_every_field() -> None:
    with pytest.raises(ValueError, match="severity must be one of"):
        make_message(severity="urgent")
    payload = to_payload(make_message())
    assert payload["verbatims"][0] == {
        "text": "下单三天了还没发货",
        "count": 12,
        "url": "https://weibo.example/p/1",
    }
    assert payload["themes"] == ["物流慢", "客服不回复"]
    categorised = make_message(categories=["物流", "售后"], kind="theme")
    assert "\n类别：物流、售后\n主题：物流慢、客服不回复\n" in render_text(categorised)
    assert (to_payload(categorised)["kind"], to_payload(categorised)["categories"]) == (
        "theme",
        ["物流", "售后"],
    )
    assert payload["text"].startswith("【警告】客声预警")
    assert isinstance(make_message().verbatims, tuple)
    assert drilldown_url("http://d:8501/", alert="a 1", day=None) == "http://d:8501/?alert=a+1"


def test_a_segment_alert_names_its_segments_in_the_header_and_payload() -> None:
    msg = make_message(title="高价值 客户 · 物流 负面占比激增", segments=["高价值"])
    assert msg.segments == ("高价值",)
    assert "\n客户分层：高价值\n" in render_text(msg)
    assert to_payload(msg)["segments"] == ["高价值"]
    assert "客户分层" not in render_text(make_message())  # no segment, no line


def test_alert_message_is_frozen() -> None:
    message: AlertMessage = make_message()
    with pytest.raises(AttributeError):
        message.severity = "critical"  # type: ignore[misc]
