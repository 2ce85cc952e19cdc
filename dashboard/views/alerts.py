"""预警 Alerts: the spike episodes of the period with severity and explanation, their driving
themes, phrases and verbatims, and the handling workflow (new → acknowledged → resolved,
with who and a note), stored in the actions store beside the warehouse."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.common import (
    KIND_NAMES,
    METRIC_NAMES,
    SENTIMENT_NAMES,
    SEVERITY_NAMES,
    STATUS_NAMES,
    Page,
    local_time,
    name,
    source_label,
    table,
)
from dashboard.i18n import t
from warehouse import actions

DRIVER_KINDS = ("themes", "categories", "aspects", "phrases")
DRIVER_KIND_NAMES = {
    "themes": ("主题", "Theme"),
    "categories": ("类别", "Category"),
    "aspects": ("方面", "Aspect"),
    "phrases": ("短语", "Phrase"),
}


def _when(value: object, granularity: str) -> str:
    stamp = pd.Timestamp(value)
    return f"{stamp:%Y-%m-%d}" if granularity == "day" else f"{stamp:%Y-%m-%d %H:00}"


SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
STATUS_ORDER = {"new": 0, "acknowledged": 1, "resolved": 2}


def _with_status(page: Page, alerts: pd.DataFrame) -> pd.DataFrame:
    """The alerts with their handling status, in working order: unhandled first, then the
    most severe, then the newest."""
    statuses = actions.alert_statuses(page.db_path, list(alerts["episode_id"]))
    out = alerts.assign(
        status=[statuses[e].status if e in statuses else "new" for e in alerts["episode_id"]]
    )
    out["_order"] = list(
        zip(
            out["status"].map(STATUS_ORDER),
            out["severity"].map(SEVERITY_ORDER).fillna(3),
            -pd.to_datetime(out["peak_period"]).astype("int64"),
            strict=True,
        )
    )
    return out.sort_values("_order", kind="stable").drop(columns="_order")


def driver_name(value: str) -> str:
    """An aspect driver is stored as "aspect|polarity": show "物流（负面）"."""
    aspect, sep, polarity = str(value).partition("|")
    return f"{aspect}（{name(SENTIMENT_NAMES, polarity)}）" if sep else aspect


def _drivers_text(text: str) -> str:
    return "、".join(driver_name(part) for part in str(text).split("、") if part)


def render(page: Page) -> None:
    st.header(t("负面预警"))
    alerts: pd.DataFrame = data.frame(page.db, page.stamp, "alert_list", page.filters)
    if alerts.empty:
        st.success(t("所选区间内没有负面预警。"))
        return
    alerts = _with_status(page, alerts)
    wanted = st.radio(
        t("按状态"),
        ["all", *actions.ALERT_STATUSES],
        format_func=lambda s: t("全部") if s == "all" else name(STATUS_NAMES, s),
        horizontal=True,
        key="al_status",
    )
    shown = alerts if wanted == "all" else alerts[alerts["status"] == wanted]
    shown = shown.reset_index(drop=True)
    table(
        pd.DataFrame(
            {
                t("状态"): shown["status"].map(lambda s: name(STATUS_NAMES, s)),
                t("严重度"): shown["severity"].map(lambda s: name(SEVERITY_NAMES, s)),
                t("类型"): shown["key_kind"].map(lambda k: name(KIND_NAMES, k)),
                t("对象"): shown["key_label"].map(source_label),
                t("指标"): shown["metric"].map(lambda m: name(METRIC_NAMES, m)),
                t("开始"): [
                    _when(v, g)
                    for v, g in zip(shown["start_period"], shown["granularity"], strict=True)
                ],
                t("结束"): [
                    _when(v, g)
                    for v, g in zip(shown["end_period"], shown["granularity"], strict=True)
                ],
                t("观测值"): shown["observed"].round(3),
                t("基线期望"): shown["expected"].round(3),
                t("倍数"): shown["ratio"].round(1),
                t("驱动因素"): shown["drivers"].map(_drivers_text),
            }
        )
    )
    if shown.empty:
        return
    ids = list(shown["episode_id"])
    if st.session_state.get("alert") not in ids:
        st.session_state["alert"] = ids[0]
    labels = dict(zip(ids, shown.itertuples(), strict=True))
    chosen = st.selectbox(
        t("查看预警"),
        ids,
        key="alert",
        format_func=lambda e: (
            f"{_when(labels[e].peak_period, labels[e].granularity)} · "
            f"{name(KIND_NAMES, labels[e].key_kind)} · {source_label(labels[e].key_label)} · "
            f"{name(SEVERITY_NAMES, labels[e].severity)}"
        ),
    )
    _detail(page, chosen)


def _detail(page: Page, episode_id: str) -> None:
    detail = data.frame(page.db, page.stamp, "alert_detail", episode_id)
    if detail is None:
        return
    st.subheader(t("预警详情"))
    cols = st.columns(4)
    cols[0].metric(t("严重度"), name(SEVERITY_NAMES, detail["severity"]))
    cols[1].metric(t("观测值"), f"{detail['observed']:.3g}")
    cols[2].metric(t("基线期望"), f"{detail['expected']:.3g}")
    cols[3].metric(t("倍数"), f"{detail['ratio']:.1f}×")
    st.caption(
        t(
            "基线区间 {start} 至 {end} · p 值 {p}",
            start=_when(detail["baseline_start"], detail["granularity"]),
            end=_when(detail["baseline_end"], detail["granularity"]),
            p=f"{detail['p_value']:.2g}",
        )
    )
    explanation = detail.get("explanation") or {}
    rows = [
        (kind, d) for kind in DRIVER_KINDS for d in explanation.get(kind, []) if isinstance(d, dict)
    ]
    if rows:
        st.markdown(f"**{t('驱动主题、类别、方面和短语')}**")
        table(
            pd.DataFrame(
                {
                    t("类型"): [name(DRIVER_KIND_NAMES, k) for k, _ in rows],
                    t("名称"): [driver_name(d.get("value", "")) for _, d in rows],
                    t("预警期文档"): [d.get("spike_docs") for _, d in rows],
                    t("基线文档"): [d.get("baseline_docs") for _, d in rows],
                    t("显著性 z"): [round(float(d.get("z", 0.0)), 1) for _, d in rows],
                }
            )
        )
    verbatims = [v for v in explanation.get("verbatims", []) if isinstance(v, dict)]
    if verbatims:
        st.markdown(f"**{t('代表性原文')}**")
        table(
            pd.DataFrame(
                {
                    t("原文"): [str(v.get("text", "")) for v in verbatims],
                    t("同声数"): [v.get("group_size", 1) for v in verbatims],
                }
            )
        )
    _workflow(page, episode_id)


def _workflow(page: Page, episode_id: str) -> None:
    st.subheader(t("处理状态"))
    history = actions.alert_history(page.db_path, episode_id)
    current = history[-1].status if history else "new"
    with st.form(f"status_{episode_id}"):
        order = list(actions.ALERT_STATUSES)
        status = st.radio(
            t("处理状态"),
            order,
            index=order.index(current),
            format_func=lambda s: name(STATUS_NAMES, s),
            horizontal=True,
            key="al_new_status",
        )
        who = page.user or st.text_input(t("处理人"), key="al_who", max_chars=64)
        note = st.text_area(t("备注"), key="al_note", max_chars=1000)
        submitted = st.form_submit_button(t("保存状态"))
    if submitted:
        try:
            actions.set_alert_status(page.db_path, episode_id, status, who or "", note)
        except actions.ActionError as exc:
            st.error(t("保存失败：{error}", error=exc))
        else:
            st.success(t("状态已保存。"))
            history = actions.alert_history(page.db_path, episode_id)
    st.markdown(f"**{t('处理记录')}**")
    if not history:
        st.caption(t("还没有处理记录。"))
        return
    table(
        pd.DataFrame(
            {
                t("时间"): local_time(pd.Series([a.at for a in history]), page.settings.timezone),
                t("处理状态"): [name(STATUS_NAMES, a.status) for a in history],
                t("处理人"): [a.who for a in history],
                t("备注"): [a.note for a in history],
            }
        )
    )
