"""The view a reader is looking at (page, language, filters, the open alert or theme), kept
in the session and mirrored into the URL, so filters carry across pages and a copied link
opens the same view.

URL parameters: ``page``, ``lang``, ``start`` and ``end`` (YYYY-MM-DD), ``src``, ``ch``,
``prod``, ``brand``, and the customer's ``seg`` (segment), ``prov``, ``city``, ``owner``
(comma-separated lists), ``alert`` (episode id), ``theme`` (theme id), ``q`` (the Explore
search words), ``case`` (case id, on the 工单 page).
"""

from __future__ import annotations

from datetime import date

import streamlit as st

PAGES = (
    "overview",
    "alerts",
    "cases",
    "followups",
    "themes",
    "customers",
    "service",
    "explore",
    "query",
    "sources",
    "quality",
)

#: URL parameter → session-state key of the widget that owns it.
LIST_PARAMS = {
    "src": "f_sources",
    "ch": "f_channels",
    "prod": "f_products",
    "brand": "f_brands",
    "seg": "f_segments",
    "prov": "f_provinces",
    "city": "f_cities",
    "owner": "f_owners",
}
SCALAR_PARAMS = {
    "page": "nav_page",
    "lang": "lang",
    "alert": "alert",
    "theme": "theme",
    "q": "q",
    "case": "case",
}


def _parse_day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def restore_from_url() -> None:
    """Once per session: seed the widgets' state from the URL a reader opened."""
    if st.session_state.get("_restored"):
        return
    st.session_state["_restored"] = True
    params = st.query_params
    for param, key in LIST_PARAMS.items():
        if params.get(param):
            st.session_state[key] = [v for v in params[param].split(",") if v]
    for param, key in SCALAR_PARAMS.items():
        if params.get(param):
            st.session_state[key] = params[param]
    if not params.get("page"):
        # An alert link from a notification is just ?alert=<id>: open that alert.
        if params.get("alert"):
            st.session_state["nav_page"] = "alerts"
        elif params.get("theme"):
            st.session_state["nav_page"] = "themes"
        elif params.get("case"):
            st.session_state["nav_page"] = "cases"
    if params.get("alert") and not (params.get("start") and params.get("end")):
        st.session_state["url_alert_range"] = params["alert"]
    if st.session_state.get("nav_page") not in PAGES:
        st.session_state["nav_page"] = "overview"
    if st.session_state.get("lang") not in ("zh", "en"):
        st.session_state["lang"] = "zh"
    start, end = _parse_day(params.get("start")), _parse_day(params.get("end"))
    if start and end and start <= end:
        st.session_state["url_range"] = (start, end)


def range_for_alert(start: date, end: date) -> None:
    """Show a linked alert in context: its period with two weeks before and one after."""
    st.session_state["url_range"] = (
        date.fromordinal(start.toordinal() - 14),
        date.fromordinal(end.toordinal() + 7),
    )


def prepare_range(first: date, last: date) -> tuple[date, date]:
    """Seed the date-range widget (from the URL, or clamped to the data; the last 30 days
    by default) and return the complete range to use while the reader is mid-way through
    picking a new one (the widget then holds only a start day)."""
    default = (max(first, date.fromordinal(last.toordinal() - 29)), last)
    chosen = st.session_state.pop("url_range", None) or st.session_state.get("f_range")
    if chosen and len(chosen) == 1:
        return st.session_state.get("_last_range", default)
    if not chosen or len(chosen) != 2:
        chosen = default
    start, end = (min(max(d, first), last) for d in chosen)
    if start > end:
        start, end = default
    st.session_state["f_range"] = (start, end)
    return start, end


def complete_range(chosen: object, fallback: tuple[date, date]) -> tuple[date, date]:
    """The range the pages use: the widget's when complete, else `fallback`."""
    if isinstance(chosen, tuple) and len(chosen) == 2:
        st.session_state["_last_range"] = chosen
        return chosen
    return fallback


def write_to_url(start: date | None, end: date | None) -> None:
    """Mirror the current view into the address bar (only what differs from the defaults;
    the 工单 and 回访 pages have no date range)."""
    wanted: dict[str, str] = {"page": st.session_state.get("nav_page", "overview")}
    if st.session_state.get("lang", "zh") != "zh":
        wanted["lang"] = st.session_state["lang"]
    if start and end:
        wanted["start"], wanted["end"] = start.isoformat(), end.isoformat()
    for param, key in LIST_PARAMS.items():
        if st.session_state.get(key):
            wanted[param] = ",".join(st.session_state[key])
    page = wanted["page"]
    for param, key, on_page in (
        ("alert", "alert", "alerts"),
        ("theme", "theme", "themes"),
        ("case", "case", "cases"),
    ):
        if page == on_page and st.session_state.get(key):
            wanted[param] = str(st.session_state[key])
    if page == "explore" and st.session_state.get("q"):
        wanted["q"] = st.session_state["q"]
    if dict(st.query_params) != wanted:
        st.query_params.from_dict(wanted)
