"""The alert message and its Chinese templates, one rendering per channel format.

Everything that comes from customers or from words mined out of their posts (theme labels,
key phrases, verbatims, even the title and scope) is user text: each format neutralises
what its renderer would interpret (Markdown, Slack mrkdwn, HTML, Feishu ``<at>`` tags) and
bare links in verbatims are defanged. Length limits are met by dropping verbatims from the
end (with a note saying how many), never by cutting the header.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar
from urllib.parse import quote, urlencode, urlsplit

from voc.alert_settings import SEVERITIES

SEVERITY_LABELS = {"info": "提示", "warning": "警告", "critical": "严重"}
METRIC_LABELS = {"negative_volume": "负面声量", "negative_share": "负面占比"}

#: Caps that keep the header small enough for the strictest channel (WeCom, 4096 bytes).
TITLE_MAX_CHARS = 120
FIELD_MAX_CHARS = 80
ITEM_MAX_CHARS = 30
ITEMS_MAX = 6
VERBATIM_MAX_CHARS = 200

#: Channel limits: WeCom counts UTF-8 bytes of the markdown content, DingTalk characters.
WECOM_MARKDOWN_MAX_BYTES = 4096
DINGTALK_MARKDOWN_MAX_CHARS = 20000
#: Slack rejects a section block whose text is longer than 3000 characters.
SLACK_SECTION_MAX_CHARS = 3000
#: Feishu rejects request bodies over 20 KB; the rest of the body needs some room.
FEISHU_CONTENT_MAX_BYTES = 18000


def severity_rank(severity: str) -> int:
    """0 for info, 1 for warning, 2 for critical.

    Raises:
        ValueError: for any other name.
    """
    try:
        return SEVERITIES.index(severity)
    except ValueError:
        raise ValueError(f"severity must be one of {SEVERITIES}, got {severity!r}") from None


@dataclass(frozen=True)
class Verbatim:
    """One customer voice quoted in an alert: its text, how many said it, where."""

    text: str
    count: int = 1
    url: str | None = None


@dataclass(frozen=True)
class AlertMessage:
    """What an alert says, independent of the channel.

    Attributes:
        alert_id: Stable id of the open alert (one per spike); the de-duplication key.
        severity: ``info``, ``warning`` or ``critical``.
        title: One-line summary, e.g. ``物流慢 负面声量激增`` or
            ``高价值 客户 · 物流 负面占比激增``.
        source: Source name (``demo_weibo``) or ``全部`` for an alert over all sources.
        scope: What the alert is about, e.g. ``来源 demo_weibo`` or ``主题 物流慢``.
        window: The day or hour window, e.g. ``2025-09-30`` or ``2025-09-30 14:00–15:00``.
        metric: Metric name (``negative_volume``, ``negative_share``...).
        observed: The metric's value in the window.
        expected: Its baseline value.
        statistic: How unusual that is, as text (``z = 4.2，3.1 倍``).
        themes: Complaint themes driving the alert.
        aspects: Aspects (物流, 客服...) most mentioned.
        key_phrases: Phrases that distinguish the window from its baseline.
        verbatims: Representative voices, most repeated first; (text, count, url) tuples
            are accepted too.
        link: Dashboard drill-down URL, if a dashboard is configured.
        categories: Complaint-taxonomy categories the alert concerns (物流, 售后...).
        kind: Kind of alert, for routing (``spike``, ``theme``, ``source_health``...).
        segments: Customer segments (高价值, VIP ...) the alert concerns, for routing.
    """

    alert_id: str
    severity: str
    title: str
    source: str
    scope: str
    window: str
    metric: str
    observed: float
    expected: float
    statistic: str = ""
    themes: tuple[str, ...] = ()
    aspects: tuple[str, ...] = ()
    key_phrases: tuple[str, ...] = ()
    verbatims: tuple[Verbatim, ...] = field(default=())
    link: str | None = None
    categories: tuple[str, ...] = ()
    kind: str = "spike"
    segments: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        severity_rank(self.severity)
        # Lists are accepted for convenience; a frozen record keeps tuples.
        for name in ("themes", "aspects", "key_phrases", "categories", "segments"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        verbatims = tuple(v if isinstance(v, Verbatim) else Verbatim(*v) for v in self.verbatims)
        object.__setattr__(self, "verbatims", verbatims)


def drilldown_url(dashboard_url: str, **params: Any) -> str:
    """The dashboard URL with query parameters (None values left out), for `link`."""
    query = urlencode({k: str(v) for k, v in params.items() if v is not None})
    base = dashboard_url.rstrip("/")
    return f"{base}/?{query}" if query else f"{base}/"


# --- neutralising user text -------------------------------------------------------------

# Control characters and bidi overrides (which can make a message read backwards).
_INVISIBLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_SCHEME = re.compile(r"(?i)\b(https?|ftp)://")
# Markdown and HTML syntax swapped for full-width look-alikes: clients differ in whether
# they honour backslash escapes (WeCom and DingTalk do not), but none parses these.
_MARKDOWN = str.maketrans(
    {
        "*": "＊",
        "`": "｀",
        "[": "［",
        "]": "］",
        "#": "＃",
        "<": "＜",
        ">": "＞",
        "~": "～",
        "|": "｜",
        "\\": "＼",
    }
)
_SLACK_FORMATTING = str.maketrans({"*": "＊", "`": "｀", "~": "～"})
# An underscore inside a word (demo_weibo) never starts emphasis, so it is left alone.
_EDGE_UNDERSCORE = re.compile(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
_ANGLES = str.maketrans({"<": "＜", ">": "＞"})


def _clean(text: str, limit: int) -> str:
    """One line: invisible characters removed, whitespace collapsed, cut to `limit`."""
    text = _INVISIBLE.sub("", unicodedata.normalize("NFC", str(text)))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _defang(text: str) -> str:
    # A link in a customer's post must not become clickable in the team's chat.
    return _SCHEME.sub(lambda m: f"{m[1]}：//", text)


def _md(text: str) -> str:
    return _EDGE_UNDERSCORE.sub("＿", text).translate(_MARKDOWN)


def _slack(text: str) -> str:
    # Slack's own escapes for &, < and > (they would start a link or a mention).
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _EDGE_UNDERSCORE.sub("＿", escaped).translate(_SLACK_FORMATTING)


def _plain(text: str) -> str:
    return text


def _feishu(text: str) -> str:
    # Feishu text messages parse <at user_id="all"> anywhere in the text.
    return text.translate(_ANGLES)


def safe_url(url: str | None) -> str | None:
    """`url` if it is an absolute http(s) URL, percent-encoding what breaks link syntax."""
    if not url:
        return None
    url = str(url).strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    # Parentheses, angle brackets, pipes, quotes and spaces end a Markdown/Slack/HTML link.
    return quote(url, safe=";/?:@&=+$,-.!~*'#%[]_")


# --- layout shared by the formats ---------------------------------------------------------


@dataclass(frozen=True)
class _Style:
    safe: Callable[[str], str]
    bold: Callable[[str], str]
    heading: Callable[[str], str]
    link: Callable[[str, str], str]
    sep: str


_T = TypeVar("_T")


def _fit(
    head: list[_T],
    items: list[_T],
    tail: list[_T],
    note: Callable[[int], _T],
    size: Callable[[list[_T]], int],
    limit: int | None,
) -> list[_T]:
    """Head, as many items as fit under `limit`, a note on the rest, tail."""
    for k in range(len(items), -1, -1):
        parts = head + items[:k] + ([note(len(items) - k)] if k < len(items) else []) + tail
        if limit is None or size(parts) <= limit:
            return parts
    return parts  # the header alone is never cut


def _number(value: float, metric: str) -> str:
    if "share" in metric:
        return f"{value:.1%}"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def headline(msg: AlertMessage) -> str:
    """The first line of every rendering: severity and title (plain text)."""
    title = _clean(msg.title, TITLE_MAX_CHARS)
    return f"【{SEVERITY_LABELS[msg.severity]}】客声预警：{title}"


def _items(values: Sequence[str]) -> list[str]:
    return [_clean(v, ITEM_MAX_CHARS) for v in values[:ITEMS_MAX] if str(v).strip()]


def _header_fields(msg: AlertMessage) -> list[tuple[str, str]]:
    """(label, already-cleaned user text) pairs of the header."""
    metric = METRIC_LABELS.get(msg.metric, msg.metric)
    measured = f"{_number(msg.observed, msg.metric)}，预期 {_number(msg.expected, msg.metric)}"
    if msg.statistic:
        measured += f"（{_clean(msg.statistic, FIELD_MAX_CHARS)}）"
    fields = [
        ("范围", _clean(msg.scope, FIELD_MAX_CHARS)),
        ("来源", _clean(msg.source, FIELD_MAX_CHARS)),
        ("时间", _clean(msg.window, FIELD_MAX_CHARS)),
        (_clean(metric, FIELD_MAX_CHARS), measured),
    ]
    for label, values in (
        ("客户分层", msg.segments),
        ("类别", msg.categories),
        ("主题", msg.themes),
        ("方面", msg.aspects),
        ("关键词", msg.key_phrases),
    ):
        if _items(values):
            fields.append((label, "、".join(_items(values))))
    return fields


def _verbatim_text(v: Verbatim) -> str:
    return _defang(_clean(v.text, VERBATIM_MAX_CHARS))


def _more_note(n: int) -> str:
    return f"……另有 {n} 条原声未显示"


def _lines(msg: AlertMessage, style: _Style, limit: int | None, size: Callable[[str], int]):
    head = [style.heading(style.safe(headline(msg)))]
    head += [f"{style.bold(label)}：{style.safe(value)}" for label, value in _header_fields(msg)]
    if msg.verbatims:
        head.append(f"{style.bold('代表原声')}：")
    items = []
    for i, v in enumerate(msg.verbatims, 1):
        line = f"{i}. 「{style.safe(_verbatim_text(v))}」×{max(int(v.count), 1)}"
        url = safe_url(v.url)
        if url:
            line += f" {style.link('原文', url)}"
        items.append(line)
    tail = []
    link = safe_url(msg.link)
    if link:
        tail.append(style.link("查看详情", link))
    tail.append(f"告警编号：{style.safe(_clean(msg.alert_id, FIELD_MAX_CHARS))}")
    parts = _fit(head, items, tail, _more_note, lambda p: size(style.sep.join(p)), limit)
    return style.sep.join(parts)


_PLAIN = _Style(_plain, _plain, _plain, lambda label, url: f"{label}：{url}", "\n")
_MARKDOWN_STYLE = _Style(
    _md, lambda s: f"**{s}**", lambda s: f"### {s}", lambda label, url: f"[{label}]({url})", "\n"
)
_SLACK = _Style(
    _slack, lambda s: f"*{s}*", lambda s: f"*{s}*", lambda label, url: f"<{url}|{label}>", "\n"
)


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def render_text(msg: AlertMessage, max_chars: int | None = None) -> str:
    """Plain text (e-mail body, generic webhooks), verbatims dropped beyond `max_chars`."""
    return _lines(msg, _PLAIN, max_chars, len)


def render_markdown(msg: AlertMessage, flavor: str = "wecom") -> str:
    """Markdown for a WeCom (≤ 4096 bytes) or DingTalk (≤ 20000 characters) robot."""
    if flavor == "wecom":
        return _lines(msg, _MARKDOWN_STYLE, WECOM_MARKDOWN_MAX_BYTES, _utf8_len)
    if flavor == "dingtalk":
        # DingTalk's Markdown needs a blank line to break a line.
        style = replace(_MARKDOWN_STYLE, sep="\n\n")
        return _lines(msg, style, DINGTALK_MARKDOWN_MAX_CHARS, len)
    raise ValueError(f"markdown flavor must be 'wecom' or 'dingtalk', got {flavor!r}")


def render_slack(msg: AlertMessage) -> dict[str, Any]:
    """A Slack incoming-webhook payload: notification text plus one mrkdwn section."""
    body = _lines(msg, _SLACK, SLACK_SECTION_MAX_CHARS, len)
    return {
        "text": _slack(headline(msg)),
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": body}}],
    }


def render_feishu_text(msg: AlertMessage) -> str:
    """Text for a Feishu ``msg_type = text`` message."""
    style = _Style(_feishu, _plain, _plain, _PLAIN.link, "\n")
    return _lines(msg, style, FEISHU_CONTENT_MAX_BYTES, _utf8_len)


def render_feishu_post(msg: AlertMessage) -> dict[str, Any]:
    """The ``content`` of a Feishu ``msg_type = post`` message (rich text, zh_cn)."""

    def text(s: str) -> dict[str, str]:
        return {"tag": "text", "text": _feishu(s)}

    head = [[text(f"{label}：{value}")] for label, value in _header_fields(msg)]
    if msg.verbatims:
        head.append([text("代表原声：")])
    items = []
    for i, v in enumerate(msg.verbatims, 1):
        paragraph = [text(f"{i}. 「{_verbatim_text(v)}」×{max(int(v.count), 1)}")]
        url = safe_url(v.url)
        if url:
            paragraph.append({"tag": "a", "text": " 原文", "href": url})
        items.append(paragraph)
    tail = []
    link = safe_url(msg.link)
    if link:
        tail.append([{"tag": "a", "text": "查看详情", "href": link}])
    tail.append([text(f"告警编号：{_clean(msg.alert_id, FIELD_MAX_CHARS)}")])
    title = _feishu(headline(msg))

    def size(paragraphs: list) -> int:
        return _utf8_len(json.dumps(paragraphs, ensure_ascii=False)) + _utf8_len(title)

    content = _fit(
        head, items, tail, lambda n: [text(_more_note(n))], size, FEISHU_CONTENT_MAX_BYTES
    )
    return {"post": {"zh_cn": {"title": title, "content": content}}}


@dataclass(frozen=True)
class EmailParts:
    """An alert as an e-mail: subject, plain-text body, HTML body."""

    subject: str
    text: str
    html: str


def render_email(msg: AlertMessage) -> EmailParts:
    """Subject, plain text and HTML (every user text HTML-escaped) of an alert e-mail."""
    subject = f"[客声][{SEVERITY_LABELS[msg.severity]}] {_clean(msg.title, TITLE_MAX_CHARS)}"

    def esc(s: str) -> str:
        return html.escape(s, quote=True)

    color = {"info": "#1f6feb", "warning": "#d4a017", "critical": "#cf222e"}[msg.severity]
    rows = "".join(
        f"<tr><th align='left' style='padding-right:1em'>{esc(label)}</th>"
        f"<td>{esc(value)}</td></tr>"
        for label, value in _header_fields(msg)
    )
    out = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'></head>"
        "<body style='font-family:sans-serif'>",
        f"<h2 style='color:{color}'>{esc(headline(msg))}</h2>",
        f"<table>{rows}</table>",
    ]
    if msg.verbatims:
        out.append("<h3>代表原声</h3><ol>")
        for v in msg.verbatims:
            url = safe_url(v.url)
            source_link = f" <a href='{esc(url)}'>原文</a>" if url else ""
            out.append(f"<li>「{esc(_verbatim_text(v))}」×{max(int(v.count), 1)}{source_link}</li>")
        out.append("</ol>")
    link = safe_url(msg.link)
    if link:
        out.append(f"<p><a href='{esc(link)}'>查看详情</a></p>")
    out.append(f"<p style='color:#888'>告警编号：{esc(msg.alert_id)}</p></body></html>")
    return EmailParts(subject, render_text(msg), "".join(out))


def to_payload(msg: AlertMessage) -> dict[str, Any]:
    """The alert's fields as JSON-ready data, plus its plain-text rendering as ``text``."""
    return {
        "alert_id": msg.alert_id,
        "severity": msg.severity,
        "kind": msg.kind,
        "categories": list(msg.categories),
        "segments": list(msg.segments),
        "title": msg.title,
        "source": msg.source,
        "scope": msg.scope,
        "window": msg.window,
        "metric": msg.metric,
        "observed": msg.observed,
        "expected": msg.expected,
        "statistic": msg.statistic,
        "themes": list(msg.themes),
        "aspects": list(msg.aspects),
        "key_phrases": list(msg.key_phrases),
        "verbatims": [{"text": v.text, "count": v.count, "url": v.url} for v in msg.verbatims],
        "link": msg.link,
        "text": render_text(msg),
    }
