"""回访 Follow-ups: the day's list per owner (planned 回访 due that day or overdue), the
customer's history on one page (past voices and survey answers from the warehouse
snapshot, their cases and earlier 回访 from the store) and the outcome form: reached or
not, satisfaction 1–5, notes, and whether a second 回访 is needed (which schedules it).

Like the 工单 page it reads the store directly on every run, so a recorded outcome shows at
once; customer text appears only in tables and `st.text`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from dashboard import casework, data
from dashboard.casework import CASE_STATUS_NAMES, FOLLOWUP_REASON_NAMES, FOLLOWUP_STATUS_NAMES
from dashboard.common import CHANNEL_NAMES, SENTIMENT_NAMES, Page, local_time, name, table
from dashboard.i18n import t
from dashboard.views.recovery import render_recovery
from voc.cases import Case, Followup
from voc.followup_config import FollowupsConfig
from voc.settings import Settings
from warehouse.case_store import CaseFilters, CaseStore
from warehouse.db import WarehouseError
from warehouse.followup_store import FollowupStore
from warehouse.followup_views import todays_list

WHO_KEY = "fu_who"
ALL = "__all__"
#: Cases of one customer shown at most.
CUSTOMER_CASES = 50


def today(page: Page) -> date:
    """Today in the settings' timezone (a 回访 is due on a local day)."""
    return datetime.now(ZoneInfo(page.settings.timezone)).date()


def followup_rules(settings: Settings) -> FollowupsConfig | None:
    """The ``[cases.followups]`` rules once parsed (None: the store's defaults)."""
    rules = getattr(getattr(settings, "cases", None), "followups", None)
    return rules if isinstance(rules, FollowupsConfig) else None


def followup_store(engine, page: Page) -> FollowupStore:
    """The 回访 store on `engine`, with the configured rules (for a second 回访's day)."""
    rules = followup_rules(page.settings)
    return FollowupStore(engine, rules=rules, timezone=page.settings.timezone)


def render(page: Page) -> None:
    st.header(t("回访"))
    engine = casework.engine_of(page)
    if engine is None:
        return
    casework.show_flash()
    store, cases = followup_store(engine, page), CaseStore(engine)
    try:
        _render(page, store, cases)
        render_recovery(page, store, cases)
    except casework.UNREACHABLE as exc:
        casework.unreachable(exc)


def _render(page: Page, store: FollowupStore, cases: CaseStore) -> None:
    left, right = st.columns(2)
    day = left.date_input(t("回访日期"), value=today(page), key="fu_day")
    daily = todays_list(store, cases, day)
    everyone = daily.followups
    owners = sorted({f.owner for f in everyone if f.owner})
    if "fu_owner" not in st.session_state:
        # An owner's daily 回访 message links ?page=followups&owner=<name> (the URL's owner
        # list); else a signed-in owner sees their own list first.
        linked = list(st.session_state.get("f_owners") or [])
        wanted = linked[0] if len(linked) == 1 else page.user
        if wanted in owners:
            st.session_state["fu_owner"] = wanted
    if st.session_state.get("fu_owner") not in (ALL, *owners):
        st.session_state["fu_owner"] = ALL
    owner = right.selectbox(
        t("回访人"),
        [ALL, *owners],
        format_func=lambda o: t("全部") if o == ALL else o,
        key="fu_owner",
    )
    due = everyone if owner == ALL else [f for f in everyone if f.owner == owner]
    st.caption(t("今日待回访 {n} 位（含逾期）", n=len(due)))
    if not due:
        st.success(t("这一天没有待回访的客户。"))
        return
    table(due_frame(due, day, daily.cases))
    ids = [f.followup_id for f in due]
    if st.session_state.get("followup") not in ids:
        st.session_state["followup"] = ids[0]
    by_id = {f.followup_id: f for f in due}
    chosen = st.selectbox(
        t("回访对象"),
        ids,
        key="followup",
        format_func=lambda i: _label(by_id[i]),
    )
    followup = by_id[chosen]
    _customer(page, store, cases, followup)
    _outcome_form(page, followup)


def _label(f: Followup) -> str:
    who = (f.customer_id or "—")[:12]
    return f"{f.due_on:%m-%d} · {name(FOLLOWUP_REASON_NAMES, f.reason)} · {who}"


def due_frame(due: Sequence[Followup], day: date, cases: dict[int, Case]) -> pd.DataFrame:
    """The day's list as a table, overdue ones marked, with their cases' title and priority."""
    of = [cases.get(f.case_id) if f.case_id else None for f in due]
    return pd.DataFrame(
        {
            t("应回访日"): [f.due_on.isoformat() for f in due],
            t("逾期天数"): [max((day - f.due_on).days, 0) for f in due],
            t("原因"): [name(FOLLOWUP_REASON_NAMES, f.reason) for f in due],
            t("客户（哈希）"): [(f.customer_id or "—")[:12] for f in due],
            t("工单号"): [str(f.case_id) if f.case_id else "—" for f in due],
            t("优先级"): [c.priority if c else "—" for c in of],
            t("标题"): [c.title if c else "" for c in of],
            t("回访人"): [f.owner or "—" for f in due],
            t("团队"): [f.team or "—" for f in due],
        }
    )


def _customer(page: Page, store: FollowupStore, cases: CaseStore, f: Followup) -> None:
    st.subheader(t("客户档案"))
    tz = page.settings.timezone
    past = customer_followups(store, f.customer_id) if f.customer_id else []
    if not f.customer_id:
        st.caption(t("这条回访没有关联客户。"))
    else:
        _warehouse_history(page, f.customer_id)
        mine = customer_cases(cases, f.customer_id)
        st.markdown(f"**{t('客户的工单')}**")
        if mine:
            table(
                pd.DataFrame(
                    {
                        t("工单号"): [c.case_id for c in mine],
                        t("状态"): [name(CASE_STATUS_NAMES, c.status) for c in mine],
                        t("优先级"): [c.priority for c in mine],
                        t("标题"): [c.title for c in mine],
                        t("开单时间"): local_time(pd.Series([c.opened_at for c in mine]), tz),
                    }
                )
            )
        else:
            st.caption(t("没有工单。"))
    if past:
        st.markdown(f"**{t('历次回访')}**")
        table(_past_frame(past))


def customer_followups(store: FollowupStore, customer_id: str) -> list[tuple[Followup, Any]]:
    """The customer's 回访, newest due first, each with its outcome (None while planned)."""
    items = store.list_followups(customer_ids=(customer_id,), limit=200)
    outcomes = {
        f.followup_id: o for f, o in store.outcomes(followup_ids=[i.followup_id for i in items])
    }
    return [(f, outcomes.get(f.followup_id)) for f in items]


def customer_cases(cases: CaseStore, customer_id: str) -> list[Case]:
    """The customer's cases (at most `CUSTOMER_CASES`)."""
    return cases.list_cases(
        CaseFilters(customer_ids=(customer_id,)), limit=CUSTOMER_CASES, offset=0
    )


def _warehouse_history(page: Page, customer_id: str) -> None:
    """Past voices and survey answers, from the warehouse snapshot (when there is one)."""
    try:
        line = data.frame(page.db, data.stamp(page.db_path), "customer_timeline", customer_id)
    except WarehouseError as exc:
        st.caption(t("数据仓库暂不可读：{error}", error=exc))
        return
    if line is None:
        st.caption(t("数据仓库里没有这位客户的声音。"))
        return
    tz = page.settings.timezone
    customer = line["customer"] or {}
    st.text(
        " · ".join(str(customer.get(k) or "—") for k in ("segment", "province", "city", "owner"))
    )
    voices: pd.DataFrame = line["voices"]
    st.markdown(f"**{t('过往声音')}**")
    table(
        pd.DataFrame(
            {
                t("时间"): local_time(voices["created_at"], tz),
                t("渠道"): voices["channel"].map(lambda c: name(CHANNEL_NAMES, c)),
                t("情感"): voices["sentiment"].map(lambda s: name(SENTIMENT_NAMES, s)),
                t("原文"): voices["text"],
            }
        )
    )
    responses: pd.DataFrame = line["responses"]
    if not responses.empty:
        st.markdown(f"**{t('满意度调查回答')}**")
        table(
            pd.DataFrame(
                {
                    t("时间"): local_time(responses["submitted_at"], tz),
                    "NPS": responses["nps"],
                    "CSAT": responses["csat"],
                }
            )
        )


def _past_frame(past: Sequence) -> pd.DataFrame:
    """Earlier 回访 of the customer with their outcome (when recorded)."""
    rows = []
    for f, outcome in past:
        rows.append(
            {
                t("应回访日"): f.due_on.isoformat(),
                t("原因"): name(FOLLOWUP_REASON_NAMES, f.reason),
                t("状态"): name(FOLLOWUP_STATUS_NAMES, f.status),
                t("联系上"): "—" if outcome is None else (t("是") if outcome.reached else t("否")),
                t("满意度"): "—"
                if outcome is None or outcome.satisfaction is None
                else str(outcome.satisfaction),
                t("备注"): "" if outcome is None else outcome.note,
                t("回访人"): "" if outcome is None else outcome.who,
            }
        )
    return pd.DataFrame(rows)


SATISFACTION = (0, 1, 2, 3, 4, 5)


def _outcome_form(page: Page, f: Followup) -> None:
    st.subheader(t("记录回访结果"))
    key = f.followup_id
    casework.who_field(page, WHO_KEY)
    with st.form(f"fu_form_{key}"):
        st.radio(
            t("是否联系上"),
            (True, False),
            format_func=lambda r: t("联系上") if r else t("未联系上"),
            horizontal=True,
            key=f"fu_reached_{key}",
        )
        st.select_slider(t("满意度（1–5，0 = 未评）"), SATISFACTION, value=0, key=f"fu_sat_{key}")
        st.text_area(t("备注"), key=f"fu_note_{key}", max_chars=1000)
        st.checkbox(t("需要二次回访"), key=f"fu_second_{key}")
        st.form_submit_button(
            t("保存回访结果"),
            on_click=_record,
            args=(
                page.user,
                casework.store_url_of(page),
                key,
                followup_rules(page.settings),
                page.settings.timezone,
            ),
        )


def _record(user: str | None, url: str, followup_id: str, rules: Any, tz: str) -> None:
    who = casework.acting(user, WHO_KEY)
    if not who:
        casework.flash("error", t("请填写处理人。"))
        return
    score = int(st.session_state.get(f"fu_sat_{followup_id}") or 0)
    store = FollowupStore(casework._engine(url), rules=rules, timezone=tz)
    saved = casework.run_action(
        lambda: store.record_outcome(
            followup_id,
            who=who,
            reached=bool(st.session_state.get(f"fu_reached_{followup_id}")),
            satisfaction=score or None,
            note=st.session_state.get(f"fu_note_{followup_id}", ""),
            needs_second=bool(st.session_state.get(f"fu_second_{followup_id}")),
        ),
        t("回访结果已保存。"),
    )
    if saved is not None:
        st.session_state.pop("followup", None)
    else:
        casework.keep(st.session_state.get(f"fu_note_{followup_id}", ""))
