"""Churn risk after a complaint (流失风险): customers with an unresolved case (still open)
or an unrecovered one (`warehouse.recovery` says 未挽回) who then went silent — no voice
and no survey answer for ``[cases.recovery] silent_days`` since the later of the case
(opened, for an open one; ended, for an unrecovered one) and the last time they spoke —
or whose tier moved to a dormant one (休眠) in the customer file's segment history
(``customer_segments``) on or after that case's day.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd

from voc.cases import OPEN_STATUSES, Case
from voc.followup_rules import RecoveryConfig
from warehouse.db import register_frame
from warehouse.recovery import NOT_RECOVERED, CaseRecovery, ended_at
from warehouse.satisfaction import has_table

COLUMNS = [
    "customer_id",
    "risk",
    "reasons",
    "case_ids",
    "owner",
    "theme",
    "segment_then",
    "segment_now",
    "since",
    "last_heard_at",
    "silent_days",
    "dormant_since",
]


def _last_heard(
    con: duckdb.DuckDBPyConnection, customers: list[str]
) -> tuple[dict[str, datetime], dict[str, str | None]]:
    """Customer → the newest voice or survey answer; customer → its tier now."""
    register_frame(con, "risk_customers", pd.DataFrame({"customer_id": customers}))
    try:
        voices = con.execute(
            "SELECT dc.customer_id, max(r.created_at) FROM doc_customers dc "
            "JOIN raw_documents r ON r.id = dc.doc_id "
            "WHERE dc.customer_id IN (SELECT customer_id FROM risk_customers) "
            "GROUP BY dc.customer_id"
        ).fetchall()
        answers = []
        if has_table(con, "response_customers"):
            answers = con.execute(
                "SELECT rc.customer_id, max(s.submitted_at) FROM response_customers rc "
                "JOIN survey_responses s USING (response_id) "
                "WHERE rc.customer_id IN (SELECT customer_id FROM risk_customers) "
                "GROUP BY rc.customer_id"
            ).fetchall()
        out: dict[str, datetime] = {}
        for cid, at in [*voices, *answers]:
            if at is not None and (cid not in out or at > out[cid]):
                out[cid] = at
        segments = dict(
            con.execute(
                "SELECT customer_id, segment FROM customers "
                "WHERE customer_id IN (SELECT customer_id FROM risk_customers)"
            ).fetchall()
        )
        return out, segments
    finally:
        con.unregister("risk_customers")


def _dormant_moves(
    con: duckdb.DuckDBPyConnection, customers: list[str], dormant: Sequence[str]
) -> dict[str, list]:
    rows = con.execute(
        "SELECT customer_id, valid_from FROM customer_segments "
        "WHERE list_contains(?, customer_id) AND list_contains(?, segment) "
        "AND valid_from IS NOT NULL ORDER BY customer_id, valid_from",
        [customers, list(dormant)],
    ).fetchall()
    out: dict[str, list] = {}
    for cid, day in rows:
        out.setdefault(cid, []).append(day)
    return out


def churn_risk(
    con: duckdb.DuckDBPyConnection,
    cases: Sequence[Case],
    recoveries: Sequence[CaseRecovery],
    as_of: datetime,
    config: RecoveryConfig | None = None,
    timezone: str = "Asia/Shanghai",
) -> pd.DataFrame:
    """One row per customer at risk (`COLUMNS`): ``risk`` is ``转为休眠`` (tier moved to a
    dormant one after the case) or ``沉默`` (silent for ``silent_days``); ``reasons`` 未解决
    / 未挽回; the cases; the owner, theme and segment of the newest of them; the segment now;
    ``since`` (the newest case's opening or end), the last voice or answer, days silent and
    the dormant move's day. Dormant first, then longest silent."""
    config = config or RecoveryConfig()
    zone = ZoneInfo(timezone)
    unrecovered = {r.case_id for r in recoveries if r.verdict == NOT_RECOVERED}
    flagged: dict[str, list[tuple[datetime, str, Case]]] = {}
    for c in cases:
        if not c.customer_id:
            continue
        if c.status in OPEN_STATUSES:
            flagged.setdefault(c.customer_id, []).append((c.opened_at, "未解决", c))
        elif c.case_id in unrecovered:
            flagged.setdefault(c.customer_id, []).append((ended_at(c), "未挽回", c))
    if not flagged:
        return pd.DataFrame(columns=COLUMNS)
    customers = sorted(flagged)
    heard, segments_now = _last_heard(con, customers)
    moves = _dormant_moves(con, customers, config.dormant_segments)
    rows = []
    for cid in customers:
        items = sorted(flagged[cid], key=lambda t: (t[0], t[2].case_id))
        since, _, newest = items[-1]
        first_day = items[0][0].astimezone(zone).date()
        last = heard.get(cid)
        quiet_from = max(since, last) if last is not None else since
        silent = int((as_of - quiet_from).total_seconds() // 86400)
        dormant = next((d for d in moves.get(cid, []) if d >= first_day), None)
        if dormant is None and silent < config.silent_days:
            continue
        rows.append(
            {
                "customer_id": cid,
                "risk": "转为休眠" if dormant is not None else "沉默",
                "reasons": "、".join(dict.fromkeys(reason for _, reason, _ in items)),
                "case_ids": ",".join(str(c.case_id) for _, _, c in items),
                "owner": newest.owner,
                "theme": newest.theme_label or newest.theme_id,
                "segment_then": newest.segment,
                "segment_now": segments_now.get(cid),
                "since": since,
                "last_heard_at": last,
                "silent_days": silent,
                "dormant_since": dormant,
            }
        )
    frame = pd.DataFrame(rows, columns=COLUMNS)
    if frame.empty:
        return frame
    frame["_dormant"] = frame["dormant_since"].isna()
    frame = frame.sort_values(
        ["_dormant", "silent_days", "customer_id"], ascending=[True, False, True]
    )
    return frame.drop(columns="_dormant").reset_index(drop=True)
