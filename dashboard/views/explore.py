"""检索 Explore: full-text search over the documents in Chinese (segmented the way the
documents are), with filters, sorting and paging, and export of every match to CSV, Excel
or Parquet."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.common import (
    CHANNEL_NAMES,
    SENTIMENT_NAMES,
    Page,
    local_time,
    name,
    safe_url,
    source_label,
    table,
)
from dashboard.i18n import t
from dashboard.views.case_open import open_case_form
from dashboard.views.correct import correction_form
from nlp.normalize import normalize_text
from nlp.segment import Segmenter
from warehouse.search import EXPORT_FORMATS, SORTS, export_matches, search_documents

SORT_NAMES = {
    "newest": "最新",
    "oldest": "最早",
    "most_negative": "最负面",
    "most_repeated": "重复最多",
}
MIME = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "parquet": "application/vnd.apache.parquet",
}


@st.cache_resource(show_spinner=False)
def _segmenter(
    user_dicts: tuple[Path, ...], stopwords: tuple[Path, ...], backend: str
) -> Segmenter:
    # The documents' backend: another one could cut a query word differently.
    return Segmenter(user_dicts, stopwords, backend=backend)


def render(page: Page) -> None:
    st.header(t("搜索原文"))
    query = st.text_input(t("关键词（中文分词匹配，任意顺序）"), key="q")
    categories = data.frame(page.db, page.stamp, "category_overview", page.filters)
    cols = st.columns(4)
    sentiment = cols[0].selectbox(
        t("情感"),
        [None, *SENTIMENT_NAMES],
        format_func=lambda s: t("全部") if s is None else name(SENTIMENT_NAMES, s),
        key="ex_sentiment",
    )
    category = cols[1].selectbox(
        t("类别"),
        [None, *sorted(categories["category"])] if not categories.empty else [None],
        format_func=lambda c: t("全部") if c is None else c,
        key="ex_category",
    )
    sort = cols[2].selectbox(
        t("排序"), list(SORTS), format_func=lambda s: t(SORT_NAMES[s]), key="ex_sort"
    )
    size = cols[3].selectbox(t("每页"), [20, 50, 100], key="ex_size")
    settings = page.settings
    segmenter = _segmenter(
        tuple(settings.user_dict_paths), tuple(settings.stopword_paths), settings.segmenter
    )
    text = normalize_text(query or "")
    terms = segmenter.tokens(text) if text else []
    filters = page.filters.search(sentiment, category)
    version = data.model_version(page.db, page.stamp)
    number = int(st.session_state.get("ex_page", 1))
    with data.read_only(page.db) as con:
        result = search_documents(con, text, terms, version, filters, sort, number, size)
    pages = max(1, math.ceil(result.total / size))
    if number > pages:
        st.session_state["ex_page"] = number = 1
        with data.read_only(page.db) as con:
            result = search_documents(con, text, terms, version, filters, sort, 1, size)
    if terms:
        st.caption(f"{t('搜索词')}：" + " / ".join(terms))
    st.caption(
        t(
            "共 {total} 条匹配，第 {page}/{pages} 页",
            total=f"{result.total:,}",
            page=number,
            pages=pages,
        )
    )
    rows = result.rows
    if not rows.empty:
        table(
            pd.DataFrame(
                {
                    t("时间"): local_time(rows["created_at"], settings.timezone),
                    t("来源"): rows["source"].map(source_label),
                    t("渠道"): rows["channel"].map(lambda c: name(CHANNEL_NAMES, c)),
                    t("原文"): rows["text"],
                    t("情感"): rows["sentiment"].map(lambda s: name(SENTIMENT_NAMES, s)),
                    t("正面概率"): rows["score"].round(3),
                    t("同声数"): rows["voice_size"],
                    t("客户分层"): rows["segment"].fillna("—"),
                    t("链接"): rows["url"].map(safe_url),
                }
            ),
            column_config={t("链接"): st.column_config.LinkColumn(display_text="↗")},
        )
    st.number_input(t("页码"), min_value=1, max_value=pages, step=1, key="ex_page")
    if result.total:
        st.markdown(f"**{t('导出全部匹配')}**")
        buttons = st.columns(len(EXPORT_FORMATS))
        for col, fmt in zip(buttons, EXPORT_FORMATS, strict=True):
            col.download_button(
                fmt.upper(),
                data=_exporter(page.db, text, terms, version, filters, fmt),
                file_name=f"voc-export.{fmt}",
                mime=MIME[fmt],
                key=f"ex_export_{fmt}",
            )
        correction_form(page, rows, "ex", version)
        open_case_form(page, rows, "ex", version)


def _exporter(db: str, text: str, terms: list[str], version, filters, fmt: str):
    """The export is written only when the reader clicks (deferred download data)."""

    def build() -> bytes:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / f"export.{fmt}"
            with data.read_only(db) as con:
                export_matches(con, text, terms, version, filters, fmt, out)
            return out.read_bytes()

    return build
