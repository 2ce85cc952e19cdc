"""质量 Quality: the sentiment model's version and its metrics on the labelled gold sets, a
confusion matrix, the share of low-confidence predictions over time (drift), and a way to
mark a verbatim's sentiment as wrong."""

from __future__ import annotations

from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.common import SENTIMENT_NAMES, Page, local_time, name, source_label, table
from dashboard.i18n import t
from dashboard.views.correct import correction_form, withdraw_form
from nlp.model_report import ModelReportError, model_report
from warehouse import corrections, pages


@st.cache_data(ttl=3600, show_spinner="正在计算金标准评测 / computing gold-set metrics…")
def _report(model_dir: str | None, int8: bool, runtime: str) -> dict:
    # Recomputes the confusion matrix training did not store (a few seconds, then cached).
    from nlp.training.train_sentiment import recompute_test_confusion

    return model_report(
        None if model_dir is None else Path(model_dir),
        int8=int8,
        runtime=runtime,
        recompute=recompute_test_confusion,
    )


def _model(page: Page) -> None:
    st.subheader(t("情感模型"))
    model_dir = page.settings.sentiment_model_dir
    try:
        report = _report(
            None if model_dir is None else str(model_dir),
            page.settings.sentiment_int8,
            page.settings.sentiment_runtime,
        )
    except (OSError, ValueError, ModelReportError) as exc:
        st.warning(t("金标准评测不可用：{error}", error=exc))
        return
    st.metric(t("模型版本"), report["version"])
    st.markdown(f"**{t('金标准评测')}**")
    gold_sets = report["gold_sets"]
    table(
        pd.DataFrame(
            {
                t("名称"): [g["name"] for g in gold_sets],
                t("详情"): [g["description"] for g in gold_sets],
                t("样本数"): [g["n"] for g in gold_sets],
                t("准确率"): [round(g["accuracy"], 4) for g in gold_sets],
                t("宏平均 F1"): [
                    None if g["macro_f1"] is None else round(g["macro_f1"], 4) for g in gold_sets
                ],
            }
        )
    )
    with_matrix = [g for g in gold_sets if g.get("confusion_matrix")]
    if not with_matrix:
        return
    names = [g["name"] for g in with_matrix]
    chosen = st.selectbox(t("混淆矩阵（行：真实，列：预测）"), names, key="q_gold")
    matrix = next(g for g in with_matrix if g["name"] == chosen)["confusion_matrix"]
    labels = [name(SENTIMENT_NAMES, x) for x in matrix["labels"]]
    grid = pd.DataFrame(matrix["matrix"], columns=labels)
    grid.insert(0, t("真实 / 预测"), labels)
    table(grid)
    st.caption(next(g for g in with_matrix if g["name"] == chosen)["source"])


def _drift(page: Page) -> None:
    st.subheader(t("低置信度预测占比（漂移）"))
    daily = data.frame(page.db, page.stamp, "low_confidence_by_day", page.filters)
    if daily.empty:
        st.caption(t("所选条件下没有数据。"))
        return
    frame = daily.assign(day=pd.to_datetime(daily["local_day"]))
    st.altair_chart(
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(
            x=alt.X("day:T", title=t("日期"), axis=alt.Axis(format="%m-%d")),
            y=alt.Y("share:Q", title=t("低置信度占比"), axis=alt.Axis(format="%")),
            tooltip=[
                alt.Tooltip("day:T", title=t("日期")),
                alt.Tooltip("n_docs:Q", title=t("文档数")),
                alt.Tooltip("share:Q", title=t("低置信度占比"), format=".1%"),
            ],
        ),
        width="stretch",
    )
    st.caption(f"|P(positive) − 0.5| < {pages.LOW_CONFIDENCE_MARGIN}")


def _corrections(page: Page) -> None:
    st.subheader(t("标记情感错误"))
    version = data.model_version(page.db, page.stamp)
    recent = data.frame(page.db, page.stamp, "low_confidence_texts", page.filters)
    if not recent.empty:
        st.markdown(f"**{t('最近低置信度原文')}**")
        table(
            pd.DataFrame(
                {
                    t("时间"): local_time(recent["created_at"], page.settings.timezone),
                    t("来源"): recent["source"].map(source_label),
                    t("原文"): recent["text"],
                    t("情感"): recent["sentiment"].map(lambda s: name(SENTIMENT_NAMES, s)),
                    t("正面概率"): recent["score"].round(3),
                }
            )
        )
        correction_form(page, recent, "qc", version)
    items = corrections.corrections(page.db_path)
    st.markdown(f"**{t('已有更正')}**")
    if not items:
        st.caption(t("还没有更正。"))
    else:
        table(
            pd.DataFrame(
                {
                    t("时间"): local_time(pd.Series([c.at for c in items]), page.settings.timezone),
                    t("原文"): [c.text for c in items],
                    t("模型判断"): [name(SENTIMENT_NAMES, c.predicted_label) for c in items],
                    t("更正为"): [name(SENTIMENT_NAMES, c.corrected_label) for c in items],
                    t("处理人"): [c.who for c in items],
                    t("备注"): [c.note for c in items],
                }
            )
        )
    withdraw_form(page, items, "qw")


def render(page: Page) -> None:
    st.header(t("质量"))
    _model(page)
    _drift(page)
    _corrections(page)
