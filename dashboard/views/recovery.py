"""服务补救效果, under the 回访 page: did the recovery work? For the closed cases, the
recovery rate with its Wilson interval per theme, owner, channel or segment (later voices
and survey answers from the warehouse snapshot, 回访 scores from the store;
`warehouse.followup_views.recovery_report`), and the customers at risk of churning.

It reads every case, so it is computed only when the reader asks (a toggle).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.common import Page, pct, table
from dashboard.i18n import t
from voc.followup_config import FollowupsConfig, RecoveryConfig
from warehouse.case_store import CaseStore
from warehouse.db import WarehouseError
from warehouse.followup_store import FollowupStore
from warehouse.followup_views import recovery_report

DIMENSIONS = {"theme": "主题", "owner": "负责人", "channel": "渠道", "segment": "客户分层"}


def recovery_config(settings) -> RecoveryConfig:
    """``[cases.followups.recovery]`` once parsed, else the defaults."""
    rules = getattr(getattr(settings, "cases", None), "followups", None)
    return rules.recovery if isinstance(rules, FollowupsConfig) else RecoveryConfig()


def render_recovery(page: Page, store: FollowupStore, cases: CaseStore) -> None:
    """The 服务补救效果 section (computed on request)."""
    st.subheader(t("服务补救效果"))
    if not st.toggle(t("计算已关闭工单的补救效果"), key="rc_on"):
        st.caption(t("读取全部工单与之后的客户声音，工单多时需要几秒。"))
        return
    config = recovery_config(page.settings)
    try:
        with data.read_only(page.db) as con:
            report = recovery_report(
                con, cases, store, datetime.now(UTC), config, page.settings.timezone
            )
    except WarehouseError as exc:
        st.caption(t("数据仓库暂不可读：{error}", error=exc))
        return
    left, right = st.columns(2)
    window = left.radio(
        t("结案后观察天数"),
        list(config.windows),
        format_func=lambda d: t("{d} 天", d=d),
        horizontal=True,
        key="rc_window",
    )
    by = right.selectbox(
        t("按"), list(DIMENSIONS), format_func=lambda d: t(DIMENSIONS[d]), key="rc_by"
    )
    overall = report.as_dict(window)["overall"]
    st.caption(
        t(
            "可判断的已关闭工单 {n} 件，已挽回 {k} 件：{rate}（95% 区间 {low} – {high}）",
            n=overall["n_measured"],
            k=overall["n_recovered"],
            rate=_percent(overall["rate"]) if overall["enough"] else t("样本不足"),
            low=_percent(overall["low"]),
            high=_percent(overall["high"]),
        )
    )
    rates = report.rates(by, window)
    if rates.empty:
        st.caption(t("还没有已关闭的工单。"))
    else:
        table(rates_frame(rates, by))
    churn = report.churn
    st.markdown(f"**{t('流失风险客户')}**")
    if churn.empty:
        st.caption(t("没有流失风险客户。"))
    else:
        table(
            pd.DataFrame(
                {
                    t("客户（哈希）"): churn["customer_id"].map(lambda c: str(c)[:12]),
                    t("风险"): churn["risk"],
                    t("原因"): churn["reasons"].map(_text),
                    t("工单号"): churn["case_ids"].map(_text),
                    t("负责人"): churn["owner"].fillna("—"),
                    t("沉默天数"): churn["silent_days"],
                }
            )
        )


def rates_frame(rates: pd.DataFrame, by: str) -> pd.DataFrame:
    """The rates per value of `by` as shown: counts, the rate (or 样本不足) and interval,
    the negative share of voices before and after, the mean 回访 score."""
    return pd.DataFrame(
        {
            t(DIMENSIONS[by]): rates[by],
            t("已关闭"): rates["n_closed"],
            t("可判断"): rates["n_measured"],
            t("已挽回"): rates["n_recovered"],
            t("挽回率"): [
                _percent(r) if ok else t("样本不足")
                for r, ok in zip(rates["rate"], rates["enough"], strict=True)
            ],
            t("95% 区间"): [
                f"{_percent(lo)} – {_percent(hi)}" if pd.notna(lo) else "—"
                for lo, hi in zip(rates["low"], rates["high"], strict=True)
            ],
            t("之前负面占比"): rates["negative_before"].map(pct),
            t("之后负面占比"): rates["negative_after"].map(pct),
            t("回访平均分"): rates["followup_score"].map(
                lambda v: "—" if v is None or pd.isna(v) else f"{v:.1f}"
            ),
        }
    )


def _percent(value: object) -> str:
    """A rate given in percent (0–100)."""
    return "—" if value is None or pd.isna(value) else f"{float(value):.1f}%"


def _text(value: object) -> str:
    if isinstance(value, list | tuple):
        return "、".join(str(v) for v in value)
    return "" if value is None else str(value)
