"""成效 Service outcomes: how fast customers are answered, from the timestamps the sources
themselves record (`warehouse.response_times`: Zendesk ticket metrics, mail threads,
complaint-platform steps), and whether answering fast pays off.

- 回复时效: first-response and resolution median and p90, the breach rate against the
  threshold (``[cases.response_times] threshold_hours``, 24 h) with its Wilson interval,
  by channel, theme, segment, owner, source, origin, responder or month.
- 回复速度与后续结果: the negative share of the same customers' later voices and their later
  NPS, answered within the threshold against later and never, with intervals and the
  样本不足 guard below the minimum sample.
- 超时明细: the voices behind a breach rate (one group of the table, or all).
- 服务补救 (`dashboard.views.service_recovery`): recovery rates per theme, owner, channel
  and segment with intervals, each closed case's before and after, the churn-risk list.

Every number comes from a warehouse read function on the published snapshot; theme
labels, owners, segments and voices are customer data, shown only in tables and select-box
options (`dashboard.common`).
"""

from __future__ import annotations

import calendar
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.common import (
    CHANNEL_NAMES,
    Page,
    local_time,
    name,
    safe_url,
    source_label,
    table,
)
from dashboard.i18n import t
from dashboard.views import service_recovery
from voc.response_times import ResponseTimeConfig
from voc.satisfaction import INSUFFICIENT, MIN_N, csat_score
from warehouse import response_times
from warehouse.response_times import ResponseFilters

#: Group-by choices of the tables, in the order offered → their label.
DIMENSIONS = {
    "channel": "渠道",
    "theme": "主题",
    "segment": "客户分层",
    "owner": "客户经理",
    "source": "来源",
    "origin": "记录方式",
    "responder": "回复人",
    "month": "月份",
}
#: What a group without a value shows (no theme, a voice not linked to a customer ...).
MISSING = {
    "theme": "（无主题）",
    "segment": "（未关联客户）",
    "owner": "（无客户经理）",
    "responder": "（未记录）",
}
ORIGIN_NAMES = {
    "zendesk_metrics": ("Zendesk 工单指标", "Zendesk ticket metrics"),
    "mail_thread": ("邮件往来", "Mail thread"),
    "complaint_steps": ("投诉平台进度", "Complaint-platform steps"),
}
#: Speed groups of a voice (`warehouse.response_times`) → their label.
SPEEDS = {
    "unanswered": "超时未回复",
    "later": "超时回复",
    "within": "及时回复",
    "pending": "待回复（未超时）",
}
#: The most voices the drill-down reads (more where the group is matched on the rows read,
#: not narrowed in the query) and shows; the slowest come first.
DRILL_LIMIT = 1000
DRILL_LIMIT_MATCHED = 20000
DRILL_SHOWN = 200
#: Groups the analytics narrow to exactly (`ResponseFilters` fields).
NARROWED = {"channel": "channels", "source": "sources", "segment": "segments", "owner": "owners"}

#: The warehouse read functions this page runs, by name (through `_load`).
_QUERIES = {
    fn.__name__: fn
    for fn in (
        response_times.response_time_summary,
        response_times.response_time_voices,
        response_times.outcomes_by_speed,
    )
}


@st.cache_data(ttl=600, show_spinner=False)
def _load(db: str, stamp: float, fn_name: str, *args: Any, **kwargs: Any) -> Any:
    """A warehouse read function on the snapshot, cached per snapshot stamp (and per minute,
    as every call gets ``now`` rounded to the minute)."""
    with data.read_only(db) as con:
        return _QUERIES[fn_name](con, *args, **kwargs)


def config(page: Page) -> ResponseTimeConfig:
    """The configured threshold and outcome window (defaults without ``[cases]``)."""
    configured = getattr(page.settings.cases, "response_times", None)
    return configured if isinstance(configured, ResponseTimeConfig) else ResponseTimeConfig()


def now_minute() -> datetime:
    """Now, to the minute: what "overdue" is measured against (and a cache key)."""
    return datetime.now(UTC).replace(second=0, microsecond=0)


def duration(minutes: object) -> str:
    """Minutes as 45 分钟 / 2.5 小时 / 3.2 天 ("—" without a value)."""
    if minutes is None or pd.isna(minutes):
        return "—"
    m = float(minutes)
    if m < 60:
        return t("{n} 分钟", n=f"{m:.0f}")
    if m < 48 * 60:
        return t("{n} 小时", n=f"{m / 60:.1f}")
    return t("{n} 天", n=f"{m / 1440:.1f}")


def share_cells(k: int, n: int, min_n: int) -> tuple[str, str]:
    """A share k/n as (value, 95 % Wilson interval) text: 样本不足 and "—" below `min_n`."""
    score = csat_score(int(k), int(n), min_n)
    if score.value is None:
        return "—", "—"
    if not score.enough:
        return t(INSUFFICIENT), "—"
    return f"{score.value:.1f}%", f"[{score.low:.1f}%, {score.high:.1f}%]"


def group_label(by: str, value: object) -> str:
    """A group's display text: a known code's name, else the value or its missing text."""
    if value is None or (isinstance(value, float) and pd.isna(value)) or value == "":
        return t(MISSING.get(by, "未知"))
    if by == "channel":
        return name(CHANNEL_NAMES, value)
    if by == "source":
        return source_label(str(value))
    if by == "origin":
        return name(ORIGIN_NAMES, value)
    return str(value)


def response_filters(page: Page) -> ResponseFilters:
    """The sidebar's filters as the response-time analytics take them."""
    f = page.filters
    return ResponseFilters(
        start=f.start,
        end=f.end,
        channels=tuple(f.channels),
        sources=tuple(f.sources),
        segments=tuple(f.segments),
        owners=tuple(f.owners),
    )


def render(page: Page) -> None:
    st.header(t("成效"))
    cfg = config(page)
    left, right = st.columns(2)
    hours = left.number_input(
        t("超时阈值（小时）"),
        min_value=0.5,
        value=float(cfg.threshold_hours),
        step=1.0,
        key="sv_threshold",
    )
    min_n = int(right.number_input(t("最小样本"), min_value=1, value=MIN_N, step=1, key="sv_min_n"))
    threshold = float(hours) * 60
    filters, now = response_filters(page), now_minute()
    f = page.filters
    if f.products or f.brands or f.provinces or f.cities:
        st.caption(t("商品、品牌、省份和城市筛选不作用于本页。"))
    overall: pd.DataFrame = _load(
        page.db, page.stamp, "response_time_summary", None, threshold, filters, now=now
    )
    if overall.empty:
        st.info(t("所选条件下没有记录了回复时间的声音。"))
        st.caption(t("回复时间来自 Zendesk 工单、设置了 our_domains 的邮箱和投诉平台。"))
    else:
        _kpis(overall.iloc[0], min_n)
        st.caption(
            t(
                "首次回复晚于 {hours} 小时、或超过 {hours} 小时仍未回复，即为超时。",
                hours=f"{hours:g}",
            )
            + t("未满 {hours} 小时且未回复的不计入超时率；时长按自然时间。", hours=f"{hours:g}")
        )
        by = _breakdown(page, threshold, filters, now, min_n)
        _outcomes(page, threshold, filters, now, cfg.outcome_window_days, min_n, hours)
        _drill_down(page, by, threshold, filters, now)
    service_recovery.render(page)


def _kpis(row: pd.Series, min_n: int) -> None:
    cols = st.columns(5)
    cols[0].metric(t("首次回复中位数"), duration(row["first_response_median"]))
    cols[1].metric(t("首次回复 P90"), duration(row["first_response_p90"]))
    cols[2].metric(t("解决时长中位数"), duration(row["resolution_median"]))
    cols[3].metric(t("解决时长 P90"), duration(row["resolution_p90"]))
    rate, _ = share_cells(row["n_breached"], row["n_due"], min_n)
    cols[4].metric(t("超时率"), rate)
    counts = {k: int(row[f"n_{k}"]) for k in ("voices", "answered", "resolved", "due", "breached")}
    st.caption(
        t("{voices} 条声音：已回复 {answered}，已解决 {resolved}；", **counts)
        + t("应回复 {due}，超时 {breached}。", **counts)
    )


def _breakdown(
    page: Page, threshold: float, filters: ResponseFilters, now: datetime, min_n: int
) -> str:
    st.subheader(t("回复时效"))
    by = st.selectbox(
        t("分组"), list(DIMENSIONS), format_func=lambda d: t(DIMENSIONS[d]), key="sv_by"
    )
    frame: pd.DataFrame = _load(
        page.db, page.stamp, "response_time_summary", by, threshold, filters, now=now
    )
    cells = [
        share_cells(b, d, min_n) for b, d in zip(frame["n_breached"], frame["n_due"], strict=True)
    ]
    table(
        pd.DataFrame(
            {
                t(DIMENSIONS[by]): [group_label(by, v) for v in frame[by]],
                t("声音数"): frame["n_voices"],
                t("已回复"): frame["n_answered"],
                t("首次回复中位数"): frame["first_response_median"].map(duration),
                t("首次回复 P90"): frame["first_response_p90"].map(duration),
                t("已解决"): frame["n_resolved"],
                t("解决时长中位数"): frame["resolution_median"].map(duration),
                t("解决时长 P90"): frame["resolution_p90"].map(duration),
                **_business_columns(frame),
                t("应回复"): frame["n_due"],
                t("超时"): frame["n_breached"],
                t("超时率"): [c[0] for c in cells],
                t("95% 区间"): [c[1] for c in cells],
            }
        )
    )
    _breach_chart(frame, by, min_n)
    st.caption(t("超时率低于最小样本时显示“样本不足”；区间为 95% Wilson 区间。"))
    return by


def _breach_chart(frame: pd.DataFrame, by: str, min_n: int) -> None:
    """Breach rate per group with its interval, for the groups with enough voices due."""
    rows = []
    for value, k, n in zip(frame[by], frame["n_breached"], frame["n_due"], strict=True):
        score = csat_score(int(k), int(n), min_n)
        if score.enough and score.value is not None:
            rows.append(
                {"group": group_label(by, value), "rate": score.value, "low": score.low,
                 "high": score.high}
            )  # fmt: skip
    if len(rows) < 2:
        return  # one group: the table says it all
    chart = pd.DataFrame(rows)
    y = alt.Y("group:N", title=t(DIMENSIONS[by]), sort=None)
    bars = (
        alt.Chart(chart)
        .mark_bar(opacity=0.7)
        .encode(
            x=alt.X("rate:Q", title=t("超时率") + " (%)", scale=alt.Scale(domain=[0, 100])), y=y
        )
    )
    interval = alt.Chart(chart).mark_rule().encode(x="low:Q", x2="high:Q", y=y)
    st.altair_chart(bars + interval, width="stretch")


def _business_columns(frame: pd.DataFrame) -> dict[str, pd.Series]:
    """Zendesk's business-hours medians, when some group has them (other origins have
    calendar time only)."""
    columns = {
        "business_first_response_median": "首次回复工作时长中位数",
        "business_resolution_median": "解决工作时长中位数",
    }
    return {
        t(label): frame[column].map(duration)
        for column, label in columns.items()
        if frame[column].notna().any()
    }


def _outcomes(
    page: Page,
    threshold: float,
    filters: ResponseFilters,
    now: datetime,
    window: int,
    min_n: int,
    hours: float,
) -> None:
    st.subheader(t("回复速度与后续结果"))
    frame: pd.DataFrame = _load(
        page.db,
        page.stamp,
        "outcomes_by_speed",
        threshold,
        window,
        filters,
        now=now,
        model_version=data.model_version(page.db, page.stamp),
        min_n=min_n,
    )
    labels = {
        "within": t("{hours} 小时内回复", hours=f"{hours:g}"),
        "later": t("超过 {hours} 小时回复", hours=f"{hours:g}"),
        "unanswered": t("超时未回复"),
    }
    negative = [
        share_cells(k, n, min_n)
        for k, n in zip(frame["n_later_negative"], frame["n_later_voices"], strict=True)
    ]
    table(
        pd.DataFrame(
            {
                t("回复速度"): frame["speed"].map(labels),
                t("声音数"): frame["n_voices"],
                t("客户数"): frame["n_customers"],
                t("后续声音"): frame["n_later_voices"],
                t("后续负面"): frame["n_later_negative"],
                t("后续负面占比"): [c[0] for c in negative],
                t("负面占比 95% 区间"): [c[1] for c in negative],
                t("后续 NPS 回答"): frame["n_nps"],
                t("后续 NPS"): [_nps(r) for r in frame.to_dict("records")],
                t("NPS 95% 区间"): [_nps_interval(r) for r in frame.to_dict("records")],
            }
        )
    )
    st.caption(
        t("只计关联到客户的声音：同一客户其后 {days} 天内的其他声音和问卷 NPS。", days=window)
        + t("样本少于 {n} 时显示“样本不足”。", n=min_n)
    )


def _nps(row: dict) -> str:
    if row["nps"] is None or pd.isna(row["nps"]):
        return "—"
    return f"{row['nps']:.1f}" if row["nps_enough"] else t(INSUFFICIENT)


def _nps_interval(row: dict) -> str:
    if row["nps"] is None or pd.isna(row["nps"]) or not row["nps_enough"]:
        return "—"
    # The normal approximation can pass the scale's ends with few answers.
    return f"[{max(row['nps_low'], -100):.1f}, {min(row['nps_high'], 100):.1f}]"


#: Sentinel option: the drill-down over every group.
ALL = "__all__"


def _drill_down(
    page: Page, by: str, threshold: float, filters: ResponseFilters, now: datetime
) -> None:
    st.subheader(t("超时明细"))
    summary: pd.DataFrame = _load(
        page.db, page.stamp, "response_time_summary", by, threshold, filters, now=now
    )
    # A group without a value is offered as "" (select boxes need hashable, sortable keys).
    groups = ["" if v is None else str(v) for v in summary[by]]
    if st.session_state.get("sv_group") not in (ALL, *groups):
        st.session_state.pop("sv_group", None)  # a group of the dimension shown before
    left, right = st.columns(2)
    group = left.selectbox(
        t("查看哪一组的声音"),
        [ALL, *groups],
        format_func=lambda g: t("全部") if g == ALL else group_label(by, g or None),
        key="sv_group",
    )
    speeds = right.multiselect(
        t("回复情况"),
        list(SPEEDS),
        default=["unanswered", "later"],
        format_func=lambda s: t(SPEEDS[s]),
        key="sv_speeds",
    )
    if not speeds:
        st.caption(t("请选择回复情况。"))
        return
    narrowed = _narrow(filters, by, None if group == ALL else group)
    exact = group == ALL or by == "month" or (by in NARROWED and group != "")
    limit = DRILL_LIMIT if exact else DRILL_LIMIT_MATCHED
    voices: pd.DataFrame = _load(
        page.db,
        page.stamp,
        "response_time_voices",
        threshold,
        narrowed,
        now=now,
        speeds=tuple(speeds),
        limit=limit,
    )
    capped = len(voices) >= limit
    if not exact:
        values = voices[by].astype(object).where(voices[by].notna(), None)
        voices = voices[values.map(lambda v: ("" if v is None else str(v)) == group)]
    if voices.empty:
        st.caption(t("这一组没有所选回复情况的声音。"))
        return
    shown = voices.head(DRILL_SHOWN)
    tz = page.settings.timezone
    table(
        pd.DataFrame(
            {
                t("回复情况"): shown["speed"].map(lambda s: t(SPEEDS.get(s, s))),
                t("提出时间"): local_time(shown["opened_at"], tz),
                t("首次回复时间"): local_time(shown["first_response_at"], tz),
                t("首次回复用时"): shown["first_response_minutes"].map(duration),
                t("解决时间"): local_time(shown["resolved_at"], tz),
                t("来源"): shown["source"].map(source_label),
                t("渠道"): shown["channel"].map(lambda c: name(CHANNEL_NAMES, c)),
                t("主题"): shown["theme"].fillna("—"),
                t("客户分层"): shown["segment"].fillna("—"),
                t("客户经理"): shown["owner"].fillna("—"),
                t("回复人"): shown["responder"].fillna("—"),
                t("原文"): shown["text"],
                t("链接"): shown["url"].map(safe_url),
            }
        ),
        column_config={t("链接"): st.column_config.LinkColumn(display_text="↗")},
    )
    note = t("未回复的按提出时间从早到晚在前，其后是回复最慢的。") + t(
        "显示 {shown} 条，共 {n} 条。", shown=len(shown), n=len(voices)
    )
    st.caption(note + (t("（读取已达上限 {limit} 条）", limit=limit) if capped else ""))


def _narrow(filters: ResponseFilters, by: str, group: str | None) -> ResponseFilters:
    """The filters of one group where the analytics can narrow exactly (the rest is
    matched on the returned rows)."""
    if group is None:
        return filters
    if by == "month" and group:
        year, month = (int(p) for p in group.split("-"))
        first = date(year, month, 1)
        last = date(year, month, calendar.monthrange(year, month)[1])
        return replace(
            filters,
            start=max(first, filters.start) if filters.start else first,
            end=min(last, filters.end) if filters.end else last,
        )
    if by in NARROWED and group:
        return replace(filters, **{NARROWED[by]: (group,)})
    return filters
