"""客声 VoC Monitor dashboard: nine pages (总览, 预警, 主题, 客户, 成效, 检索, 查询, 数据源, 质量)
over the newest published snapshot of the warehouse, and the 工单 and 回访 pages over the
case store (read directly, so they work while an ingestion runs or before the first one),
Chinese first with an English switch.

The page, the language and the filters live in the URL (`dashboard.state`), so they carry
across pages and a copied link opens the same view. Customer text is always rendered as
text (`dashboard.common`).
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

import streamlit as st

from dashboard import auth, data, state
from dashboard.common import CHANNEL_NAMES, Page, customer_filters, name, source_label
from dashboard.i18n import LANGS, t
from dashboard.views import (
    alerts,
    cases,
    customers,
    explore,
    followups,
    overview,
    quality,
    query,
    service,
    sources,
    themes,
)
from voc.settings import Settings, load_settings
from warehouse.db import WarehouseBusyError, WarehouseError
from warehouse.page_filters import Filters

VIEWS = {
    "overview": ("总览", overview.render),
    "alerts": ("预警", alerts.render),
    "cases": ("工单", cases.render),
    "followups": ("回访", followups.render),
    "themes": ("主题", themes.render),
    "customers": ("客户", customers.render),
    "service": ("成效", service.render),
    "explore": ("检索", explore.render),
    "query": ("查询", query.render),
    "sources": ("数据源", sources.render),
    "quality": ("质量", quality.render),
}
#: Pages over the case store, which need neither the warehouse's filters nor its data.
STORE_PAGES = frozenset({"cases", "followups"})


def _settings() -> Settings:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--db")
    parser.add_argument("--config")
    args, _ = parser.parse_known_args(sys.argv[1:])
    return load_settings(args.config, db_path=args.db)


def _sidebar_frame() -> None:
    with st.sidebar:
        st.radio(t("语言"), list(LANGS), format_func=LANGS.get, horizontal=True, key="lang")
        st.radio(t("页面"), list(VIEWS), format_func=lambda p: t(VIEWS[p][0]), key="nav_page")


def _filters(options: dict) -> Filters:
    """The sidebar filters, seeded from the URL; they apply to every page."""
    first, last = options["first_day"], options["last_day"]
    fallback = state.prepare_range(first, last)
    with st.sidebar:
        st.subheader(t("筛选"))
        chosen = st.date_input(t("日期范围"), min_value=first, max_value=last, key="f_range")
        start, end = state.complete_range(chosen, fallback)
        source_names = [s["source"] for s in options["sources"]]
        _keep_known("f_sources", source_names)
        _keep_known("f_channels", options["channels"])
        _keep_known("f_products", options["products"])
        _keep_known("f_brands", options["brands"])
        st.multiselect(
            t("来源"),
            source_names,
            format_func=source_label,
            key="f_sources",
            placeholder=t("全部"),
        )
        st.multiselect(
            t("渠道"),
            options["channels"],
            format_func=lambda c: name(CHANNEL_NAMES, c),
            key="f_channels",
            placeholder=t("全部"),
        )
        if options["products"]:
            st.multiselect(t("商品"), options["products"], key="f_products", placeholder=t("全部"))
        if options["brands"]:
            st.multiselect(t("品牌"), options["brands"], key="f_brands", placeholder=t("全部"))
        customers = customer_filters(options)
        st.caption(t("复制浏览器地址即可分享当前视图（页面和筛选都在链接里）。"))
    state.write_to_url(start, end)
    return Filters(
        start=start,
        end=end,
        sources=tuple(st.session_state.get("f_sources") or ()),
        channels=tuple(st.session_state.get("f_channels") or ()),
        products=tuple(st.session_state.get("f_products") or ()),
        brands=tuple(st.session_state.get("f_brands") or ()),
        **customers,
    )


def _keep_known(key: str, known: list[str]) -> None:
    """Drop values (from an old link) that the data no longer has."""
    if key in st.session_state:
        st.session_state[key] = [v for v in st.session_state[key] if v in known]


def render() -> None:
    st.set_page_config(page_title="客声 VoC 舆情监测", layout="wide")
    state.restore_from_url()
    user = auth.require_login()
    _sidebar_frame()
    st.title(t("客声 · 客户之声舆情监测"))
    settings = _settings()
    db_path = settings.db_path
    data.use_shared_warehouse(db_path, settings.shared_parquet_dir)
    stamp = data.stamp(db_path)
    if st.session_state["nav_page"] in STORE_PAGES:
        # The case store is not the warehouse: these pages never wait for an ingestion.
        state.write_to_url(None, None)
        VIEWS[st.session_state["nav_page"]][1](Page(db_path, settings, Filters(), stamp, user))
        return
    try:
        options = data.frame(str(db_path), stamp, "filter_options")
    except WarehouseBusyError:
        st.info(t("采集任务正在写入数据仓库，请稍后刷新页面。"))
        return
    except WarehouseError as exc:
        st.warning(t("暂无数据：{error}", error=exc))
        st.caption(t("先运行 `voc demo --no-dashboard` 或 `voc ingest`。"))
        return
    if options["first_day"] is None:
        st.info(t("仓库里还没有已打分的文档。请先运行一次采集。"))
        return
    linked = st.session_state.pop("url_alert_range", None)
    if linked:
        detail = data.frame(str(db_path), stamp, "alert_detail", linked)
        if detail is not None:
            state.range_for_alert(detail["start_period"].date(), detail["end_period"].date())
    filters = _filters(options)
    page = Page(db_path, settings, filters, stamp, user)
    st.caption(
        t(
            "数据更新于 {stamp} · 情感模型 {model}",
            stamp=datetime.fromtimestamp(stamp).strftime("%Y-%m-%d %H:%M"),
            model=data.model_version(page.db, stamp) or "—",
        )
    )
    VIEWS[st.session_state["nav_page"]][1](page)


render()
