"""What every page shares: the page context, display names, and safe rendering of user text.

Safety rule: text that customers wrote (and anything derived from it, such as theme labels
and key phrases) is shown only through `st.dataframe`, `st.text` and select-box options,
which Streamlit renders as plain text; never as Markdown or HTML, and never in a label
(Streamlit renders Markdown in widget, expander and metric labels and in radio options).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard.i18n import lang, t
from voc.settings import Settings
from warehouse.page_filters import Filters

#: Friendly names of the demo sources; other sources show their configured name.
SOURCE_NAMES = {
    "demo_shop": ("商城评价", "Shop reviews"),
    "demo_weibo": ("微博", "Weibo"),
    "demo_helpdesk": ("客服工单", "Helpdesk tickets"),
    "demo_survey": ("满意度问卷", "Satisfaction survey"),
}
CHANNEL_NAMES = {
    "review": ("评价", "Reviews"),
    "social": ("社交", "Social"),
    "ticket": ("工单", "Tickets"),
    "survey": ("问卷", "Surveys"),
}
SENTIMENT_NAMES = {
    "negative": ("负面", "Negative"),
    "neutral": ("中性", "Neutral"),
    "positive": ("正面", "Positive"),
}
KIND_NAMES = {
    "source": ("来源", "Source"),
    "product": ("商品", "Product"),
    "category": ("类别", "Category"),
    "theme": ("主题", "Theme"),
    "aspect": ("方面", "Aspect"),
    "segment": ("客户分层", "Customer segment"),
    "segment_category": ("客户分层 × 类别", "Segment × category"),
    "segment_aspect": ("客户分层 × 方面", "Segment × aspect"),
}
METRIC_NAMES = {
    "negative_volume": ("负面数量", "Negative volume"),
    "negative_share": ("负面占比", "Negative share"),
    "n_docs": ("文档数", "Documents"),
    "n_negative": ("负面数量", "Negative volume"),
}
SEVERITY_NAMES = {
    "critical": ("严重", "Critical"),
    "warning": ("警告", "Warning"),
    "info": ("提示", "Info"),
}
STATUS_NAMES = {
    "new": ("新", "New"),
    "acknowledged": ("已确认", "Acknowledged"),
    "resolved": ("已解决", "Resolved"),
}
RUN_STATUS_NAMES = {
    "ok": ("正常", "OK"),
    "partial": ("部分失败", "Partly failed"),
    "failed": ("失败", "Failed"),
}
LIFECYCLE_NAMES = {
    "new": ("新出现", "New"),
    "growing": ("增长中", "Growing"),
    "recurring": ("反复出现", "Recurring"),
    "fading": ("减弱", "Fading"),
    "resolved": ("已平息", "Resolved"),
}


@dataclass(frozen=True)
class Page:
    """What a page needs: where the warehouse is, the settings, the reader's filters, the
    snapshot stamp (cache key) and who is signed in (None without login)."""

    db_path: Path
    settings: Settings
    filters: Filters
    stamp: float
    user: str | None

    @property
    def db(self) -> str:
        return str(self.db_path)


def name(table: dict[str, tuple[str, str]], key: object) -> str:
    """Display name of a code in the reader's language (the code itself if unknown)."""
    if not isinstance(key, str):
        return "—"
    pair = table.get(key)
    if pair is None:
        return key
    return pair[1] if lang() == "en" else pair[0]


def source_label(source: str) -> str:
    return name(SOURCE_NAMES, source)


def local_time(column: pd.Series, tz: str, fmt: str = "%Y-%m-%d %H:%M") -> pd.Series:
    """Instants as local wall-clock text."""
    stamps = pd.to_datetime(column, utc=True)
    return stamps.dt.tz_convert(tz).dt.strftime(fmt).fillna("—")


def safe_url(url: object) -> str | None:
    """A link only when it is plain http(s): a ``javascript:`` or ``data:`` URL from a
    scraped page is never made clickable."""
    if isinstance(url, str) and url.lower().startswith(("http://", "https://")):
        return url
    return None


def table(frame: pd.DataFrame, **kwargs) -> None:
    """A data frame shown as a table (cells are always plain text)."""
    st.dataframe(frame, hide_index=True, width="stretch", **kwargs)


def pct(value: float | None) -> str:
    return "—" if value is None or pd.isna(value) else f"{value:.1%}"


#: The customer filters of the filter bar: options key, session key, label.
CUSTOMER_FILTERS = (
    ("segments", "f_segments", "客户分层"),
    ("provinces", "f_provinces", "省份"),
    ("cities", "f_cities", "城市"),
    ("owners", "f_owners", "客户经理"),
)


def keep_known(key: str, known: list[str]) -> None:
    """Drop values (from an old link) that the data no longer has."""
    if key in st.session_state:
        st.session_state[key] = [v for v in st.session_state[key] if v in known]


def customer_filters(options: dict) -> dict[str, tuple[str, ...]]:
    """The filter bar's customer filters (segment, province, city, owner of the voice's
    customer on its day), shown when some documents are linked; Filters fields → values."""
    chosen: dict[str, tuple[str, ...]] = {}
    for field, key, label in CUSTOMER_FILTERS:
        values = options.get(field) or []
        keep_known(key, values)
        if values:
            st.multiselect(t(label), values, key=key, placeholder=t("全部"))
        chosen[field] = tuple(st.session_state.get(key) or ())
    return chosen
