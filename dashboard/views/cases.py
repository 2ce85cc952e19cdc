"""工单 Cases: the queue with filters and SLA countdowns, bulk moves and assignment of the
selected cases, and one case's detail: its fields, voices (the store's masked excerpts),
the actions (流转, 指派, 回复客户, 备注) and the full event history.

Everything is read straight from the case store on every run (no cache, no warehouse
snapshot), so an action shows at once, also while an ingestion runs. An action carries the
version of the case the reader saw; when someone else changed the case since, the store
refuses it (`ConflictError`) and the page says so, keeping the form's text.

Titles, excerpts and notes come from customers or staff: they are shown only in tables,
`st.text` and select-box options, never in a label or Markdown (`dashboard.common`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from dashboard import case_actions, case_sla, casework
from dashboard.casework import ACTION_NAMES, CASE_STATUS_NAMES
from dashboard.common import CHANNEL_NAMES, SENTIMENT_NAMES, Page, local_time, name, table
from dashboard.i18n import t
from voc.cases import OPEN_STATUSES, PRIORITIES, TRANSITIONS, Case, CaseEvent
from warehouse.case_store import CaseFilters, CaseStore

PAGE_SIZE = 50
WHO_KEY = case_actions.WHO_KEY
ALL_STATUSES = tuple(CASE_STATUS_NAMES)


@dataclass(frozen=True)
class Queue:
    """One page of the queue: the matching total and the page's cases."""

    total: int
    cases: list[Case]


def read_queue(store: CaseStore, filters: CaseFilters, page_no: int, size: int) -> Queue:
    """What the queue shows: the count of matching cases and page `page_no` (from 1)."""
    total = store.count_cases(filters)
    cases = store.list_cases(filters, limit=size, offset=(max(page_no, 1) - 1) * size)
    return Queue(total, cases)


def read_detail(store: CaseStore, case_id: int) -> tuple[Case | None, list, list[CaseEvent]]:
    """One case with its voices and full event history."""
    case = store.get(case_id)
    if case is None:
        return None, [], []
    return case, store.voices(case_id), store.history(case_id)


def _split(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.replace("，", ",").split(",") if p.strip())


def _filters(page: Page) -> CaseFilters:
    if "cs_statuses" not in st.session_state:
        st.session_state["cs_statuses"] = list(OPEN_STATUSES)
    cols = st.columns([3, 2, 2, 2, 2])
    statuses = cols[0].multiselect(
        t("状态"),
        ALL_STATUSES,
        format_func=lambda s: name(CASE_STATUS_NAMES, s),
        key="cs_statuses",
        placeholder=t("全部"),
    )
    priorities = cols[1].multiselect(
        t("优先级"), PRIORITIES, key="cs_priorities", placeholder=t("全部")
    )
    channels = cols[2].multiselect(
        t("渠道"),
        list(CHANNEL_NAMES),
        format_func=lambda c: name(CHANNEL_NAMES, c),
        key="cs_channels",
        placeholder=t("全部"),
    )
    configured = casework.teams_of(page.settings)
    people = sorted({o for team in configured.values() for o in (team.owners or ())})
    if configured:
        teams = tuple(
            cols[3].multiselect(t("团队"), list(configured), key="cs_teams", placeholder=t("全部"))
        )
    else:
        teams = _split(cols[3].text_input(t("团队"), key="cs_teams", placeholder=t("逗号分隔")))
    if people:
        owners = tuple(
            cols[4].multiselect(t("负责人"), people, key="cs_owners", placeholder=t("全部"))
        )
    else:
        owners = _split(cols[4].text_input(t("负责人"), key="cs_owners", placeholder=t("逗号分隔")))
    mine = bool(page.user) and st.checkbox(t("只看我负责的"), key="cs_mine")
    return CaseFilters(
        statuses=tuple(statuses),
        priorities=tuple(priorities),
        teams=teams,
        owners=(page.user,) if mine else owners,
        channels=tuple(channels),
    )


def _age(opened: datetime, now: datetime) -> str:
    minutes = int((now - opened).total_seconds() // 60)
    days, rest = divmod(max(minutes, 0), 24 * 60)
    hours = rest // 60
    return t("{d} 天 {h} 小时", d=days, h=hours) if days else t("{h} 小时", h=hours)


def queue_frame(
    cases: Sequence[Case], page: Page, now: datetime, sla: dict | None = None
) -> pd.DataFrame:
    """The queue's table, with the SLA countdowns of `sla` (`case_sla.sla_of`)."""
    tz = page.settings.timezone
    return pd.DataFrame(
        {
            t("工单号"): [c.case_id for c in cases],
            t("优先级"): [c.priority for c in cases],
            t("状态"): [name(CASE_STATUS_NAMES, c.status) for c in cases],
            **case_sla.queue_columns(cases, sla or {}, tz),
            t("标题"): [c.title for c in cases],
            t("团队"): [c.team or "—" for c in cases],
            t("负责人"): [c.owner or "—" for c in cases],
            t("渠道"): [name(CHANNEL_NAMES, c.channel) for c in cases],
            t("客户分层"): [c.segment or "—" for c in cases],
            t("声音数"): [c.n_voices for c in cases],
            t("开单时间"): local_time(pd.Series([c.opened_at for c in cases]), tz),
            t("已开单"): [_age(c.opened_at, now) for c in cases],
        }
    )


def render(page: Page) -> None:
    st.header(t("工单"))
    store = casework.case_store(page)
    if store is None:
        return
    casework.show_flash()
    try:
        _render(page, store)
    except casework.UNREACHABLE as exc:
        casework.unreachable(exc)


def _render(page: Page, store: CaseStore) -> None:
    filters = _filters(page)
    casework.who_field(page, WHO_KEY)
    now = datetime.now(UTC)
    page_no = int(st.session_state.get("cs_page", 1))
    queue = read_queue(store, filters, page_no, PAGE_SIZE)
    pages = max(1, -(-queue.total // PAGE_SIZE))
    if page_no > pages:  # the filters narrowed the queue below the page the reader was on
        page_no = st.session_state["cs_page"] = pages
        queue = read_queue(store, filters, page_no, PAGE_SIZE)
    if pages > 1:
        st.number_input(t("页码"), min_value=1, max_value=pages, step=1, key="cs_page")
    cases = queue.cases
    st.caption(t("共 {n} 件工单 · 第 {p}/{pages} 页", n=f"{queue.total:,}", p=page_no, pages=pages))
    linked = casework.case_id_of(st.session_state.get("case"))
    if st.session_state.get("case") is not None and linked is None:
        st.warning(t("没有这个工单：{case}", case=st.session_state.pop("case")))
    elif linked is not None:
        st.session_state["case"] = linked  # from the URL as text
    if not cases:
        st.success(t("没有符合条件的工单。"))
        if not linked:
            return
    if cases:
        sla = case_sla.sla_of(store, cases, case_sla.sla_config(page.settings), now)
        table(queue_frame(cases, page, now, sla))
        _bulk(page, cases)
    ids = [c.case_id for c in cases]
    if linked and linked not in ids:
        ids.insert(0, linked)  # a linked case stays open even when the filters hide it
    if st.session_state.get("case") not in ids:
        st.session_state["case"] = ids[0]
    titles = {c.case_id: c.title for c in cases}
    if linked is not None and linked not in titles:
        shown = store.get(linked)
        if shown is not None:
            titles[linked] = shown.title
    chosen = st.selectbox(
        t("查看工单"),
        ids,
        key="case",
        format_func=lambda i: f"{i} · {titles[i]}" if i in titles else str(i),
    )
    _detail(page, store, chosen, now)


def _label(case_id: int, titles: dict[int, str]) -> str:
    return f"{case_id} · {titles.get(case_id, '')}"


def _bulk(page: Page, cases: Sequence[Case]) -> None:
    st.subheader(t("批量操作"))
    titles = {c.case_id: c.title for c in cases}
    seen = tuple((c.case_id, c.version) for c in cases)
    ids = list(titles)
    kept = [i for i in st.session_state.get("cs_selected", []) if i in titles]
    st.session_state["cs_selected"] = kept
    st.multiselect(
        t("选择工单"),
        ids,
        key="cs_selected",
        format_func=lambda i: _label(i, titles),
        placeholder=t("选择本页的工单"),
    )
    url = casework.store_url_of(page)
    left, right = st.columns(2)
    with left.form("cs_bulk_move"):
        st.selectbox(
            t("流转到"),
            ALL_STATUSES,
            format_func=lambda s: name(CASE_STATUS_NAMES, s),
            key="cs_bulk_to",
        )
        st.text_input(t("备注"), key="cs_bulk_note", max_chars=1000)
        st.form_submit_button(
            t("批量流转"), on_click=case_actions.bulk_move, args=(page.user, url, seen)
        )
    with right.form("cs_bulk_assign"):
        st.text_input(t("负责人"), key="cs_bulk_owner", max_chars=64)
        st.text_input(t("团队"), key="cs_bulk_team", max_chars=64)
        st.form_submit_button(
            t("批量指派"),
            on_click=case_actions.bulk_assign,
            args=(page.user, url, seen, casework.teams_of(page.settings)),
        )


def _fields(case: Case, page: Page) -> pd.DataFrame:
    tz = page.settings.timezone
    when = local_time(
        pd.Series([case.opened_at, case.updated_at, case.first_response_at, case.resolved_at]),
        tz,
    )
    severity = "；".join(f"{k}={v}" for k, v in dict(case.severity or {}).items() if v is not None)
    rows = [
        (t("状态"), name(CASE_STATUS_NAMES, case.status)),
        (t("优先级"), case.priority),
        (t("团队"), case.team or "—"),
        (t("负责人"), case.owner or "—"),
        (t("渠道"), name(CHANNEL_NAMES, case.channel)),
        (t("来源"), case.source or "—"),
        (t("客户（哈希）"), (case.customer_id or "—")[:12]),
        (t("客户分层"), case.segment or "—"),
        (t("省份"), case.province or "—"),
        (t("主题"), case.theme_label or "—"),
        (t("方面"), case.aspect or "—"),
        (t("类别"), case.category or "—"),
        (t("严重度依据"), severity or "—"),
        (t("开单时间"), when.iloc[0]),
        (t("最近更新"), when.iloc[1]),
        (t("首次响应"), when.iloc[2] if case.first_response_at else t("未响应")),
        (t("解决时间"), when.iloc[3] if case.resolved_at else "—"),
        (t("版本"), str(case.version)),
    ]
    return pd.DataFrame({t("字段"): [r[0] for r in rows], t("值"): [r[1] for r in rows]})


def _detail(page: Page, store: CaseStore, case_id: int, now: datetime) -> None:
    case, voices, events = read_detail(store, case_id)
    st.subheader(t("工单详情"))
    if case is None:
        st.warning(t("没有这个工单：{case}", case=case_id))
        return
    st.text(f"{case.case_id} · {case.title}")
    left, right = st.columns([2, 3])
    with left:
        table(_fields(case, page))
    with right:
        _actions(page, case)
    config = case_sla.sla_config(page.settings)
    status = case_sla.sla_of(store, [case], config, now)[case.case_id] if config else None
    if status is not None:
        st.markdown(f"**{t('SLA 时钟')}**")
        st.caption(
            t(
                "策略：{policy} · {basis}",
                policy=status.policy,
                basis=t("工作时间") if status.time == "business" else t("自然时间"),
            )
        )
        table(case_sla.detail_frame(status, page.settings.timezone))
    st.markdown(f"**{t('客户声音')}**")
    tz = page.settings.timezone
    table(
        pd.DataFrame(
            {
                t("时间"): local_time(pd.Series([v.created_at for v in voices]), tz),
                t("来源"): [v.source for v in voices],
                t("渠道"): [name(CHANNEL_NAMES, v.channel) for v in voices],
                t("情感"): [name(SENTIMENT_NAMES, v.sentiment) for v in voices],
                t("原文摘录"): [v.excerpt for v in voices],
                t("传播量"): [v.reach for v in voices],
                t("链接"): [v.url or "" for v in voices],
            }
        )
    )
    st.markdown(f"**{t('处理记录')}**")
    table(history_frame(events, tz))


def history_frame(events: Sequence[CaseEvent], tz: str) -> pd.DataFrame:
    """The case's event history, oldest first."""
    return pd.DataFrame(
        {
            "#": [e.seq for e in events],
            t("时间"): local_time(pd.Series([e.at for e in events]), tz),
            t("处理人"): [e.who for e in events],
            t("操作"): [name(ACTION_NAMES, e.action) for e in events],
            t("从"): [
                name(CASE_STATUS_NAMES, e.from_status) if e.from_status else "" for e in events
            ],
            t("到"): [name(CASE_STATUS_NAMES, e.to_status) if e.to_status else "" for e in events],
            t("备注"): [e.note for e in events],
        }
    )


def _actions(page: Page, case: Case) -> None:
    """The forms acting on `case`; each carries the version shown now."""
    url = casework.store_url_of(page)
    args = (page.user, url, case.case_id, case.version)
    assign_args = (*args, casework.teams_of(page.settings))
    key = case.case_id
    moves = TRANSITIONS.get(case.status, ())
    move_tab, assign_tab, reply_tab, note_tab, priority_tab = st.tabs(
        [t("流转"), t("指派"), t("回复客户"), t("备注"), t("优先级")]
    )
    with move_tab:
        if not moves:
            st.caption(t("这个状态不能再流转。"))
        else:
            with st.form(f"cs_move_{key}"):
                st.selectbox(
                    t("流转到"),
                    moves,
                    format_func=lambda s: name(CASE_STATUS_NAMES, s),
                    key=f"cs_to_{key}",
                )
                st.text_area(t("备注"), key=f"cs_move_note_{key}", max_chars=1000)
                st.form_submit_button(t("保存流转"), on_click=case_actions.move, args=args)
    with assign_tab, st.form(f"cs_assign_{key}"):
        st.text_input(t("负责人"), value=case.owner or "", key=f"cs_owner_{key}", max_chars=64)
        st.text_input(t("团队"), value=case.team or "", key=f"cs_team_{key}", max_chars=64)
        st.text_area(t("备注"), key=f"cs_assign_note_{key}", max_chars=1000)
        st.form_submit_button(t("保存指派"), on_click=case_actions.assign, args=assign_args)
    with reply_tab, st.form(f"cs_reply_{key}"):
        st.caption(t("记录一次对客户的答复（首次答复即首次响应时间）。"))
        st.text_area(t("答复内容摘要"), key=f"cs_reply_note_{key}", max_chars=1000)
        st.form_submit_button(t("记录回复"), on_click=case_actions.reply, args=args)
    with note_tab, st.form(f"cs_note_form_{key}"):
        st.text_area(t("备注"), key=f"cs_note_{key}", max_chars=1000)
        st.form_submit_button(t("添加备注"), on_click=case_actions.note, args=args)
    with priority_tab, st.form(f"cs_priority_form_{key}"):
        st.selectbox(
            t("优先级"),
            PRIORITIES,
            index=PRIORITIES.index(case.priority) if case.priority in PRIORITIES else 0,
            key=f"cs_priority_{key}",
        )
        st.text_area(t("备注"), key=f"cs_priority_note_{key}", max_chars=1000)
        st.form_submit_button(t("保存优先级"), on_click=case_actions.priority, args=args)
