"""A real headless Chromium (as in test_browser.py) against `voc dashboard` on the customer
seed warehouse with a case store beside it (the default SQLite side store): moves a case
through the workflow on the 工单 page (新建 → 已受理 → 处理中 → 已解决), shows a second,
stale tab its conflict with nothing lost, and records a 回访 outcome on the 回访 page that
schedules a second 回访; checks the store after each step; screenshots go to
build/screenshots/."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.customer_seed import build_customer_warehouse, cid
from tests.e2e.test_browser import SHOTS, _chromium, _settle, require_browser, serve_dashboard
from voc.cases import CaseOpening, CaseVoice
from voc.followup_rules import PlannedFollowup
from warehouse.case_db import connect_store, create_schema, store_url
from warehouse.case_store import CaseFilters, CaseStore
from warehouse.followup_store import FollowupStore

pytestmark = pytest.mark.e2e
NOW = datetime.now(UTC).replace(microsecond=0)
TITLE = "物流太慢：三天没发货"


def _opening(i: int, title: str) -> CaseOpening:
    voice = CaseVoice(
        doc_id=f"browser-{i}",
        source="helpdesk",
        channel="ticket",
        created_at=NOW - timedelta(hours=3 + i),
        excerpt="下单三天了还没发货，客服也不回",
        sentiment="negative",
        negative_score=0.92,
        customer_id=cid("H01"),
    )
    return CaseOpening(
        merge_key=f"doc:browser-{i}",
        rule="negative_ticket",
        title=title,
        voices=(voice,),
        priority="P1" if i == 0 else "P3",
        severity={"negative_score": 0.92},
        team="售后",
        customer_id=cid("H01"),
        source="helpdesk",
        channel="ticket",
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    require_browser()
    db = build_customer_warehouse(tmp_path_factory.mktemp("cases-browser") / "voc.duckdb")
    saved = os.environ.pop("VOC_CASES_DATABASE_URL", None)  # the side store beside `db`
    try:
        with serve_dashboard(db) as url:
            yield url, db
    finally:
        if saved is not None:
            os.environ["VOC_CASES_DATABASE_URL"] = saved


@pytest.fixture(scope="module")
def stores(served) -> tuple[CaseStore, FollowupStore]:
    _, db = served
    engine = connect_store(store_url(db))
    create_schema(engine)
    cases = CaseStore(engine)
    cases.open_cases([_opening(0, TITLE), _opening(1, "退款慢")], NOW)
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    followups = FollowupStore(engine)
    followups.plan(
        [
            PlannedFollowup(
                "browser:h01", "case_resolved", today, "王经理", "售后", None, cid("H01")
            )
        ],
        NOW,
    )
    return cases, followups


def test_case_workflow_conflict_and_followup_in_a_real_browser(served, stores) -> None:
    from playwright.sync_api import sync_playwright

    url, _ = served
    cases, followups = stores
    case_id = next(c.case_id for c in cases.list_cases(CaseFilters()) if c.title == TITLE)
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium(), headless=True)
        context = browser.new_context(viewport={"width": 1440, "height": 1400}, locale="zh-CN")
        context.set_default_timeout(60_000)
        page = context.new_page()
        try:
            _workflow(page, url, cases, case_id)
            _stale_tab(context, page, url, cases, case_id)
            _followup(page, url, followups)
        except Exception:
            page.screenshot(path=str(SHOTS / "cases-failure.png"), full_page=True)
            raise
        finally:
            browser.close()


def _open_case(page, url: str, case_id: int) -> None:
    page.goto(f"{url}/?page=cases&case={case_id}")
    page.get_by_role("heading", name="工单详情").wait_for()
    _settle(page)
    # Under load the tables and the forms' widgets arrive after the headings.
    page.locator('[data-testid="stDataFrame"]').nth(3).wait_for()
    page.locator(f".st-key-cs_to_{case_id}").wait_for()


def _type(page, key: str, text: str) -> None:
    """Type into the text input or area of widget `key` and commit it (Streamlit takes a
    value on blur)."""
    box = page.locator(f".st-key-{key}").locator("input, textarea").first
    box.fill(text)
    box.press("Tab")
    _settle(page)


def _choose(page, key: str, option: str) -> None:
    page.locator(f".st-key-{key}").click()
    page.get_by_role("option", name=option, exact=True).click()
    _settle(page)


def _click(page, label: str) -> None:
    page.get_by_role("button", name=label, exact=True).click()
    _settle(page)


def _workflow(page, url: str, cases: CaseStore, case_id: int) -> None:
    _open_case(page, url, case_id)
    assert f"case={case_id}" in page.url
    page.get_by_text(f"{case_id} · {TITLE}", exact=True).wait_for()
    page.screenshot(path=str(SHOTS / "7-cases.png"), full_page=True)
    _type(page, "cs_who", "张三")
    for to, note in (("已受理", "已电话致歉"), ("处理中", "联系仓库"), ("已解决", "已补发")):
        _choose(page, f"cs_to_{case_id}", to)
        _type(page, f"cs_move_note_{case_id}", note)
        _click(page, "保存流转")
        page.get_by_text("已保存。").wait_for()
    case = cases.get(case_id)
    assert case.status == "resolved" and case.first_response_at is not None
    events = cases.history(case_id)
    assert [(e.to_status, e.who, e.note) for e in events[1:]] == [
        ("acknowledged", "张三", "已电话致歉"),
        ("in_progress", "张三", "联系仓库"),
        ("resolved", "张三", "已补发"),
    ]
    page.screenshot(path=str(SHOTS / "8-case-resolved.png"), full_page=True)


def _stale_tab(context, page, url: str, cases: CaseStore, case_id: int) -> None:
    """Two tabs on one case: the second saves first, the first is told, its note kept."""
    other = context.new_page()
    _open_case(page, url, case_id)
    _type(page, "cs_who", "张三")  # outside the forms: a rerun, so before the other tab
    _open_case(other, url, case_id)
    _type(other, "cs_who", "李四")
    _choose(other, f"cs_to_{case_id}", "已关闭")
    _click(other, "保存流转")
    other.get_by_text("已保存。").wait_for()
    # This tab still shows 已解决: its form (no rerun inside a form) reopens the case.
    _choose(page, f"cs_to_{case_id}", "处理中")
    _type(page, f"cs_move_note_{case_id}", "客户又来电")
    _click(page, "保存流转")
    page.get_by_text("冲突", exact=False).first.wait_for()
    assert cases.get(case_id).status == "closed"  # the other tab's change stands
    kept = page.locator(f".st-key-cs_move_note_{case_id} textarea").input_value()
    assert kept == "客户又来电"  # and this tab's note is still there to retry
    page.screenshot(path=str(SHOTS / "9-case-conflict.png"), full_page=True)
    other.close()


def _followup(page, url: str, followups: FollowupStore) -> None:
    page.goto(f"{url}/?page=followups")
    page.get_by_role("heading", name="记录回访结果").wait_for()
    _settle(page)
    page.locator('[data-testid="stDataFrame"]').nth(2).wait_for()
    [due] = followups.due(datetime.now(ZoneInfo("Asia/Shanghai")).date())
    _type(page, "fu_who", "王经理")
    slider = page.locator(f".st-key-fu_sat_{due.followup_id}").get_by_role("slider")
    slider.focus()
    for _ in range(4):
        slider.press("ArrowRight")
    _type(page, f"fu_note_{due.followup_id}", "已补发，客户满意")
    page.locator(f".st-key-fu_second_{due.followup_id}").get_by_text("需要二次回访").click()
    page.screenshot(path=str(SHOTS / "10-followup.png"), full_page=True)
    _click(page, "保存回访结果")
    page.get_by_text("回访结果已保存。").wait_for()
    [(_, outcome)] = followups.outcomes(followup_ids=[due.followup_id])
    assert (outcome.reached, outcome.satisfaction, outcome.who) == (True, 4, "王经理")
    assert outcome.note == "已补发，客户满意" and outcome.needs_second
    second = [
        f for f in followups.list_followups(customer_ids=(cid("H01"),)) if f.reason == "second"
    ]
    assert len(second) == 1 and second[0].status == "planned"
