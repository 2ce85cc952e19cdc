from __future__ import annotations

import csv
import io
import json
import urllib.request
from collections import defaultdict

from openpyxl import load_workbook

from demo.customers import (
    CUSTOMER_COLUMNS,
    N_RESPONSES,
    Q_NPS,
    SECOND_EXPORT,
    SURVEY_COLUMNS,
    SURVEY_EVENT,
    build_customers,
    customer_csv,
    uid_csv,
)
from demo.data import build_corpus
from demo.server import DemoServer


def _nps(scores: list[int]) -> float:
    return 100 * (sum(s >= 9 for s in scores) - sum(s <= 6 for s in scores)) / len(scores)


def test_the_planted_drop_is_in_one_tier_only_and_driven_by_logistics() -> None:
    data = build_customers()
    assert len(data.responses) == N_RESPONSES
    by = defaultdict(list)
    for r in data.responses:
        after = r.submitted_at.date() >= SURVEY_EVENT.start
        by[(r.tier == SURVEY_EVENT.segment, after)].append(r)
    drop = _nps([r.nps for r in by[True, False]]) - _nps([r.nps for r in by[True, True]])
    others = _nps([r.nps for r in by[False, False]]) - _nps([r.nps for r in by[False, True]])
    assert drop > 30 and abs(others) < 10
    detractors = [r for r in by[True, True] if r.nps <= 6 and r.reason]
    logistics = [r for r in detractors if any(k in r.reason for k in SURVEY_EVENT.keywords)]
    assert len(logistics) / len(detractors) > 0.6


def test_customer_exports_keep_tier_changes_and_their_encodings() -> None:
    data = build_customers()
    first = list(csv.reader(io.StringIO(customer_csv(data).decode("gbk"))))
    later = list(csv.reader(io.StringIO(customer_csv(data, later=True).decode("utf-8-sig"))))
    assert tuple(first[0]) == CUSTOMER_COLUMNS == tuple(later[0])
    assert len(first) == len(later) == len(data.customers) + 1
    tier = CUSTOMER_COLUMNS.index("客户等级")
    moved = sum(a[tier] != b[tier] for a, b in zip(first[1:], later[1:], strict=True))
    assert moved == sum(c.tier != c.later_tier for c in data.customers) > 50
    # Respondents are attributed to the tier of the day they answered.
    members = {c.member_id: c for c in data.customers}
    for r in data.responses:
        if r.member_id:
            c = members[r.member_id]
            assert r.tier == (c.later_tier if r.submitted_at.date() >= SECOND_EXPORT else c.tier)


def test_links_point_at_known_customers_and_the_corpus_is_unchanged() -> None:
    data = build_customers()
    members = {c.member_id for c in data.customers}
    corpus = build_corpus()
    ticket_ids = {t.ticket_id for t in corpus.tickets}
    assert set(data.ticket_members) <= ticket_ids
    assert 0.7 < len(data.ticket_members) / len(ticket_ids) < 0.95
    assert set(data.ticket_members.values()) <= members
    assert set(data.uid_members.values()) <= members
    rows = list(csv.reader(io.StringIO(uid_csv(data).decode())))
    assert rows[0] == ["uid", "会员号"] and len(rows) == len(data.uid_members) + 1


def test_the_survey_exports_are_served_as_monthly_workbooks(demo_server: DemoServer) -> None:
    base = demo_server.base_url + "/survey/exports/"
    with urllib.request.urlopen(base + "index.json", timeout=10) as resp:
        index = json.load(resp)
    months = [e["month"] for e in index["exports"]]
    assert months == ["2025-07", "2025-08", "2025-09"]
    total = 0
    for entry in index["exports"]:
        with urllib.request.urlopen(base + entry["url"], timeout=10) as resp:
            book = load_workbook(io.BytesIO(resp.read()), read_only=True)
        rows = list(book.worksheets[0].iter_rows(values_only=True))
        assert rows[0] == SURVEY_COLUMNS
        assert len(rows) - 1 == entry["rows"]
        nps = [r[SURVEY_COLUMNS.index(Q_NPS)] for r in rows[1:]]
        assert all(isinstance(s, int) and 0 <= s <= 10 for s in nps)
        total += entry["rows"]
    assert total == N_RESPONSES
