"""What the 工单 and 回访 page tests share: the seeded cases (six open ones), opening and
reading the pages in AppTest, and planning a 回访 the way the rules would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from streamlit.testing.v1 import AppTest

from voc.cases import CaseOpening, CaseVoice
from voc.followup_rules import PlannedFollowup
from warehouse.case_store import CaseFilters, CaseStore
from warehouse.followup_store import FollowupStore

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
NOW = datetime.now(UTC).replace(microsecond=0)
HOSTILE_TITLE = "<script>alert(1)</script> **粗体** [点我](http://evil.example) :red[红]"


def opening(
    i: int,
    *,
    priority: str = "P2",
    channel: str = "ticket",
    customer: str | None = None,
    title: str | None = None,
    team: str = "售后",
) -> CaseOpening:
    voice = CaseVoice(
        doc_id=f"doc-{i}",
        source="helpdesk",
        channel=channel,
        created_at=NOW - timedelta(hours=i + 1),
        excerpt=f"第 {i} 单：快递三天没动，客服也不回",
        sentiment="negative",
        negative_score=0.9,
        customer_id=customer,
    )
    return CaseOpening(
        merge_key=f"doc:doc-{i}",
        rule="negative_ticket",
        title=title or f"物流太慢 #{i}",
        voices=(voice,),
        priority=priority,
        severity={"negative_score": 0.9},
        team=team,
        customer_id=customer,
        source="helpdesk",
        channel=channel,
    )


def open_page(db: Path, monkeypatch, page: str = "cases", **state) -> AppTest:
    monkeypatch.setenv("VOC_DB", str(db))
    monkeypatch.delenv("VOC_DASHBOARD_PASSWORD", raising=False)
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["page"] = page
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def queue(at: AppTest):
    return next(d.value for d in at.dataframe if "工单号" in d.value.columns)


def history(at: AppTest):
    return next(d.value for d in at.dataframe if "操作" in d.value.columns)


def fields(at: AppTest) -> dict[str, str]:
    frame = next(d.value for d in at.dataframe if "字段" in d.value.columns)
    return dict(zip(frame["字段"], frame["值"], strict=True))


def click(at: AppTest, label: str) -> AppTest:
    next(b for b in at.button if b.label == label).click().run()
    assert not at.exception, at.exception
    return at


def case_id_of(store: CaseStore, title: str) -> int:
    return next(c.case_id for c in store.list_cases(CaseFilters()) if c.title == title)


def plan(followups: FollowupStore, customer: str, owner: str, day, reason: str, case_id=None):
    """Plan one 回访 the way the rules would; its id."""
    key = f"{reason}:{customer}:{day}"
    followups.plan(
        [PlannedFollowup(key, reason, day, owner, "售后", case_id, customer)],
        NOW,
    )
    return next(f.followup_id for f in followups.list_followups(customer_ids=(customer,))
                if f.reason == reason)  # fmt: skip
