"""Did the recovery work (服务补救)? For every closed case (已解决/已关闭) with a customer:
the customer's sentiment and satisfaction before versus after, a verdict, and recovery
rates per theme, owner, channel and segment with Wilson intervals.

Method, per case and window W (``[cases.recovery] windows``, 30 and 90 days); the case ends
at its resolution (``resolved_at``, else ``closed_at``):

- **Before**: the customer's voices from W days before the case opened until it ended
  (the complaint itself included), and the newest survey answer in the W days before it
  opened. **After**: voices and survey answers in the W days after it ended. Voices are the
  documents linked to the customer (``doc_customers``), exact duplicates left out, labelled
  by the current sentiment model, as every page counts them.
- Three signals, each saying recovered or not:
  1. the **回访 score**: the newest satisfaction (1–5) given in a reached 回访 of the case:
     recovered when ≥ ``satisfied_from`` (4);
  2. the **newest later survey answer**: CSAT ≥ ``satisfied_from``, or without a CSAT an
     NPS ≥ ``nps_from`` (7, i.e. not a detractor);
  3. **later voices**: a negative voice after the case means not recovered; none negative
     means recovered, but only once the whole window has passed (a quiet week is not yet
     a recovery) and only when the customer spoke at all (silence is no evidence — it is
     what the churn-risk list looks for).
- **Verdict**: not recovered when any signal says so; recovered when at least one signal
  says so and none says not; unmeasured without signals. A case counts in a rate only when
  measured.
- **Rate** = recovered / measured, with Wilson's 95 % interval (`voc.satisfaction`), shown
  as "样本不足" below ``min_n`` measured cases.

The churn-risk list is in `warehouse.churn_risk`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import duckdb
import pandas as pd

from voc.cases import Case, Followup, FollowupOutcome
from voc.followup_rules import RecoveryConfig
from voc.satisfaction import INSUFFICIENT, csat_score
from warehouse.db import register_frame
from warehouse.satisfaction import has_table

CLOSED_STATUSES = ("resolved", "closed")
#: Dimensions a rate can be split by → what a case without that attribute shows.
DIMENSIONS = {
    "theme": "（无主题）",
    "owner": "（未分配）",
    "channel": "（未知渠道）",
    "segment": "（未关联客户）",
}
RECOVERED, NOT_RECOVERED = "recovered", "not_recovered"
VERDICT_LABELS = {RECOVERED: "已挽回", NOT_RECOVERED: "未挽回", None: "无法判断"}


@dataclass(frozen=True, slots=True)
class CaseRecovery:
    """One closed case's before/after in one window and its verdict.

    Attributes:
        case_id, customer_id, theme, owner, channel, segment: The case (segment then).
        ended_at: Resolution (or closing) time.
        window_days: W.
        window_complete: W days have passed since the case ended.
        n_before, neg_before: Scored voices (and negative ones) before, the complaint's too.
        n_after, neg_after: Scored voices (and negative ones) after.
        csat_before, nps_before: The newest survey answer before the case opened.
        csat_after, nps_after: The newest survey answer after the case ended.
        followup_score: The newest 回访 satisfaction of the case (reached calls only).
        verdict: ``recovered``, ``not_recovered`` or None (unmeasured).
        evidence: What decided it, in words (Chinese).
    """

    case_id: int
    customer_id: str
    theme: str | None
    owner: str | None
    channel: str | None
    segment: str | None
    ended_at: datetime
    window_days: int
    window_complete: bool
    n_before: int
    neg_before: int
    n_after: int
    neg_after: int
    csat_before: int | None
    nps_before: int | None
    csat_after: int | None
    nps_after: int | None
    followup_score: int | None
    verdict: str | None
    evidence: tuple[str, ...]


def ended_at(case: Case) -> datetime:
    """When a closed case ended: resolved, else closed, else last updated."""
    return case.resolved_at or case.closed_at or case.updated_at


def decide(
    followup_score: int | None,
    csat_after: int | None,
    nps_after: int | None,
    n_after: int,
    neg_after: int,
    window_complete: bool,
    config: RecoveryConfig,
) -> tuple[str | None, tuple[str, ...]]:
    """The verdict of one case in one window from its signals (see the module's method),
    and the evidence in words."""
    votes: list[tuple[bool, str]] = []
    if followup_score is not None:
        votes.append((followup_score >= config.satisfied_from, f"回访满意度 {followup_score}"))
    if csat_after is not None:
        votes.append((csat_after >= config.satisfied_from, f"后续问卷 CSAT {csat_after}"))
    elif nps_after is not None:
        votes.append((nps_after >= config.nps_from, f"后续问卷 NPS {nps_after}"))
    if neg_after > 0:
        votes.append((False, f"后续负面声音 {neg_after} 条"))
    elif n_after > 0 and window_complete:
        votes.append((True, f"后续 {n_after} 条声音无负面"))
    if not votes:
        return None, ()
    verdict = RECOVERED if all(ok for ok, _ in votes) else NOT_RECOVERED
    return verdict, tuple(words for _, words in votes)


def _frame(cases: Sequence[Case]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "case_id": [c.case_id for c in cases],
            "customer_id": [c.customer_id for c in cases],
            "opened_at": pd.to_datetime([c.opened_at for c in cases], utc=True),
            "ended_at": pd.to_datetime([ended_at(c) for c in cases], utc=True),
        }
    )


def _voice_counts(con: duckdb.DuckDBPyConnection, window: int) -> dict[str, tuple]:
    rows = con.execute(
        "WITH cur AS (SELECT model_version FROM doc_sentiment "
        " ORDER BY scored_at DESC, model_version LIMIT 1), "
        "v AS (SELECT dc.customer_id, r.created_at, s.label FROM doc_customers dc "
        " JOIN raw_documents r ON r.id = dc.doc_id LEFT JOIN doc_texts t ON t.doc_id = r.id "
        " LEFT JOIN doc_sentiment s ON s.doc_id = r.id "
        "  AND s.model_version = (SELECT model_version FROM cur) "
        " WHERE t.duplicate_of IS NULL "
        "  AND dc.customer_id IN (SELECT customer_id FROM recovery_cases)), "
        "b AS (SELECT c.case_id, "
        " v.created_at >= c.opened_at - to_days($w) AND v.created_at <= c.ended_at AS before, "
        " v.created_at > c.ended_at AND v.created_at <= c.ended_at + to_days($w) AS after, "
        " v.label FROM recovery_cases c JOIN v ON v.customer_id = c.customer_id) "
        "SELECT case_id, count(*) FILTER (WHERE before AND label IS NOT NULL), "
        " count(*) FILTER (WHERE before AND label = 'negative'), "
        " count(*) FILTER (WHERE after AND label IS NOT NULL), "
        " count(*) FILTER (WHERE after AND label = 'negative') FROM b GROUP BY case_id",
        {"w": window},
    ).fetchall()
    return {r[0]: r[1:] for r in rows}


def _survey_answers(con: duckdb.DuckDBPyConnection, window: int) -> dict[str, tuple]:
    if not has_table(con, "response_customers"):
        return {}
    before = "s.submitted_at < c.opened_at AND s.submitted_at >= c.opened_at - to_days($w) AND s."
    after = "s.submitted_at > c.ended_at AND s.submitted_at <= c.ended_at + to_days($w) AND s."
    rows = con.execute(
        "SELECT c.case_id, "
        f"arg_max(s.csat, s.submitted_at) FILTER (WHERE {before}csat IS NOT NULL), "
        f"arg_max(s.nps, s.submitted_at) FILTER (WHERE {before}nps IS NOT NULL), "
        f"arg_max(s.csat, s.submitted_at) FILTER (WHERE {after}csat IS NOT NULL), "
        f"arg_max(s.nps, s.submitted_at) FILTER (WHERE {after}nps IS NOT NULL) "
        "FROM recovery_cases c JOIN response_customers rc ON rc.customer_id = c.customer_id "
        "JOIN survey_responses s ON s.response_id = rc.response_id GROUP BY c.case_id",
        {"w": window},
    ).fetchall()
    return {r[0]: r[1:] for r in rows}


def followup_scores(
    outcomes: Sequence[tuple[Followup, FollowupOutcome]],
) -> dict[int, int]:
    """Case → the newest satisfaction given in a reached 回访 of that case."""
    newest: dict[int, tuple[datetime, int]] = {}
    for f, o in outcomes:
        if f.case_id is None or not o.reached or o.satisfaction is None:
            continue
        if f.case_id not in newest or o.at >= newest[f.case_id][0]:
            newest[f.case_id] = (o.at, o.satisfaction)
    return {case_id: score for case_id, (_, score) in newest.items()}


def case_recoveries(
    con: duckdb.DuckDBPyConnection,
    cases: Sequence[Case],
    outcomes: Sequence[tuple[Followup, FollowupOutcome]],
    as_of: datetime,
    config: RecoveryConfig | None = None,
) -> list[CaseRecovery]:
    """Before/after and verdict of every closed case with a customer, for each window
    (cases in the order given, then windows ascending). Open cases and cases without a
    customer are left out."""
    config = config or RecoveryConfig()
    closed = [c for c in cases if c.status in CLOSED_STATUSES and c.customer_id]
    if not closed:
        return []
    scores = followup_scores(outcomes)
    register_frame(con, "recovery_cases", _frame(closed))
    try:
        out = []
        for window in config.windows:
            voices, answers = _voice_counts(con, window), _survey_answers(con, window)
            for c in closed:
                end = ended_at(c)
                n_b, neg_b, n_a, neg_a = voices.get(c.case_id, (0, 0, 0, 0))
                csat_b, nps_b, csat_a, nps_a = answers.get(c.case_id, (None,) * 4)
                complete = (as_of - end).total_seconds() >= window * 86400
                score = scores.get(c.case_id)
                verdict, evidence = decide(score, csat_a, nps_a, n_a, neg_a, complete, config)
                out.append(
                    CaseRecovery(
                        c.case_id,
                        c.customer_id,
                        c.theme_label or c.theme_id,
                        c.owner,
                        c.channel,
                        c.segment,
                        end,
                        window,
                        complete,
                        n_b,
                        neg_b,
                        n_a,
                        neg_a,
                        csat_b,
                        nps_b,
                        csat_a,
                        nps_a,
                        score,
                        verdict,
                        evidence,
                    )
                )
        return out
    finally:
        con.unregister("recovery_cases")


def recovery_table(recoveries: Sequence[CaseRecovery]) -> pd.DataFrame:
    """The per-case rows as a frame (verdict label added), newest ended first."""
    frame = pd.DataFrame([_asdict(r) for r in recoveries])
    if frame.empty:
        return frame
    frame["verdict_label"] = [VERDICT_LABELS[r.verdict] for r in recoveries]
    frame["evidence"] = ["；".join(r.evidence) for r in recoveries]
    return frame.sort_values(["ended_at", "case_id"], ascending=[False, True], ignore_index=True)


def _asdict(r: CaseRecovery) -> dict:
    return {name: getattr(r, name) for name in CaseRecovery.__slots__}


def _share(neg: int, n: int) -> float | None:
    return neg / n if n else None


def recovery_rates(
    recoveries: Sequence[CaseRecovery],
    by: str,
    window_days: int,
    min_n: int | None = None,
    config: RecoveryConfig | None = None,
) -> pd.DataFrame:
    """Recovery rate per value of `by` (``theme``, ``owner``, ``channel``, ``segment``) in
    one window: closed cases, measured, recovered, the rate and its Wilson interval (in
    percent), whether there are enough measured cases, the pooled negative share of voices
    before and after, and the mean 回访 score. Most measured first.

    Raises:
        ValueError: an unknown dimension.
    """
    if by not in DIMENSIONS:
        raise ValueError(
            f"未知维度 {by!r} / unknown dimension {by!r}; one of {', '.join(DIMENSIONS)}"
        )
    min_n = min_n if min_n is not None else (config or RecoveryConfig()).min_n
    groups: dict[str, list[CaseRecovery]] = {}
    for r in recoveries:
        if r.window_days == window_days:
            groups.setdefault(getattr(r, by) or DIMENSIONS[by], []).append(r)
    rows = []
    for value, items in groups.items():
        measured = [r for r in items if r.verdict is not None]
        recovered = sum(1 for r in measured if r.verdict == RECOVERED)
        score = csat_score(recovered, len(measured), min_n)
        scored = [r.followup_score for r in items if r.followup_score is not None]
        rows.append(
            {
                by: value,
                "n_closed": len(items),
                "n_measured": len(measured),
                "n_recovered": recovered,
                "rate": score.value,
                "low": score.low,
                "high": score.high,
                "enough": score.enough,
                "display": score.display() if score.value is not None else INSUFFICIENT,
                "negative_before": _share(
                    sum(r.neg_before for r in items), sum(r.n_before for r in items)
                ),
                "negative_after": _share(
                    sum(r.neg_after for r in items), sum(r.n_after for r in items)
                ),
                "followup_score": sum(scored) / len(scored) if scored else None,
            }
        )
    columns = [by, "n_closed", "n_measured", "n_recovered", "rate", "low", "high", "enough"]
    columns += ["display", "negative_before", "negative_after", "followup_score"]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values(["n_measured", by], ascending=[False, True], ignore_index=True)


def overall_rate(
    recoveries: Sequence[CaseRecovery], window_days: int, min_n: int = 10
) -> Mapping[str, object]:
    """All closed cases of one window together: measured, recovered, rate and interval."""
    measured = [r for r in recoveries if r.window_days == window_days and r.verdict]
    recovered = sum(1 for r in measured if r.verdict == RECOVERED)
    s = csat_score(recovered, len(measured), min_n)
    return {
        "n_measured": len(measured),
        "n_recovered": recovered,
        "rate": s.value,
        "low": s.low,
        "high": s.high,
        "enough": s.enough,
    }
