"""客户 Customers: segment sizes and their negative share, NPS / CSAT trends with intervals
(样本不足 below the minimum sample), key drivers with their verbatims, the customers with
the most negative voices and one customer's timeline; narrowed on the page by segment,
province and owner (at the time each customer spoke).

Segment names, provinces and owners come from the customer file, theme labels from
customers' words: like all customer text they are shown only in tables and select-box
options, never in a label or Markdown (`dashboard.common`).
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.common import CHANNEL_NAMES, SENTIMENT_NAMES, Page, local_time, name, pct, table
from dashboard.i18n import t
from voc.satisfaction import INSUFFICIENT, MIN_N
from warehouse.customer_voices import TIMELINE_LIMIT
from warehouse.satisfaction import CustomerFilters

GRAINS = {"week": "周", "month": "月", "quarter": "季度"}
SPLITS = {
    "": "不拆分",
    "segment": "客户细分",
    "province": "省份",
    "acquisition": "获客渠道",
    "owner": "客户经理",
    "source": "问卷来源",
}
DRIVER_KINDS = {"theme": "主题", "aspect": "方面", "category": "类别"}


def _pick(label: str, options: list[str], key: str) -> tuple[str, ...]:
    if key in st.session_state:
        st.session_state[key] = [v for v in st.session_state[key] if v in options]
    return tuple(st.multiselect(t(label), options, key=key, placeholder=t("全部")) or ())


def _filters(page: Page) -> CustomerFilters:
    options = data.frame(page.db, page.stamp, "customer_options")
    left, middle, right = st.columns(3)
    with left:
        segments = _pick("客户细分", options["segments"], "cu_segments")
    with middle:
        provinces = _pick("省份", options["provinces"], "cu_provinces")
    with right:
        owners = _pick("客户经理", options["owners"], "cu_owners")
    return CustomerFilters(
        start=page.filters.start,
        end=page.filters.end,
        segments=segments,
        provinces=provinces,
        owners=owners,
    )


def _unknown(value: object) -> str:
    return value if isinstance(value, str) and value else t("未知")


def render(page: Page) -> None:
    st.header(t("客户"))
    f = _filters(page)
    _segments(page, f)
    _trend(page, f)
    _drivers(page, f)
    _customers(page, f)


def _segments(page: Page, f: CustomerFilters) -> None:
    st.subheader(t("客户细分"))
    seg: pd.DataFrame = data.frame(page.db, page.stamp, "segment_overview", f)
    if seg.empty:
        st.caption(t("还没有客户数据：先运行 `voc customers import`。"))
        return
    table(
        pd.DataFrame(
            {
                t("细分"): seg["segment"].map(_unknown),
                t("客户数"): seg["n_customers"],
                t("发声客户"): seg["n_speaking"],
                t("声量"): seg["n_voices"],
                t("负面数量"): seg["n_negative"],
                t("负面占比"): seg["negative_share"].map(pct),
            }
        )
    )
    st.caption(t("声量按客户发声当天所属的细分计算（所选日期范围内）。"))


def _trend(page: Page, f: CustomerFilters) -> None:
    st.subheader(t("满意度趋势"))
    left, middle, right = st.columns(3)
    with left:
        grain = st.radio(
            t("周期"), list(GRAINS), format_func=lambda g: t(GRAINS[g]), horizontal=True,
            key="cu_grain", index=1,
        )  # fmt: skip
    with middle:
        metric = st.radio(t("指标"), ["nps", "csat"], horizontal=True, key="cu_metric",
                          format_func=lambda m: "NPS" if m == "nps" else "CSAT")  # fmt: skip
    with right:
        split = st.selectbox(
            t("拆分"), list(SPLITS), format_func=lambda s: t(SPLITS[s]), key="cu_split"
        )
    # The whole history: a trend of the last 30 days would be one or two points.
    history = CustomerFilters(None, None, f.segments, f.provinces, f.owners)
    series: pd.DataFrame = data.frame(
        page.db, page.stamp, "satisfaction_series", history, grain, split or None, MIN_N
    )
    if series.empty:
        st.caption(t("还没有满意度调查的回答。"))
        return
    if not split:
        _latest(series, metric)
    shown = series.assign(
        group=series["dimension"].map(_unknown) if split else "—",
    )
    enough = shown[shown[f"{metric}_enough"]]
    if not enough.empty:
        base = alt.Chart(enough).encode(
            x=alt.X("period:O", title=t("周期"), sort=None, axis=alt.Axis(labelAngle=0)),
            color=alt.Color("group:N", title=t(SPLITS[split])) if split else alt.value("#1f77b4"),
        )
        band = base.mark_area(opacity=0.2).encode(
            y=alt.Y(f"{metric}_low:Q", title=metric.upper()), y2=f"{metric}_high:Q"
        )
        line = base.mark_line(point=True).encode(y=f"{metric}:Q")
        st.altair_chart(band + line, width="stretch")
    st.caption(
        t("全部历史；阴影为 95% 置信区间；样本少于 {n} 份的周期显示“样本不足”，不画点。", n=MIN_N)
    )
    table(
        pd.DataFrame(
            {
                t("周期"): shown["period"],
                **({t(SPLITS[split]): shown["group"]} if split else {}),
                t("样本数"): shown["n"] if metric == "nps" else shown["csat_n"],
                metric.upper(): shown[f"{metric}_display"].map(t),
                t("95% 区间"): [
                    _interval(lo, hi) if ok else "—"
                    for lo, hi, ok in zip(
                        shown[f"{metric}_low"],
                        shown[f"{metric}_high"],
                        shown[f"{metric}_enough"],
                        strict=True,
                    )
                ],
                t("较上期"): shown[f"{metric}_change"].map(_signed),
                t("p 值"): shown[f"{metric}_change_p"].map(_p),
            }
        )
    )


def _latest(series: pd.DataFrame, metric: str) -> None:
    last = series.iloc[-1]
    change, p = last[f"{metric}_change"], last[f"{metric}_change_p"]
    delta = None if pd.isna(change) else f"{change:+.1f}"
    cols = st.columns(2)
    cols[0].metric(
        f"{metric.upper()}（{last['period']}）", t(last[f"{metric}_display"]), delta=delta
    )
    if pd.isna(p):
        cols[1].metric(t("与上期相比"), t("无法比较"))
    else:
        verdict = t("显著变化") if p < 0.05 else t("无显著变化")
        cols[1].metric(t("与上期相比"), verdict, delta=f"p = {p:.3f}", delta_color="off")


def _interval(low: float, high: float) -> str:
    return f"[{low:.1f}, {high:.1f}]"


def _signed(v: object) -> str:
    return "—" if v is None or pd.isna(v) else f"{v:+.1f}"


def _p(v: object) -> str:
    return "—" if v is None or pd.isna(v) else f"{v:.3f}"


def _drivers(page: Page, f: CustomerFilters) -> None:
    st.subheader(t("关键驱动因素"))
    drivers: pd.DataFrame = data.frame(page.db, page.stamp, "satisfaction_drivers", f, MIN_N)
    if drivers.empty:
        st.caption(t("所选条件下没有提到主题或方面的开放回答。"))
        return
    table(
        pd.DataFrame(
            {
                t("类型"): drivers["kind"].map(lambda k: t(DRIVER_KINDS.get(k, k))),
                t("驱动因素"): drivers["label"],
                t("提及人数"): drivers["n_mention"],
                t("提及者 NPS"): drivers["nps_mention_display"].map(t),
                t("未提及者 NPS"): drivers["nps_other"].map(lambda v: _num(v)),
                t("差值"): drivers["nps_difference"].map(_signed),
                t("95% 区间"): [
                    _interval(lo, hi) if pd.notna(lo) else "—"
                    for lo, hi in zip(
                        drivers["nps_difference_low"], drivers["nps_difference_high"], strict=True
                    )
                ],
                t("贬损者占比"): drivers["detractor_share"].map(pct),
                t("影响（NPS 点）"): drivers["impact"].map(_signed),
                t("样本"): drivers["enough"].map(lambda ok: t("足够") if ok else t(INSUFFICIENT)),
            }
        )
    )
    st.caption(t("影响 = 提及者占比 × (未提及者 NPS − 提及者 NPS)：它让整体 NPS 少了多少点。"))
    keys = [f"{k}\x1f{v}" for k, v in zip(drivers["kind"], drivers["value"], strict=True)]
    labels = dict(zip(keys, drivers["label"], strict=True))
    if st.session_state.get("cu_driver") not in keys:
        st.session_state["cu_driver"] = keys[0]
    chosen = st.selectbox(t("查看原话"), keys, key="cu_driver", format_func=labels.get)
    kind, value = chosen.split("\x1f", 1)
    verbatims: pd.DataFrame = data.frame(page.db, page.stamp, "driver_verbatims", f, kind, value)
    table(
        pd.DataFrame(
            {
                t("日期"): verbatims["local_day"].astype(str),
                t("细分"): verbatims["segment"].map(_unknown),
                "NPS": verbatims["nps"],
                "CSAT": verbatims["csat"],
                t("问题"): verbatims["question"],
                t("原文"): verbatims["text"],
            }
        )
    )


def _num(v: object) -> str:
    return "—" if v is None or pd.isna(v) else f"{v:.1f}"


def _customers(page: Page, f: CustomerFilters) -> None:
    st.subheader(t("负面声音最多的客户"))
    top: pd.DataFrame = data.frame(page.db, page.stamp, "negative_customers", f)
    if top.empty:
        st.caption(t("所选条件下没有客户的负面声音。"))
        return
    table(
        pd.DataFrame(
            {
                t("客户（哈希）"): top["customer_id"].map(_short),
                t("细分"): top["segment"].map(_unknown),
                t("省份"): top["province"].map(_unknown),
                t("城市"): top["city"].map(_unknown),
                t("获客渠道"): top["acquisition"].map(_unknown),
                t("客户经理"): top["owner"].map(_unknown),
                t("声量"): top["n_voices"],
                t("负面数量"): top["n_negative"],
                t("最近发声"): top["last_day"].astype(str),
            }
        )
    )
    ids = list(top["customer_id"])
    if st.session_state.get("cu_customer") not in ids:
        st.session_state["cu_customer"] = ids[0]
    chosen = st.selectbox(t("查看客户时间线"), ids, key="cu_customer", format_func=_short)
    line = data.frame(page.db, page.stamp, "customer_timeline", chosen)
    if line is None:
        return
    st.markdown(f"**{t('客户时间线')}**")
    customer = line["customer"] or {}
    st.text(
        " · ".join(
            _unknown(customer.get(k))
            for k in ("segment", "province", "city", "acquisition", "owner")
        )
    )
    voices: pd.DataFrame = line["voices"]
    tz = page.settings.timezone
    table(
        pd.DataFrame(
            {
                t("时间"): local_time(voices["created_at"], tz),
                t("渠道"): voices["channel"].map(lambda c: name(CHANNEL_NAMES, c)),
                t("当时细分"): voices["segment"].map(_unknown),
                t("情感"): voices["sentiment"].map(lambda s: name(SENTIMENT_NAMES, s)),
                t("原文"): voices["text"],
            }
        )
    )
    if len(voices) >= TIMELINE_LIMIT:
        st.caption(t("只显示最近 {n} 条。").format(n=TIMELINE_LIMIT))
    responses: pd.DataFrame = line["responses"]
    if not responses.empty:
        st.caption(t("满意度调查回答"))
        table(
            pd.DataFrame(
                {
                    t("时间"): local_time(responses["submitted_at"], tz),
                    t("当时细分"): responses["segment"].map(_unknown),
                    "NPS": responses["nps"],
                    "CSAT": responses["csat"],
                }
            )
        )


def _short(customer_id: object) -> str:
    """A hashed id shortened for display (it is a hash: nothing personal in it)."""
    return str(customer_id)[:12]
