"""The one typed record a customer utterance travels in, from any source to the warehouse.

Enrichments (normalised text, sentiment, themes) are separate records keyed by the
document id; nothing downstream mutates a `Document` or edits its raw text.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

Channel = Literal["review", "social", "ticket", "survey"]
CHANNELS: tuple[str, ...] = ("review", "social", "ticket", "survey")


class RecordError(ValueError):
    """A source row that cannot become a `Document`; the message names the field."""


@dataclass(frozen=True, slots=True)
class Document:
    """One customer utterance: a review, a social post or a support ticket.

    Attributes:
        id: Stable id derived from (source, external_id); the upsert key.
        source: Name of the configured source it came from (e.g. ``demo_weibo``).
        channel: ``review``, ``social`` or ``ticket``.
        external_id: The id the source itself gives it.
        author_hash: Salted hash of the author's name/id; the name itself is never stored.
        text: The raw text as the source gave it (never edited in place).
        rating: Star rating if the source has one (1-5), else None.
        created_at: When the customer wrote it; always timezone-aware.
        url: Where it can be read, if anywhere.
        product: Product id or name, if known.
        brand: Brand, if known.
        content_hash: Hash of the raw text, for exact-duplicate checks.
        repost_count: Reposts/shares for social posts, else None.
        comment_count: Comments for social posts, else None.
        attributes: Source-specific fields as a flat dict of JSON scalars (a complaint's
            title, target and status; a comment's parent post; a ticket's priority...).
        customer_key: Salted hash of the customer key the source gave (requester e-mail,
            member id, a phone number in the text: `voc.customers.hash_customer_key`);
            links the voice to a customer of the imported customer file. None: no key.
    """

    id: str
    source: str
    channel: str
    external_id: str
    author_hash: str | None
    text: str
    rating: float | None
    created_at: datetime
    url: str | None
    product: str | None
    brand: str | None
    content_hash: str
    repost_count: int | None = None
    comment_count: int | None = None
    attributes: dict[str, Any] | None = None
    customer_key: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (created_at as ISO 8601 with offset)."""
        d = asdict(self)
        d["created_at"] = self.created_at.isoformat()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Document:
        """Rebuild a document from `to_dict` output, validating every field.

        Raises:
            RecordError: naming the first field that is missing or invalid.
        """
        names = {f.name for f in fields(cls)}
        missing = [
            n
            for n in (
                "id",
                "source",
                "channel",
                "external_id",
                "text",
                "created_at",
                "content_hash",
            )
            if d.get(n) in (None, "")
        ]
        if missing:
            raise RecordError(f"missing field(s): {', '.join(missing)}")
        values = {k: v for k, v in d.items() if k in names}
        created = values["created_at"]
        if isinstance(created, str):
            try:
                created = datetime.fromisoformat(created)
            except ValueError as exc:
                raise RecordError(f"created_at is not ISO 8601: {created!r}") from exc
        values["created_at"] = created
        _validate(values)
        for key in (
            "author_hash",
            "rating",
            "url",
            "product",
            "brand",
            "repost_count",
            "comment_count",
            "attributes",
            "customer_key",
        ):
            values.setdefault(key, None)
        return cls(**values)


def _validate(values: dict[str, Any]) -> None:
    if values["channel"] not in CHANNELS:
        raise RecordError(f"channel must be one of {CHANNELS}, got {values['channel']!r}")
    created = values["created_at"]
    if not isinstance(created, datetime):
        raise RecordError(f"created_at must be a datetime, got {type(created).__name__}")
    if created.tzinfo is None or created.utcoffset() is None:
        raise RecordError(f"created_at has no timezone: {created.isoformat()}")
    if not str(values["text"]).strip():
        raise RecordError("text is empty")
    rating = values.get("rating")
    if rating is not None and not 0 <= float(rating) <= 5:
        raise RecordError(f"rating out of range 0-5: {rating!r}")
    attributes = values.get("attributes")
    if attributes is not None:
        if not isinstance(attributes, dict):
            raise RecordError(f"attributes must be a dict, got {type(attributes).__name__}")
        for key, value in attributes.items():
            if not isinstance(key, str) or not isinstance(value, _SCALARS):
                raise RecordError(
                    f"attributes[{key!r}] must be a JSON scalar, got {type(value).__name__}"
                )


_SCALARS = (str, int, float, bool, type(None))


def document_id(source: str, external_id: str) -> str:
    """Stable document id for (source, external_id)."""
    return hashlib.sha1(f"{source}\x1f{external_id}".encode()).hexdigest()[:20]


def hash_author(author: str | None, salt: str = "") -> str | None:
    """Salted, truncated SHA-256 of an author name/id; None stays None."""
    if author is None or not str(author).strip():
        return None
    return hashlib.sha256(f"{salt}\x1f{author}".encode()).hexdigest()[:16]


#: Mainland mobile numbers, with an optional +86 / 0086 / 86 prefix and separators.
_MOBILE = re.compile(r"^(?:\+?0{0,2}86)?(1[3-9]\d{9})$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_KEY_SEPARATORS = re.compile(r"[\s\-()（）.]")


def normalize_customer_key(value: Any) -> str | None:
    """A customer key in the one form every source hashes: NFKC, trimmed; an e-mail in lower
    case; a mainland mobile number as its 11 digits (``+86``, spaces and dashes dropped);
    anything else (member ids, uids) as written. Empty → None."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Excel stores member ids and phone numbers as numbers
    text = unicodedata.normalize("NFKC", str(value)).strip()
    if not text:
        return None
    if _EMAIL.match(text):
        return text.lower()
    mobile = _MOBILE.match(_KEY_SEPARATORS.sub("", text))
    if mobile:
        return mobile[1]
    return text


def hash_customer_key(value: Any, salt: str = "") -> str | None:
    """The salted hash stored for a customer key: `hash_author` of the normalised key, so
    the CRM file's ``Zhang@Example.com`` and a mail's ``zhang@example.com`` link up
    (`voc.customers`). None for no key."""
    return hash_author(normalize_customer_key(value), salt)


def content_hash(text: str) -> str:
    """SHA-256 (hex, 32 chars) of a text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def make_document(
    *,
    source: str,
    channel: Channel | str,
    external_id: str,
    text: str,
    created_at: datetime,
    author: str | None = None,
    rating: float | None = None,
    url: str | None = None,
    product: str | None = None,
    brand: str | None = None,
    repost_count: int | None = None,
    comment_count: int | None = None,
    attributes: dict[str, Any] | None = None,
    author_salt: str = "",
    customer: str | None = None,
) -> Document:
    """Build a validated `Document` from source fields, hashing the author and the customer
    key (`customer`: the raw key, hashed with `author_salt` by `voc.customers`).

    Raises:
        RecordError: if a field is invalid (empty text, naive datetime, unknown channel...).
    """
    values: dict[str, Any] = {
        "id": document_id(source, str(external_id)),
        "source": source,
        "channel": channel,
        "external_id": str(external_id),
        "author_hash": hash_author(author, author_salt),
        "text": text,
        "rating": None if rating is None else float(rating),
        "created_at": created_at,
        "url": url,
        "product": product,
        "brand": brand,
        "content_hash": content_hash(text or ""),
        "repost_count": repost_count,
        "comment_count": comment_count,
        "attributes": dict(attributes) if attributes else None,
        "customer_key": hash_customer_key(customer, author_salt),
    }
    _validate(values)
    return Document(**values)


def iter_documents_jsonl(path: str | Path, source: str) -> Iterator[Document | str]:
    """The documents of a file written one JSON object per line (a spider's ``-O
    file.jsonl``, or `write_documents_jsonl`), one at a time, never the whole file in memory.

    A bad line is yielded as a message naming the source, file and line number instead of a
    document; blank lines are skipped.
    """
    path = Path(path)
    if not path.exists():
        yield f"{source}: no output file {path}"
        return
    with path.open(encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                yield Document.from_dict(json.loads(line))
            except (json.JSONDecodeError, RecordError, TypeError) as exc:
                yield f"{source}: {path.name} line {lineno}: {exc}"


def read_documents_jsonl(path: str | Path, source: str) -> tuple[list[Document], list[str]]:
    """Read documents written one JSON object per line (a spider's ``-O file.jsonl``).

    Bad lines are skipped, never fatal: each yields a message naming the source, file and
    line number.

    Returns:
        (documents, problems).
    """
    docs: list[Document] = []
    problems: list[str] = []
    for item in iter_documents_jsonl(path, source):
        (problems if isinstance(item, str) else docs).append(item)
    return docs, problems


def read_document_batches(
    path: str | Path, source: str, batch_size: int
) -> Iterator[list[Document]]:
    """The valid documents of a JSONL file in lists of at most `batch_size` (bad lines are
    left out: `iter_documents_jsonl` reports them)."""
    batch: list[Document] = []
    for item in iter_documents_jsonl(path, source):
        if isinstance(item, Document):
            batch.append(item)
            if len(batch) >= batch_size:
                yield batch
                batch = []
    if batch:
        yield batch


def write_documents_jsonl(path: str | Path, docs: Iterable[Document]) -> int:
    """Write documents one JSON object per line (readable by `iter_documents_jsonl`);
    returns how many."""
    n = 0
    with Path(path).open("w", encoding="utf-8") as fh:
        for doc in docs:
            fh.write(json.dumps(doc.to_dict(), ensure_ascii=False))
            fh.write("\n")
            n += 1
    return n
