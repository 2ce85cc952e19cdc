"""JD product comments: the paginated ``productPageComments.action`` JSON(P) API.

``{url}?productId={id}&score=0&sortType=6&page={n}&pageSize=10&isShadowSku=0&fold=1``
gives one page (from 0) of a product's comments, newest first with ``sortType=6``, as JSON
or as JSONP (``fetchJSON_comment98({...});``), often in GBK. ``maxPage`` says how many
pages there are. Blocked clients get an empty body, an ``{"error": ...}`` object or an
HTML login/verification page instead, with HTTP 200.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from parsel import Selector

from scrapers.parsers import CHINA_TZ

#: JD serves at most this many pages of one product's comments.
MAX_PAGES = 100

_JSONP = re.compile(r"^\s*[A-Za-z_$][\w$.]*\s*\((.*)\)\s*;?\s*$", re.S)
CALLBACK_NAME = re.compile(r"^[A-Za-z_$][\w$]*$")


class JdErrorPage(ValueError):
    """The API answered with an error or anti-bot page instead of comments."""


class JdLayoutChanged(ValueError):
    """The payload is JSON but no longer has the shape this parser knows."""


@dataclass(frozen=True)
class CommentsPage:
    """One page of comments.

    Attributes:
        comments: Raw records (the keyword arguments of `voc.records.make_document`).
        max_page: The ``maxPage`` the API reported (number of pages), if any.
        problems: One message per comment that could not be read.
        raw_count: How many comments the payload listed, readable or not.
    """

    comments: list[dict[str, Any]]
    max_page: int | None
    problems: list[str] = field(default_factory=list)
    raw_count: int = 0


def comments_url(
    base: str,
    product_id: str,
    page: int,
    page_size: int = 10,
    score: int = 0,
    sort: int = 6,
    callback: str | None = None,
) -> str:
    """URL of one page (from 0) of a product's comments."""
    params: dict[str, Any] = {}
    if callback:
        params["callback"] = callback
    params |= {
        "productId": product_id,
        "score": score,
        "sortType": sort,
        "page": page,
        "pageSize": page_size,
        "isShadowSku": 0,
        "fold": 1,
    }
    return f"{base.split('?')[0]}?{urlencode(params)}"


def load_payload(text: str) -> Any:
    """The JSON inside a JSON or JSONP answer.

    Raises:
        JdErrorPage: for an empty body, an HTML page or text that is not JSON.
    """
    body = text.strip()
    if not body:
        raise JdErrorPage("empty response (JD's answer to a blocked client)")
    if body.startswith("<"):
        title = " ".join(Selector(text=body).css("title::text").get("").split())
        raise JdErrorPage(
            f"an HTML page instead of comments (login or verification?): {title or body[:80]!r}"
        )
    if m := _JSONP.match(body):
        body = m[1]
    try:
        return json.loads(body)
    except ValueError as exc:
        raise JdErrorPage(f"not JSON ({exc}): {body[:80]!r}") from None


def parse_comments_page(payload: Any, product_id: str) -> CommentsPage:
    """Comments in one page of the API's payload.

    Args:
        payload: The decoded JSON (see `load_payload`).
        product_id: The product asked for (the fallback product name and link).

    Returns:
        The page. Each record has ``external_id``, ``text`` (the comment, and its
        follow-up on a new line as ``追评：...``), ``created_at``, ``author``, ``rating``
        (1-5), ``url``, ``product`` (the product name) and ``attributes``
        (``useful_votes``, ``replies``, ``product_id``). A comment that cannot be read is
        left out and named in problems.

    Raises:
        JdErrorPage: if the payload is an error object.
        JdLayoutChanged: if it is JSON without a ``comments`` list.
    """
    if isinstance(payload, dict) and ("error" in payload or payload.get("ok") == 0):
        reason = payload.get("error") or payload.get("msg") or payload
        raise JdErrorPage(f"error payload: {str(reason)[:200]}")
    if not isinstance(payload, dict) or not isinstance(payload.get("comments"), list):
        keys = sorted(payload)[:10] if isinstance(payload, dict) else type(payload).__name__
        raise JdLayoutChanged(f"no 'comments' list in the payload (found {keys})")
    comments: list[dict[str, Any]] = []
    problems: list[str] = []
    for position, item in enumerate(payload["comments"], 1):
        try:
            comments.append(_comment(item, product_id))
        except ValueError as exc:
            ref = item.get("id") if isinstance(item, dict) else None
            problems.append(f"comment {ref or f'#{position}'}: {exc}")
    max_page = payload.get("maxPage")
    return CommentsPage(
        comments,
        max_page if isinstance(max_page, int) else None,
        problems,
        len(payload["comments"]),
    )


def _comment(item: Any, product_id: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise ValueError(f"not an object: {str(item)[:60]!r}")
    comment_id = str(item.get("id") or item.get("guid") or "")
    if not comment_id:
        raise ValueError("no id")
    stamp = str(item.get("creationTime") or "")
    try:
        created = datetime.strptime(stamp.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA_TZ)
    except ValueError:
        raise ValueError(f"no readable creationTime: {stamp!r}") from None
    text = str(item.get("content") or "").strip()
    if not text:
        raise ValueError("no content")
    after = item.get("afterUserComment")
    if isinstance(after, dict):
        # The follow-up sits at the top level, or under hAfterUserComment on some pages.
        nested = after.get("hAfterUserComment")
        follow_up = after.get("content") or (
            nested.get("content") if isinstance(nested, dict) else ""
        )
        if str(follow_up or "").strip():
            text += f"\n追评：{str(follow_up).strip()}"
    score = item.get("score")
    reference = str(item.get("referenceId") or product_id)
    return {
        "external_id": comment_id,
        "text": text,
        "created_at": created,
        "author": str(item.get("nickname") or "").strip() or None,
        "rating": score if isinstance(score, int) and 1 <= score <= 5 else None,
        "url": f"https://item.jd.com/{reference}.html#comment",
        "product": str(item.get("referenceName") or "").strip() or product_id,
        "attributes": {
            "useful_votes": _int(item.get("usefulVoteCount")),
            "replies": _int(item.get("replyCount")),
            "product_id": reference,
        },
    }


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
