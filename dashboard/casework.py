"""What the 工单 and 回访 pages share: the case store (read directly, never through the
warehouse snapshot, so an action shows at once and never waits for an ingestion), the
display names of statuses, who is acting, and the one-line message an action leaves.

The store is one `sqlalchemy.Engine` per URL for the whole server (`st.cache_resource`):
SQLite beside the warehouse by default, or the PostgreSQL database of ``[cases]
database_url``. When the database does not answer the page says so and shows nothing
stale; nothing typed into a form is lost (forms keep their values).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from dashboard.common import Page
from dashboard.i18n import t
from voc.cases import CaseError, ConflictError
from warehouse.case_db import StoreUnavailable, connect_store, create_schema, store_url
from warehouse.case_store import CaseStore

CASE_STATUS_NAMES = {
    "new": ("新建", "New"),
    "acknowledged": ("已受理", "Acknowledged"),
    "in_progress": ("处理中", "In progress"),
    "waiting_customer": ("等待客户", "Waiting on customer"),
    "follow_up": ("待回访", "Follow-up due"),
    "resolved": ("已解决", "Resolved"),
    "closed": ("已关闭", "Closed"),
}
ACTION_NAMES = {
    "open": ("开单", "Opened"),
    "merge": ("合并", "Merged"),
    "status": ("流转", "Status"),
    "assign": ("指派", "Assigned"),
    "note": ("备注", "Note"),
    "reply": ("回复客户", "Replied"),
    "priority": ("优先级", "Priority"),
}
FOLLOWUP_REASON_NAMES = {
    "case_resolved": ("工单解决后", "After a resolved case"),
    "order_day5": ("下单第 5 天", "Order, day 5"),
    "order_day15": ("下单第 15 天", "Order, day 15"),
    "periodic": ("定期回访", "Periodic"),
    "second": ("二次回访", "Second follow-up"),
}
FOLLOWUP_STATUS_NAMES = {
    "planned": ("待回访", "Planned"),
    "done": ("已回访", "Done"),
    "cancelled": ("已取消", "Cancelled"),
}
FLASH = "_case_flash"
KEPT = "_case_kept"
#: What a store that does not answer raises: the store's own error, or the driver's.
UNREACHABLE = (StoreUnavailable, SQLAlchemyError)


@st.cache_resource(show_spinner=False)
def _engine(url: str):
    engine = connect_store(url)
    create_schema(engine)
    return engine


def store_url_of(page: Page) -> str:
    """The case store's URL for the page's settings."""
    return store_url(page.settings)


def engine_of(page: Page):
    """The page's store engine, or None (and the page says why) when unreachable."""
    try:
        return _engine(store_url_of(page))
    except UNREACHABLE as exc:
        unreachable(exc)
        return None


def case_store(page: Page) -> CaseStore | None:
    """The case store, or None (the page said so) when the database does not answer."""
    engine = engine_of(page)
    return None if engine is None else CaseStore(engine)


def short_error(exc: BaseException) -> str:
    """The database's first line only: SQLAlchemy appends the statement and a link, and
    a connection URL may carry a password."""
    inner = getattr(exc, "orig", None) or exc
    return (str(inner).strip().splitlines() or [type(inner).__name__])[0][:300]


def unreachable(exc: BaseException) -> None:
    """Tell the reader the case store is down (ingestion is unaffected)."""
    st.error(
        t(
            "工单库暂时无法连接：{error}。采集不受影响；请稍后刷新，已填写的内容仍在表单里。",
            error=short_error(exc),
        )
    )


def case_id_of(value: object) -> int | None:
    """A case id from the URL or a widget (ids are integers), or None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value or "").strip()
    return int(text) if text.isdigit() else None


def teams_of(settings: Any) -> dict[str, Any]:
    """The configured teams (``[cases.teams]``: name → `voc.case_config.TeamConfig`)."""
    return dict(getattr(getattr(settings, "cases", None), "teams", None) or {})


def assignment_problem(teams: dict[str, Any], owner: str | None, team: str | None) -> str | None:
    """Why `owner`/`team` cannot be given a case when teams are configured (an unknown team,
    an owner outside the team's listed people), or None."""
    if not teams or team is None:
        return None
    if team not in teams:
        return t("未知团队 {team}；已配置的团队：{known}", team=team, known="、".join(teams))
    people = tuple(getattr(teams[team], "owners", ()) or ())
    if owner is not None and people and owner not in people:
        return t(
            "{owner} 不是团队 {team} 的成员；成员：{known}",
            owner=owner,
            team=team,
            known="、".join(people),
        )
    return None


def who_field(page: Page, key: str) -> str:
    """Who is acting: the signed-in user's name (single sign-on), else a name field (an
    open dashboard or the shared password knows no name)."""
    if page.user:
        st.caption(t("处理人：{who}", who=page.user))
        return page.user
    return st.text_input(t("处理人"), key=key, max_chars=64)


def acting(page_user: str | None, key: str) -> str:
    """In an action callback: the name `who_field` showed or took."""
    return (page_user or str(st.session_state.get(key) or "")).strip()


def flash(kind: str, text: str) -> None:
    """Leave a message for the next run of the page (actions run in callbacks)."""
    st.session_state[FLASH] = (kind, text)


def keep(text: str) -> None:
    """Keep what the reader typed for an action that was not saved and whose form will not
    be drawn again (the 回访 left the list): shown once, as plain text, to copy."""
    if text.strip():
        st.session_state[KEPT] = text


def show_flash() -> None:
    """Show (once) the message the last action left, and any text it kept."""
    kind, text = st.session_state.pop(FLASH, (None, None))
    if kind == "success":
        st.success(text)
    elif kind == "warning":
        st.warning(text)
    elif kind == "error":
        st.error(text)
    kept = st.session_state.pop(KEPT, None)
    if kept:
        st.caption(t("没有保存的内容（可复制后重试）："))
        st.text(kept)


def run_action(action: Callable[[], Any], done: str) -> Any:
    """Run one store change from a callback; leave a success message, or the refusal, the
    conflict (someone else changed the case first: nothing of theirs or the reader's form
    is lost) or the outage. Returns the action's result, or None when it did not happen."""
    try:
        result = action()
    except UNREACHABLE as exc:
        flash(
            "error",
            t(
                "工单库暂时无法连接：{error}。你的修改没有保存，表单内容仍在。",
                error=short_error(exc),
            ),
        )
    except ConflictError as exc:
        flash(
            "error",
            t("冲突：{error}。你的修改没有保存，表单内容仍在，请核对最新记录后重试。", error=exc),
        )
    except CaseError as exc:
        flash("error", t("操作被拒绝：{error}", error=exc))
    else:
        flash("success", done)
        return result
    return None
