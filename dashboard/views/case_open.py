"""开工单 by hand: a form under a page's verbatims (Explore) that opens a case for one of
them — merged into an open case of the same customer and theme, or of its near-duplicate
group, as the rules would (`warehouse.case_candidates.manual_opening`) — with the reader's
name on the ``open`` event, and a button to the case on the 工单 page."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from dashboard import casework, data
from dashboard.common import SENTIMENT_NAMES, Page, name
from dashboard.i18n import t
from voc.case_rules import rules_config
from warehouse.case_candidates import manual_opening


def open_case_form(page: Page, docs: pd.DataFrame, key: str, model_version: str | None) -> None:
    """A form to open a case for one of `docs` (columns id, text, sentiment)."""
    # Sorted: a select box keeps the chosen position, so options in a stable order keep the
    # chosen verbatim when a rerun returns the page's rows in another order (equal ranks).
    docs = docs.drop_duplicates("id").sort_values("id").reset_index(drop=True)
    if docs.empty:
        return
    done = st.session_state.pop(f"{key}_case_done", None)
    if done is not None:
        message, case_id = done
        st.success(message)
        st.button(t("去处理这个工单"), key=f"{key}_goto_case", on_click=_goto, args=(case_id,))
    texts = dict(zip(docs["id"], docs["text"], strict=True))
    said = dict(zip(docs["id"], docs["sentiment"], strict=True))
    with st.expander(t("开工单")), st.form(f"open_case_{key}"):
        doc_id = st.selectbox(
            t("选择原文"),
            list(docs["id"]),
            key=f"{key}_case_doc",
            # The id's tail tells apart reposts of the same words.
            format_func=lambda i: (
                f"[{name(SENTIMENT_NAMES, said[i])}] {_short(texts[i])} · {str(i)[-8:]}"
            ),
        )
        who = page.user or st.text_input(t("处理人"), key=f"{key}_case_who", max_chars=64)
        submitted = st.form_submit_button(t("为这条原文开工单"))
    if submitted:
        _open(page, doc_id, (who or "").strip(), model_version, key)


def _open(page: Page, doc_id: str, who: str, model_version: str | None, key: str) -> None:
    if not who:
        st.error(t("请填写处理人。"))
        return
    store = casework.case_store(page)
    if store is None:
        return
    try:
        known = store.case_of_doc(doc_id)
        if known is not None:
            st.info(t("这条原文已在工单 {case} 里。", case=known))
            st.button(t("去处理这个工单"), key=f"{key}_goto_known", on_click=_goto, args=(known,))
            return
        cases = getattr(page.settings, "cases", None)
        rules = rules_config(cases)
        with data.read_only(page.db) as con:
            opening = manual_opening(con, doc_id, rules, model_version)
        if opening is None:
            st.warning(t("这条原文还没有打分，暂时不能开工单。"))
            return
        result = store.open_cases([opening], datetime.now(UTC), rules.merge_days, who=who)
        case_id = store.case_of_doc(doc_id)
    except casework.UNREACHABLE as exc:
        casework.unreachable(exc)
        return
    message = (
        t("已并入工单 {case}（同一客户同一主题，或同一组转发）。", case=case_id)
        if result.n_merged
        else t("已开工单 {case}。", case=case_id)
    )
    st.session_state[f"{key}_case_done"] = (message, case_id)
    st.rerun()


def _goto(case_id: int) -> None:
    st.session_state["nav_page"] = "cases"
    st.session_state["case"] = case_id


def _short(text: str, width: int = 60) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
