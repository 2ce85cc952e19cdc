"""The 回访 list as a table (Chinese headers) and its CSV / Excel export, and the text of
each owner's daily list message."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import IO

import pandas as pd

from voc.cases import Case, Followup
from voc.followup_rules import FOLLOWUP_STATUSES, reason_label

EXPORT_FORMATS = ("csv", "xlsx")
#: Column → Chinese header of the exported list.
HEADERS = {
    "followup_id": "回访编号",
    "due_on": "应回访日期",
    "overdue_days": "逾期天数",
    "owner": "负责人",
    "team": "团队",
    "reason": "回访原因",
    "status": "状态",
    "customer_id": "客户（哈希）",
    "case_id": "工单编号",
    "case_title": "工单标题",
    "priority": "优先级",
    "segment": "客户分层",
}


def followup_records(
    items: Sequence[Followup], today: date, cases: Mapping[int, Case] | None = None
) -> list[dict]:
    """One dict per follow-up under the keys of `HEADERS` (for ``--json``): due day as
    ISO text, days overdue against `today` (0 when due today or later), reason and status
    as Chinese labels plus their codes, and the case's title, priority and segment when
    `cases` has the case."""
    return [
        {
            **row,
            "due_on": row["due_on"].isoformat(),
            "reason_code": f.reason,
            "status_code": f.status,
        }
        for f, row in zip(items, _rows(items, today, cases or {}), strict=True)
    ]


def followup_table(
    items: Sequence[Followup], today: date, cases: Mapping[int, Case] | None = None
) -> pd.DataFrame:
    """One row per follow-up with Chinese labels and headers (`HEADERS`): days overdue
    against `today` (0 when due today or later), and the case's title, priority and
    segment when `cases` has the case."""
    rows = _rows(items, today, cases or {})
    return pd.DataFrame(rows, columns=list(HEADERS)).rename(columns=HEADERS)


def _rows(items: Sequence[Followup], today: date, cases: Mapping[int, Case]) -> list[dict]:
    rows = []
    for f in items:
        case = cases.get(f.case_id) if f.case_id else None
        rows.append(
            {
                "followup_id": f.followup_id,
                "due_on": f.due_on,
                "overdue_days": max((today - f.due_on).days, 0),
                "owner": f.owner,
                "team": f.team or "",
                "reason": reason_label(f.reason),
                "status": FOLLOWUP_STATUSES.get(f.status, f.status),
                "customer_id": f.customer_id or "",
                "case_id": f.case_id or "",
                "case_title": case.title if case else "",
                "priority": case.priority if case else "",
                "segment": (case.segment or "") if case else "",
            }
        )
    return rows


def export_followups(
    items: Sequence[Followup],
    fmt: str,
    out: str | Path | IO[bytes],
    today: date,
    cases: Mapping[int, Case] | None = None,
) -> int:
    """Write the list to `out` (a path or a binary file) as CSV (UTF-8 with BOM, so Excel
    reads Chinese) or Excel; returns the rows written.

    Raises:
        ValueError: an unknown format.
    """
    if fmt not in EXPORT_FORMATS:
        raise ValueError(
            f"未知导出格式 {fmt!r} / unknown export format {fmt!r}; one of "
            f"{', '.join(EXPORT_FORMATS)}"
        )
    frame = followup_table(items, today, cases)
    if fmt == "csv":
        frame.to_csv(out, index=False, encoding="utf-8-sig")
    else:
        frame.to_excel(out, index=False, engine="openpyxl", sheet_name="回访清单")
    return len(frame)


def owner_digest(owner: str, items: Sequence[Followup], today: date, limit: int = 20) -> str:
    """The text of an owner's daily 回访 message: how many are due, how many overdue, and
    the first `limit` (oldest due first)."""
    overdue = sum(1 for f in items if f.due_on < today)
    lines = [f"{owner} 今日回访 {len(items)} 个（逾期 {overdue} 个） / {today.isoformat()}"]
    for f in sorted(items, key=lambda f: (f.due_on, f.followup_id))[:limit]:
        late = f"，逾期 {(today - f.due_on).days} 天" if f.due_on < today else ""
        who = f.customer_id or f.case_id or f.followup_id
        lines.append(f"- {reason_label(f.reason)}：{who}{late}")
    if len(items) > limit:
        lines.append(f"… 另有 {len(items) - limit} 个 / {len(items) - limit} more")
    return "\n".join(lines)
