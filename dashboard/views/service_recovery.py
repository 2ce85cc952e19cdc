"""服务补救 on the 成效 page: did the recovery work? For every closed case with a customer,
the customer's voices and satisfaction before versus after (the 回访 score, later survey
answers, later voices within 30/90 days), the recovery rate per theme, owner, channel and
segment with Wilson intervals (样本不足 below ``[cases.followups.recovery] min_n``), and the
churn-risk list: customers with an unresolved or unrecovered case who then went silent, or
whose tier moved to 休眠 (`warehouse.followup_views.recovery_report`).

The cases and 回访 come from the case store, the voices and answers from the warehouse
snapshot. The report reads every case (about half a second per 5,000 closed cases), so it
is kept for `REFRESH_MINUTES` or until a new snapshot, with a button to recompute it now.
When the store does not answer the section says so and the rest of the page stays.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from dashboard import data
from dashboard.common import CHANNEL_NAMES, Page, local_time, name, table
from dashboard.i18n import t
from voc.followup_rules import RecoveryConfig
from voc.satisfaction import INSUFFICIENT
from warehouse.case_db import StoreUnavailable, connect_store, create_schema, store_url
from warehouse.case_store import CaseStore
from warehouse.followup_store import FollowupStore
from warehouse.followup_views import recovery_report
from warehouse.recovery import overall_rate

#: Split choices of the rate table → their label.
SPLITS = {"theme": "主题", "owner": "负责人", "channel": "渠道", "segment": "客户分层"}
#: What `warehouse.recovery` writes for a case without that attribute → its label.
MISSING = {
    "（无主题）": "（无主题）",
    "（未分配）": "（未分配）",
    "（未知渠道）": "（未知渠道）",
    "（未关联客户）": "（未关联客户）",
}
VERDICTS = {"recovered": "已挽回", "not_recovered": "未挽回"}
RISKS = {"转为休眠": "转为休眠", "沉默": "沉默"}
REASONS = {"未解决": "未解决", "未挽回": "未挽回"}


def recovery_config(page: Page) -> RecoveryConfig:
    """``[cases.followups.recovery]`` (defaults without it)."""
    followups = getattr(page.settings.cases, "followups", None)
    configured = getattr(followups, "recovery", None)
    return configured if isinstance(configured, RecoveryConfig) else RecoveryConfig()


@st.cache_resource(show_spinner=False)
def _engine(url: str):
    engine = connect_store(url)
    create_schema(engine)
    return engine


#: How long a computed report is shown before it is computed again.
REFRESH_MINUTES = 10


def report_time(now: datetime) -> datetime:
    """The report's "as of": now, down to the last `REFRESH_MINUTES` (the cache key)."""
    now = now.astimezone(UTC).replace(second=0, microsecond=0)
    return now - timedelta(minutes=now.minute % REFRESH_MINUTES)


@st.cache_data(ttl=REFRESH_MINUTES * 60, show_spinner=False)
def _report(
    db: str, stamp: float, url: str, minute: datetime, config: RecoveryConfig, tz: str
) -> dict[str, Any]:
    """The recovery report as of `minute`."""
    engine = _engine(url)
    with data.read_only(db) as con:
        report = recovery_report(
            con, CaseStore(engine), FollowupStore(engine, timezone=tz), minute, config, tz
        )
    return {
        "overall": {
            w: dict(overall_rate(report.recoveries, w, config.min_n)) for w in config.windows
        },
        "rates": {(by, w): report.rates(by, w) for by in SPLITS for w in config.windows},
        "cases": pd.DataFrame([r for r in _case_rows(report.recoveries)], columns=_CASE_COLUMNS),
        "churn": report.churn,
    }


_CASE_COLUMNS = [
    "case_id",
    "window_days",
    "ended_at",
    "window_complete",
    "n_before",
    "neg_before",
    "n_after",
    "neg_after",
    "csat_after",
    "nps_after",
    "followup_score",
    "verdict",
    "evidence",
]


def _case_rows(recoveries) -> list[dict[str, Any]]:
    return [
        {
            **{c: getattr(r, c) for c in _CASE_COLUMNS if c != "evidence"},
            "evidence": "；".join(r.evidence),
        }
        for r in recoveries
    ]


def render(page: Page) -> None:
    """The 服务补救 section of the 成效 page."""
    st.subheader(t("服务补救"))
    configured = recovery_config(page)
    left, middle, right = st.columns(3)
    window = left.radio(
        t("观察期"),
        list(configured.windows),
        format_func=lambda w: t("结案后 {days} 天", days=w),
        horizontal=True,
        key="sv_window",
    )
    by = middle.selectbox(
        t("按…统计挽回率"), list(SPLITS), format_func=lambda s: t(SPLITS[s]), key="sv_rec_by"
    )
    min_n = right.number_input(
        t("挽回率最小样本"), min_value=1, value=configured.min_n, step=1, key="sv_rec_min_n"
    )
    config = replace(configured, min_n=int(min_n))
    minute = report_time(datetime.now(UTC))
    try:
        report = _report(
            page.db, page.stamp, store_url(page.settings), minute, config, page.settings.timezone
        )
    except (StoreUnavailable, SQLAlchemyError) as exc:
        inner = getattr(exc, "orig", None) or exc
        first = (str(inner).strip().splitlines() or [type(inner).__name__])[0][:300]
        st.error(t("服务补救暂不可用（回复时效不受影响）：{error}", error=first))
        return
    cases: pd.DataFrame = report["cases"]
    shown = cases[cases["window_days"] == window]
    if shown.empty:
        st.caption(t("还没有已解决或已关闭、且关联到客户的工单。"))
    else:
        _overall(report["overall"][window], len(shown), config)
        _rates(report["rates"][(by, window)], by)
        _cases(shown, page.settings.timezone)
    _churn(report["churn"], page.settings.timezone, config)
    local = minute.astimezone(ZoneInfo(page.settings.timezone))
    st.caption(
        t(
            "服务补救按 {time} 的工单计算，每 {n} 分钟更新。",
            time=f"{local:%H:%M}",
            n=REFRESH_MINUTES,
        )
    )
    if st.button(t("立即重新计算"), key="sv_rec_refresh"):
        _report.clear()
        st.rerun()


def _overall(overall: dict[str, Any], n_closed: int, config: RecoveryConfig) -> None:
    if overall["rate"] is None:
        rate, interval = "—", "—"
    elif not overall["enough"]:
        rate, interval = t(INSUFFICIENT), "—"
    else:
        rate = f"{overall['rate']:.1f}%"
        interval = f"[{overall['low']:.1f}%, {overall['high']:.1f}%]"
    cols = st.columns(4)
    cols[0].metric(t("挽回率"), rate)
    cols[1].metric(t("95% 区间"), interval)
    cols[2].metric(t("可判断 / 已结案"), f"{overall['n_measured']} / {n_closed}")
    cols[3].metric(t("已挽回"), str(overall["n_recovered"]))
    st.caption(
        t("有回访满意度、后续问卷或后续声音的工单才可判断；")
        + t("可判断的少于 {n} 件时显示“样本不足”。", n=config.min_n)
    )


def _label(value: object) -> str:
    if not isinstance(value, str) or not value:
        return "—"
    return t(MISSING[value]) if value in MISSING else value


def _rates(rates: pd.DataFrame, by: str) -> None:
    if rates.empty:
        return
    values = rates[by].map(
        (lambda c: _label(c) if c in MISSING else name(CHANNEL_NAMES, c))
        if by == "channel"
        else _label
    )
    table(
        pd.DataFrame(
            {
                t(SPLITS[by]): values,
                t("已结案"): rates["n_closed"],
                t("可判断"): rates["n_measured"],
                t("已挽回"): rates["n_recovered"],
                t("挽回率"): rates["display"].map(lambda d: t(d) if d == INSUFFICIENT else d),
                t("95% 区间"): [
                    f"[{lo:.1f}%, {hi:.1f}%]" if ok and lo is not None else "—"
                    for lo, hi, ok in zip(rates["low"], rates["high"], rates["enough"], strict=True)
                ],
                t("此前负面占比"): rates["negative_before"].map(_pct),
                t("此后负面占比"): rates["negative_after"].map(_pct),
                t("回访满意度均分"): rates["followup_score"].map(
                    lambda v: "—" if v is None or pd.isna(v) else f"{v:.1f}"
                ),
            }
        )
    )


def _pct(value: object) -> str:
    return "—" if value is None or pd.isna(value) else f"{value:.1%}"


def _cases(cases: pd.DataFrame, tz: str) -> None:
    with st.expander(t("每件工单的前后对比")):
        table(
            pd.DataFrame(
                {
                    t("工单号"): cases["case_id"],
                    t("结案时间"): local_time(cases["ended_at"], tz),
                    t("此前声音（负面）"): [
                        f"{n}（{k}）"
                        for n, k in zip(cases["n_before"], cases["neg_before"], strict=True)
                    ],
                    t("此后声音（负面）"): [
                        f"{n}（{k}）"
                        for n, k in zip(cases["n_after"], cases["neg_after"], strict=True)
                    ],
                    t("回访满意度"): cases["followup_score"].map(_int),
                    t("后续 CSAT"): cases["csat_after"].map(_int),
                    t("后续 NPS"): cases["nps_after"].map(_int),
                    t("观察期已满"): cases["window_complete"].map(
                        lambda b: t("是") if b else t("否")
                    ),
                    t("结论"): cases["verdict"].map(
                        lambda v: t(VERDICTS[v]) if v in VERDICTS else t("无法判断")
                    ),
                    t("依据"): cases["evidence"],
                }
            )
        )


def _int(value: object) -> str:
    return "—" if value is None or pd.isna(value) else str(int(value))


def _churn(churn: pd.DataFrame, tz: str, config: RecoveryConfig) -> None:
    st.subheader(t("流失风险客户"))
    st.caption(
        t(
            "工单未解决或未挽回后，沉默 {days} 天以上、或分层转为休眠的客户。",
            days=config.silent_days,
        )
    )
    if churn.empty:
        st.caption(t("目前没有流失风险客户。"))
        return
    table(
        pd.DataFrame(
            {
                t("客户（哈希）"): churn["customer_id"],
                t("风险"): churn["risk"].map(lambda r: t(RISKS.get(r, r))),
                t("原因"): churn["reasons"].map(
                    lambda text: "、".join(t(REASONS.get(p, p)) for p in str(text).split("、"))
                ),
                t("工单号"): churn["case_ids"],
                t("负责人"): churn["owner"].fillna("—"),
                t("主题"): churn["theme"].fillna("—"),
                t("当时分层"): churn["segment_then"].fillna("—"),
                t("现在分层"): churn["segment_now"].fillna("—"),
                t("起算时间"): local_time(churn["since"], tz),
                t("最近发声"): local_time(churn["last_heard_at"], tz),
                t("沉默天数"): churn["silent_days"],
                t("转为休眠日期"): churn["dormant_since"].map(
                    lambda d: "—" if d is None or pd.isna(d) else str(d)
                ),
            }
        )
    )
