"""数据源 Sources: the last run of every source (fetched, new, updated, errors), how fresh
its data is, the open source-health alerts, and per source the share of documents with a
customer key and linked to a customer (with a warning when linking silently broke)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.common import RUN_STATUS_NAMES, Page, local_time, name, pct, source_label, table
from dashboard.i18n import lang, t
from warehouse.sources import CHECK_LABELS


def _check_label(check: str) -> str:
    label = CHECK_LABELS.get(check, check)
    zh, _, en = label.partition(" ")
    return (en or zh) if lang() == "en" else zh


def health_banner(health: list[dict], tz: str) -> None:
    """Open source-health alerts: the numbers elsewhere are incomplete while they last."""
    if not health:
        return
    st.error(t("数据源异常 {n} 项：以下来源的数据可能不完整", n=len(health)))
    table(
        pd.DataFrame(
            {
                t("来源"): [source_label(a["source"]) for a in health],
                t("检查项"): [_check_label(a["check"]) for a in health],
                # Plain text only: problem messages can quote what a site returned.
                t("详情"): [a["message"] for a in health],
                t("发现时间"): local_time(pd.Series([a["raised_at"] for a in health]), tz),
            }
        )
    )


def render(page: Page) -> None:
    st.header(t("数据源状态"))
    overview = data.frame(page.db, page.stamp, "source_overview")
    tz = page.settings.timezone
    health_banner(overview["health"], tz)
    if not overview["health"]:
        st.success(t("所有数据源运行正常。"))
    sources = overview["sources"]
    if not sources:
        st.caption(t("还没有按来源记录的运行。"))
        linking(page)
        return
    frame = pd.DataFrame(sources)
    table(
        pd.DataFrame(
            {
                t("来源"): frame["source"].map(source_label),
                t("类型"): frame["kind"],
                t("状态"): frame["status"].map(lambda s: name(RUN_STATUS_NAMES, s)),
                t("抓取"): frame["fetched"],
                t("新增"): frame["new"],
                t("更新"): frame["updated"],
                t("跳过"): frame["skipped"],
                t("错误"): frame["errors"],
                t("最近运行"): local_time(frame["finished_at"], tz),
                t("最近成功"): local_time(frame["last_success_at"], tz),
                t("距今（小时）"): frame["freshness_hours"].round(1),
                t("最近错误"): frame["last_error"].fillna("—"),
            }
        )
    )
    linking(page)


def linking(page: Page) -> None:
    """Per source: the share of documents with a customer key and linked to a customer; a
    warning for a source whose keys link none, or far fewer lately than before."""
    frame: pd.DataFrame = data.frame(page.db, page.stamp, "source_linking")
    st.subheader(t("客户关联"))
    if frame.empty:
        return
    for row in frame[frame["warning"].notna()].itertuples():
        if row.warning == "none":
            st.warning(
                t(
                    "{source}：有客户标识的文档最近没有一条关联到客户（客户档案未导入或标识格式变了？）",
                    source=source_label(row.source),
                )
            )
        else:
            st.warning(
                t(
                    "{source}：最近 7 天的客户关联率 {recent}，此前 {before}，关联可能已失效",
                    source=source_label(row.source),
                    recent=pct(row.recent_rate),
                    before=pct(row.before_rate),
                )
            )
    table(
        pd.DataFrame(
            {
                t("来源"): frame["source"].map(source_label),
                t("文档数"): frame["n_docs"],
                t("有客户标识"): frame["keyed_share"].map(pct),
                t("已关联客户"): frame["linked_share"].map(pct),
                t("近 7 天关联率"): frame["recent_rate"].map(pct),
                t("此前关联率"): frame["before_rate"].map(pct),
            }
        )
    )
