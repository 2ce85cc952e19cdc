"""Pure parsers for the pages our spiders fetch: str/dict in, raw review/post dicts out.

No Scrapy here, so every quirk can be tested from a saved page. The raw dicts carry exactly
the keyword arguments `voc.records.make_document` takes besides source, channel, brand and
salt (the item pipeline adds those).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urljoin

from parsel import Selector

#: Chinese sites print local time without an offset; China has one zone and no DST.
CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")

_AGO = re.compile(r"^(\d+)\s*(秒|分钟|小时|天)前$")
_DAY_WORD = re.compile(r"^(今天|昨天|前天)\s*(\d{1,2}):(\d{2})$")
_ISO = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
_CN_DATE = re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日(?:\s*(\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
_MONTH_DAY = re.compile(r"^(\d{1,2})[-月](\d{1,2})日?\s+(\d{1,2}):(\d{2})$")
_UNITS = {"秒": "seconds", "分钟": "minutes", "小时": "hours", "天": "days"}
_DAY_OFFSETS = {"今天": 0, "昨天": 1, "前天": 2}
_MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}


def parse_chinese_datetime(text: str, now: datetime) -> datetime:
    """A date as Chinese sites print it, resolved against `now` in now's timezone.

    Handles 刚刚, N秒/分钟/小时/天前, 今天/昨天/前天 HH:MM, YYYY-MM-DD HH:MM(:SS) (also with
    ``/`` or ``.``), YYYY年M月D日( HH:MM) and MM-DD HH:MM (current year). Relative times
    resolve to the latest moment the text allows (``N天前`` keeps now's time of day), so
    their date is exact and the time is good to the unit printed.

    Raises:
        ValueError: naming the text, if it is none of these or not a real date.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    tz = now.tzinfo
    s = " ".join(text.split())
    try:
        if s == "刚刚":
            return now
        if m := _AGO.match(s):
            return now - timedelta(**{_UNITS[m[2]]: int(m[1])})
        if m := _DAY_WORD.match(s):
            day = now.date() - timedelta(days=_DAY_OFFSETS[m[1]])
            return datetime(day.year, day.month, day.day, int(m[2]), int(m[3]), tzinfo=tz)
        if m := (_ISO.match(s) or _CN_DATE.match(s)):
            y, mo, d, h, mi, sec = (int(g) if g else 0 for g in m.groups())
            return datetime(y, mo, d, h, mi, sec, tzinfo=tz)
        if m := _MONTH_DAY.match(s):
            mo, d, h, mi = (int(g) for g in m.groups())
            stamp = datetime(now.year, mo, d, h, mi, tzinfo=tz)
            # "12-31 23:00" seen on 2 January is last year's.
            return stamp.replace(year=now.year - 1) if stamp > now + timedelta(days=1) else stamp
    except ValueError as exc:
        raise ValueError(f"not a valid date: {text!r} ({exc})") from None
    raise ValueError(f"unrecognised date format: {text!r}")


def parse_weibo_time(text: str) -> datetime:
    """Weibo's ``Tue Aug 12 10:03:00 +0800 2025`` (English names whatever the locale).

    Raises:
        ValueError: naming the text.
    """
    parts = text.split()
    try:
        _, month, day, clock, offset, year = parts
        hh, mm, ss = (int(x) for x in clock.split(":"))
        sign = -1 if offset[0] == "-" else 1
        tz = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5])))
        return datetime(int(year), _MONTHS[month], int(day), hh, mm, ss, tzinfo=tz)
    except (ValueError, KeyError, IndexError) as exc:
        raise ValueError(f"not a weibo created_at: {text!r}") from exc


def parse_review_page(
    html: str, url: str, now: datetime
) -> tuple[list[dict[str, Any]], str | None, list[str]]:
    """Reviews on one shop review page.

    Args:
        html: The page.
        url: Where it came from (for absolute links and messages).
        now: The site's "now", to resolve relative dates.

    Returns:
        (reviews, next page URL or None, problems). A review that cannot be read is left
        out and described in problems, naming the URL and review id.
    """
    sel = Selector(text=html)
    page_product = sel.css("[data-product-id]::attr(data-product-id)").get()
    if page_product is None and (m := re.search(r"/product/(\w+)/", url)):
        page_product = m[1]
    reviews: list[dict[str, Any]] = []
    problems: list[str] = []
    for i, block in enumerate(sel.css("li.review"), start=1):
        review_id = block.attrib.get("data-review-id") or f"#{i}"
        where = f"{url} review {review_id}"
        date_text = (block.css(".date::text").get() or "").strip()
        text = "".join(block.css(".review-text ::text").getall()).strip()
        if not block.attrib.get("data-review-id"):
            problems.append(f"{where}: no review id")
            continue
        if not date_text:
            problems.append(f"{where}: no date")
            continue
        try:
            created = parse_chinese_datetime(date_text, now)
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
            continue
        reviews.append(
            {
                "external_id": review_id,
                "author": (block.css(".nickname::text").get() or "").strip() or None,
                "rating": _star_rating(block),
                "text": text,
                "created_at": created,
                "url": f"{url.split('#')[0]}#review-{review_id}",
                "product": page_product,
            }
        )
    next_href = sel.css("a.next::attr(href)").get()
    return reviews, (urljoin(url, next_href) if next_href else None), problems


def _star_rating(block: Selector) -> int | None:
    score = block.css("[data-score]::attr(data-score)").get()
    if score and score.isdigit():
        return int(score)
    for cls in block.css(".star::attr(class)").getall():
        if m := re.search(r"\bstar-(\d)\b", cls):
            return int(m[1])
    return None


def parse_search_page(
    payload: dict[str, Any],
) -> tuple[list[dict[str, Any]], str | None, list[str]]:
    """Posts in one page of the microblog search API.

    Returns:
        (posts, next cursor or None, problems). A post that cannot be read is left out and
        described in problems, naming its id.

    Raises:
        ValueError: if the payload is not a successful search response at all.
    """
    if payload.get("ok") != 1 or not isinstance(payload.get("data"), dict):
        raise ValueError(f"search API error: {payload.get('msg') or payload!r}"[:300])
    data = payload["data"]
    posts: list[dict[str, Any]] = []
    problems: list[str] = []
    for status in data.get("statuses") or []:
        post_id = str(status.get("id") or "")
        try:
            created = parse_weibo_time(str(status.get("created_at", "")))
        except ValueError as exc:
            problems.append(f"post {post_id or '?'}: {exc}")
            continue
        if not post_id:
            problems.append(f"post without id at {created.isoformat()}")
            continue
        user = status.get("user") or {}
        posts.append(
            {
                "external_id": post_id,
                "author": str(user["id"]) if user.get("id") is not None else None,
                "text": str(status.get("text") or ""),
                "created_at": created,
                "url": None,
                "repost_count": _int_or_none(status.get("reposts_count")),
                "comment_count": _int_or_none(status.get("comments_count")),
            }
        )
    return posts, data.get("next_cursor") or None, problems


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def parse_shop_index(html: str, url: str) -> list[str]:
    """Absolute URLs of the product review pages linked from a shop index page."""
    hrefs = Selector(text=html).css("a.product-link::attr(href)").getall()
    return [urljoin(url, h) for h in dict.fromkeys(hrefs)]
