"""Per-source state: incremental windows and cursors, per-run counts, source-health alerts.

A daily run without dates is incremental: each source starts at its watermark (the newest
document landed) minus a look-back for late posts and edits; a new source backfills a
configured number of days. The upsert by (source, external id) makes the overlap free.

Source health is judged after every run of a source, by the rules in `check_health`; an
alert stays open (one per source and check) until a later run of the source passes it.
"""

from __future__ import annotations

import hashlib
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import duckdb

from warehouse.db import transaction

#: Runs of history a source's item count is compared with.
HEALTH_HISTORY_RUNS = 7
#: A source whose recent runs had at least this median count is expected to yield items.
HEALTH_MIN_EXPECTED = 3
#: Share of items with empty text that raises an alert.
HEALTH_EMPTY_TEXT_SHARE = 0.2

CHECK_LABELS = {
    "failed": "抓取失败 fetch failed",
    "zero_items": "突然没有数据 suddenly 0 items",
    "empty_text": "文本为空 items with empty text",
    "layout_changed": "页面结构变化 selectors stopped matching",
    "blocked": "被拦截 login wall, captcha or rate limit",
}

#: Health checks from the worst to the mildest: the one a run's headline names.
SEVERITY = ("failed", "blocked", "layout_changed", "zero_items", "empty_text")

#: What the operator does about each check.
CHECK_FIXES = {
    "failed": "read the error; the source or its configuration is broken",
    "zero_items": "check that the source still publishes (nothing new is fine on a quiet day)",
    "empty_text": "a text field stopped matching: check the source's text selector or column",
    "layout_changed": "the site changed: update the named selector or field",
    "blocked": "slow down (download_delay, fewer pages) or refresh the cookie; pass a "
    "verification page once in a browser",
}


@dataclass(frozen=True)
class SourceRun:
    """What one run did for one source (a row of ``source_runs``).

    Attributes:
        source: Source name.
        kind: Source kind.
        since: First day fetched.
        until: Last day fetched.
        mode: ``incremental`` (window from the watermark) or ``backfill`` (dates given).
        fetched: Documents the source yielded.
        new: Documents inserted.
        updated: Documents changed (edited text, new status, new counts).
        unchanged: Documents already stored as they are.
        skipped: Items dropped as invalid (each named in the run's errors).
        errors: Problems reported (download errors, parse errors...).
        empty_text: Items dropped because their text was empty.
        layout_changed: Pages whose structure no longer matched the parser.
        blocked: Pages that were a login wall, a verification page or a rate-limit answer.
        last_error: The run's headline problem: the first message of its worst kind
            (blocked, then layout changed), else its last problem, if any.
        seconds: Fetch and load time.
        watermark: Newest ``created_at`` among the fetched documents.
        cursor: The connector's resume point after this run, if it has one.
        examples: The first message of each kind of problem (``blocked``,
            ``layout_changed``), so a health alert quotes its own kind.
    """

    source: str
    kind: str
    since: date
    until: date
    mode: str
    fetched: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    errors: int = 0
    empty_text: int = 0
    layout_changed: int = 0
    blocked: int = 0
    last_error: str | None = None
    seconds: float = 0.0
    watermark: datetime | None = None
    cursor: str | None = None
    examples: Mapping[str, str] = field(default_factory=dict)

    @property
    def other_errors(self) -> int:
        """Problems that were neither a refusal nor a changed layout (download errors,
        unreadable items, a crashed parser)."""
        return max(0, self.errors - self.blocked - self.layout_changed)

    def counts(self) -> str:
        """Each kind of problem of the run with its count, e.g. ``3 blocked · 1 other``."""
        parts = [
            f"{n} {label}"
            for n, label in (
                (self.blocked, "blocked"),
                (self.layout_changed, "layout changed"),
                (self.empty_text, "empty text"),
                (self.skipped, "skipped"),
                (self.other_errors, "other"),
            )
            if n
        ]
        return " · ".join(parts) or "no problems"

    @property
    def status(self) -> str:
        """``failed`` (problems and nothing fetched), ``partial`` (problems) or ``ok``."""
        if self.errors and not self.fetched:
            return "failed"
        return "partial" if self.errors else "ok"


@dataclass(frozen=True)
class HealthIssue:
    """One failed source-health check."""

    check: str
    message: str
    observed: float | None = None
    expected: float | None = None


def check_health(run: SourceRun, recent_fetched: Sequence[int]) -> list[HealthIssue]:
    """The source-health checks a run fails.

    Rules:
        failed: the run reported problems and fetched nothing.
        zero_items: the run fetched nothing, without problems, while the median of the
            source's last `HEALTH_HISTORY_RUNS` runs is at least `HEALTH_MIN_EXPECTED`.
        empty_text: at least `HEALTH_EMPTY_TEXT_SHARE` of the items had empty text.
        layout_changed: a page no longer matched the parser (selectors, JSON paths).
        blocked: the site answered with a login wall, a verification (captcha) page or a
            rate-limit message (refresh the cookie, slow down).

    Args:
        run: The run just finished.
        recent_fetched: The source's fetched counts in earlier runs, newest first.
    """
    issues = []
    if run.status == "failed" and run.other_errors:
        # Problem messages already name the source. A run that fetched nothing because
        # every page was refused or unreadable is blocked or changed, not failed.
        issues.append(HealthIssue("failed", run.last_error or f"{run.source}: fetch failed"))
    elif run.status != "failed" and run.fetched == 0 and recent_fetched:
        expected = statistics.median(recent_fetched[:HEALTH_HISTORY_RUNS])
        if expected >= HEALTH_MIN_EXPECTED:
            issues.append(
                HealthIssue(
                    "zero_items",
                    f"{run.source}: 0 items in {run.since}…{run.until}, usually {expected:g}",
                    0,
                    expected,
                )
            )
    total = run.fetched + run.empty_text
    if run.empty_text and run.empty_text / total >= HEALTH_EMPTY_TEXT_SHARE:
        issues.append(
            HealthIssue(
                "empty_text",
                f"{run.source}: {run.empty_text} of {total} items had empty text",
                run.empty_text / total,
                HEALTH_EMPTY_TEXT_SHARE,
            )
        )
    if run.layout_changed:
        first = run.examples.get("layout_changed")
        issues.append(
            HealthIssue(
                "layout_changed",
                f"{run.source}: {run.layout_changed} page(s) no longer match the parser"
                + (f"; first: {first}" if first else ""),
                run.layout_changed,
                0,
            )
        )
    if run.blocked:
        first = run.examples.get("blocked")
        issues.append(
            HealthIssue(
                "blocked",
                f"{run.source}: {run.blocked} page(s) were a login wall, captcha, rate limit "
                "or ban" + (f"; first: {first}" if first else ""),
                run.blocked,
                0,
            )
        )
    issues.sort(key=lambda i: SEVERITY.index(i.check))
    if issues:
        # The worst problem leads; every kind the run had is counted, with its fix.
        head = issues[0]
        issues[0] = replace(
            head,
            message=f"{head.message} (this run: {run.counts()}; fix: {CHECK_FIXES[head.check]})",
        )
    return issues


def headline_problem(examples: Mapping[str, str], problems: Sequence[str]) -> str | None:
    """The problem a run is summed up by: the first message of its worst kind (blocked,
    then layout changed), else its last problem."""
    for check in SEVERITY:
        if check in examples:
            return examples[check]
    return problems[-1] if problems else None


def fetch_window(
    con: duckdb.DuckDBPyConnection,
    source: str,
    today: date,
    timezone: str,
    lookback_days: int,
    backfill_days: int,
) -> tuple[date, date]:
    """The days an incremental run of `source` fetches: from its watermark's day minus
    `lookback_days` (or `backfill_days` back, for a source never landed) to `today`."""
    row = con.execute("SELECT watermark FROM source_state WHERE source = ?", [source]).fetchone()
    if row is None or row[0] is None:
        return today - timedelta(days=backfill_days), today
    newest = row[0].astimezone(ZoneInfo(timezone)).date()
    return min(newest, today) - timedelta(days=lookback_days), today


def source_cursor(con: duckdb.DuckDBPyConnection, source: str) -> str | None:
    """The connector cursor stored for `source`, if any."""
    row = con.execute("SELECT cursor FROM source_state WHERE source = ?", [source]).fetchone()
    return row[0] if row else None


def recent_fetched(con: duckdb.DuckDBPyConnection, source: str, before_run: str) -> list[int]:
    """The fetched counts of `source`'s earlier runs, newest first."""
    rows = con.execute(
        "SELECT fetched FROM source_runs WHERE source = ? AND run_id <> ? "
        "ORDER BY finished_at DESC LIMIT ?",
        [source, before_run, HEALTH_HISTORY_RUNS],
    ).fetchall()
    return [r[0] for r in rows]


def record_source_run(
    con: duckdb.DuckDBPyConnection, run_id: str, run: SourceRun
) -> list[HealthIssue]:
    """Store a source's run, advance its state and raise or resolve its health alerts.

    The watermark only moves forward; the cursor is replaced when the run returned one.
    Returns the health checks the run failed.
    """
    issues = check_health(run, recent_fetched(con, run.source, run_id))
    with transaction(con):
        con.execute(
            "INSERT OR REPLACE INTO source_runs (run_id, source, kind, since, until, mode,"
            " fetched, new, updated, unchanged, skipped, errors, empty_text, layout_changed,"
            " status, last_error, seconds, finished_at, blocked) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now(), ?)",
            [
                run_id,
                run.source,
                run.kind,
                run.since,
                run.until,
                run.mode,
                run.fetched,
                run.new,
                run.updated,
                run.unchanged,
                run.skipped,
                run.errors,
                run.empty_text,
                run.layout_changed,
                run.status,
                run.last_error,
                run.seconds,
                run.blocked,
            ],
        )
        failed = run.status == "failed"
        con.execute(
            "INSERT INTO source_state (source, watermark, cursor, last_run_id, last_attempt_at,"
            " last_success_at, last_error, last_error_at, consecutive_failures) "
            "VALUES (?, ?, ?, ?, now(), CASE WHEN ? THEN NULL ELSE now() END, ?,"
            " CASE WHEN ? IS NULL THEN NULL ELSE now() END, CASE WHEN ? THEN 1 ELSE 0 END) "
            "ON CONFLICT (source) DO UPDATE SET "
            " watermark = greatest(source_state.watermark, excluded.watermark),"
            " cursor = coalesce(excluded.cursor, source_state.cursor),"
            " last_run_id = excluded.last_run_id, last_attempt_at = excluded.last_attempt_at,"
            " last_success_at = coalesce(excluded.last_success_at, source_state.last_success_at),"
            " last_error = coalesce(excluded.last_error, source_state.last_error),"
            " last_error_at = coalesce(excluded.last_error_at, source_state.last_error_at),"
            " consecutive_failures = CASE WHEN ? THEN source_state.consecutive_failures + 1"
            " ELSE 0 END",
            [
                run.source,
                run.watermark,
                run.cursor,
                run_id,
                failed,
                run.last_error,
                run.last_error,
                failed,
                failed,
            ],
        )
        _update_alerts(con, run_id, run.source, issues)
    return issues


def _update_alerts(
    con: duckdb.DuckDBPyConnection, run_id: str, source: str, issues: Sequence[HealthIssue]
) -> None:
    failing = {i.check for i in issues}
    open_checks = dict(
        con.execute(
            "SELECT check_name, alert_id FROM source_health_alerts "
            "WHERE source = ? AND resolved_at IS NULL",
            [source],
        ).fetchall()
    )
    for check, alert_id in open_checks.items():
        if check not in failing:
            con.execute(
                "UPDATE source_health_alerts SET resolved_run_id = ?, resolved_at = now() "
                "WHERE alert_id = ?",
                [run_id, alert_id],
            )
    for issue in issues:
        if issue.check in open_checks:  # one open alert per source and check
            con.execute(
                "UPDATE source_health_alerts SET message = ?, observed = ?, expected = ?,"
                " run_id = ? WHERE alert_id = ?",
                [issue.message, issue.observed, issue.expected, run_id, open_checks[issue.check]],
            )
        else:
            alert_id = hashlib.sha1(f"{source}\x1f{issue.check}\x1f{run_id}".encode()).hexdigest()
            con.execute(
                "INSERT INTO source_health_alerts VALUES (?, ?, ?, ?, ?, ?, ?, now(), NULL, NULL)",
                [
                    alert_id[:20],
                    source,
                    issue.check,
                    issue.message,
                    issue.observed,
                    issue.expected,
                    run_id,
                ],
            )
