"""Complaint platforms in the style of 黑猫投诉: a JSON list API and an HTML page per complaint.

The list (``/api/index/s?keywords=`` or ``/api/company/received_complaints?couid=``) gives
each complaint's number (sn), title, a summary, the company complained about, the demand,
the amount, the status and the time; the complaint's own page adds the full 投诉内容 and
the status timeline (发起投诉, 已分配, 商家回复, 已完成, each with a time). The first merchant
reply and the completion step's times become the attributes ``replied_at`` and
``completed_at`` (`response_steps`), the complaint's response and resolution times.

A complaint keeps its sn as external_id through status changes, so a re-crawl updates the
stored record instead of adding another.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, NamedTuple
from urllib.parse import urlencode, urljoin, urlsplit

from parsel import Selector

from scrapers.errors import LayoutChanged, SourceError
from scrapers.parsers import CHINA_TZ, parse_chinese_datetime
from scrapers.tickets import pick_customer_key

#: Status codes the list API gives instead of a label on some endpoints.
STATUS_LABELS = {"1": "待分配", "2": "处理中", "3": "已回复", "4": "已完成"}
#: The timeline step whose text is the complaint itself.
FIRST_STEP = "发起投诉"

_AMOUNT = re.compile(r"\d[\d,]*(?:\.\d+)?")
#: Timeline labels of the merchant's reply (商家已回复, 商家回复, 商家回应) and of the end
#: of the complaint (投诉已完成, 已完成, 已结案).
MERCHANT_REPLY = re.compile(r"商家.{0,3}回[复应]|^已?回复$")
COMPLETED = re.compile(r"完成|结案")


class Pager(NamedTuple):
    """Where a list page sits: its number and how many pages there are."""

    current: int
    page_amount: int


def list_url(
    base: str,
    page: int,
    *,
    keywords: str | None = None,
    company_id: str | None = None,
    page_size: int = 10,
) -> str:
    """URL of one list page: a keyword search, or the complaints received by one company."""
    root = base.rstrip("/")
    if company_id:
        query = {"couid": company_id, "type": 1, "page_size": page_size, "page": page}
        return f"{root}/api/company/received_complaints?{urlencode(query)}"
    if keywords:
        query = {"keywords": keywords, "page": page, "page_size": page_size}
        return f"{root}/api/index/s?{urlencode(query)}"
    raise ValueError("either keywords or company_id is required")


def detail_url(base: str, complaint_url: str) -> str:
    """Where to fetch a complaint's page: its path on the configured site (`base`)."""
    parts = urlsplit(complaint_url)
    return urljoin(base.rstrip("/") + "/", parts.path.lstrip("/"))


def parse_list_page(
    payload: Any, now: datetime
) -> tuple[list[dict[str, Any]], Pager | None, list[str]]:
    """Complaints in one page of the list API.

    Args:
        payload: The decoded JSON.
        now: The site's "now" (for a time printed as text rather than epoch seconds).

    Returns:
        (records, pager or None if the page has none, problems). Each record has
        ``external_id`` (sn), ``text`` (title and summary), ``created_at``, ``author``,
        ``url`` and ``attributes`` (title, target, status, demand, amount, and updated_at /
        status_steps as None until the complaint's page is read). A complaint that cannot
        be read is left out and named in problems.

    Raises:
        SourceError: for an error answer (``result.status.code`` not 0).
        LayoutChanged: if the payload has no ``result.data.lists`` (or ``complaints``).
    """
    result = payload.get("result") if isinstance(payload, dict) else None
    if not isinstance(result, dict):
        raise LayoutChanged(f"no result in the list payload: {str(payload)[:200]!r}")
    status = result.get("status") if isinstance(result.get("status"), dict) else {}
    if str(status.get("code", 0)) != "0":
        raise SourceError(f"list API error {status.get('code')}: {status.get('msg') or '?'}")
    data = result.get("data")
    items = None
    if isinstance(data, dict):
        # The keyword search says "lists", a company's page says "complaints".
        items = data.get("lists", data.get("complaints"))
    if not isinstance(items, list):
        keys = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise LayoutChanged(f"no result.data.lists in the list payload (data: {keys})")
    records: list[dict[str, Any]] = []
    problems: list[str] = []
    for position, item in enumerate(items, 1):
        try:
            records.append(_list_record(item, now))
        except ValueError as exc:
            problems.append(f"complaint #{position}: {exc}")
    return records, _pager(data.get("pager")), problems


def _list_record(item: Any, now: datetime) -> dict[str, Any]:
    main = item.get("main") if isinstance(item, dict) else None
    if not isinstance(main, dict):
        raise ValueError("no main")
    sn = _clean(main.get("sn"))
    if not sn:
        raise ValueError(f"no sn ({_clean(main.get('title'))[:30]!r})")
    title = _clean(main.get("title"))
    stamp = main.get("timestamp")
    try:
        created = parse_complaint_time(stamp, now)
    except ValueError as exc:
        raise ValueError(f"{sn}: {exc}") from None
    url = _clean(main.get("url"))
    author = item.get("author") if isinstance(item.get("author"), dict) else {}
    return {
        "external_id": sn,
        "text": _join(title, _clean(main.get("summary"))),
        "created_at": created,
        "author": _clean(author.get("title")) or None,
        "rating": None,
        "url": urljoin("https://tousu.sina.com.cn/", url) if url else None,
        "product": None,
        "attributes": {
            "title": title,
            "target": _clean(main.get("cotitle")) or None,
            "status": status_label(main.get("status")),
            "demand": _clean(main.get("appeal")) or None,
            "amount": parse_amount(main.get("cost")),
            "updated_at": None,
            "status_steps": None,
        },
    }


def _pager(value: Any) -> Pager | None:
    try:
        return Pager(int(value["current"]), int(value["page_amount"]))
    except (TypeError, KeyError, ValueError):
        return None


def parse_complaint_time(value: Any, now: datetime) -> datetime:
    """A complaint time: epoch seconds (or milliseconds), or text in China time.

    Raises:
        ValueError: naming the value.
    """
    text = _clean(value)
    if text.isdigit():
        seconds = int(text)
        if seconds > 10**11:  # milliseconds
            seconds //= 1000
        return datetime.fromtimestamp(seconds, CHINA_TZ)
    if not text:
        raise ValueError("no time")
    return parse_chinese_datetime(text, now.astimezone(CHINA_TZ))


def status_label(value: Any) -> str | None:
    """The status as the site prints it; a numeric code becomes its label."""
    text = _clean(value)
    if text.isdigit():
        return STATUS_LABELS.get(text, f"状态{text}")
    return text or None


def parse_amount(value: Any) -> float | None:
    """涉诉金额 as a number: ``"199"``, ``"1,299.50元"``; None if there is none."""
    m = _AMOUNT.search(_clean(value))
    return float(m[0].replace(",", "")) if m else None


def parse_detail_page(html: str, url: str, now: datetime) -> tuple[dict[str, Any], list[str]]:
    """A complaint's own page: the full text and the status timeline.

    Returns:
        (detail, problems). ``detail`` has ``sn`` (投诉编号), ``body`` (the 发起投诉 step's
        text, "" if not found), ``title``, ``target``, ``demand``, ``amount``, ``status``
        (投诉进度), ``steps``: (time, label) pairs, oldest first, and ``step_count``. A step
        without a readable time is left out of ``steps`` and named in problems.

    Raises:
        SourceError: if the page is a login page (the session cookie has expired).
        LayoutChanged: if the page has neither the complaint's fields nor its timeline.
    """
    sel = Selector(text=html)
    if sel.css("input[type=password]") or "passport" in urlsplit(url).netloc:
        raise SourceError("got a login page instead of the complaint (cookie expired?)")
    fields = _labelled_fields(sel)
    items = sel.css(".ts-d-steplist .ts-d-item")
    if not fields and not items:
        raise LayoutChanged("no complaint fields (.ts-q-list) and no timeline (.ts-d-steplist)")
    problems: list[str] = []
    steps: list[tuple[datetime, str]] = []
    body = ""
    for position, item in enumerate(items, 1):
        label = _clean(item.css(".u-status::text").get())
        date_text = _clean(item.css(".u-date::text").get())
        if label == FIRST_STEP:
            body = _step_text(item)
        try:
            steps.append((parse_chinese_datetime(date_text, now.astimezone(CHINA_TZ)), label))
        except ValueError as exc:
            problems.append(f"step {position} ({label or '?'}): {exc}")
    if not items:
        problems.append("no status timeline (.ts-d-steplist .ts-d-item)")
    elif not body:
        problems.append(f"no {FIRST_STEP} text in the timeline")
    steps.sort(key=lambda step: step[0])
    detail = {
        "sn": fields.get("投诉编号") or None,
        "body": body,
        "title": _clean(sel.css(".ts-q-box h1::text").get()) or None,
        "target": fields.get("投诉对象") or None,
        "demand": fields.get("投诉要求") or None,
        "amount": parse_amount(fields.get("涉诉金额")),
        "status": fields.get("投诉进度") or (steps[-1][1] if steps else None),
        "steps": steps,
        "step_count": len(items),
    }
    return detail, problems


def response_steps(
    steps: list[tuple[datetime, str]],
) -> tuple[datetime | None, datetime | None]:
    """(first merchant reply, last completion) of a timeline's (time, label) steps; None
    for a step that has not happened."""
    replies = [at for at, label in steps if MERCHANT_REPLY.search(label)]
    done = [at for at, label in steps if COMPLETED.search(label)]
    return (min(replies) if replies else None, max(done) if done else None)


def _step_text(item: Selector) -> str:
    """A timeline step's text, one line per paragraph."""
    paragraphs = item.css(".ts-d-cont p") or item.css(".ts-d-cont")
    lines = (_clean(" ".join(p.css("::text").getall())) for p in paragraphs)
    return "\n".join(line for line in lines if line)


def _labelled_fields(sel: Selector) -> dict[str, str]:
    fields: dict[str, str] = {}
    for li in sel.css(".ts-q-list li"):
        label = _clean(li.css("label::text").get()).rstrip("：:")
        value = _clean(" ".join(li.xpath("./node()[not(self::label)]//text() | ./text()").getall()))
        if label:
            fields[label] = value
    return fields


def merge_detail(record: dict[str, Any], detail: dict[str, Any]) -> dict[str, Any]:
    """The list record completed from the complaint's page (a new dict; neither is changed).

    The page's full text replaces the summary, and its fields (which the list may cut
    short) win over the list's, but a field the page lacks keeps the list's value.

    Raises:
        ValueError: if the page is another complaint's (its 投诉编号 is not the record's sn).
    """
    if detail.get("sn") and detail["sn"] != record["external_id"]:
        raise ValueError(f"the page is complaint {detail['sn']}, not {record['external_id']}")
    attributes = dict(record.get("attributes") or {})
    for key in ("title", "target", "demand", "amount", "status"):
        if detail.get(key) not in (None, ""):
            attributes[key] = detail[key]
    steps = detail.get("steps") or []
    attributes["status_steps"] = detail.get("step_count", len(steps))
    attributes["updated_at"] = steps[-1][0].isoformat() if steps else None
    if steps:
        # The timeline was read: a complaint without a reply step is unanswered so far.
        replied, completed = response_steps(steps)
        attributes["replied_at"] = replied.isoformat() if replied else None
        attributes["completed_at"] = completed.isoformat() if completed else None
        attributes["response_origin"] = "complaint_steps"
    merged = {**record, "attributes": attributes}
    if detail.get("body"):
        merged["text"] = _join(attributes.get("title") or "", detail["body"])
    return merged


def with_customer_key(record: dict[str, Any], key_from: str) -> dict[str, Any]:
    """The record with its raw customer key as ``customer`` (hashed by `make_document`), by
    the source's ``customer_key`` option (``none``, ``author``, ``phone_in_text``,
    ``email_in_text``); a new dict. Called on the full text, before masking."""
    key = pick_customer_key(
        key_from, author=record.get("author"), text=str(record.get("text") or "")
    )
    return {**record, "customer": key}


def _join(title: str, body: str) -> str:
    return "\n".join(part for part in (title, body) if part)


def _clean(value: Any) -> str:
    return " ".join(str(value).split()) if value is not None else ""
