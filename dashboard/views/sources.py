"""数据源 Sources: the last run of every source (fetched, new, updated, errors), how fresh
its data is, and the open source-health alerts."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.common import RUN_STATUS_NAMES, Page, local_time, name, source_label, table
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
