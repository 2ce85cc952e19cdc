"""App Store customer reviews: the public iTunes RSS customer-reviews feed, JSON format.

``{base}/{country}/rss/customerreviews/page={n}/id={app_id}/sortby=mostrecent/json`` gives
up to 50 reviews per page, newest first, pages 1-10. Each ``feed.entry`` with an
``im:rating`` is a review (older feeds put the app itself first, without a rating).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

#: The feed serves at most this many pages.
MAX_PAGES = 10


def reviews_url(base: str, country: str, app_id: str, page: int) -> str:
    """URL of one page of an app's most recent reviews."""
    return (
        f"{base.rstrip('/')}/{country}/rss/customerreviews/page={page}/id={app_id}"
        "/sortby=mostrecent/json"
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
        ValueError: if the payload is not a customer-reviews feed (an error payload, a
            changed format).
    """
    feed = payload.get("feed") if isinstance(payload, dict) else None
    if not isinstance(feed, dict):
        raise ValueError(f"not an App Store reviews feed: {str(payload)[:200]!r}")
    entries = feed.get("entry") or []
    if isinstance(entries, dict):  # a page with a single entry
        entries = [entries]
    reviews: list[dict[str, Any]] = []
    problems: list[str] = []
    for position, entry in enumerate(entries, 1):
        rating = _label(entry, "im:rating")
        if not rating:
            continue  # the app's own entry
        review_id = _label(entry, "id")
        try:
            if not review_id:
                raise ValueError("no id")
            created = datetime.fromisoformat(_label(entry, "updated"))
            if created.tzinfo is None:
                raise ValueError(f"date without timezone {_label(entry, 'updated')!r}")
            stars = int(rating)
        except ValueError as exc:
            problems.append(f"review {review_id or f'#{position}'}: {exc}")
            continue
        title, body = _label(entry, "title"), _label(entry, "content")
        reviews.append(
            {
                "external_id": review_id,
                "author": _label(entry, "author", "name") or None,
                "rating": stars,
                "text": "\n".join(part for part in (title, body) if part),
                "created_at": created,
                "url": None,
                "product": _label(entry, "im:version") or None,
            }
        )
    return reviews, problems
