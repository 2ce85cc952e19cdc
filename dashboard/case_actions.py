"""What the 工单 page's forms do (Streamlit callbacks, run before the page's next run, so
the page then draws the store as the action left it): one action on a case with the
version the reader saw, and bulk moves and assignment of the selected cases, each case on
its own. The reader's name comes from the sign-in or the 处理人 field (`WHO_KEY`)."""

from __future__ import annotations

import streamlit as st

from dashboard import casework
from dashboard.i18n import t
from voc.cases import CaseError
from warehouse.case_store import CaseStore

WHO_KEY = "cs_who"


def _store_at(url: str) -> CaseStore:
    return CaseStore(casework._engine(url))


def _bulk_run(user: str | None, url: str, seen: tuple, apply) -> None:
    """Apply `apply(store, case_id, who, version)` to each selected case; one message with
    what was done and, per case, what was refused or had changed meanwhile."""
    chosen = list(st.session_state.get("cs_selected") or [])
    who = casework.acting(user, WHO_KEY)
    if not chosen:
        casework.flash("warning", t("请先选择工单。"))
        return
    if not who:
        casework.flash("error", t("请填写处理人。"))
        return
    versions = dict(seen)
    done, failed = 0, []
    try:
        store = _store_at(url)
    except casework.UNREACHABLE as exc:
        casework.flash("error", casework.short_error(exc))
        return
    for case_id in chosen:
        try:
            apply(store, case_id, who, versions[case_id])
        except casework.UNREACHABLE as exc:
            failed.append(f"{case_id}: {casework.short_error(exc)}")
        except CaseError as exc:
            failed.append(f"{case_id}: {exc}")
        else:
            done += 1
    if failed:
        casework.flash(
            "warning",
            t("已处理 {done} 件；{n} 件未处理：", done=done, n=len(failed)) + "；".join(failed),
        )
    else:
        st.session_state["cs_selected"] = []
        casework.flash("success", t("已处理 {done} 件工单。", done=done))


def bulk_move(user: str | None, url: str, seen: tuple) -> None:
    """批量流转: move the selected cases to the chosen status."""
    to = st.session_state["cs_bulk_to"]
    note = st.session_state.get("cs_bulk_note", "")
    _bulk_run(user, url, seen, lambda s, i, w, v: s.move(i, to, w, v, note=note))


def bulk_assign(user: str | None, url: str, seen: tuple, teams: dict) -> None:
    """批量指派: give the selected cases the owner and/or team typed (empty keeps theirs);
    with teams configured, a case is refused an unknown team or an outside owner."""
    owner = (st.session_state.get("cs_bulk_owner") or "").strip() or None
    team = (st.session_state.get("cs_bulk_team") or "").strip() or None
    if owner is None and team is None:
        casework.flash("warning", t("请填写负责人或团队。"))
        return

    def assign(store: CaseStore, case_id: int, who: str, version: int) -> None:
        current = store.get(case_id)
        if current is None:
            return
        new_owner, new_team = owner or current.owner, team or current.team
        problem = casework.assignment_problem(teams, new_owner, new_team)
        if problem:
            raise CaseError(problem)
        store.assign(case_id, new_owner, new_team, who, version, note="")

    _bulk_run(user, url, seen, assign)


def _act(user: str | None, url: str, note_key: str, change) -> None:
    """One action from a form: the name checked, the change made with the version the
    reader saw; the note field emptied only when the change was saved."""
    who = casework.acting(user, WHO_KEY)
    if not who:
        casework.flash("error", t("请填写处理人。"))
        return
    try:
        store = _store_at(url)
    except casework.UNREACHABLE as exc:
        casework.flash("error", casework.short_error(exc))
        return
    note = st.session_state.get(note_key, "")
    if casework.run_action(lambda: change(store, who, note), t("已保存。")) is not None:
        st.session_state[note_key] = ""


def move(user: str | None, url: str, case_id: int, version: int) -> None:
    """流转: move the case to the chosen status."""
    to = st.session_state[f"cs_to_{case_id}"]
    _act(
        user,
        url,
        f"cs_move_note_{case_id}",
        lambda s, who, note: s.move(case_id, to, who, version, note=note),
    )


def assign(user: str | None, url: str, case_id: int, version: int, teams: dict) -> None:
    """指派: set the case's owner and team (an empty field clears it); with teams
    configured, only a configured team and one of its people."""
    owner = (st.session_state.get(f"cs_owner_{case_id}") or "").strip() or None
    team = (st.session_state.get(f"cs_team_{case_id}") or "").strip() or None
    problem = casework.assignment_problem(teams, owner, team)
    if problem:
        casework.flash("error", t("操作被拒绝：{error}", error=problem))
        return
    _act(
        user,
        url,
        f"cs_assign_note_{case_id}",
        lambda s, who, note: s.assign(case_id, owner, team, who, version, note=note),
    )


def reply(user: str | None, url: str, case_id: int, version: int) -> None:
    """回复客户: record a reply to the customer."""
    _act(
        user,
        url,
        f"cs_reply_note_{case_id}",
        lambda s, who, note: s.record_reply(case_id, who, version, note=note),
    )


def note(user: str | None, url: str, case_id: int, version: int) -> None:
    """备注: add a note (not empty) to the case's history."""
    note_key = f"cs_note_{case_id}"
    if not (st.session_state.get(note_key) or "").strip():
        casework.flash("warning", t("备注不能为空。"))
        return
    _act(
        user,
        url,
        note_key,
        lambda s, who, note: s.add_note(case_id, who, note, version),
    )


def priority(user: str | None, url: str, case_id: int, version: int) -> None:
    """优先级: change the case's priority."""
    priority = st.session_state[f"cs_priority_{case_id}"]
    _act(
        user,
        url,
        f"cs_priority_note_{case_id}",
        lambda s, who, note: s.set_priority(case_id, priority, who, version, note=note),
    )
