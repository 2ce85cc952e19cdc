"""Helpdesk REST API tickets via the incremental export (kind helpdesk_api, Zendesk contract).

The export returns tickets ordered by ``updated_at``, so an edited ticket comes again and keeps
its id: the warehouse updates it in place. Two export styles: cursor-based (``cursor.json``,
``after_cursor`` and ``end_of_stream``; the default) and time-based (``tickets.json``,
``end_time``; option ``export = "time"``). A run returns ``cursor:<after_cursor>`` or
``time:<epoch>`` (a ``start_time``, which both styles accept), always the end of the last page
read in full: a failed run resumes there, so nothing is lost, and what is read again is
upserted unchanged.
"""

from __future__ import annotations

import base64
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from scrapers.helpdesk_http import HelpdeskError, build_opener, get_json
from scrapers.helpdesk_metrics import metric_attributes, metric_sets_by_ticket
from scrapers.parsers import CHINA_TZ
from scrapers.tickets import TicketLoad, parse_ticket_value, pick_customer_key
from voc.kinds.connectors import HelpdeskApiOptions
from voc.records import Document, RecordError, make_document
from voc.settings import SourceConfig

__all__ = ["USER_AGENT", "HelpdeskError", "load_helpdesk", "parse_ticket"]

logger = logging.getLogger(__name__)

USER_AGENT = "VoCMonitor/0.1 (customer-feedback monitor; helpdesk incremental export)"
EXPORT_PATHS = {
    "cursor": "/api/v2/incremental/tickets/cursor.json",
    "time": "/api/v2/incremental/tickets.json",
}


@dataclass(frozen=True)
class _Config:
    base: str
    export: str
    per_page: int | None
    max_pages: int
    max_wait: float
    attempts: int
    backoff: float
    timeout: float
    brand: str | None
    headers: dict[str, str]
    secrets: tuple[str, ...]
    proxy: str | None
    customer_key: str = "author"
    metric_sets: bool = True
    auth_hint: str = "check email and token_env/bearer_env"

    def page_url(self, position: str) -> str:
        kind, _, value = position.partition(":")
        query = {"cursor": value} if kind == "cursor" else {"start_time": value}
        if self.per_page:
            query["per_page"] = str(self.per_page)
        # Side-loaded users carry the requesters' e-mail addresses; metric sets the reply
        # and resolution times (`scrapers.helpdesk_metrics`).
        include = ["users"] if self.customer_key in ("author", "requester_email") else []
        if self.metric_sets:
            include.append("metric_sets")
        if include:
            query["include"] = ",".join(include)
        return f"{self.base}{EXPORT_PATHS[self.export]}?{urlencode(query)}"


def load_helpdesk(
    source: SourceConfig,
    since: date,
    until: date,
    author_salt: str,
    cursor: str | None = None,
) -> TicketLoad:
    """Load the tickets updated since `since` (or since `cursor`) and created by `until`.

    Args:
        source: A ``helpdesk_api`` source; ``url`` is the helpdesk's base URL
            (``https://acme.zendesk.com``). Its options (`voc.kinds.connectors.
            HelpdeskApiOptions`): ``export``, ``email`` + ``token_env`` (basic auth
            ``email/token:TOKEN``) or ``bearer_env`` (OAuth), ``per_page``, ``max_pages``,
            ``max_wait`` (longest Retry-After wait), the retry options, ``proxy_env``,
            ``customer_key`` (default: the requester's e-mail from the side-loaded users,
            ``include=users``, else the requester id), ``metric_sets`` (side-load the
            ticket metrics: reply and resolution minutes as attributes; default on).
        since: First day (China time) of the first run; ignored when resuming from a cursor.
        until: Last day (inclusive): tickets created later are left for a later run.
        author_salt: Salt for hashing the requester id.
        cursor: ``cursor:<after_cursor>`` or ``time:<epoch>`` from the previous run.

    An older ticket updated in the window is loaded too (its new state replaces the stored
    one). Deleted and empty tickets are skipped and counted; a failing page is a problem
    naming the source and URL, and the pages before it are kept. Nothing is raised.
    """
    try:
        config = _config(source)
    except ValueError as exc:
        return TicketLoad(problems=[f"{source.name}: {exc}"], cursor=cursor)
    problems: list[str] = []
    start = _start_position(source.name, config, since, cursor, problems)
    pages, position, emails, metrics = _read_pages(source.name, config, start, problems)
    end = datetime.combine(until + timedelta(days=1), datetime.min.time(), CHINA_TZ)
    load = _documents(source.name, config, pages, end, author_salt, problems, emails, metrics)
    if not pages:  # no page read in full: the next run starts where this one did
        position = cursor
    elif load.cursor is not None:  # a ticket created after `until`: resume at it
        position = load.cursor
    for message in problems:
        logger.warning(message)
    return TicketLoad(load.documents, problems, load.n_rows, load.n_skipped, position)


def parse_ticket(
    ticket: Mapping[str, Any],
    source: str,
    author_salt: str,
    brand: str | None = None,
    customer_key: str = "author",
    emails: Mapping[str, str] | None = None,
    metric_sets: Mapping[str, Mapping[str, Any]] | None = None,
    base: str | None = None,
) -> Document:
    """One exported ticket as a ``ticket`` document (external id = the ticket id; its
    URL is the agent page an agent opens, `agent_url`).

    Args:
        ticket: The exported ticket.
        source: The source's name.
        author_salt: Salt of the requester and customer-key hashes.
        brand: The source's brand.
        customer_key: The ``customer_key`` option: ``author`` (the requester's e-mail,
            else the requester id), ``requester_id``, ``requester_email``,
            ``phone_in_text``, ``email_in_text`` or ``none``.
        emails: Requester id → e-mail, from the pages' side-loaded ``users``.
        metric_sets: Ticket id → metric set, from the side-loaded ``metric_sets``: its
            reply and resolution minutes become attributes (`scrapers.helpdesk_metrics`).
        base: The helpdesk's base URL, for a ticket whose API ``url`` is missing.

    Raises:
        RecordError: naming the field that is missing or invalid.
    """
    if ticket.get("id") in (None, ""):
        raise RecordError("no id")
    try:
        created = parse_ticket_value(ticket.get("created_at"))
    except ValueError as exc:
        raise RecordError(f"created_at {exc}") from None
    # The raw text is never stripped; an empty part is only left out of the join.
    parts = [str(ticket.get(k) or "") for k in ("subject", "description")]
    text = "\n".join(p for p in parts if p.strip())
    if not text:
        raise RecordError("subject and description are empty")
    via = ticket.get("via")
    tags = ticket.get("tags")
    attributes = {
        "status": ticket.get("status"),
        "priority": ticket.get("priority"),
        "updated_at": ticket.get("updated_at"),
        "via": via.get("channel") if isinstance(via, Mapping) else None,
        "tags": ",".join(str(t) for t in tags) if isinstance(tags, list) else None,
        **metric_attributes(ticket, metric_sets),
    }
    requester = ticket.get("requester_id")
    requester_id = None if requester is None else str(requester)
    email = (emails or {}).get(requester_id or "")
    if customer_key == "requester_id":
        customer = requester_id
    elif customer_key == "requester_email":
        customer = email
    else:
        customer = pick_customer_key(customer_key, author=email or requester_id, text=text)
    return make_document(
        source=source,
        channel="ticket",
        external_id=str(ticket["id"]),
        text=text,
        created_at=created,
        author=requester_id,
        url=agent_url(ticket, base),
        brand=brand,
        attributes={k: v for k, v in attributes.items() if v not in (None, "")},
        author_salt=author_salt,
        customer=customer,
    )


_API_TICKET_URL = re.compile(r"^(https?://[^/]+)/api/v2/tickets/(\d+)(?:\.json)?$")


def agent_url(ticket: Mapping[str, Any], base: str | None = None) -> str | None:
    """The ticket's page in the agent interface (``https://{subdomain}.zendesk.com/agent/
    tickets/{id}``): the export's ticket ``url`` is the API resource
    (``…/api/v2/tickets/{id}.json``), which an agent cannot open. From that URL's host,
    else from `base`; None without either."""
    api = str(ticket.get("url") or "")
    if m := _API_TICKET_URL.match(api):
        return f"{m[1]}/agent/tickets/{m[2]}"
    if base and ticket.get("id") not in (None, ""):
        return f"{base.rstrip('/')}/agent/tickets/{ticket['id']}"
    return None


def _config(source: SourceConfig) -> _Config:
    options = source.typed_options
    assert isinstance(options, HelpdeskApiOptions)
    base = base_url(source)
    headers, secrets = _auth(options)
    return _Config(
        base=base,
        export=options.export,
        per_page=options.per_page,
        max_pages=options.max_pages,
        max_wait=options.max_wait,
        attempts=1 + options.retry_times,
        backoff=options.retry_backoff,
        timeout=options.download_timeout,
        brand=options.brand or None,
        headers={"User-Agent": USER_AGENT, "Accept": "application/json", **headers},
        secrets=secrets,
        proxy=os.environ.get(options.proxy_env) if options.proxy_env else None,
        customer_key=options.customer_key,
        metric_sets=options.metric_sets,
    )


def base_url(source: SourceConfig) -> str:
    """The helpdesk's base URL (``https://acme.zendesk.com``), ``/api/v2`` dropped.

    Raises:
        ValueError: not an http(s) URL.
    """
    base = source.url.rstrip("/").removesuffix("/api/v2")
    if not base.startswith(("http://", "https://")):
        raise ValueError(f"url must be the helpdesk's http(s) base URL, got {source.url!r}")
    return base


def secret(env: str, option: str) -> str:
    """The value of environment variable `env` (named in the error with its `option`)."""
    value = os.environ.get(env, "")
    if not value:
        raise ValueError(f"environment variable {env} ({option}) is not set")
    return value


def _auth(options: HelpdeskApiOptions) -> tuple[dict[str, str], tuple[str, ...]]:
    """The Authorization header, and the secrets that must never reach a message."""
    if options.bearer_env:
        token = secret(options.bearer_env, "bearer_env")
        return {"Authorization": f"Bearer {token}"}, (token,)
    if options.token_env:
        token = secret(options.token_env, "token_env")
        basic = base64.b64encode(f"{options.email}/token:{token}".encode()).decode("ascii")
        return {"Authorization": f"Basic {basic}"}, (token, basic)
    return {}, ()


def _start_position(
    name: str, config: _Config, since: date, cursor: str | None, problems: list[str]
) -> str:
    kind, _, value = (cursor or "").partition(":")
    if kind == "time" and value.isdigit():
        return cursor or ""
    if kind == "cursor" and value and config.export == "cursor":
        return cursor or ""
    if cursor:
        # A cursor of the other export style (the option changed) or a damaged one: start
        # from `since` again; what is read twice is upserted unchanged.
        problems.append(
            f"{name}: cursor {cursor!r} cannot resume a {config.export} export at "
            f"{config.base}; starting from {since.isoformat()}"
        )
    return f"time:{int(datetime.combine(since, datetime.min.time(), CHINA_TZ).timestamp())}"


def _read_pages(
    name: str, config: _Config, position: str, problems: list[str]
) -> tuple[list[tuple[str, list[Any]]], str, dict[str, str], dict[str, Mapping[str, Any]]]:
    """(url, tickets) of each page read in full, the position after the last one, user id
    → e-mail of the side-loaded users and ticket id → side-loaded metric set."""
    opener = build_opener(config.proxy)
    pages: list[tuple[str, list[Any]]] = []
    emails: dict[str, str] = {}
    metrics: dict[str, Mapping[str, Any]] = {}
    for _ in range(config.max_pages):
        url = config.page_url(position)
        try:
            payload = get_json(opener, config, url)
            tickets, position, done = _next_position(config, url, payload, position)
        except HelpdeskError as exc:
            problems.append(f"{name}: {exc}")
            return pages, position, emails, metrics
        pages.append((url, tickets))
        emails.update(_user_emails(payload))
        metrics.update(metric_sets_by_ticket(payload))  # a later page's is the newer
        if done:
            return pages, position, emails, metrics
    problems.append(
        f"{name}: stopped after {config.max_pages} pages (max_pages) at {config.base}; "
        "the next run continues from there"
    )
    return pages, position, emails, metrics


def _user_emails(payload: Mapping[str, Any]) -> dict[str, str]:
    """User id → e-mail of a page's side-loaded ``users`` (``include=users``)."""
    users = payload.get("users")
    return {
        str(u["id"]): str(u["email"])
        for u in (users if isinstance(users, list) else ())
        if isinstance(u, Mapping) and u.get("id") is not None and u.get("email")
    }


def _next_position(
    config: _Config, url: str, payload: Any, position: str
) -> tuple[list[Any], str, bool]:
    """A page's tickets, the position after it and whether the stream ended.

    Raises:
        HelpdeskError: for a page that is not an export page.
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("tickets"), list):
        keys = (
            ", ".join(sorted(payload)[:8]) if isinstance(payload, dict) else type(payload).__name__
        )
        raise HelpdeskError(f"unexpected response from {url}: no tickets list (got {keys})")
    done = payload.get("end_of_stream")
    if not isinstance(done, bool):
        raise HelpdeskError(f"unexpected response from {url}: no end_of_stream")
    if config.export == "cursor":
        after = payload.get("after_cursor")
        if isinstance(after, str) and after:
            return payload["tickets"], f"cursor:{after}", done
        if not done:
            raise HelpdeskError(f"unexpected response from {url}: no after_cursor")
        return payload["tickets"], position, done
    end_time = payload.get("end_time")
    if isinstance(end_time, int) and not isinstance(end_time, bool):
        if not done and end_time <= int(position.partition(":")[2]):
            # More tickets share one updated_at second than a page holds: the time export
            # cannot get past them.
            raise HelpdeskError(f"no progress at {url} (end_time {end_time}); use export = cursor")
        return payload["tickets"], f"time:{end_time}", done
    if not done:
        raise HelpdeskError(f"unexpected response from {url}: no end_time")
    return payload["tickets"], position, done


@dataclass
class _Load:
    documents: list[Document]
    n_rows: int
    n_skipped: int
    cursor: str | None


def _documents(
    name: str,
    config: _Config,
    pages: list[tuple[str, list[Any]]],
    end: datetime,
    author_salt: str,
    problems: list[str],
    emails: Mapping[str, str] | None = None,
    metrics: Mapping[str, Mapping[str, Any]] | None = None,
) -> _Load:
    """Documents of the latest version of each ticket; the cursor to hold back at, if any."""
    latest: dict[str, tuple[str, Mapping[str, Any]]] = {}
    n_rows = n_skipped = 0
    for url, tickets in pages:
        for ticket in tickets:
            n_rows += 1
            if not isinstance(ticket, Mapping) or ticket.get("id") in (None, ""):
                n_skipped += 1
                problems.append(f"{name}: {url}: a ticket without an id: {str(ticket)[:80]}")
                continue
            key = str(ticket["id"])
            if key in latest and _newer(latest[key][1], ticket):
                continue
            latest[key] = (url, ticket)
    documents: list[Document] = []
    hold: int | None = None
    for key, (url, ticket) in latest.items():
        if ticket.get("status") == "deleted":
            # Counted, not a problem: deleting a ticket is normal helpdesk work.
            n_skipped += 1
            logger.debug("%s: ticket %s (%s) is deleted, skipped", name, key, url)
            continue
        try:
            doc = parse_ticket(
                ticket,
                name,
                author_salt,
                config.brand,
                config.customer_key,
                emails,
                metrics,
                base=config.base,
            )
        except RecordError as exc:
            n_skipped += 1
            problems.append(f"{name}: ticket {key} ({url}): {exc}")
            continue
        if doc.created_at >= end:
            # Left for a later run: the returned cursor must not pass it.
            stamp = int(doc.created_at.timestamp())
            hold = stamp if hold is None else min(hold, stamp)
            continue
        documents.append(doc)
    return _Load(documents, n_rows, n_skipped, None if hold is None else f"time:{hold}")


def _newer(kept: Mapping[str, Any], other: Mapping[str, Any]) -> bool:
    """Whether `kept` was updated after `other` (a later page wins a tie or a bad stamp)."""
    try:
        return parse_ticket_value(kept.get("updated_at")) > parse_ticket_value(
            other.get("updated_at")
        )
    except ValueError:
        return False
