"""Customer e-mails as text: headers, the best body part, quoted replies cut off.

Pure functions from the raw bytes of one message (stdlib `email`, policy=default). Chinese
mail clients label GBK text gb2312 and send raw 8-bit GBK headers, so every header and body
is decoded here from its bytes (GB2312/GBK read as GB18030, see `scrapers.charset`) instead
of trusting the `email` package's decoding, which turns such text into U+FFFD.
"""

from __future__ import annotations

import codecs
import email.header
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.policy import default as default_policy
from email.utils import parseaddr, parsedate_to_datetime
from html.parser import HTMLParser

from scrapers.charset import decode_chinese
from scrapers.parsers import CHINA_TZ


class MailError(ValueError):
    """A message that cannot become a ticket; the message says why."""


@dataclass(frozen=True)
class Mail:
    """What a ticket needs from one e-mail.

    Attributes:
        message_id: Message-ID without angle brackets, else ``sha1:`` + a hash of the From,
            Date and Subject headers.
        created_at: The Date header (naive dates as China time).
        sender: The From address (lower case), else the display name, else None.
        subject: Decoded subject as sent (``回复：`` prefixes kept).
        body: The best text body (text/plain, else text/html as text), quotes cut off.
        in_reply_to: In-Reply-To without angle brackets, if any.
        automatic: Auto-Submitted says it was sent by a machine (auto-replies, bounces).
        references: Message-IDs of the References header (the thread, oldest first).
    """

    message_id: str
    created_at: datetime
    sender: str | None
    subject: str
    body: str
    in_reply_to: str | None
    automatic: bool = False
    references: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """Subject (without reply/forward prefixes) and body, one per line."""
        subject = _REPLY_PREFIX.sub("", self.subject).strip()
        return "\n".join(part for part in (subject, self.body) if part)


def parse_mail(raw: bytes) -> Mail:
    """Parse one RFC 5322 message.

    Raises:
        MailError: empty input, no mail headers, or no usable Date.
    """
    if not raw.strip():
        raise MailError("empty file")
    msg = BytesParser(policy=default_policy).parsebytes(raw)
    headers: dict[str, str] = {}
    for name, value in msg.raw_items():
        headers.setdefault(name.lower(), value)
    if not {"from", "date", "subject", "message-id"} & set(headers):
        raise MailError("not an e-mail: no From, Date, Subject or Message-ID header")
    created = _mail_date(headers)
    subject = header_text(headers.get("subject", ""))
    name, address = parseaddr(header_text(headers.get("from", "")))
    sender = address.strip().lower() or name.strip() or None
    message_id = _strip_id(headers.get("message-id"))
    if not message_id:
        key = "\x1f".join(headers.get(h, "") for h in ("from", "date", "subject"))
        message_id = "sha1:" + hashlib.sha1(key.encode("utf-8", "surrogateescape")).hexdigest()
    auto = header_text(headers.get("auto-submitted", "no")).strip().lower()
    return Mail(
        message_id=message_id,
        created_at=created,
        sender=sender,
        subject=subject,
        body=cut_quoted(body_text(msg)),
        in_reply_to=_strip_id(headers.get("in-reply-to")) or None,
        automatic=auto not in ("", "no"),
        references=tuple(
            dict.fromkeys(_MESSAGE_IDS.findall(header_text(headers.get("references", ""))))
        ),
    )


def header_text(raw: str) -> str:
    """A raw header value decoded: RFC 2047 words in any charset (gb2312 read as GB18030),
    raw 8-bit GBK/UTF-8 bytes, folded lines joined."""
    if any("\udc80" <= ch <= "\udcff" for ch in raw):
        # Raw 8-bit bytes, kept by the parser as surrogate escapes.
        raw = decode_chinese(raw.encode("ascii", "surrogateescape"))[0]
    raw = re.sub(r"\r?\n(?=[ \t])", "", raw)
    if "=?" not in raw:
        return raw.strip()
    parts = []
    for chunk, charset in email.header.decode_header(raw):
        if isinstance(chunk, str):
            parts.append(chunk)
        elif charset is None or charset == "unknown-8bit":
            parts.append(chunk.decode("raw-unicode-escape"))
        else:
            parts.append(chunk.decode(_header_codec(charset), errors="replace"))
    return "".join(parts).strip()


def body_text(msg: Message) -> str:
    """The text of a message's text/plain part, else its text/html part as text; never an
    attachment."""
    if not isinstance(msg, EmailMessage):
        return ""
    for kind in ("plain", "html"):
        part = msg.get_body(preferencelist=(kind,))
        if part is None:
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        text = decode_chinese(payload, part.get_param("charset"))[0]
        text = html_to_text(text) if kind == "html" else text
        if text.strip():
            return text.replace("\r\n", "\n")
    return ""


def html_to_text(html: str) -> str:
    """Visible text of an HTML body: block elements on their own lines; scripts, styles
    and quoted replies (``<blockquote>``) left out."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = (
        re.sub(r"[ \t\xa0\u3000]+", " ", line).strip() for line in "".join(parser.out).split("\n")
    )
    return "\n".join(line for line in lines if line)


class _TextExtractor(HTMLParser):
    _SKIP = frozenset({"script", "style", "head", "title", "blockquote"})
    _BLOCK = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "hr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self.skipping += 1
        elif tag in self._BLOCK:
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self._BLOCK:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.out.append(data)


#: The ``<id>`` items of a References header.
_MESSAGE_IDS = re.compile(r"<\s*([^<>\s]+)\s*>")
_REPLY_PREFIX = re.compile(r"^(?:\s*(?:re|fw|fwd|回复|答复|转发)\s*[:：])+", re.IGNORECASE)
#: "-----原始邮件-----" (Outlook, Foxmail), "------------------ 原始邮件 ------------------" (QQ).
_SEPARATOR = re.compile(r"^[-_=—\s]*(?:原始邮件|邮件原件|original message)[-_=—\s]*$", re.I)
#: "在 2024年3月1日周五 10:02，客服 <a@b.com> 写道：" (Gmail, Chinese UI) and "On ... wrote:";
#: clients wrap a long intro onto a second line, so two lines are tried together.
_INTRO = re.compile(r"^(?:在.{0,160}写道|on\s.{0,200}wrote)\s*[:：]$", re.IGNORECASE)
#: Outlook's reply header block: 发件人: / From: followed by 发送时间: / Sent: / 日期:.
_FROM_LINE = re.compile(r"^(?:发件人|from)\s*[:：]", re.IGNORECASE)
_SENT_LINE = re.compile(r"^(?:发送时间|时间|日期|sent|date)\s*[:：]", re.IGNORECASE)
_RULE = re.compile(r"^[-_=—\s]*$")


def cut_quoted(text: str) -> str:
    """The customer's own words: everything from a quoted reply's intro line on is cut
    (``在 … 写道：``, ``-----原始邮件-----``, ``On … wrote:``, an Outlook 发件人/发送时间
    block, the ``-- `` signature mark) and lines starting with ``>`` are dropped."""
    lines = text.replace("\r\n", "\n").split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        s = line.strip()
        two = f"{s} {lines[i + 1].strip()}" if i + 1 < len(lines) else s
        nearby = [x.strip() for x in lines[i + 1 : i + 5]]
        if (
            _SEPARATOR.match(s)
            or _INTRO.match(s)
            or (s[:1] in ("在", "O", "o") and _INTRO.match(two))
            or (_FROM_LINE.match(s) and any(_SENT_LINE.match(x) for x in nearby))
            or line.rstrip() == "--"
        ):
            break
        if not s.startswith(">"):
            kept.append(line.rstrip())
    while kept and _RULE.match(kept[-1]):
        kept.pop()
    return "\n".join(kept).strip()


def _mail_date(headers: dict[str, str]) -> datetime:
    value = header_text(headers.get("date", ""))
    stamp = _parse_date(value)
    if stamp is None:
        # No usable Date: when the receiving server got it (the newest Received header).
        received = headers.get("received", "")
        stamp = _parse_date(received.rpartition(";")[2]) if ";" in received else None
    if stamp is None:
        raise MailError(f"Date header missing or not a date: {value!r}")
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=CHINA_TZ)


def _parse_date(value: str) -> datetime | None:
    try:
        return parsedate_to_datetime(re.sub(r"\s+", " ", value).strip())
    except (TypeError, ValueError, IndexError):
        return None


def _header_codec(charset: str) -> str:
    try:
        name = codecs.lookup(charset).name
    except LookupError:
        return "gb18030"
    # GB18030 is a superset of GB2312 and GBK: mislabelled GBK subjects decode whole.
    return "gb18030" if name in ("gb2312", "gbk", "cp936") else name


def _strip_id(value: str | None) -> str:
    return header_text(value or "").strip().strip("<>").strip()
