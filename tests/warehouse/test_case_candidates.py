"""Candidate voices and alert verbatims read from a real DuckDB warehouse: the current
models decide, exact duplicates take their original's enrichments, the customer's tier is
the one of the voice's day, and the rules turn them into the expected openings."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from voc.case_opening import build_openings
from voc.case_rules import parse_case_rules
from voc.cases import EXCERPT_CHARS, cut_excerpt
from warehouse.case_candidates import (
    alert_verbatims,
    candidate_voices,
    current_sentiment_model,
    manual_opening,
    read_openings,
)
from warehouse.case_store import CaseFilters, CaseStore
from warehouse.db import open_warehouse

MODEL, OLD = "sent-v2", "sent-v1"
DAY = date(2025, 9, 29)
LONG = "快递三天没到，打电话客服也不接，" * 30


def _doc(con, doc_id, day=DAY, hour=2, channel="ticket", source="demo_helpdesk", text=None,
         reposts=None, comments=None, duplicate_of=None):  # fmt: skip
    created = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
    text = text or f"{doc_id}：快递三天没到"
    con.execute(
        "INSERT INTO raw_documents (id, source, channel, external_id, text, created_at, "
        "local_day, url, content_hash, repost_count, comment_count, first_run_id, last_run_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'seed', 'seed')",
        [doc_id, source, channel, doc_id, text, created, day, f"https://x.test/{doc_id}",
         doc_id, reposts, comments],
    )  # fmt: skip
    con.execute("INSERT INTO doc_texts VALUES (?, ?, ?, ?)", [doc_id, text, doc_id, duplicate_of])


def _sentiment(con, doc_id, label, score, model=MODEL, at=datetime(2025, 9, 30, tzinfo=UTC)):
    con.execute(
        "INSERT INTO doc_sentiment VALUES (?, ?, ?, ?, ?)", [doc_id, model, label, score, at]
    )


@pytest.fixture
def con(tmp_path, new_warehouse):
    con = open_warehouse(new_warehouse(tmp_path / "w.duckdb"))
    old_at, new_at = datetime(2025, 9, 1, tzinfo=UTC), datetime(2025, 9, 30, tzinfo=UTC)
    # d1: a 高价值 customer's ticket, themed, two categories, aspects, angry.
    _doc(con, "d1", text=LONG)
    _sentiment(con, "d1", "negative", 0.08)
    _sentiment(con, "d1", "positive", 0.9, OLD, old_at)
    # d2: an exact duplicate of d1 posted on social with reach; no enrichments of its own.
    _doc(con, "d2", hour=5, channel="social", source="demo_weibo", text=LONG, reposts=30,
         comments=12, duplicate_of="d1")  # fmt: skip
    # d3 positive, d4 negative but the day after the range, d5 negative only by the old
    # model, d6 not scored yet, d7 neutral.
    _doc(con, "d3", hour=3)
    _sentiment(con, "d3", "positive", 0.93)
    _doc(con, "d4", day=date(2025, 9, 30))
    _sentiment(con, "d4", "negative", 0.2)
    _doc(con, "d5", hour=4)
    _sentiment(con, "d5", "positive", 0.8)
    _sentiment(con, "d5", "negative", 0.1, OLD, old_at)
    _doc(con, "d6", hour=6)
    _doc(con, "d7", hour=7, channel="review", source="demo_shop")
    _sentiment(con, "d7", "neutral", 0.5)
    con.execute("INSERT INTO doc_emotion VALUES ('d1', 'emo-v2', 'anger', 0.8, 0.83, ?)", [new_at])
    con.execute("INSERT INTO doc_emotion VALUES ('d1', 'emo-v1', 'joy', 0.9, 0.01, ?)", [old_at])
    con.execute(
        "INSERT INTO tracked_themes VALUES ('t1', '{}', 2, ['快递'], ['快递慢'], '快递太慢', "
        "2, 2, 1.0, ?, ?, 'growing', 'r', 'r', NULL)",
        [DAY, DAY],
    )
    con.execute("INSERT INTO doc_themes VALUES ('d1', 't1', 'themes-v2', 0.9)")
    for category, score in (("客服态度", 0.6), ("物流配送", 1.0)):
        con.execute(
            "INSERT INTO doc_categories VALUES ('d1', ?, 'keyword', 'x', ?, 'tax-v1')",
            [category, score],
        )
    for aspect, polarity, confidence, model in (
        ("客服", "negative", 0.7, "asp-v2"),
        ("物流", "negative", 0.95, "asp-v2"),
        ("价格", "positive", 0.99, "asp-v2"),
        ("包装", "negative", 0.99, "asp-v1"),
    ):
        at = new_at if model == "asp-v2" else old_at
        con.execute(
            "INSERT INTO doc_aspects VALUES ('d1', ?, ?, 0.1, ?, 'x', ?, ?)",
            [aspect, polarity, confidence, model, at],
        )
    con.execute(
        "INSERT INTO doc_customers VALUES ('d1', 'c1', 'key', '高价值', '广东', '深圳', "
        "'广告', '经理01')"
    )
    con.execute("INSERT INTO doc_groups VALUES ('d1', 'g1', 1.0, '\\x00'::BLOB, ?)", [new_at])
    for kind in ("regulator", "media"):
        con.execute(
            "INSERT INTO doc_escalation VALUES ('d1', ?, '12315', 'esc-v1', ?)", [kind, new_at]
        )
    yield con
    con.close()


def _episode(con, episode_id, start, end, severity, verbatims):
    explanation = {"verbatims": [{"doc_id": d, "text": "x"} for d in verbatims]}
    con.execute(
        "INSERT INTO spike_episodes VALUES (?, 'theme', 't1', 'day', 'negative_volume', ?, ?, ?, "
        "9, 2, 4.5, 5, 0.0001, ?, ?, ?, true, 1, ?, 'run')",
        [episode_id, start, end, start, datetime(2025, 9, 1), datetime(2025, 9, 28), severity,
         json.dumps(explanation)],
    )  # fmt: skip


def test_negative_voices_of_the_range_by_the_current_model_oldest_first(con):
    assert current_sentiment_model(con) == MODEL
    got = candidate_voices(con, DAY, DAY)
    assert [c.voice.doc_id for c in got] == ["d1", "d2"]
    # The model asked for decides (d5 is negative by the old model only, d1 positive).
    assert [c.voice.doc_id for c in candidate_voices(con, DAY, DAY, OLD)] == ["d5"]
    everything = candidate_voices(con, DAY, DAY, labels=("negative", "neutral", "positive"))
    assert [c.voice.doc_id for c in everything] == ["d1", "d3", "d5", "d2", "d7"]  # not d6


def test_a_candidate_carries_the_enrichments_of_the_current_models(con):
    [d1, d2] = candidate_voices(con, DAY, DAY)
    v = d1.voice
    assert (v.source, v.channel, v.url) == ("demo_helpdesk", "ticket", "https://x.test/d1")
    assert v.created_at == datetime(2025, 9, 29, 2, tzinfo=UTC)
    assert v.created_at.tzinfo is UTC
    assert len(LONG) > EXCERPT_CHARS
    assert v.excerpt == cut_excerpt(LONG) == LONG[: EXCERPT_CHARS - 1] + "…"
    assert (v.sentiment, v.negative_score) == ("negative", 0.92)  # 1 − 0.08
    assert v.anger == 0.83  # emo-v2, not emo-v1's 0.01
    assert (v.theme_id, v.theme_label) == ("t1", "快递太慢")
    assert d1.categories == ("物流配送", "客服态度")  # strongest first
    assert d1.aspects == ("物流", "客服")  # negative ones of asp-v2, most confident first
    assert (v.category, v.aspect) == ("物流配送", "物流")
    assert (v.customer_id, v.segment, v.province) == ("c1", "高价值", "广东")
    assert (v.dup_group, v.reach) == ("g1", 0)
    assert d1.escalations == ("media", "regulator")
    # The exact duplicate: its own source, reach and (no) customer; the original's rest.
    w = d2.voice
    assert (w.source, w.channel, w.reach, w.customer_id) == ("demo_weibo", "social", 42, None)
    assert (w.sentiment, w.anger, w.theme_id, w.dup_group) == ("negative", 0.83, "t1", "g1")
    assert (d2.categories, d2.escalations) == (d1.categories, d1.escalations)


def test_a_persons_correction_of_the_label_wins_for_the_voice_and_its_duplicates(con):
    fix = "INSERT INTO sentiment_corrections VALUES (?, ?, 'x', ?, ?, ?, '王芳', '', ?)"
    at = datetime(2025, 9, 30, 9, tzinfo=UTC)
    # d1 (and so its duplicate d2) is not negative after all; d7 (neutral) is.
    con.execute(fix, [1, "d1", MODEL, "negative", "positive", at])
    con.execute(fix, [2, "d7", MODEL, "neutral", "negative", at])
    assert [c.voice.doc_id for c in candidate_voices(con, DAY, DAY)] == ["d7"]
    [d7] = candidate_voices(con, DAY, DAY)
    assert (d7.voice.sentiment, d7.voice.negative_score) == ("negative", 0.5)
    # Withdrawn (the model's own label again): the model's label stands.
    con.execute(fix, [3, "d1", MODEL, "negative", "negative", at])
    assert [c.voice.doc_id for c in candidate_voices(con, DAY, DAY)] == ["d1", "d2", "d7"]


def test_given_documents_are_candidates_whatever_their_day_and_label(con):
    got = candidate_voices(con, DAY, DAY, doc_ids=["d4", "d3", "d6"])
    assert [c.voice.doc_id for c in got] == ["d1", "d3", "d2", "d4"]
    assert candidate_voices(con, date(2025, 10, 1), date(2025, 10, 2)) == []


def test_alert_verbatims_of_episodes_overlapping_the_range(con):
    _episode(con, "ep-in", datetime(2025, 9, 28), datetime(2025, 9, 29), "high", ["d1", "d4", "d1"])
    _episode(con, "ep-out", datetime(2025, 9, 20), datetime(2025, 9, 21), "high", ["d3"])
    _episode(con, "ep-none", datetime(2025, 9, 29), datetime(2025, 9, 29), "low", [])
    [alert] = alert_verbatims(con, DAY, DAY)
    assert (alert.episode_id, alert.severity, alert.key_kind, alert.key_value) == (
        "ep-in", "high", "theme", "t1",
    )  # fmt: skip
    assert alert.doc_ids == ("d1", "d4")


def test_the_rules_turn_the_planted_candidates_into_the_expected_openings(con):
    _episode(con, "ep-in", datetime(2025, 9, 28), datetime(2025, 9, 29), "high", ["d4"])
    config = parse_case_rules(
        {
            "teams": {"物流组": {}},
            "rules": [
                {"name": "alert", "from": "alerts"},
                {"name": "vip", "segment": "高价值"},
                {"name": "social", "channel": "social"},
            ],
            "routing": [{"category": "物流*", "team": "物流组"}],
        },
        "voc.toml",
    )
    alerts = alert_verbatims(con, DAY, DAY)
    ids = [d for a in alerts for d in a.doc_ids]
    candidates = candidate_voices(con, DAY, DAY, labels=config.labels_needed(), doc_ids=ids)
    openings = build_openings(candidates, config, alerts=alerts)
    got = [(o.merge_key, o.rule, [v.doc_id for v in o.voices], o.priority, o.team)
           for o in openings]  # fmt: skip
    # d1: 3 (0.92) + 3 (0.83) + 3 (高价值) + 0 = 9 → P1; d2: 3 + 3 + 0 + 1 (42) = 7 → P2;
    # d4: 2 (0.8) + 0 + 0 + 0 = 2 → P4.
    assert got == [
        ("cust:c1:t1", "vip", ["d1"], "P1", "物流组"),
        ("dup:g1", "social", ["d2"], "P2", "物流组"),
        ("alert:ep-in", "alert", ["d4"], "P4", None),
    ]


def test_read_openings_reads_what_the_rules_need_and_nothing_without_rules(con):
    _episode(con, "ep-in", datetime(2025, 9, 28), datetime(2025, 9, 29), "high", ["d7"])
    config = parse_case_rules(
        {"rules": [{"name": "alert", "from": "alerts"}, {"name": "tickets", "channel": "ticket"}]},
        "voc.toml",
    )
    got = [(o.merge_key, o.rule) for o in read_openings(con, DAY, DAY, config)]
    # d7 (neutral) only as an alert verbatim; d2 is social, no rule takes it.
    assert got == [("cust:c1:t1", "tickets"), ("alert:ep-in", "alert")]
    assert read_openings(con, DAY, DAY, parse_case_rules({"rules": []}, "voc.toml")) == []


def test_a_verbatim_opened_by_hand_gets_the_rules_key_priority_and_route(con):
    config = parse_case_rules(
        {"teams": {"客服组": {}}, "routing": [{"team": "客服组"}]}, "voc.toml"
    )
    o = manual_opening(con, "d3", config)  # a positive review: by hand any label will do
    assert (o.rule, o.merge_key, o.team, [v.doc_id for v in o.voices]) == (
        "manual", "doc:d3", "客服组", ["d3"],
    )  # fmt: skip
    assert o.priority == "P4"  # negativity 0.07: no points
    assert manual_opening(con, "d1", config).merge_key == "cust:c1:t1"
    assert manual_opening(con, "d6", config) is None  # not scored yet
    assert manual_opening(con, "nope", config) is None


# --- into the case store (SQLite and PostgreSQL: `case_engine`) --------------------------

STORE_RULES = {
    "teams": {"物流组": {}},
    "rules": [{"name": "vip", "segment": "高价值"}, {"name": "social", "channel": "social"}],
    "routing": [{"category": "物流*", "team": "物流组"}],
}


def _linked_ticket(con, doc_id, day, theme="t1"):
    """A negative ticket of customer c1 (高价值) about `theme` on `day`."""
    _doc(con, doc_id, day=day)
    _sentiment(con, doc_id, "negative", 0.05)
    con.execute("INSERT INTO doc_themes VALUES (?, ?, 'themes-v2', 0.9)", [doc_id, theme])
    con.execute(
        "INSERT INTO doc_customers VALUES (?, 'c1', 'key', '高价值', '广东', '深圳', '广告', "
        "'经理01')",
        [doc_id],
    )


def test_opening_a_day_twice_stores_its_cases_once(con, case_engine):
    store = CaseStore(case_engine)
    config = parse_case_rules(STORE_RULES, "voc.toml")
    now = datetime(2025, 9, 30, 8, tzinfo=UTC)
    first = store.open_cases(read_openings(con, DAY, DAY, config), now, config.merge_days)
    assert (first.n_opened, first.n_merged, first.n_known) == (2, 0, 0)
    again = store.open_cases(read_openings(con, DAY, DAY, config), now, config.merge_days)
    assert (again.n_opened, again.n_merged, again.n_known) == (0, 0, 2)
    cases = {c.merge_key: c for c in store.list_cases(CaseFilters())}
    assert set(cases) == {"cust:c1:t1", "dup:g1"}
    vip = cases["cust:c1:t1"]
    assert (vip.rule, vip.priority, vip.team, vip.status) == ("vip", "P1", "物流组", "new")
    assert (vip.customer_id, vip.segment, vip.theme_label) == ("c1", "高价值", "快递太慢")
    assert vip.severity["points"] == 9
    [stored] = store.voices(vip.case_id)
    assert (stored.doc_id, stored.anger, stored.category) == ("d1", 0.83, "物流配送")
    assert len(stored.excerpt) <= EXCERPT_CHARS


def test_a_later_voice_joins_the_open_case_of_its_customer_and_theme_not_a_resolved_one(
    con, case_engine
):
    store = CaseStore(case_engine)
    config = parse_case_rules({**STORE_RULES, "merge_days": 7}, "voc.toml")
    now = datetime(2025, 10, 9, 8, tzinfo=UTC)
    store.open_cases(read_openings(con, DAY, DAY, config), now, config.merge_days)
    [case] = [c for c in store.list_cases(CaseFilters()) if c.merge_key == "cust:c1:t1"]
    # Three days later, same customer and theme: a merge into the open case.
    later = date(2025, 10, 2)
    _linked_ticket(con, "d8", later)
    _linked_ticket(con, "d9", later, theme="t2")  # another theme: a case of its own
    merged = store.open_cases(read_openings(con, later, later, config), now, config.merge_days)
    assert (merged.n_opened, merged.n_merged) == (1, 1)
    assert [v.doc_id for v in store.voices(case.case_id)] == ["d1", "d8"]
    assert [e.action for e in store.history(case.case_id)] == ["open", "merge"]
    # Resolved, the case takes no more voices: the next one opens a new case.
    current = store.get(case.case_id)
    current = store.move(case.case_id, "in_progress", "王芳", current.version)
    store.move(case.case_id, "resolved", "王芳", current.version)
    last = date(2025, 10, 4)
    _linked_ticket(con, "d10", last)
    after = store.open_cases(read_openings(con, last, last, config), now, config.merge_days)
    assert (after.n_opened, after.n_merged) == (1, 0)
    assert [v.doc_id for v in store.voices(case.case_id)] == ["d1", "d8"]
    assert store.count_cases(CaseFilters()) == 4
