"""客声 VoC Monitor dashboard v1: sentiment trend with spike markers, complaint themes,
recent negative feedback. User text is always rendered as text (dataframes / st.text)."""

from __future__ import annotations

import argparse
import sys

import altair as alt
import pandas as pd
import streamlit as st

from dashboard.data import load_alert_evidence, load_overview, stamp
from voc.settings import Settings, load_settings
from warehouse.db import WarehouseBusyError, WarehouseError
from warehouse.sources import CHECK_LABELS
from warehouse.sql_console import QueryError, run_query, schema_reference_markdown

SOURCE_NAMES = {"demo_shop": "商城评价", "demo_weibo": "微博", "demo_helpdesk": "客服工单"}
METRIC_NAMES = {"negative_volume": "负面数量", "negative_share": "负面占比"}
CHANNEL_NAMES = {"review": "评价", "social": "社交", "ticket": "工单"}
STATUS_NAMES = {"ok": "正常", "partial": "部分失败", "failed": "失败"}


def _settings() -> Settings:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--db")
    parser.add_argument("--config")
    args, _ = parser.parse_known_args(sys.argv[1:])
    return load_settings(args.config, db_path=args.db)


def _local_time(column: pd.Series, tz: str) -> pd.Series:
    return pd.to_datetime(column, utc=True).dt.tz_convert(tz).dt.strftime("%Y-%m-%d %H:%M")


def _source_label(name: str) -> str:
    return SOURCE_NAMES.get(name, name)


def _trend_chart(daily: pd.DataFrame, alerts: pd.DataFrame, metric: str) -> alt.LayerChart:
    frame = daily.assign(
        来源=daily["source"].map(_source_label), 日期=pd.to_datetime(daily["local_day"])
    )
    value = "n_negative" if metric == "negative_volume" else "negative_share"
    title = METRIC_NAMES[metric]
    lines = (
        alt.Chart(frame)
        .mark_line(strokeWidth=1.5)
        .encode(
            x=alt.X("日期:T", title="日期", axis=alt.Axis(format="%m-%d")),
            y=alt.Y(f"{value}:Q", title=title),
            color=alt.Color("来源:N", title="来源"),
            tooltip=[
                "日期:T",
                "来源:N",
                alt.Tooltip("n_docs:Q", title="文档数"),
                alt.Tooltip("n_negative:Q", title="负面数"),
                alt.Tooltip("negative_share:Q", title="负面占比", format=".1%"),
            ],
        )
    )
    marks = alerts[alerts["metric"] == metric]
    if marks.empty:
        return alt.layer(lines)
    points = frame.merge(marks[["local_day", "source", "theme_label"]], on=["local_day", "source"])
    spikes = (
        alt.Chart(points)
        .mark_point(shape="triangle-up", size=160, filled=True, color="#d62728")
        .encode(
            x="日期:T",
            y=f"{value}:Q",
            tooltip=[
                "日期:T",
                "来源:N",
                alt.Tooltip("theme_label:N", title="主题"),
                alt.Tooltip("n_negative:Q", title="负面数"),
            ],
        )
    )
    return alt.layer(lines, spikes)


def render() -> None:
    st.set_page_config(page_title="客声 VoC 舆情监测", layout="wide")
    st.title("客声 · 客户之声舆情监测")
    settings = _settings()
    db_path, tz = settings.db_path, settings.timezone
    try:
        data = load_overview(str(db_path), stamp(db_path))
    except WarehouseBusyError:
        st.info("采集任务正在写入数据仓库，请稍后刷新页面。")
        return
    except WarehouseError as exc:
        st.warning(f"暂无数据：{exc}")
        st.caption("先运行 `voc demo --no-dashboard` 或 `voc ingest --since 日期 --until 日期`。")
        return
    summary = data["summary"]
    daily: pd.DataFrame = data["daily"]
    alerts: pd.DataFrame = data["alerts"]
    if daily.empty:
        st.info("仓库里还没有已打分的文档。请先运行一次采集。")
        return

    total = int(daily["n_docs"].sum())
    negative = int(daily["n_negative"].sum())
    cols = st.columns(4)
    cols[0].metric("文档数（去重后）", f"{total:,}")
    cols[1].metric("负面占比", f"{negative / total:.1%}" if total else "—")
    cols[2].metric("负面预警", f"{len(alerts)}")
    cols[3].metric("投诉主题", f"{len(summary['themes'])}")
    days = pd.to_datetime(daily["local_day"])
    st.caption(
        f"数据区间 {days.min():%Y-%m-%d} 至 {days.max():%Y-%m-%d} · "
        f"情感模型 {summary['sentiment']['model_version']}"
    )

    _source_health_banner(summary["source_health"])

    st.subheader("每日情感趋势（按来源）")
    metric = st.radio(
        "指标",
        list(METRIC_NAMES),
        format_func=METRIC_NAMES.get,
        horizontal=True,
        key="trend_metric",
    )
    st.altair_chart(_trend_chart(daily, alerts, metric), width="stretch")

    st.subheader("负面预警")
    if alerts.empty:
        st.success("所选区间内没有负面预警。")
    else:
        table = pd.DataFrame(
            {
                "日期": alerts["local_day"].astype(str),
                "来源": alerts["source"].map(_source_label),
                "指标": alerts["metric"].map(METRIC_NAMES),
                "观测值": alerts["observed"].round(3),
                "基线期望": alerts["expected"].round(3),
                "倍数": alerts["ratio"].round(1),
                "主要主题": alerts["theme_label"].fillna("—"),
            }
        )
        st.dataframe(table, hide_index=True, width="stretch")
        options = list(range(len(alerts)))
        choice = st.selectbox(
            "查看预警原文",
            options,
            key="alert_choice",
            format_func=lambda i: (
                f"{table['日期'][i]} · {table['来源'][i]} · "
                f"{table['指标'][i]} · {table['主要主题'][i]}"
            ),
        )
        alert = alerts.iloc[choice]
        if isinstance(alert["theme_id"], str):
            st.markdown("**主题关键词**")
            st.text("、".join(alert["theme_keywords"]))
            evidence = load_alert_evidence(
                str(db_path),
                stamp(db_path),
                alert["theme_id"],
                alert["source"],
                str(alert["local_day"]),
            )
            st.dataframe(
                pd.DataFrame(
                    {
                        "时间": _local_time(evidence["created_at"], tz),
                        "原文": evidence["text"],
                        "正面概率": evidence["score"].round(3),
                        "链接": evidence["url"],
                    }
                ),
                hide_index=True,
                width="stretch",
            )

    st.subheader("主要投诉主题")
    themes: pd.DataFrame = data["themes"]
    examples: pd.DataFrame = (
        data["examples"].set_index("id") if not data["examples"].empty else data["examples"]
    )
    for _, theme in themes.iterrows():
        with st.expander(f"{theme['label']} · {theme['size']} 条"):
            st.markdown("**关键词**")
            st.text("、".join(theme["keywords"]))
            st.markdown("**代表性原文**")
            ids = [i for i in theme["example_ids"] if i in examples.index]
            st.dataframe(
                pd.DataFrame(
                    {
                        "来源": [_source_label(examples.loc[i, "source"]) for i in ids],
                        "原文": [examples.loc[i, "text"] for i in ids],
                    }
                ),
                hide_index=True,
                width="stretch",
            )

    st.subheader("最新负面反馈")
    st.caption("转发和复制粘贴的相同内容合并为一条，“同声数”为说这句话的文档数。")
    recent: pd.DataFrame = data["recent_negative"]
    st.dataframe(
        pd.DataFrame(
            {
                "时间": _local_time(recent["created_at"], tz),
                "来源": recent["source"].map(_source_label),
                "渠道": recent["channel"].map(CHANNEL_NAMES),
                "原文": recent["text"],
                # Reposts and copy-paste campaigns: one voice, said this many times.
                "同声数": recent["voice_size"],
                "正面概率": recent["score"].round(3),
                "主题": recent["theme"].fillna("—"),
            }
        ),
        hide_index=True,
        width="stretch",
    )

    _source_table(summary["sources"], tz)
    _query_console(db_path)


def _source_health_banner(health: list[dict]) -> None:
    """Open source-health alerts first: the numbers below are incomplete while they last."""
    if not health:
        return
    # Plain text only: problem messages can quote what a site returned.
    st.error(f"数据源异常 {len(health)} 项：以下来源的数据可能不完整")
    st.dataframe(
        pd.DataFrame(
            {
                "来源": [_source_label(a["source"]) for a in health],
                "检查项": [CHECK_LABELS.get(a["check"], a["check"]) for a in health],
                "详情": [a["message"] for a in health],
                "发现时间": [a["raised_at"][:16].replace("T", " ") for a in health],
            }
        ),
        hide_index=True,
        width="stretch",
    )


def _source_table(sources: list[dict], tz: str) -> None:
    st.subheader("数据源状态")
    if not sources:
        st.caption("还没有按来源记录的运行。")
        return
    frame = pd.DataFrame(sources)
    st.dataframe(
        pd.DataFrame(
            {
                "来源": frame["source"].map(_source_label),
                "类型": frame["kind"],
                "状态": frame["status"].map(STATUS_NAMES).fillna(frame["status"]),
                "抓取": frame["fetched"],
                "新增": frame["new"],
                "更新": frame["updated"],
                "跳过": frame["skipped"],
                "错误": frame["errors"],
                "最近成功": _local_time(pd.to_datetime(frame["last_success_at"], utc=True), tz),
                "最近错误": frame["last_error"].fillna("—"),
            }
        ),
        hide_index=True,
        width="stretch",
    )


def _query_console(db_path) -> None:
    """Read-only SQL for product teams over the documented views (`warehouse.sql_console`)."""
    st.subheader("查询")
    with st.expander("可查询的视图 Views"):
        st.markdown(schema_reference_markdown())
    sql = st.text_area(
        "SQL（只读，最多 1000 行，10 秒）",
        "SELECT source, count(*) AS n FROM v_documents GROUP BY source ORDER BY n DESC",
        key="query_sql",
    )
    if not st.button("运行查询", key="query_run"):
        return
    try:
        result = run_query(db_path, sql, row_limit=1000, timeout_s=10.0)
    except (QueryError, WarehouseError) as exc:
        st.error(str(exc))
        return
    st.dataframe(
        pd.DataFrame(result.rows, columns=result.columns), hide_index=True, width="stretch"
    )
    note = f"{len(result.rows)} 行，{result.seconds:.2f} 秒"
    st.caption(note + ("；只显示前 1000 行" if result.truncated else ""))


render()
