"""App Store customer reviews: the public iTunes RSS customer-reviews feed, JSON or XML.

``{base}/{country}/rss/customerreviews/page={n}/id={app_id}/sortby=mostrecent/{json|xml}``
gives up to 50 reviews per page, newest first, pages 1-10. Each entry with an
``im:rating`` is a review (older feeds put the app itself first, without a rating). The
XML variant is Atom with the same fields in the ``im:`` namespace.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime
from typing import Any

from scrapers.errors import LayoutChanged, SourceError

#: The feed serves at most this many pages.
MAX_PAGES = 10
#: Feed formats Apple serves; the last path segment of the URL.
FORMATS = ("json", "xml")

_ATOM = "{http://www.w3.org/2005/Atom}"
_IM = "{http://itunes.apple.com/rss}"


def reviews_url(base: str, country: str, app_id: str, page: int, fmt: str = "json") -> str:
    """URL of one page of an app's most recent reviews, in `fmt` (json or xml)."""
    return (
        f"{base.rstrip('/')}/{country}/rss/customerreviews/page={page}/id={app_id}"
        f"/sortby=mostrecent/{fmt}"
    )


def _label(node: Any, *path: str) -> str:
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    value = node.get("label") if isinstance(node, dict) else None
    return str(value).strip() if value is not None else ""


def parse_reviews_page(payload: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """Reviews in one page of the feed.

    Returns:
        (reviews, problems): records with ``external_id``, ``author``, ``rating`` (1-5),
        ``text`` (title and body, one per line), ``created_at`` and ``product`` (the app
        version reviewed); a review that cannot be read is left out and named in problems.
        A page without entries (past the last page) gives no reviews.

    Raises:
        SourceError: for Apple's error payload (``{"errorMessage": ...}``).
        LayoutChanged: if the payload is not a customer-reviews feed (a changed format).
    """
    if isinstance(payload, dict) and "errorMessage" in payload:
        raise SourceError(f"App Store error: {str(payload['errorMessage'])[:200]}")
    feed = payload.get("feed") if isinstance(payload, dict) else None
    if not isinstance(feed, dict):
        raise LayoutChanged(f"not an App Store reviews feed: {str(payload)[:200]!r}")
    entries = feed.get("entry") or []
    if isinstance(entries, dict):  # a page with a single entry
        entries = [entries]
    fields = (
        {
            "id": _label(entry, "id"),
            "rating": _label(entry, "im:rating"),
            "updated": _label(entry, "updated"),
            "title": _label(entry, "title"),
            "body": _label(entry, "content"),
            "author": _label(entry, "author", "name"),
            "version": _label(entry, "im:version"),
            "app": _label(entry, "im:name"),
        }
        for entry in entries
    )
    return _reviews(fields)


def parse_reviews_xml(body: bytes | str) -> tuple[list[dict[str, Any]], list[str]]:
    """Reviews in one page of the Atom (XML) feed; the same records as `parse_reviews_page`.

    Only the ``<content type="text">`` body is read; the ``type="html"`` copy is a
    rendering of the same review with Apple's markup around it.

    Raises:
        LayoutChanged: if the body is not XML or not an Atom feed (an error page, a
            changed format).
    """
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise LayoutChanged(f"not an App Store reviews feed: unreadable XML ({exc})") from None
    if root.tag != f"{_ATOM}feed":
        raise LayoutChanged(f"not an App Store reviews feed: root element <{root.tag}>")
    fields = (
        {
            "id": _xml_text(entry, f"{_ATOM}id"),
            "rating": _xml_text(entry, f"{_IM}rating"),
            "updated": _xml_text(entry, f"{_ATOM}updated"),
            "title": _xml_text(entry, f"{_ATOM}title"),
            "body": _text_content(entry),
            "author": _xml_text(entry, f"{_ATOM}author/{_ATOM}name"),
            "version": _xml_text(entry, f"{_IM}version"),
            "app": _xml_text(entry, f"{_IM}name"),
        }
        for entry in root.findall(f"{_ATOM}entry")
    )
    return _reviews(fields)


def _xml_text(entry: ET.Element, path: str) -> str:
    node = entry.find(path)
    return (node.text or "").strip() if node is not None else ""


def _text_content(entry: ET.Element) -> str:
    for node in entry.findall(f"{_ATOM}content"):
        if node.get("type", "text") == "text":
            return (node.text or "").strip()
    return ""


def _reviews(entries: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """Review records from entries' fields, whichever format they were read from.

    Raises:
        LayoutChanged: if there are entries but none is a review or the app's own entry.
    """
    reviews: list[dict[str, Any]] = []
    problems: list[str] = []
    unknown = 0
    for position, entry in enumerate(entries, 1):
        if not entry["rating"]:
            if not entry["app"]:  # neither a review nor the app's own entry
                unknown += 1
                problems.append(f"entry {entry['id'] or f'#{position}'}: no im:rating")
            continue
        review_id = entry["id"]
        try:
            if not review_id:
                raise ValueError("no id")
            created = datetime.fromisoformat(entry["updated"])
            if created.tzinfo is None:
                raise ValueError(f"date without timezone {entry['updated']!r}")
            stars = int(entry["rating"])
        except ValueError as exc:
            problems.append(f"review {review_id or f'#{position}'}: {exc}")
            continue
        reviews.append(
            {
                "external_id": review_id,
                "author": entry["author"] or None,
                "rating": stars,
                "text": "\n".join(part for part in (entry["title"], entry["body"]) if part),
                "created_at": created,
                "url": None,
                "product": entry["version"] or None,
            }
        )
    if unknown and not reviews:
        raise LayoutChanged(f"no entry has an im:rating ({unknown} entries): {problems[0]}")
    return reviews, problems
