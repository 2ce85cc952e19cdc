"""Customer e-mails as tickets: .eml/.mbox files on disk, or an IMAP folder (kind mailbox).

A mail from one of our own domains (option ``our_domains``) is not a customer's voice but a
reply: it becomes a `voc.response_times.MailReply` naming the mails it answers
(In-Reply-To, References), from which the warehouse takes each customer mail's first reply.
An automatic mail (an auto-acknowledgement) is never a reply.

IMAP runs are incremental: the cursor ``uidvalidity:uid`` is the highest UID settled, so the
next run fetches only UIDs above it (all again if the folder's UIDVALIDITY changed). The
folder is opened read-only (EXAMINE), so fetching never marks the agents' mails as read.
"""

from __future__ import annotations

import base64
import contextlib
import imaplib
import logging
import mailbox as std_mailbox
import os
import ssl
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

from scrapers.mailparse import Mail, MailError, parse_mail
from scrapers.parsers import CHINA_TZ
from scrapers.tickets import TicketLoad, pick_customer_key
from voc.kinds.connectors import MailboxOptions
from voc.records import Document, RecordError, make_document
from voc.response_times import MailReply
from voc.settings import SourceConfig

logger = logging.getLogger(__name__)

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def load_mailbox(
    source: SourceConfig,
    since: date,
    until: date,
    author_salt: str,
    cursor: str | None = None,
    timeout: float = 30.0,
) -> TicketLoad:
    """Load the customer mails dated in [since, until] as tickets.

    Args:
        source: A ``mailbox`` source. ``url`` is a directory of ``.eml``/``.mbox`` files,
            one such file, or ``imaps://host[:port]/FOLDER`` (``imap://`` for plain or
            STARTTLS). Options: ``user``, ``password_env`` (name of the environment
            variable holding the password), ``starttls``, ``ignore_from`` (addresses or
            ``@domain`` whose mails are not customers', e.g. the agents'), ``our_domains``
            (our own domains: their mails are replies, `MailReply`), ``brand``,
            ``customer_key`` (`pick_customer_key`; default the sender address).
        since: First day (inclusive, China time).
        until: Last day (inclusive).
        author_salt: Salt for hashing the From address.
        cursor: ``uidvalidity:uid`` from the previous IMAP run; ignored for files.
        timeout: IMAP socket timeout in seconds.

    A mail that cannot be parsed is a problem naming its file (and message number) or
    UID; the others still load. Nothing is raised.
    """
    try:
        options = source.typed_options
    except ValueError as exc:
        return TicketLoad(problems=[f"{source.name}: {exc}"], cursor=cursor)
    assert isinstance(options, MailboxOptions)
    batch = _Batch(source, options, since, until, author_salt)
    if urlsplit(source.url).scheme in ("imap", "imaps"):
        new_cursor = _read_imap(batch, cursor, timeout)
    else:
        _read_files(batch, Path(source.url.removeprefix("file://")))
        new_cursor = None
    return TicketLoad(
        batch.documents,
        batch.problems,
        batch.n_rows,
        batch.n_skipped,
        new_cursor,
        replies=list(batch.replies.values()),
    )


class _Batch:
    """Mails → documents for one run, with the counts and problems."""

    def __init__(
        self,
        source: SourceConfig,
        options: MailboxOptions,
        since: date,
        until: date,
        author_salt: str,
    ) -> None:
        self.source, self.since, self.until, self.author_salt = source, since, until, author_salt
        self.options = options
        self.brand = options.brand or None
        self.ignore = tuple(a.lower() for a in options.ignore_from)
        self.ours = tuple(d.strip().lower().lstrip("@") for d in options.our_domains if d.strip())
        self.replies: dict[str, MailReply] = {}
        self.documents: list[Document] = []
        self.problems: list[str] = []
        self.n_rows = self.n_skipped = 0
        self.ids: set[str] = set()

    def add(self, where: str, raw: bytes) -> str:
        """Read one mail; returns ``loaded``, ``reply``, ``skipped``, ``ignored``, ``before``
        or ``after`` (the window)."""
        self.n_rows += 1
        try:
            mail = parse_mail(raw)
        except MailError as exc:
            return self.skip(f"{where}: {exc}")
        day = mail.created_at.astimezone(CHINA_TZ).date()
        if day < self.since:
            return "before"
        if day > self.until:
            return "after"
        if mail.automatic:
            return "ignored"
        if self.is_ours(mail.sender):
            return self.add_reply(mail)
        if mail.sender and mail.sender.endswith(self.ignore or ("\0",)):
            return "ignored"
        if mail.message_id in self.ids:  # the same mail in an .eml and an .mbox
            return "ignored"
        try:
            doc = make_document(
                source=self.source.name,
                channel="ticket",
                external_id=mail.message_id,
                text=mail.text,
                created_at=mail.created_at,
                author=mail.sender,
                brand=self.brand,
                attributes={
                    "subject": mail.subject,
                    "in_reply_to": mail.in_reply_to,
                    # Replies are read here: no reply yet means unanswered, not unknown.
                    **({"response_origin": "mail_thread"} if self.ours else {}),
                },
                author_salt=self.author_salt,
                customer=pick_customer_key(
                    self.options.customer_key, author=mail.sender, text=mail.text
                ),
            )
        except RecordError as exc:
            return self.skip(f"{where}: {exc}")
        self.ids.add(mail.message_id)
        self.documents.append(doc)
        return "loaded"

    def is_ours(self, sender: str | None) -> bool:
        """Whether `sender` is an address at one of our domains (or a subdomain)."""
        domain = (sender or "").rpartition("@")[2]
        return bool(domain) and any(domain == d or domain.endswith("." + d) for d in self.ours)

    def add_reply(self, mail: Mail) -> str:
        refs = tuple(dict.fromkeys(r for r in (mail.in_reply_to, *mail.references) if r))
        if refs:  # a mail of ours that answers nothing (a newsletter) is just ignored
            self.replies[mail.message_id] = MailReply(
                mail.message_id, self.source.name, mail.created_at, mail.sender, refs
            )
        return "reply"

    def skip(self, message: str) -> str:
        self.n_skipped += 1
        self.problem(message)
        return "skipped"

    def problem(self, message: str) -> None:
        message = f"{self.source.name}: {message}"
        logger.warning(message)
        self.problems.append(message)


def _read_files(batch: _Batch, path: Path) -> None:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in (".eml", ".mbox"))
    elif path.exists():
        files = [path]
    else:
        batch.problem(f"no such file or directory: {path}")
        return
    for file in files:
        name = str(file.relative_to(path)) if path.is_dir() else file.name
        if file.suffix.lower() == ".mbox":
            _read_mbox(batch, file, name)
            continue
        try:
            raw = file.read_bytes()
        except OSError as exc:
            batch.skip(f"{name}: cannot read: {exc}")
            continue
        batch.add(name, raw)


def _read_mbox(batch: _Batch, file: Path, name: str) -> None:
    try:
        box = std_mailbox.mbox(file, create=False)
        keys = box.keys()
    except (OSError, std_mailbox.Error) as exc:
        batch.problem(f"{name}: cannot read mbox: {exc}")
        return
    try:
        for number, key in enumerate(keys, start=1):
            batch.add(f"{name} message {number}", box.get_bytes(key))
    finally:
        box.close()


def imap_utf7(name: str) -> str:
    """A folder name in IMAP's modified UTF-7 (RFC 3501 5.1.3): ``客户投诉`` → ``&W6JiN2KVj0k-``."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            encoded = base64.b64encode("".join(pending).encode("utf-16-be")).decode()
            out.append("&" + encoded.rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for ch in name:
        if " " <= ch <= "~":
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    return "".join(out)


def _read_imap(batch: _Batch, cursor: str | None, timeout: float) -> str | None:
    source, options = batch.source, batch.options
    url = urlsplit(source.url)
    secure = url.scheme == "imaps"
    host, port = url.hostname or "", url.port or (993 if secure else 143)
    folder = unquote(url.path.lstrip("/")) or "INBOX"
    user = options.user or unquote(url.username or "")
    env = options.password_env
    if not user or not env:
        batch.problem("an IMAP mailbox needs the options user and password_env")
        return cursor
    password = os.environ.get(env, "")
    if not password:
        batch.problem(f"environment variable {env} (password_env) is not set")
        return cursor
    where = f"{url.scheme}://{host}:{port}/{folder}"
    try:
        if secure:
            conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                host, port, ssl_context=ssl.create_default_context(), timeout=timeout
            )
        else:
            conn = imaplib.IMAP4(host, port, timeout=timeout)
    except (OSError, imaplib.IMAP4.error) as exc:
        batch.problem(f"cannot connect to {where}: {_reason(exc, password)}")
        return cursor
    try:
        if options.starttls:
            conn.starttls(ssl.create_default_context())
        elif not secure:
            logger.warning("%s: %s sends the password unencrypted", source.name, where)
        try:
            conn.login(user, password)
        except imaplib.IMAP4.error as exc:
            batch.problem(f"login as {user} to {where} failed: {_reason(exc, password)}")
            return cursor
        return _fetch_new(batch, conn, folder, cursor)
    except (OSError, imaplib.IMAP4.error) as exc:
        batch.problem(f"{where}: {_reason(exc, password)}")
        return cursor
    finally:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            conn.logout()


def _fetch_new(batch: _Batch, conn: imaplib.IMAP4, folder: str, cursor: str | None) -> str | None:
    quoted = '"' + imap_utf7(folder).replace("\\", "\\\\").replace('"', '\\"') + '"'
    typ, data = conn.select(quoted, readonly=True)
    if typ != "OK":
        batch.problem(f"cannot open folder {folder}: {_text(data)}")
        return cursor
    validity = _text(conn.response("UIDVALIDITY")[1]).strip()
    old_validity, _, old_uid = (cursor or "").partition(":")
    last = int(old_uid) if old_validity == validity and old_uid.isdigit() else 0
    if cursor and not last:
        logger.info("%s: UIDVALIDITY changed (%s), fetching again", batch.source.name, cursor)
    # SINCE compares the server's arrival date in its own timezone: a day earlier is safe;
    # the Date header then decides.
    criteria = ["SINCE", _imap_date(batch.since - timedelta(days=1))]
    if last:
        criteria = ["UID", f"{last + 1}:*", *criteria]
    typ, data = conn.uid("SEARCH", *criteria)
    if typ != "OK":
        batch.problem(f"{folder}: UID SEARCH failed: {_text(data)}")
        return cursor
    # "n:*" always matches the highest UID, even below n: hence the filter.
    uids = sorted(u for u in (int(x) for x in _text(data).split()) if u > last)
    settled, held = last, []
    for uid in uids:
        typ, data = conn.uid("FETCH", str(uid), "(RFC822)")
        raw = next((item[1] for item in data if isinstance(item, tuple)), None)
        if typ != "OK" or not isinstance(raw, bytes):
            batch.n_rows += 1
            batch.skip(f"{folder} UID {uid}: FETCH failed: {_text(data)}")
            continue
        if batch.add(f"{folder} UID {uid}", raw) == "after":
            held.append(uid)  # dated after the window: a later run must still fetch it
        settled = uid
    if held:
        settled = max(last, min(held) - 1)
    return f"{validity}:{settled}" if validity else None


def _imap_date(day: date) -> str:
    # Not strftime("%b"): month names must be English whatever the locale.
    return f"{day.day:02d}-{_MONTHS[day.month - 1]}-{day.year}"


def _text(data: Sequence[object] | None) -> str:
    parts = []
    for item in data or ():
        if isinstance(item, bytes):
            parts.append(item.decode("utf-8", "replace"))
        elif item is not None:
            parts.append(str(item))
    return " ".join(parts)


def _reason(exc: BaseException, password: str) -> str:
    arg = exc.args[0] if exc.args else exc
    text = arg.decode("utf-8", "replace") if isinstance(arg, bytes) else str(arg)
    # Some servers echo the command in their error: the password must not reach the log.
    for secret in {password, password.replace("\\", "\\\\").replace('"', '\\"')}:
        if secret:
            text = text.replace(secret, "***")
    return f"{type(exc).__name__}: {text}" if not isinstance(exc, imaplib.IMAP4.error) else text
