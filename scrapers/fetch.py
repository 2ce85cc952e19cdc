"""Fetching one source: a connector (files, mailboxes, helpdesk APIs) or a Scrapy crawl in a
subprocess, with what went wrong counted by kind rather than raised."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from scrapers.connectors import CONNECTORS, load_source
from scrapers.run import run_crawl
from voc.customers import SurveyResponse
from voc.records import Document, read_documents_jsonl
from voc.response_times import MailReply
from voc.settings import SourceConfig

# Crawl stats (scrapers.stats) of items dropped as unreadable, and of pages that were a
# login wall, captcha, ban or site error page.
_SKIPPED_STATS = ("voc/parse_error", "voc/invalid_item")
_BLOCKED_STATS = ("voc/login_required", "voc/error_page", "voc/site_error")


@dataclass
class FetchResult:
    """One source's documents for a window and what went wrong.

    Attributes:
        documents: Valid documents.
        problems: Messages naming the source and the file, row, URL or item.
        n_in: Items or rows read.
        n_skipped: Items or rows dropped as invalid.
        cursor: The connector's resume point (None: none).
        empty_text: Items with no text.
        layout_changed: Pages whose structure no longer matched.
        blocked: Pages that were a login wall, captcha, rate limit or ban.
        responses: Survey responses' scores (``survey`` sources).
        replies: Our replies to customers' mails (``mailbox`` sources with our_domains).
    """

    documents: list[Document] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    n_in: int = 0
    n_skipped: int = 0
    cursor: str | None = None
    empty_text: int = 0
    layout_changed: int = 0
    blocked: int = 0
    responses: list[SurveyResponse] = field(default_factory=list)
    replies: list[MailReply] = field(default_factory=list)


def fetch_documents(
    source: SourceConfig,
    since: date,
    until: date,
    work_dir: Path,
    author_salt: str,
    cursor: str | None = None,
) -> FetchResult:
    """Fetch one source's documents for [since, until]; a connector resumes from `cursor`.

    Never raises for a failing source: its problems are returned.
    """
    if source.kind in CONNECTORS:
        load = load_source(source, since, until, author_salt, cursor)
        return FetchResult(
            documents=load.documents,
            problems=list(load.problems),
            n_in=load.n_rows,
            n_skipped=load.n_skipped,
            cursor=load.cursor,
            responses=list(load.responses),
            replies=list(load.replies),
        )
    crawl = run_crawl(source, since, until, work_dir, author_salt)
    docs, bad_lines = read_documents_jsonl(crawl.jsonl_path, source.name)
    stats = crawl.stats
    n_skipped = len(bad_lines) + sum(int(stats.get(k, 0)) for k in _SKIPPED_STATS)
    return FetchResult(
        documents=docs,
        problems=list(crawl.problems) + bad_lines,
        n_in=len(docs) + n_skipped,
        n_skipped=n_skipped,
        empty_text=int(stats.get("voc/empty_text", 0)),
        layout_changed=int(stats.get("voc/layout_changed", 0)),
        blocked=sum(int(stats.get(k, 0)) for k in _BLOCKED_STATS),
    )
