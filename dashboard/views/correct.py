"""Marking a verbatim's sentiment as wrong: one form shared by the Explore and Quality
pages, and a form to withdraw a correction made by mistake. Corrections go to the actions
store beside the warehouse (never into the snapshot the page reads) and
`voc sentiment train --corrections` learns from the standing ones."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.common import SENTIMENT_NAMES, Page, name
from dashboard.i18n import t
from warehouse import corrections
from warehouse.action_store import ActionError


def correction_form(page: Page, docs: pd.DataFrame, key: str, model_version: str | None) -> None:
    """A form to correct the sentiment of one of `docs` (columns id, text, sentiment)."""
    docs = docs.dropna(subset=["sentiment"]).drop_duplicates("id").reset_index(drop=True)
    if docs.empty:
        return
    texts = dict(zip(docs["id"], docs["text"], strict=True))
    said = dict(zip(docs["id"], docs["sentiment"], strict=True))
    with st.expander(t("标记情感错误")), st.form(f"correct_{key}"):
        doc_id = st.selectbox(
            t("选择原文"),
            list(docs["id"]),
            key=f"{key}_doc",
            format_func=lambda i: f"[{name(SENTIMENT_NAMES, said[i])}] {_short(texts[i])}",
        )
        label = st.radio(
            t("正确的情感"),
            list(corrections.SENTIMENT_LABELS),
            format_func=lambda s: name(SENTIMENT_NAMES, s),
            horizontal=True,
            key=f"{key}_label",
        )
        who = page.user or st.text_input(t("处理人"), key=f"{key}_who", max_chars=64)
        note = st.text_input(t("备注"), key=f"{key}_note", max_chars=1000)
        submitted = st.form_submit_button(t("保存更正"))
    if not submitted:
        return
    try:
        corrections.add_correction(
            page.db_path,
            doc_id,
            texts[doc_id],
            model_version or "",
            said[doc_id],
            label,
            who or "",
            note,
        )
    except ActionError as exc:
        st.error(t("保存失败：{error}", error=exc))
    else:
        st.success(t("更正已保存，下次 `voc sentiment train --corrections` 会用到。"))


def withdraw_form(page: Page, items: list[corrections.Correction], key: str) -> None:
    """A form to withdraw one of the standing corrections `items`.

    A withdrawal reruns the page, so the list above shows it gone; the confirmation is
    carried over the rerun.
    """
    done = st.session_state.pop(f"{key}_done", None)
    if done:
        st.success(done)
    if not items:
        return
    by_doc = {c.doc_id: c for c in items}
    with st.expander(t("撤回更正")), st.form(f"withdraw_{key}"):
        doc_id = st.selectbox(
            t("选择更正"),
            list(reversed(by_doc)),  # newest first
            key=f"{key}_wdoc",
            format_func=lambda i: (
                f"[{name(SENTIMENT_NAMES, by_doc[i].predicted_label)} → "
                f"{name(SENTIMENT_NAMES, by_doc[i].corrected_label)}] {_short(by_doc[i].text)}"
            ),
        )
        who = page.user or st.text_input(t("处理人"), key=f"{key}_wwho", max_chars=64)
        note = st.text_input(t("备注"), key=f"{key}_wnote", max_chars=1000)
        submitted = st.form_submit_button(t("撤回"))
    if not submitted:
        return
    try:
        corrections.withdraw_correction(page.db_path, doc_id, who or "", note)
    except ActionError as exc:
        st.error(t("保存失败：{error}", error=exc))
    else:
        st.session_state[f"{key}_done"] = t("更正已撤回，训练不再使用它；模型的判断恢复有效。")
        st.rerun()


def _short(text: str, width: int = 60) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
