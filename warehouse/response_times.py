"""Response times from the sources themselves (``doc_response_times``) and their analytics.

Loaded with each source during the normal ingestion (`flows.tasks.load_documents`):

- ``zendesk_metrics`` (helpdesk_api): the ticket's metric set, side-loaded by the incremental
  export — first reply = created + ``reply_time_in_minutes.calendar``, resolution =
  ``full_resolution_time_in_minutes`` (to the latest solve; ``solved_at``) while the ticket
  is solved or closed, with Zendesk's business-hours minutes beside them.
- ``mail_thread`` (mailbox with ``our_domains``): the earliest mail from our domain that
  names the customer's mail in its In-Reply-To or References, dated after it. Mail has no
  resolution.
- ``complaint_steps`` (complaints): the first 商家回复 step and the 已完成 step of the
  complaint's timeline.
- ``helpdesk_stats`` (Freshdesk): the ticket's ``stats.first_responded_at`` and
  ``resolved_at`` (else ``closed_at``).

Analytics (read-only, on the snapshot): `response_time_summary` gives first-response and
resolution median and p90 and the breach rate against a threshold (24 h by default) by
channel, source, origin, theme, segment, owner, responder or month; `outcomes_by_speed`
compares the customers answered within the threshold with those answered later (and not
at all): the negative share of their later voices and their later NPS.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import duckdb
import pandas as pd

from voc.response_times import MailReply
from voc.satisfaction import MIN_N, csat_score, nps_score
from warehouse.aggregates import bind
from warehouse.db import register_frame, transaction

__all__ = [
    "DIMENSIONS",
    "ResponseFilters",
    "outcomes_by_speed",
    "refresh_response_times",
    "response_time_summary",
    "response_time_voices",
    "upsert_mail_replies",
]

#: Default breach threshold: a first response within 24 hours.
DEFAULT_THRESHOLD_MINUTES = 24 * 60

_REPLY_COLUMNS = ["message_id", "source", "replied_at", "replier", "refs"]

# One row per response-tracked voice of the scope (doc ids in rt_scope). Attribute values
# are JSON text; minutes are converted with microseconds, as DuckDB has no fractional
# minute interval. A step dated before the voice (a platform's list time a little after
# its 发起投诉 step) counts as 0 minutes, never negative.
_DERIVE = """
WITH d AS (
    SELECT r.id, r.source, r.channel, r.created_at, r.attributes AS a,
           r.attributes->>'response_origin' AS origin
    FROM raw_documents r
    WHERE r.id IN (SELECT id FROM rt_scope) AND r.attributes->>'response_origin' IS NOT NULL
),
mail AS (
    SELECT d.id, min(m.replied_at) AS first_at, arg_min(m.replier, m.replied_at) AS replier
    FROM d JOIN raw_documents r ON r.id = d.id
    JOIN (SELECT unnest(refs) AS ref, replied_at, replier FROM mail_replies) m
      ON m.ref = r.external_id AND m.replied_at >= d.created_at
    WHERE d.origin = 'mail_thread'
    GROUP BY d.id
),
z AS (
    SELECT d.*,
        TRY_CAST(a->>'reply_minutes' AS DOUBLE) AS reply_min,
        TRY_CAST(a->>'full_resolution_minutes' AS DOUBLE) AS full_min,
        TRY_CAST(a->>'first_resolution_minutes' AS DOUBLE) AS first_res_min,
        TRY_CAST(a->>'reply_business_minutes' AS DOUBLE) AS reply_bmin,
        TRY_CAST(a->>'full_resolution_business_minutes' AS DOUBLE) AS full_bmin,
        TRY_CAST(a->>'solved_at' AS TIMESTAMPTZ) AS solved_at,
        coalesce(a->>'status' IN ('solved', 'closed'), false) AS is_solved,
        TRY_CAST(a->>'replied_at' AS TIMESTAMPTZ) AS step_reply,
        TRY_CAST(a->>'completed_at' AS TIMESTAMPTZ) AS step_done,
        a->>'assignee_id' AS assignee
    FROM d
),
t AS (
    SELECT z.id, z.source, z.channel, z.created_at AS opened_at, z.origin,
        CASE z.origin
            WHEN 'zendesk_metrics' THEN z.created_at
                + to_microseconds(CAST(round(z.reply_min * 60000000) AS BIGINT))
            WHEN 'complaint_steps' THEN z.step_reply
            WHEN 'helpdesk_stats' THEN z.step_reply
            WHEN 'mail_thread' THEN mail.first_at
        END AS first_response_at,
        CASE z.origin
            WHEN 'zendesk_metrics' THEN CASE WHEN z.is_solved THEN coalesce(z.solved_at,
                z.created_at + to_microseconds(CAST(round(z.full_min * 60000000) AS BIGINT)))
            END
            WHEN 'complaint_steps' THEN z.step_done
            WHEN 'helpdesk_stats' THEN z.step_done
        END AS resolved_at,
        z.reply_min, z.full_min, z.first_res_min, z.reply_bmin, z.full_bmin, z.is_solved,
        CASE z.origin WHEN 'zendesk_metrics' THEN z.assignee
            WHEN 'mail_thread' THEN mail.replier END AS responder
    FROM z LEFT JOIN mail ON mail.id = z.id
)
SELECT id, source, channel, opened_at, first_response_at, resolved_at,
    CASE WHEN origin = 'zendesk_metrics' THEN reply_min
        WHEN first_response_at IS NOT NULL  -- greatest() would turn NULL into 0
            THEN greatest((epoch(first_response_at) - epoch(opened_at)) / 60, 0) END,
    CASE WHEN origin = 'zendesk_metrics' THEN CASE WHEN is_solved THEN full_min END
        WHEN resolved_at IS NOT NULL  -- greatest() would turn NULL into 0
            THEN greatest((epoch(resolved_at) - epoch(opened_at)) / 60, 0) END,
    CASE WHEN origin = 'zendesk_metrics' THEN first_res_min END,
    CASE WHEN origin = 'zendesk_metrics' THEN reply_bmin END,
    CASE WHEN origin = 'zendesk_metrics' AND is_solved THEN full_bmin END,
    responder, origin
FROM t
"""


def upsert_mail_replies(
    con: duckdb.DuckDBPyConnection, replies: Sequence[MailReply], run_id: str
) -> int:
    """Insert our new replies to customers' mails and update re-read ones (by Message-ID).

    Re-loading the same replies changes nothing but their ``last_run_id``. Returns the
    replies written.
    """
    latest = {r.message_id: r for r in replies}  # duplicate keys in one batch: last wins
    if not latest:
        return 0
    frame = pd.DataFrame(
        [
            {
                "message_id": r.message_id,
                "source": r.source,
                "replied_at": pd.Timestamp(r.replied_at).tz_convert("UTC"),
                "replier": r.replier,
                "refs": list(r.refs),
            }
            for r in latest.values()
        ],
        columns=_REPLY_COLUMNS,
    )
    register_frame(con, "incoming_replies", frame)
    try:
        with transaction(con):
            con.execute(
                "INSERT INTO mail_replies SELECT message_id, source, replied_at, replier, "
                "refs::VARCHAR[], ?, ? FROM incoming_replies ON CONFLICT (message_id) DO UPDATE "
                "SET source = excluded.source, replied_at = excluded.replied_at, "
                "replier = excluded.replier, refs = excluded.refs, "
                "last_run_id = excluded.last_run_id",
                [run_id, run_id],
            )
    finally:
        con.unregister("incoming_replies")
    return len(frame)


def refresh_response_times(
    con: duckdb.DuckDBPyConnection,
    *,
    sources: Sequence[str] = (),
    doc_ids: Sequence[str] = (),
    reply_refs: Sequence[str] = (),
) -> int:
    """Rebuild ``doc_response_times`` for a scope: every voice of `sources`, the voices
    `doc_ids`, and the mails named by `reply_refs` (what new replies answer: a reply read
    by a "Sent" mailbox source answers another source's mail, maybe from an earlier run).

    Idempotent: the scope's rows are deleted and derived again in one transaction. The flow
    passes each load's documents and replies; ``sources`` rebuilds whole sources.

    Returns:
        The rows now stored for the scope.
    """
    if not (sources or doc_ids or reply_refs):
        return 0
    params = {"sources": list(sources), "ids": list(doc_ids), "refs": list(reply_refs)}
    with transaction(con):
        con.execute(
            "CREATE OR REPLACE TEMP TABLE rt_scope AS "
            "SELECT id FROM raw_documents WHERE list_contains($sources, source) "
            "UNION SELECT id FROM raw_documents WHERE id IN (SELECT unnest($ids)) "
            "UNION SELECT id FROM raw_documents "
            " WHERE external_id IN (SELECT unnest($refs::VARCHAR[]))",
            params,
        )
        con.execute("DELETE FROM doc_response_times WHERE doc_id IN (SELECT id FROM rt_scope)")
        con.execute(f"INSERT INTO doc_response_times {_DERIVE}")  # fixed SQL text
        n = con.execute(
            "SELECT count(*) FROM doc_response_times WHERE doc_id IN (SELECT id FROM rt_scope)"
        ).fetchone()[0]
        con.execute("DROP TABLE rt_scope")
    return n


# -- analytics -----------------------------------------------------------------------------

#: Group-by dimensions of `response_time_summary` → their SQL over the joined relation
#: (fixed strings). ``owner`` is the customer's account manager (customer file, at the
#: time of the voice); ``responder`` who answered (Zendesk assignee id, our mail address).
DIMENSIONS = {
    "channel": "v.channel",
    "source": "v.source",
    "origin": "v.origin",
    "theme": "v.theme",
    "segment": "v.segment",
    "owner": "v.owner",
    "responder": "v.responder",
    "month": "strftime(v.local_day, '%Y-%m')",
}


@dataclass(frozen=True)
class ResponseFilters:
    """Which voices the analytics read; empty tuples mean no restriction.

    Attributes:
        start: First local day the voice was written (inclusive); None = from the first.
        end: Last local day (inclusive); None = up to the last.
        channels: Channels (``ticket``, ``social``).
        sources: Source names.
        segments: Customer segments at the time of the voice.
        owners: Account managers at the time of the voice.
    """

    start: date | None = None
    end: date | None = None
    channels: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()


def _voices_sql(f: ResponseFilters) -> tuple[str, dict[str, Any]]:
    """The response-tracked voices in scope with their theme, segment and owner."""
    where, params = ["true"], {}
    if f.start is not None:
        where.append("r.local_day >= $start")
        params["start"] = f.start
    if f.end is not None:
        where.append("r.local_day <= $end")
        params["end"] = f.end
    for column, alias, values in (
        ("channel", "t.", f.channels),
        ("source", "t.", f.sources),
        ("segment", "dc.", f.segments),
        ("owner", "dc.", f.owners),
    ):
        if values:
            where.append(f"list_contains(${column}s::VARCHAR[], {alias}{column})")
            params[f"{column}s"] = list(values)
    sql = (
        "SELECT t.*, r.local_day, dc.customer_id, dc.segment, dc.owner, "
        "coalesce(tt.label, ct.label, dt.theme_id) AS theme "
        "FROM doc_response_times t JOIN raw_documents r ON r.id = t.doc_id "
        "LEFT JOIN doc_customers dc ON dc.doc_id = t.doc_id "
        "LEFT JOIN doc_themes dt ON dt.doc_id = t.doc_id "
        "LEFT JOIN tracked_themes tt ON tt.theme_id = dt.theme_id "
        "LEFT JOIN complaint_themes ct ON ct.theme_id = dt.theme_id "
        f"WHERE {' AND '.join(where)}"
    )
    return sql, params


def _speed_sql() -> str:
    """``speed`` of a voice: within / later (answered after the threshold) / unanswered
    (overdue without a response) / pending (not answered, not yet overdue)."""
    return (
        "CASE WHEN v.first_response_minutes IS NOT NULL THEN "
        " CASE WHEN v.first_response_minutes <= $threshold THEN 'within' ELSE 'later' END "
        "WHEN (epoch($now::TIMESTAMPTZ) - epoch(v.opened_at)) / 60 > $threshold "
        " THEN 'unanswered' ELSE 'pending' END"
    )


def response_time_summary(
    con: duckdb.DuckDBPyConnection,
    by: str | None = "channel",
    threshold_minutes: float = DEFAULT_THRESHOLD_MINUTES,
    filters: ResponseFilters | None = None,
    now: datetime | None = None,
) -> pd.DataFrame:
    """First-response and resolution times and the breach rate, per group.

    Args:
        con: A warehouse connection (the read-only snapshot will do).
        by: A key of `DIMENSIONS`, or None for one overall row.
        threshold_minutes: A first response later than this is a breach (default 24 h).
        filters: Which voices (default: all).
        now: When "now" is, for the voices still unanswered (default: the current time).

    Returns:
        One row per group (column named `by`, or ``group`` = ``全部`` overall), largest
        first: ``n_voices``; ``n_answered``, ``first_response_median`` and
        ``first_response_p90`` (minutes); ``business_first_response_median`` (Zendesk's
        business minutes, where given); ``n_resolved``, ``resolution_median``,
        ``resolution_p90``, ``business_resolution_median``; ``n_due`` (answered, or
        unanswered past the threshold), ``n_breached`` (answered later than the
        threshold, or unanswered past it) and ``breach_rate`` = n_breached / n_due
        (None when nothing is due yet).

    Raises:
        ValueError: for an unknown `by`, naming the known ones.
    """
    if by is not None and by not in DIMENSIONS:
        raise ValueError(
            f"统计维度 by={by!r} 未知 / unknown dimension (可用 / known: {', '.join(DIMENSIONS)})"
        )
    voices, params = _voices_sql(filters or ResponseFilters())
    params |= {"threshold": float(threshold_minutes), "now": now or datetime.now(UTC)}
    group = DIMENSIONS[by] if by else "'全部'"
    name = by or "group"
    sql = (
        f"WITH v AS ({voices}), s AS (SELECT v.*, {_speed_sql()} AS speed, "
        f"{group} AS grp FROM v) "
        f'SELECT grp AS "{name}", count(*) AS n_voices, '
        "count(first_response_minutes) AS n_answered, "
        "quantile_cont(first_response_minutes, 0.5) AS first_response_median, "
        "quantile_cont(first_response_minutes, 0.9) AS first_response_p90, "
        "quantile_cont(business_first_response_minutes, 0.5) "
        " AS business_first_response_median, "
        "count(resolution_minutes) AS n_resolved, "
        "quantile_cont(resolution_minutes, 0.5) AS resolution_median, "
        "quantile_cont(resolution_minutes, 0.9) AS resolution_p90, "
        "quantile_cont(business_resolution_minutes, 0.5) AS business_resolution_median, "
        "count(*) FILTER (WHERE speed <> 'pending') AS n_due, "
        "count(*) FILTER (WHERE speed IN ('later', 'unanswered')) AS n_breached "
        "FROM s GROUP BY grp ORDER BY n_voices DESC, grp NULLS LAST"
    )
    frame = con.execute(sql, bind(sql, params)).df()
    # A group without a value (no theme, unlinked customer) is None, not pandas' NaN.
    frame[name] = frame[name].astype(object).where(frame[name].notna(), None)
    for column in ("n_voices", "n_answered", "n_resolved", "n_due", "n_breached"):
        frame[column] = frame[column].astype("int64")
    frame["breach_rate"] = [
        b / d if d else None for b, d in zip(frame["n_breached"], frame["n_due"], strict=True)
    ]
    return frame


def response_time_voices(
    con: duckdb.DuckDBPyConnection,
    threshold_minutes: float = DEFAULT_THRESHOLD_MINUTES,
    filters: ResponseFilters | None = None,
    now: datetime | None = None,
    speeds: Sequence[str] = ("later", "unanswered"),
    limit: int = 100,
) -> pd.DataFrame:
    """The voices behind a breach rate: by default the breaches (answered late, or still
    unanswered past the threshold), slowest first, oldest unanswered before them.

    Returns:
        Columns ``doc_id``, ``source``, ``channel``, ``origin``, ``opened_at``,
        ``first_response_at``, ``resolved_at``, ``first_response_minutes``,
        ``resolution_minutes``, ``responder``, ``segment``, ``owner``, ``theme``,
        ``speed`` (within / later / unanswered / pending), ``text`` (the stored, masked
        text, first 300 characters) and ``url``.
    """
    voices, params = _voices_sql(filters or ResponseFilters())
    params |= {
        "threshold": float(threshold_minutes),
        "now": now or datetime.now(UTC),
        "speeds": list(speeds),
        "limit": int(limit),
    }
    sql = (
        f"WITH v AS ({voices}), s AS (SELECT v.*, {_speed_sql()} AS speed FROM v) "
        "SELECT s.doc_id, s.source, s.channel, s.origin, s.opened_at, s.first_response_at, "
        "s.resolved_at, s.first_response_minutes, s.resolution_minutes, s.responder, "
        "s.segment, s.owner, s.theme, s.speed, left(r.text, 300) AS text, r.url "
        "FROM s JOIN raw_documents r ON r.id = s.doc_id "
        "WHERE list_contains($speeds::VARCHAR[], s.speed) "
        "ORDER BY s.first_response_minutes IS NOT NULL, s.first_response_minutes DESC, "
        "s.opened_at, s.doc_id LIMIT $limit"
    )
    return con.execute(sql, bind(sql, params)).df()


#: The speed groups `outcomes_by_speed` compares, in order.
SPEEDS = ("within", "later", "unanswered")


def outcomes_by_speed(
    con: duckdb.DuckDBPyConnection,
    threshold_minutes: float = DEFAULT_THRESHOLD_MINUTES,
    window_days: int = 90,
    filters: ResponseFilters | None = None,
    now: datetime | None = None,
    model_version: str | None = None,
    min_n: int = MIN_N,
) -> pd.DataFrame:
    """How outcomes depend on speed: the customers answered within the threshold against
    those answered later and those not answered (overdue).

    For each response-tracked voice linked to a customer (`doc_customers`), the customer's
    later voices (written after it, within `window_days`; exact duplicates scored as their
    original, by the current sentiment model) and later survey answers (linked responses
    submitted in the same window) are counted in the voice's speed group. A later voice
    following two tracked voices counts for both.

    Returns:
        One row per speed in `SPEEDS`: ``n_voices``, ``n_customers``, ``n_later_voices``,
        ``n_later_negative``, ``negative_share`` with its Wilson interval
        ``negative_low`` / ``negative_high`` (shares 0–1), ``n_nps``, ``nps`` (points)
        with ``nps_low`` / ``nps_high`` and ``nps_enough`` (at least `min_n` answers).
    """
    voices, params = _voices_sql(filters or ResponseFilters())
    if model_version is None:
        row = con.execute(
            "SELECT model_version FROM doc_sentiment ORDER BY scored_at DESC, model_version LIMIT 1"
        ).fetchone()
        model_version = row[0] if row else None
    params |= {
        "threshold": float(threshold_minutes),
        "now": now or datetime.now(UTC),
        "window": int(window_days),
        "model": model_version,
    }
    responses = (
        "(SELECT s.submitted_at, s.nps, c.customer_id FROM survey_responses s "
        "JOIN response_customers c USING (response_id) WHERE s.nps IS NOT NULL)"
    )
    sql = (
        f"WITH v AS ({voices}), "
        f"e AS (SELECT v.doc_id, v.customer_id, v.opened_at, {_speed_sql()} AS speed "
        " FROM v WHERE v.customer_id IS NOT NULL), "
        "later AS (SELECT e.speed, count(*) AS n_later, "
        " count(*) FILTER (WHERE s.label = 'negative') AS n_negative, "
        " count(s.label) AS n_scored "
        " FROM e JOIN doc_customers c ON c.customer_id = e.customer_id AND c.doc_id <> e.doc_id "
        " JOIN raw_documents r ON r.id = c.doc_id AND r.created_at > e.opened_at "
        "  AND r.created_at <= e.opened_at + to_days($window) "
        " LEFT JOIN doc_texts x ON x.doc_id = r.id "
        " LEFT JOIN doc_sentiment s ON s.doc_id = coalesce(x.duplicate_of, r.id) "
        "  AND s.model_version = $model "
        " GROUP BY e.speed), "
        "nps AS (SELECT e.speed, count(*) FILTER (WHERE a.nps >= 9) AS promoters, "
        " count(*) FILTER (WHERE a.nps BETWEEN 7 AND 8) AS passives, "
        " count(*) FILTER (WHERE a.nps <= 6) AS detractors "
        f" FROM e JOIN {responses} a ON a.customer_id = e.customer_id "
        "  AND a.submitted_at > e.opened_at AND a.submitted_at <= e.opened_at + to_days($window) "
        " GROUP BY e.speed), "
        "base AS (SELECT speed, count(*) AS n_voices, count(DISTINCT customer_id) AS n_customers "
        " FROM e GROUP BY speed) "
        "SELECT base.speed, base.n_voices, base.n_customers, later.n_later, later.n_negative, "
        "later.n_scored, nps.promoters, nps.passives, nps.detractors "
        "FROM base LEFT JOIN later USING (speed) LEFT JOIN nps USING (speed)"
    )
    rows = {r[0]: r for r in con.execute(sql, bind(sql, params)).fetchall()}
    out = []
    for speed in SPEEDS:
        _, n_voices, n_customers, n_later, n_neg, n_scored, pro, pas, det = rows.get(
            speed, (speed, 0, 0, 0, 0, 0, 0, 0, 0)
        )
        n_neg, n_scored = int(n_neg or 0), int(n_scored or 0)
        # Wilson's interval of a share: the CSAT helper computes exactly that, in percent.
        share = csat_score(n_neg, n_scored, min_n)
        nps = nps_score(int(pro or 0), int(pas or 0), int(det or 0), min_n)
        out.append(
            {
                "speed": speed,
                "n_voices": int(n_voices),
                "n_customers": int(n_customers),
                "n_later_voices": int(n_later or 0),
                "n_later_negative": n_neg,
                "negative_share": None if share.value is None else share.value / 100,
                "negative_low": None if share.low is None else share.low / 100,
                "negative_high": None if share.high is None else share.high / 100,
                "n_nps": nps.n,
                "nps": nps.value,
                "nps_low": nps.low,
                "nps_high": nps.high,
                "nps_enough": nps.enough,
            }
        )
    return pd.DataFrame(out)
