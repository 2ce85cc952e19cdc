"""Weibo (m.weibo.cn) JSON API: URLs and pure parsers for search, user timelines,
comments and long texts.

``/api/container/getIndex`` answers ``{"ok": 1, "data": {"cards": [...], "cardlistInfo":
{...}}}`` for both search (``containerid=100103type=1&q=...``, next page number in
``cardlistInfo.page``) and a user's posts (``containerid=107603{uid}``, cursor in
``cardlistInfo.since_id``). A card with ``card_type`` 9 carries a post (``mblog``); a card
with ``card_type`` 11 groups cards in ``card_group``; user and topic cards are ignored.
``/comments/hotflow`` answers ``{"ok": 1, "data": {"data": [...], "max_id": N}}``
(``max_id`` 0 on the last page). ``/statuses/extend`` gives the full text of a post whose
``isLongText`` is true.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html.parser import HTMLParser
from typing import Any, ClassVar
from urllib.parse import quote

from scrapers.parsers import parse_chinese_datetime, parse_weibo_time

#: Headers the mobile site's own XHRs send; the API answers differently without them.
API_HEADERS = {
    "Accept": "application/json, text/plain, */*",
    "MWeibo-Pwa": "1",
    "X-Requested-With": "XMLHttpRequest",
    "Referer": "https://m.weibo.cn/",
}

_FULL_TEXT_LINK = re.compile(r"<a\b[^>]*href=[\"']?/status/\w+[\"']?[^>]*>\s*全文\s*</a>")
_MONTH_DAY_ONLY = re.compile(r"^(\d{1,2})-(\d{1,2})$")


class WeiboError(ValueError):
    """A payload that is not a usable answer; `key` is the stats key it is counted under."""

    key: ClassVar[str] = "voc/site_error"


class LoginRequired(WeiboError):
    """The API wants a logged-in session (``ok: -100`` or a redirect to passport)."""

    key = "voc/login_required"


class Blocked(WeiboError):
    """The site refuses this client for now: a verification (captcha) page, a rate limit
    ("请求过于频繁"), "系统繁忙" or an IP ban (HTTP 418). The fix is to slow down or to pass
    the verification, not to change the parser."""

    key = "voc/blocked"


class LayoutChanged(WeiboError):
    """The payload no longer has the keys this parser reads."""

    key = "voc/layout_changed"


@dataclass(frozen=True)
class CardPage:
    """Posts of one getIndex page.

    Attributes:
        posts: Raw records (``make_document`` keyword arguments).
        problems: One message per post left out.
        cursor: Next page number (search) or ``since_id`` (timeline); None on the last page.
        truncated: Ids of posts whose text is cut short (fetch `extend_url` for the rest).
        pinned: Ids of pinned posts, which sit on top whatever their date.
        next_page: ``cardlistInfo.page``, the next page number, when a timeline answers
            with page numbers instead of a ``since_id`` (older answers of the same API).
    """

    posts: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    cursor: str | None = None
    truncated: frozenset[str] = frozenset()
    pinned: frozenset[str] = frozenset()
    next_page: str | None = None


@dataclass(frozen=True)
class CommentPage:
    """Comments of one hotflow page; `max_id` is None on the last page."""

    comments: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    max_id: str | None = None
    max_id_type: int = 0


def search_url(base: str, query: str, page: int | str) -> str:
    """URL of one page of search results ("综合", newest and hottest mixed)."""
    containerid = quote(f"100103type=1&q={query}", safe="")
    return (
        f"{base.rstrip('/')}/api/container/getIndex?containerid={containerid}"
        f"&page_type=searchall&page={quote(str(page), safe='')}"
    )


def timeline_url(base: str, uid: str, since_id: str | None = None, page: str | None = None) -> str:
    """URL of one page of a user's posts, newest first after any pinned post: the page
    after `since_id`, or page number `page` (answers that page by number)."""
    url = f"{base.rstrip('/')}/api/container/getIndex?type=uid&value={uid}&containerid=107603{uid}"
    if since_id:
        return f"{url}&since_id={since_id}"
    return f"{url}&page={quote(str(page), safe='')}" if page else url


def comments_url(base: str, mid: str, max_id: str | None = None, max_id_type: int = 0) -> str:
    """URL of one page of a post's comments (hottest first)."""
    url = f"{base.rstrip('/')}/comments/hotflow?id={mid}&mid={mid}&max_id_type={max_id_type}"
    return f"{url}&max_id={max_id}" if max_id else url


def extend_url(base: str, post_id: str) -> str:
    """URL of a long post's full text."""
    return f"{base.rstrip('/')}/statuses/extend?id={post_id}"


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag == "img":
            # Emoji are images whose alt is the emoji's name, e.g. [哭]; other images
            # (the link icon) have none.
            self.parts.append(dict(attrs).get("alt") or "")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(html: str) -> str:
    """Plain text of a Weibo HTML text: tags dropped, ``<br />`` as newlines, emoji as
    their alt text (``[哭]``), links as their text, the "全文" link of a cut text dropped."""
    parser = _TextExtractor()
    parser.feed(_FULL_TEXT_LINK.sub("", html))
    parser.close()
    lines = "".join(parser.parts).replace("\u200b", "").split("\n")
    return "\n".join(line.strip() for line in lines).strip()


def parse_post_time(text: str, now: datetime) -> datetime:
    """A post or comment date: the API's ``Tue Aug 12 10:03:00 +0800 2025`` or the
    relative forms the mobile site prints (刚刚, 3分钟前, 昨天 12:30, 08-12, 2024-03-01).

    Raises:
        ValueError: naming the text.
    """
    text = text.strip()
    if re.search(r"[+-]\d{4} \d{4}$", text):
        return parse_weibo_time(text)
    if m := _MONTH_DAY_ONLY.match(text):
        try:
            stamp = datetime(now.year, int(m[1]), int(m[2]), tzinfo=now.tzinfo)
        except ValueError as exc:
            raise ValueError(f"not a valid date: {text!r} ({exc})") from None
        # "12-31" seen on 2 January is last year's.
        return stamp.replace(year=now.year - 1) if stamp > now + timedelta(days=1) else stamp
    return parse_chinese_datetime(text, now)


def _check_ok(payload: Any) -> bool:
    """False for an empty answer; raises for an error; True for ``ok: 1``."""
    if not isinstance(payload, dict):
        raise LayoutChanged(f"not a JSON object: {str(payload)[:200]!r}")
    ok = payload.get("ok")
    url = str(payload.get("url") or "")
    msg = str(payload.get("msg") or "")
    errno = payload.get("errno")
    if _is_verification(url):
        # The risk-control answer: ok -100 too, but pointing at a captcha, not a login.
        raise Blocked(f"the site wants a verification (captcha) first: {url}")
    if ok == -100 or "passport.weibo" in url:
        raise LoginRequired("m.weibo.cn requires login")
    if ok == 1:
        return True
    # ok 0 without an errno is how the API says "no results" ("这里还没有内容", or a post
    # without comments); rate limits and other refusals carry an errno.
    if ok == 0 and not errno:
        return False
    if str(errno) in RATE_LIMIT_ERRNOS or _BUSY_WORDS.search(msg):
        raise Blocked(f"the site says {msg!r} (errno {errno})"[:300])
    detail = f"API error ok={ok!r} errno={errno!r}: {msg or payload!r}"
    raise WeiboError(detail[:300])


#: errno values of the API's rate limit (``{"ok": 0, "errno": "100005", "msg":
#: "请求过于频繁,歇歇吧"}``, tests/fixtures/SOURCES.md).
RATE_LIMIT_ERRNOS = frozenset({"100005"})
#: The site's own words when it refuses a client for now.
_BUSY_WORDS = re.compile(r"频繁|繁忙|稍后再试|稍候再试|歇歇|访问受限|异常访问|验证码")


def _is_verification(url: str) -> bool:
    return "/captcha" in url or "security.weibo.com" in url or "verify.weibo" in url


def refusal_of_page(status: int, body: bytes, location: str = "") -> WeiboError | None:
    """What a non-JSON or non-200 answer means, if it is a refusal rather than a layout
    change: `Blocked` for HTTP 418 (the ban answer), 403/429 and pages of verification or
    "系统繁忙" text, `LoginRequired` for 432 and a redirect to passport; None otherwise."""
    if _is_verification(location):
        return Blocked(f"the site sent the client to a verification (captcha) page: {location}")
    if status == 432 or "passport." in location:
        return LoginRequired(f"m.weibo.cn requires login (HTTP {status})")
    if status == 418:
        return Blocked("HTTP 418: the site's answer to a client it has banned for now")
    text = body[:4000].decode("utf-8", "replace")
    words = _BUSY_WORDS.search(text)
    if status in (403, 429):
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        if isinstance(payload, dict):
            try:
                _check_ok(payload)
            except (Blocked, LoginRequired) as exc:
                return exc
        said = f": the site says {words.group(0)!r}" if words else ""
        return Blocked(f"HTTP {status}: the site refuses this client{said}")
    if words and not text.lstrip().startswith(("{", "[")):
        # The site's own sentence around its words, tags dropped.
        plain = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text))
        at = plain.find(words.group(0))
        said = plain[max(0, at - 30) : at + 40].strip()
        return Blocked(f"a refusal page instead of the API's answer, saying {said!r}")
    return None


def _post_cards(cards: list[Any]) -> tuple[list[dict[str, Any]], int]:
    """The mblogs of the cards (flattening card groups) and how many post cards lacked one."""
    mblogs: list[dict[str, Any]] = []
    missing = 0
    for card in cards:
        if not isinstance(card, dict):
            continue
        group = card.get("card_group") if card.get("card_type") == 11 else None
        for inner in group if isinstance(group, list) else [card]:
            if not isinstance(inner, dict):
                continue
            if isinstance(inner.get("mblog"), dict):
                mblogs.append(inner["mblog"])
            elif inner.get("card_type") == 9:
                missing += 1
    return mblogs, missing


def parse_card_page(payload: Any, now: datetime, cursor_key: str = "page") -> CardPage:
    """Posts in one ``/api/container/getIndex`` page (search or user timeline).

    Args:
        payload: The decoded JSON.
        now: The site's clock, for relative dates.
        cursor_key: ``page`` for search, ``since_id`` for a timeline.

    Returns:
        The page; ``ok: 0`` with "这里还没有内容" (no results) is an empty page.

    Raises:
        LoginRequired: ``ok: -100``.
        LayoutChanged: no ``data.cards`` list, or post cards without an ``mblog``.
        WeiboError: any other refusal (rate limit...).
    """
    if not _check_ok(payload):
        return CardPage()
    data = payload.get("data")
    cards = data.get("cards") if isinstance(data, dict) else None
    if not isinstance(cards, list):
        keys = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise LayoutChanged(f"no data.cards in the payload (data keys: {keys})")
    mblogs, missing = _post_cards(cards)
    if missing and not mblogs:
        raise LayoutChanged(f"{missing} post card(s) (card_type 9) without an mblog")
    posts: list[dict[str, Any]] = []
    problems: list[str] = []
    truncated: set[str] = set()
    pinned: set[str] = set()
    for position, mblog in enumerate(mblogs, 1):
        try:
            post = _post_record(mblog, now)
        except ValueError as exc:
            problems.append(f"post {mblog.get('mid') or mblog.get('id') or f'#{position}'}: {exc}")
            continue
        posts.append(post)
        if mblog.get("isLongText"):
            truncated.add(post["external_id"])
        if _is_pinned(mblog):
            pinned.add(post["external_id"])
    info = data.get("cardlistInfo") if isinstance(data.get("cardlistInfo"), dict) else {}
    cursor, page = info.get(cursor_key), info.get("page")
    return CardPage(
        posts,
        problems,
        str(cursor) if cursor not in (None, "", 0, "0") else None,
        frozenset(truncated),
        frozenset(pinned),
        str(page) if page not in (None, "", 0, "0") else None,
    )


def _is_pinned(mblog: dict[str, Any]) -> bool:
    title = mblog.get("title")
    label = title.get("text") if isinstance(title, dict) else None
    return mblog.get("isTop") in (1, True) or label == "置顶"


def _post_record(mblog: dict[str, Any], now: datetime) -> dict[str, Any]:
    mid = str(mblog.get("mid") or mblog.get("id") or "")
    if not mid:
        raise ValueError("no id")
    created = parse_post_time(str(mblog.get("created_at") or ""), now)
    likes = _int_or_none(mblog.get("attitudes_count"))
    attributes: dict[str, Any] = {"kind": "post", "likes": likes}
    original = mblog.get("retweeted_status")
    if isinstance(original, dict) and (original.get("mid") or original.get("id")):
        attributes["retweet_of"] = str(original.get("mid") or original.get("id"))
    return {
        "external_id": mid,
        "author": _author(mblog.get("user")),
        "text": html_to_text(str(mblog.get("text") or "")),
        "created_at": created,
        "url": f"https://m.weibo.cn/detail/{mid}",
        "repost_count": _int_or_none(mblog.get("reposts_count")),
        "comment_count": _int_or_none(mblog.get("comments_count")),
        "attributes": attributes,
    }


def parse_long_text(payload: Any) -> str:
    """The full text from a ``/statuses/extend`` answer.

    Raises:
        WeiboError (or LoginRequired/LayoutChanged): if there is no full text.
    """
    if not _check_ok(payload):
        raise WeiboError(f"no long text: {payload!r}"[:300])
    data = payload.get("data")
    content = data.get("longTextContent") if isinstance(data, dict) else None
    if not isinstance(content, str) or not content.strip():
        raise LayoutChanged("no data.longTextContent in the extend payload")
    return html_to_text(content)


def parse_comments_page(payload: Any, post_id: str, now: datetime) -> CommentPage:
    """Comments in one ``/comments/hotflow`` page of post `post_id`.

    Returns:
        The page; ``{"ok": 0}`` (a post without comments) is an empty last page.

    Raises:
        LoginRequired: ``ok: -100``.
        LayoutChanged: no ``data.data`` list.
        WeiboError: any other refusal.
    """
    if not _check_ok(payload):
        return CommentPage()
    data = payload.get("data")
    rows = data.get("data") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        keys = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise LayoutChanged(f"no data.data comment list in the payload (data keys: {keys})")
    comments: list[dict[str, Any]] = []
    problems: list[str] = []
    for position, row in enumerate(rows, 1):
        try:
            comments.append(_comment_record(row, post_id, now))
        except (ValueError, AttributeError) as exc:
            where = row.get("id") if isinstance(row, dict) else None
            problems.append(f"comment {where or f'#{position}'}: {exc}")
    max_id = data.get("max_id")
    return CommentPage(
        comments,
        problems,
        str(max_id) if max_id not in (None, "", 0, "0") else None,
        _int_or_none(data.get("max_id_type")) or 0,
    )


def _comment_record(row: dict[str, Any], post_id: str, now: datetime) -> dict[str, Any]:
    comment_id = str(row.get("id") or "")
    if not comment_id:
        raise ValueError("no id")
    return {
        "external_id": comment_id,
        "author": _author(row.get("user")),
        "text": html_to_text(str(row.get("text") or "")),
        "created_at": parse_post_time(str(row.get("created_at") or ""), now),
        "url": f"https://m.weibo.cn/detail/{post_id}#comment-{comment_id}",
        "comment_count": _int_or_none(row.get("total_number")),
        "attributes": {
            "kind": "comment",
            "parent_id": post_id,
            "likes": _int_or_none(row.get("like_count")),
        },
    }


def _author(user: Any) -> str | None:
    # The uid, not the screen name: names change, and a uid → customer file links by uid.
    if not isinstance(user, dict):
        return None
    name = user.get("id") if user.get("id") not in (None, "") else user.get("screen_name")
    return str(name) if name else None


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
