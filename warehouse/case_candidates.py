"""The voices that may open a case: candidate voices of a day range, and the verbatims
behind spike alerts, read from the warehouse as `voc.case_match.Candidate`s.

A candidate carries what the opening rules and the priority formula read: the label by
the current sentiment model (a person's correction of it, `v_sentiment_corrections`,
wins: a voice corrected to positive opens no case) and its negativity (1 − the model's
positivity score), anger by the current emotion model, reach (reposts + comments), theme,
every category and every negatively judged aspect, the escalations it threatens
(`doc_escalation`: regulator, media, legal, compensation), the customer and the tier it had on
the voice's day (`doc_customers`), and its near-duplicate group. An exact duplicate
(`doc_texts.duplicate_of`) is a voice of its own (its own customer, reach and URL) with
its original's enrichments, corrections and group.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta

import duckdb

from voc.case_match import AlertVerbatims, Candidate
from voc.case_opening import build_openings, merge_key, opening
from voc.case_rules import CaseRulesConfig, OpenRule
from voc.cases import EXCERPT_CHARS, CaseOpening, CaseVoice, cut_excerpt

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: The rule of a case opened by hand from a verbatim.
MANUAL_RULE = OpenRule("manual", sentiments=())

# One pass: the day range (or the given ids) → scored → enrichments joined by the
# original's id. Lists are aggregated only for the candidates' documents.
_CANDIDATES = """
WITH docs AS (
    SELECT r.id, coalesce(t.duplicate_of, r.id) AS base_id, r.source, r.channel,
        r.created_at, left(r.text, $chars) AS excerpt, r.url,
        coalesce(r.repost_count, 0) + coalesce(r.comment_count, 0) AS reach
    FROM raw_documents r LEFT JOIN doc_texts t ON t.doc_id = r.id
    WHERE (r.local_day BETWEEN $since AND $until) OR r.id IN (SELECT unnest($ids))
), fixes AS (
    SELECT doc_id, corrected_label FROM v_sentiment_corrections
), scored AS (
    SELECT d.*, coalesce(own.corrected_label, orig.corrected_label, s.label) AS label,
        1 - s.score AS negative_score
    FROM docs d JOIN doc_sentiment s ON s.doc_id = d.base_id AND s.model_version = $model
    LEFT JOIN fixes own ON own.doc_id = d.id
    LEFT JOIN fixes orig ON orig.doc_id = d.base_id
    WHERE list_contains($labels, coalesce(own.corrected_label, orig.corrected_label, s.label))
        OR list_contains($ids, d.id)
), cats AS (
    SELECT doc_id, list(category ORDER BY score DESC, category) AS categories
    FROM doc_categories WHERE doc_id IN (SELECT base_id FROM scored) GROUP BY doc_id
), asp AS (
    SELECT doc_id, list(aspect ORDER BY confidence DESC, aspect) AS aspects
    FROM doc_aspects
    WHERE polarity = 'negative' AND model_version = $aspect_model
        AND doc_id IN (SELECT base_id FROM scored)
    GROUP BY doc_id
), esc AS (
    SELECT doc_id, list(DISTINCT kind ORDER BY kind) AS kinds
    FROM doc_escalation WHERE doc_id IN (SELECT base_id FROM scored) GROUP BY doc_id
)
SELECT s.id, s.source, s.channel, epoch_us(s.created_at), s.excerpt, s.url, s.label,
    round(s.negative_score, 4), round(e.anger, 4), s.reach, th.theme_id,
    coalesce(tt.label, ct.label), dc.customer_id, dc.segment, dc.province, g.group_id,
    cats.categories, asp.aspects, esc.kinds
FROM scored s
LEFT JOIN doc_emotion e ON e.doc_id = s.base_id AND e.model_version = $emotion_model
LEFT JOIN doc_themes th ON th.doc_id = s.base_id
LEFT JOIN tracked_themes tt ON tt.theme_id = th.theme_id
LEFT JOIN complaint_themes ct ON ct.theme_id = th.theme_id
LEFT JOIN doc_customers dc ON dc.doc_id = s.id
LEFT JOIN doc_groups g ON g.doc_id = s.base_id
LEFT JOIN cats ON cats.doc_id = s.base_id
LEFT JOIN asp ON asp.doc_id = s.base_id
LEFT JOIN esc ON esc.doc_id = s.base_id
ORDER BY s.created_at, s.id
"""


def current_sentiment_model(con: duckdb.DuckDBPyConnection) -> str | None:
    """The sentiment model that scored most recently (None before any scoring)."""
    row = con.execute(
        "SELECT model_version FROM doc_sentiment ORDER BY scored_at DESC, model_version LIMIT 1"
    ).fetchone()
    return row[0] if row else None


def _newest(con: duckdb.DuckDBPyConnection, table: str) -> str | None:
    # table is one of two constants below, never user input.
    row = con.execute(
        f"SELECT model_version FROM {table} ORDER BY scored_at DESC, model_version LIMIT 1"
    ).fetchone()
    return row[0] if row else None


def candidate_voices(
    con: duckdb.DuckDBPyConnection,
    since: date,
    until: date,
    model_version: str | None = None,
    labels: Sequence[str] = ("negative",),
    doc_ids: Sequence[str] = (),
) -> list[Candidate]:
    """The voices of local days [since, until] judged one of `labels`, plus the documents
    `doc_ids` whatever their day and label (an alert's verbatims), oldest first.

    Args:
        con: The warehouse.
        since: First local day.
        until: Last local day (inclusive).
        model_version: The sentiment model whose labels count; default the newest.
        labels: Sentiment labels that make a voice a candidate.
        doc_ids: Documents that are candidates in any case (unscored ones are not).
    """
    model_version = model_version or current_sentiment_model(con)
    if model_version is None:
        return []
    rows = con.execute(
        _CANDIDATES,
        {
            "since": since,
            "until": until,
            "ids": list(doc_ids),
            "model": model_version,
            "labels": list(labels),
            "chars": EXCERPT_CHARS + 1,  # one more: cut_excerpt marks a cut text
            "aspect_model": _newest(con, "doc_aspects"),
            "emotion_model": _newest(con, "doc_emotion"),
        },
    ).fetchall()
    return [
        Candidate(
            CaseVoice(
                doc_id=r[0],
                source=r[1],
                channel=r[2],
                created_at=_EPOCH + timedelta(microseconds=r[3]),
                excerpt=cut_excerpt(r[4]),
                url=r[5],
                sentiment=r[6],
                negative_score=r[7],
                anger=r[8],
                reach=int(r[9]),
                theme_id=r[10],
                theme_label=r[11],
                aspect=r[17][0] if r[17] else None,
                category=r[16][0] if r[16] else None,
                customer_id=r[12],
                segment=r[13],
                province=r[14],
                dup_group=r[15],
            ),
            categories=tuple(r[16] or ()),
            aspects=tuple(r[17] or ()),
            escalations=tuple(r[18] or ()),
        )
        for r in rows
    ]


def alert_verbatims(
    con: duckdb.DuckDBPyConnection, since: date, until: date
) -> list[AlertVerbatims]:
    """The verbatims of every spike episode overlapping local days [since, until]
    (`spike_episodes.explanation`, as `signals.explain` wrote it), oldest episode first."""
    rows = con.execute(
        "SELECT episode_id, severity, key_kind, key_value, explanation FROM spike_episodes "
        "WHERE start_period::DATE <= $until AND end_period::DATE >= $since "
        "ORDER BY start_period, episode_id",
        {"since": since, "until": until},
    ).fetchall()
    out = []
    for episode_id, severity, kind, value, explanation in rows:
        verbatims = json.loads(explanation).get("verbatims", []) if explanation else []
        ids = tuple(dict.fromkeys(v["doc_id"] for v in verbatims if v.get("doc_id")))
        if ids:
            out.append(AlertVerbatims(episode_id, severity, kind, value, ids))
    return out


def read_openings(
    con: duckdb.DuckDBPyConnection,
    since: date,
    until: date,
    config: CaseRulesConfig,
    source_kinds: Mapping[str, str] | None = None,
    model_version: str | None = None,
) -> list[CaseOpening]:
    """The case openings of local days [since, until] by `config`'s rules: the candidate
    voices and the verbatims of the alerts of those days (`voc.case_opening`).

    Args:
        con: The warehouse.
        since: First local day.
        until: Last local day (inclusive).
        config: Opening rules, priority formula, routes.
        source_kinds: Source name → kind (``Settings.sources``), for ``source_kind``.
        model_version: The current sentiment model; default the newest.
    """
    if not config.rules:
        return []
    alerts = (
        alert_verbatims(con, since, until)
        if any(rule.origin == "alerts" for rule in config.rules)
        else []
    )
    ids = [doc_id for alert in alerts for doc_id in alert.doc_ids]
    candidates = candidate_voices(con, since, until, model_version, config.labels_needed(), ids)
    return build_openings(candidates, config, source_kinds, alerts)


def manual_opening(
    con: duckdb.DuckDBPyConnection,
    doc_id: str,
    config: CaseRulesConfig,
    model_version: str | None = None,
) -> CaseOpening | None:
    """A case opening for one verbatim chosen by hand (rule ``manual``), whatever its
    label: its merge key, priority and route as the rules would give them. None when the
    document is not stored or not scored yet."""
    found = candidate_voices(con, date.max, date.min, model_version, (), [doc_id])
    if not found:
        return None
    c = found[0]
    return opening(merge_key(c.voice), [(MANUAL_RULE, c)], config)
