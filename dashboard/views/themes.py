"""主题 Themes: discovered complaint themes ranked by volume, growth or negativity, with
lifecycle state; one theme's trend, key phrases, aspect sentiment and verbatims; and the
configured taxonomy side by side with the discovered themes."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.common import (
    CHANNEL_NAMES,
    LIFECYCLE_NAMES,
    SENTIMENT_NAMES,
    Page,
    local_time,
    name,
    pct,
    safe_url,
    source_label,
    table,
)
from dashboard.i18n import t

SORTS = {"volume": "声量", "growth": "增长", "negativity": "负面度"}


def _phrases(values: object) -> str:
    """A list (or the numpy array DuckDB gives for a list column) as 、-joined text."""
    if values is None or isinstance(values, str | float):
        return "" if not isinstance(values, str) else values
    return "、".join(str(v) for v in values)


def render(page: Page) -> None:
    st.header(t("投诉主题"))
    sort = st.radio(
        t("排序"), list(SORTS), format_func=lambda s: t(SORTS[s]), horizontal=True, key="th_sort"
    )
    ranking: pd.DataFrame = data.frame(page.db, page.stamp, "theme_ranking", page.filters, sort)
    ranking = ranking[ranking["n_docs"] > 0].reset_index(drop=True)
    if ranking.empty:
        st.info(t("还没有主题。"))
    else:
        table(
            pd.DataFrame(
                {
                    t("主题"): ranking["label"],
                    t("生命周期"): ranking["state"].map(lambda s: name(LIFECYCLE_NAMES, s)),
                    t("声量"): ranking["n_docs"],
                    t("上一周期"): ranking["n_prev"],
                    t("增长"): ranking["growth"].map(lambda g: f"{g:+.0%}"),
                    t("负面度"): ranking["negativity"].map(pct),
                    t("关键短语"): ranking["key_phrases"].map(_phrases),
                    t("首次出现"): ranking["first_seen"].astype(str),
                    t("最近出现"): ranking["last_seen"].astype(str),
                }
            )
        )
        ids = list(ranking["theme_id"])
        wanted = st.session_state.get("theme")
        if wanted not in ids:
            st.session_state["theme"] = _fallback(page, str(wanted), ids) if wanted else ids[0]
        labels = dict(zip(ranking["theme_id"], ranking["label"], strict=True))
        chosen = st.selectbox(t("查看主题"), ids, key="theme", format_func=labels.get)
        _detail(page, chosen)
    _taxonomy(page, ranking)


def _fallback(page: Page, theme_id: str, ids: list[str]) -> str:
    """The theme to show instead of a linked (or previously chosen) one that is not in the
    ranking, saying why: merged into a ranked theme (shown instead), unknown, or without
    documents in the range (the top theme is shown)."""
    detail = data.frame(page.db, page.stamp, "theme_detail", theme_id, page.filters)
    if detail is None:
        st.warning(t("所选主题不存在，下面显示排名第一的主题。"))
        return ids[0]
    theme = detail["theme"]
    if theme.get("merged_into") in ids:
        st.info(t("所选主题已并入另一个主题，下面显示合并后的主题。"))
        return str(theme["merged_into"])
    # The label is derived from customers' words: plain text only, never in the message.
    st.warning(
        t(
            "所选主题在当前范围内没有文档（最近出现于 {last_seen}），请放宽日期或筛选。",
            last_seen=str(theme.get("last_seen") or "—"),
        )
    )
    st.text(t("所选主题：{label}", label=theme["label"]))
    return ids[0]


def _detail(page: Page, theme_id: str) -> None:
    detail = data.frame(page.db, page.stamp, "theme_detail", theme_id, page.filters)
    if detail is None:
        return
    theme = detail["theme"]
    st.subheader(t("主题趋势"))
    st.text(theme["label"])
    st.caption(t("关键短语"))
    st.text(_phrases(theme.get("key_phrases")))
    daily: pd.DataFrame = detail["daily"]
    if not daily.empty:
        frame = daily.melt(
            id_vars="local_day", value_vars=["n_docs", "n_negative"], var_name="m", value_name="n"
        ).assign(
            day=lambda f: pd.to_datetime(f["local_day"]),
            metric=lambda f: f["m"].map({"n_docs": t("文档数"), "n_negative": t("负面数量")}),
        )
        st.altair_chart(
            alt.Chart(frame)
            .mark_line()
            .encode(
                x=alt.X("day:T", title=t("日期"), axis=alt.Axis(format="%m-%d")),
                y=alt.Y("n:Q", title=t("数量")),
                color=alt.Color("metric:N", title=t("指标")),
            ),
            width="stretch",
        )
    aspects: pd.DataFrame = detail["aspects"]
    if not aspects.empty:
        st.markdown(f"**{t('方面情感')}**")
        long = aspects.melt(
            id_vars="aspect",
            value_vars=["n_positive", "n_neutral", "n_negative"],
            var_name="polarity",
            value_name="n",
        ).assign(
            polarity_name=lambda f: f["polarity"].map(
                {"n_positive": t("正面"), "n_neutral": t("中性"), "n_negative": t("负面")}
            )
        )
        st.altair_chart(
            alt.Chart(long)
            .mark_bar()
            .encode(
                y=alt.Y("aspect:N", title=t("方面")),
                x=alt.X("n:Q", title=t("数量"), stack="zero"),
                color=alt.Color(
                    "polarity_name:N",
                    title=t("情感"),
                    scale=alt.Scale(
                        domain=[t("正面"), t("中性"), t("负面")],
                        range=["#2ca02c", "#bbbbbb", "#d62728"],
                    ),
                ),
            ),
            width="stretch",
        )
    verbatims: pd.DataFrame = detail["verbatims"]
    if not verbatims.empty:
        st.markdown(f"**{t('代表性原文')}**")
        table(
            pd.DataFrame(
                {
                    t("时间"): local_time(verbatims["created_at"], page.settings.timezone),
                    t("来源"): verbatims["source"].map(source_label),
                    t("渠道"): verbatims["channel"].map(lambda c: name(CHANNEL_NAMES, c)),
                    t("原文"): verbatims["text"],
                    t("情感"): verbatims["sentiment"].map(lambda s: name(SENTIMENT_NAMES, s)),
                    t("同声数"): verbatims["voice_size"],
                    t("链接"): verbatims["url"].map(safe_url),
                }
            ),
            column_config={t("链接"): st.column_config.LinkColumn(display_text="↗")},
        )


def _taxonomy(page: Page, ranking: pd.DataFrame) -> None:
    categories: pd.DataFrame = data.frame(page.db, page.stamp, "category_overview", page.filters)
    left, right = st.columns(2)
    with left:
        st.subheader(t("分类体系（预设）"))
        if categories.empty:
            st.caption(t("所选条件下没有数据。"))
        else:
            table(
                pd.DataFrame(
                    {
                        t("类别"): categories["category"],
                        t("声量"): categories["n_docs"],
                        t("负面占比"): categories["negative_share"].map(pct),
                        t("增长"): categories["growth"].map(lambda g: f"{g:+.0%}"),
                    }
                )
            )
    with right:
        st.subheader(t("发现的主题"))
        if ranking.empty:
            st.caption(t("还没有主题。"))
        else:
            top = ranking.sort_values("n_docs", ascending=False)
            table(
                pd.DataFrame(
                    {
                        t("主题"): top["label"],
                        t("声量"): top["n_docs"],
                        t("负面度"): top["negativity"].map(pct),
                        t("增长"): top["growth"].map(lambda g: f"{g:+.0%}"),
                    }
                )
            )
