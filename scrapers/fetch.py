"""Fetching one source: a connector (files, mailboxes, helpdesk APIs) or a Scrapy crawl in a
subprocess, with what went wrong counted by kind rather than raised."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from scrapers.connectors import CONNECTORS, load_source
from scrapers.run import run_crawl
from voc.customers import SurveyResponse
from voc.records import Document, iter_documents_jsonl, write_documents_jsonl
from voc.response_times import MailReply
from voc.settings import SourceConfig

# Crawl stats (scrapers.stats) of items dropped as unreadable, and of pages that were a
# login wall, captcha, rate limit, ban or busy page (a site's other API errors, such as a
# deleted post, are problems of their own).
_SKIPPED_STATS = ("voc/parse_error", "voc/invalid_item")
BLOCKED_STATS = ("voc/blocked", "voc/login_required", "voc/error_page")


@dataclass
class FetchResult:
    """One source's documents for a window and what went wrong.

    The documents are in a file, never all in memory at once: a crawl's own output, or
    what a connector read, written to the run's folder.

    Attributes:
        documents_path: The JSONL file of the documents (`voc.records.iter_documents_jsonl`;
            its bad lines are among `problems` already).
        n_documents: Valid documents in it.
        newest: The newest document's time (None: none).
        problems: Messages naming the source and the file, row, URL or item.
        n_in: Items or rows read.
        n_skipped: Items or rows dropped as invalid.
        cursor: The connector's resume point (None: none).
        empty_text: Items with no text.
        layout_changed: Pages whose structure no longer matched.
        blocked: Pages that were a login wall, captcha, rate limit or ban.
        responses: Survey responses' scores (``survey`` sources).
        replies: Our replies to customers' mails (``mailbox`` sources with our_domains).
        examples: The first message of each kind of problem a health check names
            (``blocked``, ``layout_changed``).
        stop_reason: Why a crawl's paging stopped, and on which page, if it says.
    """

    documents_path: Path | None = None
    n_documents: int = 0
    newest: datetime | None = None
    problems: list[str] = field(default_factory=list)
    n_in: int = 0
    n_skipped: int = 0
    cursor: str | None = None
    empty_text: int = 0
    layout_changed: int = 0
    blocked: int = 0
    responses: list[SurveyResponse] = field(default_factory=list)
    replies: list[MailReply] = field(default_factory=list)
    examples: dict[str, str] = field(default_factory=dict)
    stop_reason: str | None = None


def problem_examples(stats: dict) -> dict[str, str]:
    """The first message of each kind a health check names, from a crawl's stats."""
    examples = {}
    blocked = [stats[f"voc/first/{k}"] for k in BLOCKED_STATS if f"voc/first/{k}" in stats]
    if blocked:
        examples["blocked"] = str(blocked[0])
    if "voc/first/voc/layout_changed" in stats:
        examples["layout_changed"] = str(stats["voc/first/voc/layout_changed"])
    return examples


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
        path = Path(work_dir) / f"{source.name}.documents.jsonl"
        write_documents_jsonl(path, load.documents)
        return FetchResult(
            documents_path=path,
            n_documents=len(load.documents),
            newest=max((d.created_at for d in load.documents), default=None),
            problems=list(load.problems),
            n_in=load.n_rows,
            n_skipped=load.n_skipped,
            cursor=load.cursor,
            responses=list(load.responses),
            replies=list(load.replies),
        )
    crawl = run_crawl(source, since, until, work_dir, author_salt)
    n_docs, newest, bad_lines = _scan(crawl.jsonl_path, source.name)
    stats = crawl.stats
    n_skipped = len(bad_lines) + sum(int(stats.get(k, 0)) for k in _SKIPPED_STATS)
    return FetchResult(
        documents_path=Path(crawl.jsonl_path),
        n_documents=n_docs,
        newest=newest,
        problems=list(crawl.problems) + bad_lines,
        n_in=n_docs + n_skipped,
        n_skipped=n_skipped,
        empty_text=int(stats.get("voc/empty_text", 0)),
        layout_changed=int(stats.get("voc/layout_changed", 0)),
        blocked=sum(int(stats.get(k, 0)) for k in BLOCKED_STATS),
        examples=problem_examples(stats),
        stop_reason=stats.get("voc/stop_reason"),
    )


def _scan(path: Path, source: str) -> tuple[int, datetime | None, list[str]]:
    """Valid documents, the newest one's time and the bad lines' messages of a crawl's
    output, read one line at a time."""
    n_docs, newest, problems = 0, None, []
    for item in iter_documents_jsonl(path, source):
        if isinstance(item, Document):
            n_docs += 1
            newest = item.created_at if newest is None else max(newest, item.created_at)
        else:
            problems.append(item)
    return n_docs, newest, problems
