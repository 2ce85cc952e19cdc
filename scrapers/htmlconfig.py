"""Config-driven HTML review pages: validate a site's selectors, read reviews off a page.

A new review site is a ``[sources.x]`` table, not code: ``selectors`` names, as CSS (parsel,
with ``::text`` and ``::attr(name)``) or XPath (prefixed ``xpath:``), one element per
review (``item``), and within it ``text``, ``date`` and optionally ``id``, ``rating``,
``author``, ``product``, ``url``; and, on the page, ``next_page`` (a link) and ``empty``
(the site's "no reviews yet" marker). An absolute XPath in an item field
(``xpath://h1/text()``) reads the whole page, e.g. for a product name printed once.

When ``item`` matches nothing the page is an end if ``empty`` matches; else it is a changed
layout if ``empty`` is configured, if the page links to a next page, or if we got there
from a page with reviews; else (a first page without reviews, nothing to tell) it is
reported as an empty page. A page without reviews that reads like a verification or login
page is reported as blocked. A review without text or date is a problem naming its index;
when every item on a page lacks one, the layout has changed too.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urljoin

from parsel import Selector, SelectorList

from scrapers.parsers import parse_chinese_datetime
from voc.kinds.web import HtmlReviewsOptions, Selectors

# The selector keys and the defaults are declared once, with the source options.
REQUIRED = tuple(k for k, f in Selectors.model_fields.items() if f.is_required())
OPTIONAL = tuple(k for k, f in Selectors.model_fields.items() if not f.is_required())
DEFAULT_MAX_PAGES: int = HtmlReviewsOptions.model_fields["max_pages"].default

# Shown instead of reviews when a site wants a human; only looked for on review-less pages.
_BLOCKED_TITLE = ("验证", "登录", "访问受限", "安全检查", "captcha", "access denied", "forbidden")
_BLOCKED_BODY = (
    "验证码",
    "滑块验证",
    "安全验证",
    "访问过于频繁",
    "请求过于频繁",
    "操作过于频繁",
    "操作太频繁",
    "系统繁忙",
    "访问受限",
    "禁止访问",
    "ip被封",
    "captcha",
    "too many requests",
)
_LABEL = re.compile(r"^(?:发表于|发布于|评论于|评价于|更新于|写于|[\u4e00-\u9fff]{1,6}[：:])\s*")
_HALF_DAY = re.compile(r"^(.*?)\s*(上午|中午|下午|晚上|凌晨)\s*(\d{1,2})[:：](\d{2})$")
_MONTH_DAY_ONLY = re.compile(r"^(\d{1,2})[-月/](\d{1,2})日?$")
_DAY_WORDS = {"今天": 0, "昨天": 1, "前天": 2}
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


@dataclass(frozen=True)
class HtmlReviewConfig:
    """One site's validated configuration.

    Attributes:
        selectors: Selector per key (see the module docstring); ``xpath:`` prefix = XPath.
        rating_scale: The site's best rating (10, 100...), scaled to 5; None = already 0-5.
        rating_regex: Finds the number in the rating text (group 1 if any, else the match).
        date_format: A strptime format for dates `parse_chinese_datetime` does not read.
        max_pages: Most listing pages followed per crawl.
        encoding: Forces the page encoding (for pages that declare the wrong one).
        newest_first: The listing is sorted newest first, so a page older than the crawl
            window ends the crawl; False reads up to max_pages whatever the dates.
    """

    selectors: Mapping[str, str]
    rating_scale: float | None = None
    rating_regex: re.Pattern[str] | None = None
    date_format: str | None = None
    max_pages: int = DEFAULT_MAX_PAGES
    encoding: str | None = None
    newest_first: bool = True


def load_config(
    source: str,
    selectors: str | Mapping[str, Any] | None,
    rating_scale: str | float | None = None,
    rating_regex: str | None = None,
    date_format: str | None = None,
    max_pages: str | int | None = None,
    encoding: str | None = None,
    newest_first: str | bool | None = None,
) -> HtmlReviewConfig:
    """Validate a source's options (as text or values) into a config.

    Raises:
        ValueError: naming the source and the option or selector key that is wrong.
    """
    if isinstance(selectors, str):
        try:
            selectors = json.loads(selectors)
        except ValueError as exc:
            raise ValueError(f"{source}: selectors is not a JSON table: {exc}") from None
    if not isinstance(selectors, Mapping):
        raise ValueError(f"{source}: selectors is required: a table of {', '.join(REQUIRED)}...")
    for key in selectors:
        if key not in REQUIRED + OPTIONAL:
            known = ", ".join(REQUIRED + OPTIONAL)
            raise ValueError(f"{source}: selectors.{key} is not a known key ({known})")
    for key in REQUIRED:
        if not selectors.get(key):
            raise ValueError(f"{source}: selectors.{key} is required")
    probe = Selector(text="<html><body><p>x</p></body></html>")
    for key, expr in selectors.items():
        if not isinstance(expr, str) or not expr.strip():
            raise ValueError(f"{source}: selectors.{key} must be a non-empty string")
        try:
            select(probe, expr)
        except Exception as exc:  # cssselect raises SyntaxError/RuntimeError subclasses
            raise ValueError(f"{source}: selectors.{key} {expr!r} is invalid: {exc}") from None
    return HtmlReviewConfig(
        selectors=dict(selectors),
        rating_scale=_positive(source, "rating_scale", rating_scale, float),
        rating_regex=_regex(source, rating_regex),
        date_format=_date_format(source, date_format),
        max_pages=_positive(source, "max_pages", max_pages, int) or DEFAULT_MAX_PAGES,
        encoding=_encoding(source, encoding),
        newest_first=_flag(source, "newest_first", newest_first, default=True),
    )


def _positive(source: str, name: str, value: Any, kind: type) -> Any:
    if value in (None, ""):
        return None
    try:
        number = kind(value)
    except (TypeError, ValueError):
        number = 0
    if number <= 0:
        raise ValueError(f"{source}: {name} must be a positive number, got {value!r}")
    return number


def _flag(source: str, name: str, value: str | bool | None, default: bool) -> bool:
    if value in (None, ""):
        return default
    if isinstance(value, bool):
        return value
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError(f"{source}: {name} must be true or false, got {value!r}")


def _regex(source: str, pattern: str | None) -> re.Pattern[str] | None:
    if not pattern:
        return None
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"{source}: rating_regex {pattern!r} is invalid: {exc}") from None


def _date_format(source: str, fmt: str | None) -> str | None:
    if fmt and "%" not in fmt:
        raise ValueError(f"{source}: date_format {fmt!r} has no strptime directive (%Y...)")
    return fmt or None


def _encoding(source: str, name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise ValueError(f"{source}: encoding {name!r} is not a known encoding") from None


def select(node: Selector, expr: str) -> SelectorList[Selector]:
    """Matches of a configured selector: XPath if prefixed ``xpath:``, else CSS."""
    if expr.startswith("xpath:"):
        return node.xpath(expr[len("xpath:") :].strip())
    return node.css(expr)


def _match_text(match: Selector) -> str:
    if isinstance(match.root, str):  # ::text, ::attr() or an XPath string result
        return match.root
    # An element: its text, with <br> kept as a line break.
    return "".join(
        part.root if isinstance(part.root, str) else "\n"
        for part in match.xpath(".//text() | .//br")
    )


def _clean(text: str) -> str:
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def _first(node: Selector, expr: str | None) -> str | None:
    for match in select(node, expr) if expr else ():
        if value := " ".join(_match_text(match).split()):
            return value
    return None


def review_text(node: Selector, expr: str) -> str:
    """All the text a selector matches: text nodes run together, elements one per line."""
    parts = (
        m.root if isinstance(m.root, str) else f"\n{_match_text(m)}\n" for m in select(node, expr)
    )
    return _clean("".join(parts))


def parse_review_date(text: str, now: datetime, date_format: str | None = None) -> datetime:
    """A review date as printed, in now's timezone; `parse_chinese_datetime` plus labels
    (``发表于``, ``评价时间：``), 12-hour times (``2024年3月1日 下午3:05``) and month-day
    only (``3月1日``), or exactly `date_format` if given.

    Raises:
        ValueError: naming the text.
    """
    s = _LABEL.sub("", " ".join(text.split()))
    if date_format:
        try:
            stamp = datetime.strptime(s, date_format)
        except ValueError as exc:
            raise ValueError(f"date {text!r} does not match {date_format!r} ({exc})") from None
        return stamp if stamp.tzinfo else stamp.replace(tzinfo=now.tzinfo)
    if m := _HALF_DAY.match(s):
        day_text, half, hour, minute = m[1].strip(), m[2], int(m[3]), int(m[4])
        if (half in ("下午", "晚上") and hour < 12) or (half == "中午" and hour < 11):
            hour += 12
        elif half in ("上午", "凌晨") and hour == 12:
            hour = 0
        if (day_text or "今天") in _DAY_WORDS:
            day = (now - timedelta(days=_DAY_WORDS[day_text or "今天"])).date()
        else:
            day = parse_review_date(day_text, now).date()
        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=now.tzinfo)
    if m := _MONTH_DAY_ONLY.match(s):
        return parse_chinese_datetime(f"{m[1]}-{m[2]} 00:00", now)
    return parse_chinese_datetime(s, now)


def parse_rating(
    text: str, pattern: re.Pattern[str] | None = None, scale: float | None = None
) -> float:
    """A rating on 0-5 from its text (``4分``, ``star40``, ``8.6``), scaled from `scale`.

    Raises:
        ValueError: if there is no number or it is out of range.
    """
    m = (pattern or _NUMBER).search(text)
    if m is None:
        raise ValueError(f"no rating in {text!r}")
    try:
        value = float(m[1] if m.re.groups else m[0])
    except (TypeError, ValueError):
        raise ValueError(f"no number in rating {text!r}") from None
    top = scale or 5.0
    if not 0 <= value <= top:
        raise ValueError(f"rating {value:g} in {text!r} is outside 0-{top:g}")
    return round(value * 5 / top, 2)


@dataclass(frozen=True)
class ReviewPage:
    """What one listing page gave.

    Attributes:
        reviews: Raw records (the keyword arguments of `voc.records.make_document`).
        next_url: The next listing page, absolute, if the page links one.
        problems: One message per review that could not be read, naming its index.
        item_count: Elements the item selector matched.
        layout_changed: Why the page no longer matches the configuration, if it does not.
        blocked: Why the page looks like a verification/login page, if it does.
        empty: True for a first page with no reviews and nothing to tell why.
    """

    reviews: list[dict[str, Any]]
    next_url: str | None = None
    problems: list[str] = field(default_factory=list)
    item_count: int = 0
    layout_changed: str | None = None
    blocked: str | None = None
    empty: bool = False


def parse_listing(
    html: str, url: str, now: datetime, config: HtmlReviewConfig, first_page: bool = True
) -> ReviewPage:
    """Reviews on one listing page (see the module docstring for the end-of-listing rule).

    Args:
        html: The page text.
        url: Where it came from (for links and ids).
        now: The site's clock, for relative dates.
        config: The site's configuration.
        first_page: False when the page was reached from a page with reviews.
    """
    if (answer := _json_answer(html)) is not None:
        return _json_instead_of_html(answer)
    # type="html": parsel would read a JSON-looking text as JSON, on which CSS cannot run.
    sel = Selector(text=html, base_url=url, type="html")
    css = config.selectors
    items = select(sel, css["item"])
    next_href = _first(sel, css.get("next_page"))
    next_url = urljoin(url, next_href) if next_href else None
    if next_url == url:
        next_url = None
    if not items:
        return _without_items(sel, url, css, next_url, first_page)
    reviews: list[dict[str, Any]] = []
    problems: list[str] = []
    missing = {"text": 0, "date": 0}
    for index, item in enumerate(items, 1):
        text = review_text(item, css["text"])
        date_text = _first(item, css["date"])
        for key, value in (("text", text), ("date", date_text)):
            if not value:
                missing[key] += 1
                problems.append(f"review {index}: {key} selector {css[key]!r} matched nothing")
        if not text or not date_text:
            continue
        try:
            created = parse_review_date(date_text, now, config.date_format)
        except ValueError as exc:
            problems.append(f"review {index}: {exc}")
            continue
        author = _first(item, css.get("author"))
        review_id = _first(item, css.get("id")) or _hash_id(author, date_text, text)
        rating = None
        if raw := _first(item, css.get("rating")):
            try:
                rating = parse_rating(raw, config.rating_regex, config.rating_scale)
            except ValueError as exc:
                problems.append(f"review {index}: {exc}")
        link = _first(item, css.get("url"))
        reviews.append(
            {
                "external_id": review_id,
                "text": text,
                "created_at": created,
                "author": author,
                "rating": rating,
                "url": urljoin(url, link) if link else f"{url.split('#')[0]}#review-{review_id}",
                "product": _first(item, css.get("product")),
            }
        )
    broken = [key for key, count in missing.items() if count == len(items)]
    layout = (
        f"{' and '.join(broken)} selector matched nothing in all {len(items)} items"
        if broken
        else None
    )
    return ReviewPage(reviews, next_url, problems, len(items), layout)


def _json_answer(text: str) -> Any:
    """The decoded JSON when a listing URL answered JSON (an API error, a redesign that
    moved the reviews into an XHR), else None."""
    head = text.lstrip()[:1]
    if head not in ("{", "["):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _json_instead_of_html(answer: Any) -> ReviewPage:
    """A JSON answer where the configuration reads HTML: blocked when it says so in the
    site's words (a rate limit, a busy or verification answer), else a changed layout
    naming the keys the answer had."""
    flat = json.dumps(answer, ensure_ascii=False)
    if any(w in flat.lower() for w in _BLOCKED_BODY):
        return ReviewPage([], blocked=f"the site answered {flat[:120]!r} instead of the page")
    keys = sorted(answer)[:8] if isinstance(answer, dict) else f"a list of {len(answer)}"
    return ReviewPage(
        [],
        layout_changed=f"the site answered JSON (keys: {keys}) where the selectors read HTML",
    )


def _without_items(
    sel: Selector, url: str, css: Mapping[str, str], next_url: str | None, first_page: bool
) -> ReviewPage:
    title = " ".join(sel.css("title::text").get("").split())
    body = " ".join(sel.css("body ::text").getall())
    said = next((w for w in _BLOCKED_BODY if w in body.lower()), None)
    if said or any(w in title.lower() for w in _BLOCKED_TITLE):
        # The site's own words: the sentence around the word that gave it away.
        at = body.lower().find(said) if said else 0
        words = " ".join(body[max(0, at - 20) : at + 40].split()) if said else ""
        shown = f"{title!r}: {words!r}" if title and words else repr(title or words or body[:60])
        return ReviewPage([], blocked=f"a verification, login or refusal page ({shown})")
    if css.get("empty") and select(sel, css["empty"]):
        return ReviewPage([])
    item = css["item"]
    if css.get("empty"):
        reason = f"item selector {item!r} and empty selector {css['empty']!r} both match nothing"
    elif next_url:
        reason = f"item selector {item!r} matched nothing, yet the page links a next page"
    elif not first_page:
        reason = f"item selector {item!r} matched nothing on a page linked from reviews"
    else:
        return ReviewPage([], empty=True)
    return ReviewPage([], next_url, layout_changed=reason)


def _hash_id(author: str | None, date_text: str, text: str) -> str:
    digest = hashlib.sha1(f"{author or ''}\x1f{date_text}\x1f{text}".encode()).hexdigest()
    return f"h{digest[:16]}"
