"""RSS 2.0 and Atom feeds (news, forums, blogs): one record per item or entry."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

from scrapers.parsers import CHINA_TZ

_ATOM = "{http://www.w3.org/2005/Atom}"
_DC = "{http://purl.org/dc/elements/1.1/}"
_CONTENT = "{http://purl.org/rss/1.0/modules/content/}"


def parse_feed(body: bytes) -> tuple[list[dict[str, Any]], list[str]]:
    """Items of an RSS 2.0 or Atom feed.

    Each record has ``external_id`` (guid/id, else the link), ``author``, ``text`` (title
    and body, one per line; HTML is left for the normaliser), ``created_at`` (pubDate /
    published / updated; a date without timezone is read as China time) and ``url``.

    Returns:
        (records, problems). An item without a usable date or id is left out and described
        in problems by its position and title.

    Raises:
        ValueError: if the body is not XML, or is XML but neither RSS nor Atom (an error
            page, a changed layout).
    """
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise ValueError(f"not an RSS/Atom feed: unreadable XML ({exc})") from None
    if root.tag == "rss" or root.tag.endswith("RDF"):
        channel = root.find("channel")
        items = channel.findall("item") if channel is not None else root.findall("item")
        read = _rss_item
    elif root.tag == f"{_ATOM}feed":
        items = root.findall(f"{_ATOM}entry")
        read = _atom_entry
    else:
        raise ValueError(f"not an RSS/Atom feed: root element <{root.tag}>")
    records: list[dict[str, Any]] = []
    problems: list[str] = []
    for position, item in enumerate(items, 1):
        try:
            records.append(read(item))
        except ValueError as exc:
            problems.append(f"item {position}: {exc}")
    return records, problems


#: C0 control characters other than tab, newline and carriage return, raw (one byte in
#: UTF-8, GBK and GB18030 alike) or as a character reference.
_FORBIDDEN_RAW = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_CHAR_REF = re.compile(rb"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));")


def without_forbidden_characters(body: bytes) -> tuple[bytes, int]:
    """`body` without the characters XML 1.0 forbids, and how many were removed.

    Real feeds carry them (a backspace pasted into a post), and one such character makes
    the whole feed unreadable to a conforming parser. A UTF-16 body (NUL bytes are its
    spelling, not controls) is returned unchanged.
    """
    if body[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return body, 0
    body, n_raw = _FORBIDDEN_RAW.subn(b"", body)
    n_refs = 0

    def drop(m: re.Match[bytes]) -> bytes:
        nonlocal n_refs
        code = int(m[1], 16) if m[1] else int(m[2])
        if code < 0x20 and code not in (0x09, 0x0A, 0x0D):
            n_refs += 1
            return b""
        return m[0]

    body = _CHAR_REF.sub(drop, body)
    return body, n_raw + n_refs


def _text(element: ET.Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def _record(ext_id: str, title: str, body: str, stamp: str, author: str, link: str) -> dict:
    if not ext_id:
        raise ValueError(f"{title[:30]!r} has no guid/id and no link")
    if not stamp:
        raise ValueError(f"{ext_id} has no date")
    return {
        "external_id": ext_id,
        "author": author or None,
        "text": "\n".join(part for part in (title, body) if part),
        "created_at": _parse_date(stamp, ext_id),
        "url": link or None,
    }


def _rss_item(item: ET.Element) -> dict[str, Any]:
    link = _text(item.find("link"))
    body = _text(item.find(f"{_CONTENT}encoded")) or _text(item.find("description"))
    author = _text(item.find(f"{_DC}creator")) or _text(item.find("author"))
    stamp = _text(item.find("pubDate")) or _text(item.find(f"{_DC}date"))
    return _record(
        _text(item.find("guid")) or link, _text(item.find("title")), body, stamp, author, link
    )


def _atom_entry(entry: ET.Element) -> dict[str, Any]:
    link = ""
    for candidate in entry.findall(f"{_ATOM}link"):
        if candidate.get("rel", "alternate") == "alternate":
            link = candidate.get("href", "")
            break
    body = _text(entry.find(f"{_ATOM}content")) or _text(entry.find(f"{_ATOM}summary"))
    author = _text(entry.find(f"{_ATOM}author/{_ATOM}name"))
    stamp = _text(entry.find(f"{_ATOM}published")) or _text(entry.find(f"{_ATOM}updated"))
    return _record(
        _text(entry.find(f"{_ATOM}id")) or link,
        _text(entry.find(f"{_ATOM}title")),
        body,
        stamp,
        author,
        link,
    )


def _parse_date(value: str, ext_id: str) -> datetime:
    try:
        parsed = parsedate_to_datetime(value)  # RFC 822, as RSS uses
    except (TypeError, ValueError, IndexError):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))  # RFC 3339 (Atom)
        except ValueError:
            raise ValueError(f"{ext_id}: unreadable date {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=CHINA_TZ)
