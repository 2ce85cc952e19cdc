"""Freshdesk (API v2): tickets and the customers' messages in their conversations,
incremental by ``updated_since``.

``GET /api/v2/tickets?updated_since=…&order_by=updated_at&order_type=asc&per_page=100
&page=N&include=description,requester,stats`` lists the tickets updated since a time,
oldest change first, up to 300 pages of 100 (Freshdesk's limit); a page shorter than
``per_page`` is the last. ``GET /api/v2/tickets/{id}/conversations`` lists a ticket's
replies and notes; a conversation with ``incoming: true`` and ``private: false`` is the
customer writing again, and becomes a voice of its own. Authentication is HTTP basic with
the API key as the user name and ``X`` as the password. Every answer carries
``X-RateLimit-Total`` / ``X-RateLimit-Remaining`` (per minute); when the remaining calls
fall to ``rate_limit_reserve`` the loader waits ``rate_limit_pause`` seconds, and a 429 is
waited out by its ``Retry-After`` (`scrapers.helpdesk_http.get_json_and_headers`).

A ticket's ``stats`` carry the SLA timestamps the closed loop needs: ``first_responded_at``
and ``resolved_at`` / ``closed_at`` become the ``replied_at`` / ``completed_at``
attributes (`voc.response_times.ATTRIBUTE_KEYS`, origin ``helpdesk_stats``), beside
``fr_due_by`` and ``due_by`` (the helpdesk's own first-response and resolution due times).
The formats follow Freshdesk's API reference (https://developers.freshdesk.com/api/);
see tests/fixtures/SOURCES.md.
"""

from __future__ import annotations

import base64
import logging
import os
import time
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from scrapers.helpdesk import USER_AGENT, _Config, base_url, secret
from scrapers.helpdesk_http import HelpdeskError, build_opener, get_json_and_headers
from scrapers.parsers import CHINA_TZ
from scrapers.tickets import TicketLoad, pick_customer_key
from voc.kinds.connectors import FreshdeskOptions
from voc.records import Document, RecordError, make_document
from voc.settings import SourceConfig

logger = logging.getLogger(__name__)

TICKETS_PATH = "/api/v2/tickets"
#: Freshdesk's ticket enums (API reference, "Ticket properties").
STATUSES = {2: "open", 3: "pending", 4: "resolved", 5: "closed"}
PRIORITIES = {1: "low", 2: "medium", 3: "high", 4: "urgent"}
VIA = {1: "email", 2: "portal", 3: "phone", 7: "chat", 9: "feedback_widget", 10: "outbound_email"}
#: Freshdesk serves at most this many pages of one listing.
MAX_LIST_PAGES = 300


def load_freshdesk(
    source: SourceConfig, since: date, until: date, author_salt: str, cursor: str | None = None
) -> TicketLoad:
    """Load the tickets updated since `since` (or since `cursor`, ``updated_since:<ISO>``)
    and created by `until`, with their customers' later messages.

    A failing page is a problem naming the source and URL; the tickets read before it are
    kept and the cursor stays where the complete pages end. Nothing is raised.
    """
    options = source.typed_options
    assert isinstance(options, FreshdeskOptions)
    try:
        config = _config(source, options)
    except ValueError as exc:
        return TicketLoad(problems=[f"{source.name}: {exc}"], cursor=cursor)
    reader = _Reader(source.name, config, options, build_opener(config.proxy))
    start = _start(cursor, since)
    end = datetime.combine(until + timedelta(days=1), datetime.min.time(), CHINA_TZ)
    documents: list[Document] = []
    problems: list[str] = []
    n_rows = n_skipped = 0
    tickets = reader.tickets(start, problems)
    newest: str | None = None
    held: str | None = None
    for ticket in tickets:
        n_rows += 1
        updated = str(ticket.get("updated_at") or "")
        try:
            doc = parse_ticket(ticket, source.name, author_salt, config, options.customer_key)
        except RecordError as exc:
            n_skipped += 1
            problems.append(f"{source.name}: ticket {ticket.get('id')}: {exc}")
            newest = max(newest or updated, updated)
            continue
        if doc.created_at >= end:
            # Left for a later run: the cursor must not pass it.
            held = min(held or updated, updated)
            continue
        documents.append(doc)
        newest = max(newest or updated, updated)
        if options.conversations:
            documents += reader.customer_messages(ticket, author_salt, problems)
    position = held if held is not None else newest
    for message in problems:
        logger.warning("%s", message)
    return TicketLoad(
        documents=documents,
        problems=problems,
        n_rows=n_rows,
        n_skipped=n_skipped,
        cursor=f"updated_since:{position}" if position else cursor,
    )


def _config(source: SourceConfig, options: FreshdeskOptions) -> _Config:
    base = base_url(source)
    key = secret(options.api_key_env, "api_key_env")
    basic = base64.b64encode(f"{key}:X".encode()).decode("ascii")
    return _Config(
        base=base,
        export="updated_since",
        per_page=options.per_page,
        max_pages=options.max_pages,
        max_wait=options.max_wait,
        attempts=1 + options.retry_times,
        backoff=options.retry_backoff,
        timeout=options.download_timeout,
        brand=options.brand or None,
        headers={
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
            "Authorization": f"Basic {basic}",
        },
        secrets=(key, basic),
        proxy=os.environ.get(options.proxy_env) if options.proxy_env else None,
        customer_key=options.customer_key,
        auth_hint="check the API key in api_key_env (Profile settings → API key)",
    )


def _start(cursor: str | None, since: date) -> str:
    kind, _, value = (cursor or "").partition(":")
    if kind == "updated_since" and value:
        return value
    start = datetime.combine(since, datetime.min.time(), CHINA_TZ).astimezone(UTC)
    return start.strftime("%Y-%m-%dT%H:%M:%SZ")


class _Reader:
    """Pages of one Freshdesk account, pacing itself by the rate-limit headers."""

    def __init__(self, name: str, config: _Config, options: FreshdeskOptions, opener: Any) -> None:
        self.name, self.config, self.options, self.opener = name, config, options, opener

    def get(self, url: str) -> Any:
        payload, headers = get_json_and_headers(self.opener, self.config, url)
        remaining = headers.get("x-ratelimit-remaining")
        low = remaining is not None and remaining.isdigit()
        if low and int(remaining) <= self.options.rate_limit_reserve:
            logger.info(
                "%s: %s API calls left this minute (of %s); pausing %.1f s",
                self.name,
                remaining,
                headers.get("x-ratelimit-total", "?"),
                self.options.rate_limit_pause,
            )
            time.sleep(self.options.rate_limit_pause)
        return payload

    def tickets(self, updated_since: str, problems: list[str]) -> list[Mapping[str, Any]]:
        """Every ticket updated since `updated_since`, oldest change first. Past
        Freshdesk's 300 pages the listing restarts from the last ticket's update time."""
        found: dict[str, Mapping[str, Any]] = {}
        pages = 0
        while True:
            for page in range(1, MAX_LIST_PAGES + 1):
                if pages >= self.config.max_pages:
                    problems.append(
                        f"{self.name}: stopped after {self.config.max_pages} pages (max_pages) "
                        f"at {self.config.base}; the next run continues from there"
                    )
                    return list(found.values())
                query = {
                    "updated_since": updated_since,
                    "order_by": "updated_at",
                    "order_type": "asc",
                    "per_page": self.config.per_page,
                    "page": page,
                    "include": "description,requester,stats",
                }
                url = f"{self.config.base}{TICKETS_PATH}?{urlencode(query)}"
                try:
                    batch = self.get(url)
                except HelpdeskError as exc:
                    problems.append(f"{self.name}: {exc}")
                    return list(found.values())
                if not isinstance(batch, list):
                    problems.append(
                        f"{self.name}: unexpected response from {url}: not a list of tickets"
                    )
                    return list(found.values())
                pages += 1
                for ticket in batch:
                    if isinstance(ticket, Mapping) and ticket.get("id") is not None:
                        found[str(ticket["id"])] = ticket  # a later page's is the newer
                if len(batch) < int(self.config.per_page or 30):
                    return list(found.values())
            # Freshdesk's 300 pages read: a new listing from the newest update seen.
            last = max(str(t.get("updated_at") or "") for t in found.values())
            if last <= updated_since:
                problems.append(f"{self.name}: more than 30,000 tickets updated at {last}")
                return list(found.values())
            updated_since = last

    def customer_messages(
        self, ticket: Mapping[str, Any], salt: str, problems: list[str]
    ) -> list[Document]:
        """The customer's later messages on a ticket (incoming, public conversations)."""
        out: list[Document] = []
        for page in range(1, MAX_LIST_PAGES + 1):
            url = (
                f"{self.config.base}{TICKETS_PATH}/{ticket['id']}/conversations?"
                f"{urlencode({'per_page': 100, 'page': page})}"
            )
            try:
                batch = self.get(url)
            except HelpdeskError as exc:
                problems.append(f"{self.name}: {exc}")
                return out
            if not isinstance(batch, list):
                problems.append(f"{self.name}: unexpected response from {url}: not a list")
                return out
            for conv in batch:
                if not isinstance(conv, Mapping) or not conv.get("incoming") or conv.get("private"):
                    continue
                try:
                    out.append(_conversation(conv, ticket, self.name, salt, self.config))
                except RecordError as exc:
                    problems.append(
                        f"{self.name}: ticket {ticket['id']} conversation {conv.get('id')}: {exc}"
                    )
            if len(batch) < 100:
                return out
        return out


def parse_ticket(
    ticket: Mapping[str, Any],
    source: str,
    author_salt: str,
    config: _Config,
    customer_key: str = "author",
) -> Document:
    """One Freshdesk ticket as a ``ticket`` document: subject and plain-text description,
    status/priority/channel/tags as attributes, the SLA timestamps, the agent page as URL.

    Raises:
        RecordError: naming the field that is missing or invalid.
    """
    if ticket.get("id") in (None, ""):
        raise RecordError("no id")
    created = _time(ticket.get("created_at"), "created_at")
    parts = [str(ticket.get("subject") or ""), str(ticket.get("description_text") or "")]
    text = "\n".join(p for p in parts if p.strip())
    if not text:
        raise RecordError("subject and description_text are empty")
    rid = None if ticket.get("requester_id") is None else str(ticket["requester_id"])
    customer = _customer(ticket, customer_key, text)
    stats = ticket.get("stats") if isinstance(ticket.get("stats"), Mapping) else {}
    tags = ticket.get("tags")
    attributes = {
        "status": STATUSES.get(ticket.get("status"), ticket.get("status")),
        "priority": PRIORITIES.get(ticket.get("priority"), ticket.get("priority")),
        "via": VIA.get(ticket.get("source"), ticket.get("source")),
        "type": ticket.get("type"),
        "tags": ",".join(str(t) for t in tags) if isinstance(tags, list) and tags else None,
        "updated_at": ticket.get("updated_at"),
        "fr_due_by": ticket.get("fr_due_by"),
        "due_by": ticket.get("due_by"),
        "replied_at": stats.get("first_responded_at"),
        "completed_at": stats.get("resolved_at") or stats.get("closed_at"),
        "assignee_id": None if ticket.get("responder_id") is None else str(ticket["responder_id"]),
        # The helpdesk tracks responses for this ticket: none yet means unanswered.
        "response_origin": "helpdesk_stats" if stats else None,
    }
    return make_document(
        source=source,
        channel="ticket",
        external_id=str(ticket["id"]),
        text=text,
        created_at=created,
        author=rid,
        url=f"{config.base}/a/tickets/{ticket['id']}",
        brand=config.brand,
        attributes={k: v for k, v in attributes.items() if v not in (None, "")},
        author_salt=author_salt,
        customer=customer,
    )


def _customer(ticket: Mapping[str, Any], customer_key: str, text: str) -> str | None:
    """The raw customer key of a ticket's voices: the requester's e-mail (side-loaded with
    ``include=requester``), else the requester id, by the ``customer_key`` option."""
    requester = ticket.get("requester") if isinstance(ticket.get("requester"), Mapping) else {}
    email = requester.get("email") or None
    rid = None if ticket.get("requester_id") is None else str(ticket["requester_id"])
    if customer_key == "requester_id":
        return rid
    if customer_key == "requester_email":
        return email
    return pick_customer_key(customer_key, author=email or rid, text=text)


def _conversation(
    conv: Mapping[str, Any],
    ticket: Mapping[str, Any],
    source: str,
    salt: str,
    config: _Config,
) -> Document:
    text = str(conv.get("body_text") or "").strip()
    if not text:
        raise RecordError("body_text is empty")
    if conv.get("id") in (None, ""):
        raise RecordError("no id")
    user = conv.get("user_id")
    return make_document(
        source=source,
        channel="ticket",
        external_id=f"{ticket['id']}:{conv['id']}",
        text=str(conv.get("body_text")),
        created_at=_time(conv.get("created_at"), "created_at"),
        author=None if user is None else str(user),
        url=f"{config.base}/a/tickets/{ticket['id']}",
        brand=config.brand,
        attributes={"kind": "conversation", "parent_id": str(ticket["id"])},
        author_salt=salt,
        customer=_customer(ticket, config.customer_key, text),
    )


def _time(value: Any, field: str) -> datetime:
    try:
        stamp = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise RecordError(f"{field} {value!r} is not a date") from None
    if stamp.tzinfo is None:
        raise RecordError(f"{field} {value!r} has no timezone")
    return stamp
