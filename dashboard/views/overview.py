"""总览 Overview: the headline numbers against the previous period, the daily trend by source
or channel with spike markers, and social media by hour."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.common import (
    CHANNEL_NAMES,
    KIND_NAMES,
    METRIC_NAMES,
    SEVERITY_NAMES,
    Page,
    name,
    pct,
    source_label,
    table,
)
from dashboard.i18n import t
from dashboard.views.alerts import _drivers_text
from dashboard.views.sources import health_banner
from warehouse.page_filters import previous_period

TREND_METRICS = ("n_docs", "n_negative", "negative_share")


def _delta(current: float | None, previous: float | None, share: bool) -> str | None:
    if current is None or previous is None or pd.isna(current) or pd.isna(previous):
        return None
    if share:
        return f"{(current - previous) * 100:+.1f} pp"
    if not previous:
        return None
    return f"{(current - previous) / previous:+.1%}"


def _kpis(page: Page) -> None:
    numbers = data.frame(page.db, page.stamp, "kpis", page.filters)
    cur, prev = numbers["current"], numbers["previous"]
    cols = st.columns(4)
    cols[0].metric(
        t("文档数"), f"{cur['n_docs']:,}", _delta(cur["n_docs"], prev["n_docs"], share=False)
    )
    cols[1].metric(
        t("负面占比"),
        pct(cur["negative_share"]),
        _delta(cur["negative_share"], prev["negative_share"], share=True),
        delta_color="inverse",
    )
    net = cur["net_sentiment"]
    cols[2].metric(
        t("净情感值"),
        "—" if net is None else f"{net:+.2f}",
        None
        if net is None or prev["net_sentiment"] is None
        else f"{net - prev['net_sentiment']:+.2f}",
    )
    cols[3].metric(
        t("愤怒占比（社交）"),
        pct(cur["anger_share"]),
        _delta(cur["anger_share"], prev["anger_share"], share=True),
        delta_color="inverse",
    )
    before = previous_period(page.filters)
    st.caption(t("对比上一周期 {start} 至 {end}", start=before.start, end=before.end))


def _trend(page: Page) -> None:
    st.subheader(t("每日趋势"))
    daily: pd.DataFrame = data.frame(page.db, page.stamp, "daily_trend", page.filters)
    if daily.empty:
        st.info(t("所选条件下没有数据。"))
        return
    left, right = st.columns(2)
    group = left.radio(
        t("分组"),
        ["source", "channel"],
        format_func=lambda g: t("来源") if g == "source" else t("渠道"),
        horizontal=True,
        key="ov_group",
    )
    metric = right.radio(
        t("指标"),
        list(TREND_METRICS),
        format_func=lambda m: name(METRIC_NAMES, m),
        horizontal=True,
        key="ov_metric",
    )
    frame = (
        daily.groupby(["local_day", group], as_index=False)[["n_docs", "n_negative"]]
        .sum()
        .assign(negative_share=lambda f: f["n_negative"] / f["n_docs"].where(f["n_docs"] > 0))
    )
    label = source_label if group == "source" else (lambda c: name(CHANNEL_NAMES, c))
    frame["series"] = frame[group].map(label)
    frame["day"] = pd.to_datetime(frame["local_day"])
    title = name(METRIC_NAMES, metric)
    lines = (
        alt.Chart(frame)
        .mark_line(strokeWidth=1.5)
        .encode(
            x=alt.X("day:T", title=t("日期"), axis=alt.Axis(format="%m-%d")),
            y=alt.Y(f"{metric}:Q", title=title),
            color=alt.Color("series:N", title=t("来源") if group == "source" else t("渠道")),
            tooltip=[
                alt.Tooltip("day:T", title=t("日期")),
                alt.Tooltip("series:N", title=t("来源") if group == "source" else t("渠道")),
                alt.Tooltip("n_docs:Q", title=t("文档数")),
                alt.Tooltip("n_negative:Q", title=t("负面数量")),
                alt.Tooltip("negative_share:Q", title=t("负面占比"), format=".1%"),
            ],
        )
    )
    layers = [lines]
    markers = data.frame(page.db, page.stamp, "spike_markers", page.filters)
    daily_marks = markers[markers["granularity"] == "day"]
    if not daily_marks.empty:
        # Each alert is marked on its peak day; source alerts sit on their own line.
        peaks = daily_marks.assign(
            day=pd.to_datetime(daily_marks["peak_period"]).dt.normalize(),
            kind=daily_marks["key_kind"].map(lambda k: name(KIND_NAMES, k)),
            severity_name=daily_marks["severity"].map(lambda s: name(SEVERITY_NAMES, s)),
        )
        if group == "source":
            on_line = peaks[peaks["key_kind"] == "source"].assign(
                series=lambda f: f["key_value"].map(source_label)
            )
            on_line = on_line.merge(frame[["day", "series", metric]], on=["day", "series"])
        else:
            on_line = pd.DataFrame()
        if not on_line.empty:
            layers.append(
                alt.Chart(on_line)
                .mark_point(shape="triangle-up", size=160, filled=True, color="#d62728")
                .encode(
                    x="day:T",
                    y=f"{metric}:Q",
                    tooltip=[
                        alt.Tooltip("day:T", title=t("峰值")),
                        alt.Tooltip("series:N", title=t("来源")),
                        alt.Tooltip("severity_name:N", title=t("严重度")),
                        alt.Tooltip("ratio:Q", title=t("倍数"), format=".1f"),
                    ],
                )
            )
        rules = peaks.drop_duplicates("day")
        layers.append(
            alt.Chart(rules)
            .mark_rule(color="#d62728", strokeDash=[3, 3], opacity=0.35)
            .encode(x="day:T")
        )
    st.altair_chart(alt.layer(*layers), width="stretch")
    st.caption(t("红色三角为负面预警（峰值日）。"))
    alerts = data.frame(page.db, page.stamp, "alert_list", page.filters)
    if not alerts.empty:
        st.markdown(f"**{t('区间内预警')}**")
        top = alerts.head(10)
        table(
            pd.DataFrame(
                {
                    t("峰值"): pd.to_datetime(top["peak_period"]).dt.strftime("%Y-%m-%d %H:%M"),
                    t("类型"): top["key_kind"].map(lambda k: name(KIND_NAMES, k)),
                    t("对象"): top["key_label"].map(source_label),
                    t("严重度"): top["severity"].map(lambda s: name(SEVERITY_NAMES, s)),
                    t("倍数"): top["ratio"].round(1),
                    t("驱动因素"): top["drivers"].map(_drivers_text),
                }
            )
        )


def _hourly(page: Page) -> None:
    st.subheader(t("社交媒体逐小时趋势（最近 7 天）"))
    hourly: pd.DataFrame = data.frame(
        page.db, page.stamp, "hourly_trend", page.filters, tz=page.settings.timezone
    )
    if hourly.empty:
        st.caption(t("没有社交媒体数据。"))
        return
    frame = hourly.assign(series=hourly["source"].map(source_label))
    chart = (
        alt.Chart(frame)
        .mark_line(strokeWidth=1.2)
        .encode(
            x=alt.X("hour:T", title=t("小时"), axis=alt.Axis(format="%m-%d %H")),
            y=alt.Y("n_negative:Q", title=t("负面数量")),
            color=alt.Color("series:N", title=t("来源")),
            tooltip=[
                alt.Tooltip("hour:T", title=t("小时"), format="%m-%d %H:00"),
                alt.Tooltip("series:N", title=t("来源")),
                alt.Tooltip("n_docs:Q", title=t("文档数")),
                alt.Tooltip("n_negative:Q", title=t("负面数量")),
            ],
        )
    )
    markers = data.frame(page.db, page.stamp, "spike_markers", page.filters)
    hourly_marks = markers[(markers["granularity"] == "hour") & (markers["key_kind"] == "source")]
    layers = [chart]
    if not hourly_marks.empty:
        peaks = hourly_marks.assign(
            hour=pd.to_datetime(hourly_marks["peak_period"]),
            series=hourly_marks["key_value"].map(source_label),
        ).merge(frame[["hour", "series", "n_negative"]], on=["hour", "series"])
        if not peaks.empty:
            layers.append(
                alt.Chart(peaks)
                .mark_point(shape="triangle-up", size=140, filled=True, color="#d62728")
                .encode(
                    x="hour:T",
                    y="n_negative:Q",
                    tooltip=[
                        alt.Tooltip("hour:T", title=t("峰值"), format="%m-%d %H:00"),
                        alt.Tooltip("series:N", title=t("来源")),
                        alt.Tooltip("ratio:Q", title=t("倍数"), format=".1f"),
                    ],
                )
            )
    st.altair_chart(alt.layer(*layers), width="stretch")


def render(page: Page) -> None:
    st.header(t("总览"))
    # Source problems first: the numbers below are incomplete while they last.
    health_banner(
        data.frame(page.db, page.stamp, "source_overview")["health"], page.settings.timezone
    )
    _kpis(page)
    _trend(page)
    _hourly(page)
