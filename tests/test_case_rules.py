"""Case opening rules: the priority formula against hand-computed values (the examples of
docs/cases-rules.md), config errors at load, rule matching, merge keys and merging."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from voc.case_config import PART_PARSERS, parse_case_config
from voc.case_match import AlertVerbatims, Candidate
from voc.case_opening import assign_rules, build_openings, merge_key
from voc.case_priority import PriorityConfig, parse_case_priority, priority_of, priority_points
from voc.case_rules import (
    DEFAULT_RULES,
    CaseRulesConfig,
    parse_case_rules,
    parse_opening_rules,
    parse_routing,
    rules_config,
)
from voc.cases import CaseVoice

ORIGIN = "voc.toml"
T0 = datetime(2025, 9, 29, 2, 0, tzinfo=UTC)
TEAMS = {"物流组": {}, "客服组": {"owners": ["张三", "李四"]}, "舆情组": {}}


def voice(doc_id: str, hours: float = 0, **kw) -> CaseVoice:
    values = {
        "source": "demo_helpdesk",
        "channel": "ticket",
        "excerpt": f"{doc_id} 快递三天没到，客服也不回",
        "sentiment": "negative",
        "negative_score": 0.8,
    }
    values.update(kw)
    return CaseVoice(doc_id=doc_id, created_at=T0 + timedelta(hours=hours), **values)


def cand(doc_id: str, hours: float = 0, categories=(), aspects=(), escalations=(), **kw):
    v = voice(doc_id, hours, category=categories[0] if categories else None,
              aspect=aspects[0] if aspects else None, **kw)  # fmt: skip
    return Candidate(v, tuple(categories), tuple(aspects), tuple(escalations))


def parse(**table) -> CaseRulesConfig:
    return parse_case_rules({"teams": TEAMS, **table}, ORIGIN)


# --- the priority formula: docs/cases-rules.md, "Examples" -----------------------------

DEFAULT = PriorityConfig()


@pytest.mark.parametrize(
    ("name", "negative", "anger", "segment", "reach", "points", "total", "priority"),
    [
        # A viral angry post, no customer link: 3 + 3 + 0 + 3 = 9 ≥ 8.
        ("A 微博帖子", 0.92, 0.85, None, 2300, (3, 3, 0, 3), 9, "P1"),
        # A 高价值 customer's ticket, no emotion score: 3 + 0 + 3 + 0 = 6 ≥ 5.
        ("B 高价值工单", 0.95, None, "高价值", 0, (3, 0, 3, 0), 6, "P2"),
        # A mild review of an ordinary customer: 1 + 0 + 1 + 0 = 2 < 3.
        ("C 一般客户评价", 0.70, 0.30, "一般", 0, (1, 0, 1, 0), 2, "P4"),
        # A complaint-platform post, dormant customer: 2 + 2 + 0 + 1 = 5 ≥ 5.
        ("D 投诉平台", 0.80, 0.65, "休眠", 40, (2, 2, 0, 1), 5, "P2"),
        # Every input exactly on a threshold counts it: 1 + 1 + 1 + 1 = 4 ≥ 3.
        ("F 阈值边界", 0.60, 0.40, "一般", 10, (1, 1, 1, 1), 4, "P3"),
        # Just under each threshold: 0 + 0 + 2 + 0 = 2.
        ("G 低于阈值", 0.59, 0.39, "高贡献", 9, (0, 0, 2, 0), 2, "P4"),
    ],
)
def test_priority_matches_the_documented_examples(
    name, negative, anger, segment, reach, points, total, priority
):
    p = priority_points(DEFAULT, negative, anger, segment, reach)
    assert (p.negative, p.anger, p.tier, p.reach) == points, name
    assert p.total == total
    assert priority_of(DEFAULT, p.total) == priority


def test_a_rule_floor_raises_priority_but_never_lowers_it():
    # Example E: example C (P4) opened by a rule with min_priority = "P2".
    assert priority_of(DEFAULT, 2, floor="P2") == "P2"
    # Example A stays P1 under the same floor.
    assert priority_of(DEFAULT, 9, floor="P2") == "P1"


def test_a_configured_formula_changes_points_and_levels():
    p = parse(
        priority={
            "negative_score": [0.5],
            "anger": [0.5, 0.9],
            "reach": [1, 50, 500, 5000],
            "tiers": {"钻石": 5},
            "levels": {"P1": 9, "P2": 6, "P3": 1},
        }
    ).priority
    points = priority_points(p, 0.55, 0.95, "钻石", 700)
    assert (points.negative, points.anger, points.tier, points.reach) == (1, 2, 5, 3)
    assert priority_of(p, points.total) == "P1"  # 11 ≥ 9
    # 高价值 is not in the configured tiers any more: 0 points.
    assert priority_points(p, 0.4, None, "高价值", 0).total == 0
    assert priority_of(p, 0) == "P4"
    assert priority_of(p, 1) == "P3"


def test_a_merged_opening_takes_the_worst_voice_and_the_summed_reach():
    # Docs example H: two voices of one 高价值 customer about one theme.
    config = parse(rules=[{"name": "vip", "segment": "高价值"}])
    first = cand("h1", 0, customer_id="c1", segment="高价值", theme_id="t1", negative_score=0.7)
    second = cand("h2", 30, customer_id="c1", segment="高价值", theme_id="t1",
                  negative_score=0.93, anger=0.5, reach=5)  # fmt: skip
    [opening] = build_openings([first, second], config)
    assert [v.doc_id for v in opening.voices] == ["h1", "h2"]
    assert opening.severity["negative_score"] == 0.93
    assert opening.severity["anger"] == 0.5
    assert opening.severity["reach"] == 5
    # 3 (0.93) + 1 (0.5) + 3 (高价值) + 0 (5 < 10) = 7 → P2
    assert opening.severity["points"] == 7
    assert opening.priority == "P2"


# --- config errors at load ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            {"routing": [{"team": "物流组"}, {"team": "法务组", "theme": "*"}]},
            "voc.toml: [[cases.routing]] 第 2 条 team: 未知团队 '法务组'",
        ),
        ({"merge_days": 0}, "voc.toml: [cases] merge_days: 须为 1 到 365 的整数"),
        ({"merge_days": True}, "merge_days"),
        (
            {"rules": [{"name": "x", "chanel": "ticket"}]},
            "第 1 条 (x): 未知的键 / unknown key(s): chanel",
        ),
        ({"rules": [{"channel": "ticket"}]}, "[[cases.rules]] 第 1 条 name: 必填"),
        ({"rules": [{"name": "x", "channel": "email"}]}, "(x) channel: 须为 review"),
        ({"rules": [{"name": "x", "source_kind": "complaint"}]}, "是否要写 complaints"),
        ({"rules": [{"name": "x", "sentiment": "angry"}]}, "(x) sentiment: 须为 negative"),
        ({"rules": [{"name": "x", "min_anger": 1.5}]}, "(x) min_anger: 须在 0 到 1.0"),
        ({"rules": [{"name": "x", "min_reach": -3}]}, "(x) min_reach: 须在 ≥ 0"),
        ({"rules": [{"name": "x", "min_priority": "P0"}]}, "(x) min_priority: 须为 P1 / P2"),
        (
            {"rules": [{"name": "x", "min_severity": "high"}]},
            'only apply to rules with from = "alerts"',
        ),
        ({"rules": [{"name": "x", "from": "spikes"}]}, "(x) from: 须为 voices / alerts"),
        ({"rules": [{"name": "x", "escalation": "police"}]}, "(x) escalation: 须为 regulator"),
        ({"rules": [{"name": "x"}, {"name": "x"}]}, "第 2 条 name: 规则名重复 'x'"),
        ({"rules": [{"name": "x", "segment": []}]}, "(x) segment: 须为文本或文本列表"),
        ({"rules": {"name": "x"}}, "rules: 须写成 [[cases.rules]] 表数组"),
        ({"priority": {"anger": [0.8, 0.6]}}, "[cases.priority] anger: 阈值须严格递增"),
        ({"priority": {"levels": {"P1": 5, "P2": 5, "P3": 1}}}, "levels: 须 P1 > P2 > P3"),
        ({"priority": {"levels": {"P1": 5, "P2": 3}}}, "须且仅须给出 P1、P2、P3"),
        ({"priority": {"tiers": {"高价值": -1}}}, "tiers: 须为 名称 = 非负整数 的表"),
        ({"priority": {"weights": {}}}, "[cases.priority]: 未知的键 / unknown key(s): weights"),
        ({"routing": [{"team": "物流组", "owner": ""}]}, "第 1 条 owner: 须为非空文本"),
        (
            {"routing": [{"team": "客服组", "owner": "赵六"}]},
            "第 1 条 owner: '赵六' 不在 客服组 的 owners 中（张三、李四）",
        ),
        ({"routing": {"team": "物流组"}}, "routing: 须写成 [[cases.routing]] 表数组"),
    ],
)
def test_bad_config_is_refused_at_load_naming_file_entry_and_key(table, message):
    with pytest.raises(ValueError) as err:
        parse(**table)
    assert message in str(err.value)
    assert str(err.value).startswith("voc.toml: ")


def test_a_route_to_a_team_nobody_configured_names_the_configured_teams():
    with pytest.raises(ValueError, match="已配置：客服组、物流组、舆情组"):
        parse(routing=[{"team": "售后组"}])
    with pytest.raises(ValueError, match="已配置：无 / none"):
        parse_case_rules({"routing": [{"team": "售后组"}]}, ORIGIN)


def test_without_rules_the_documented_defaults_apply_and_an_empty_list_opens_nothing():
    assert parse().rules == DEFAULT_RULES
    assert [r.name for r in DEFAULT_RULES] == [
        "alert_verbatims", "complaint_platform", "negative_ticket", "vip_negative",
    ]  # fmt: skip
    assert parse(rules=[]).rules == ()
    config = parse(rules=[{"name": "a", "enabled": False}, {"name": "b"}])
    assert [r.name for r in config.rules] == ["b"]
    assert parse(merge_days=3).merge_days == 3
    # Keys of other parts of [cases] are not this parser's business.
    assert parse(database_url="sqlite:///x", sla={"x": 1}).merge_days == 7


def test_the_part_parsers_build_the_same_config_from_settings_cases():
    # What Settings.cases holds: merge_days and teams of [cases], the parts parsed by
    # parse_opening_rules / parse_routing / parse_case_priority once wired, or raw.
    @dataclass(frozen=True)
    class Team:
        name: str
        owners: tuple[str, ...] = ()

    @dataclass(frozen=True)
    class Cases:
        merge_days: int = 7
        teams: dict = field(default_factory=dict)
        rules: object = None
        routing: object = None
        priority: object = None

    teams = {"物流组": Team("物流组", ("王芳",))}
    raw_rules = [{"name": "t", "channel": "ticket"}]
    raw_routing = [{"team": "物流组", "owner": "王芳"}]
    raw_priority = {"levels": {"P1": 9, "P2": 6, "P3": 2}}
    wired = Cases(
        3,
        teams,
        parse_opening_rules(raw_rules, ORIGIN),
        parse_routing(raw_routing, ORIGIN, teams=teams),
        parse_case_priority(raw_priority, ORIGIN),
    )
    raw = Cases(3, teams, raw_rules, raw_routing, raw_priority)
    expected = parse(merge_days=3, rules=raw_rules, routing=raw_routing, priority=raw_priority)
    assert rules_config(wired) == rules_config(raw) == expected
    assert expected.routes[0].owner == "王芳" and expected.merge_days == 3
    assert rules_config(Cases()) == CaseRulesConfig()
    assert rules_config(None).rules == DEFAULT_RULES
    assert rules_config(Cases(rules=())).rules == ()
    with pytest.raises(ValueError, match="owner: '李四' 不在 物流组 的 owners 中"):
        parse_routing([{"team": "物流组", "owner": "李四"}], ORIGIN, teams=teams)


def test_settings_cases_wired_or_not_give_the_same_opening_config(monkeypatch):
    table = {
        "merge_days": 3,
        "teams": {"物流组": {"owners": ["王芳"]}, "客服组": {}},
        "rules": [{"name": "t", "channel": "ticket"}, {"name": "off", "enabled": False}],
        "routing": [{"category": "物流*", "team": "物流组", "owner": "王芳"}, {"team": "客服组"}],
    }
    raw = parse_case_config(table, ORIGIN)  # parts kept as given until wired
    monkeypatch.setitem(PART_PARSERS, "rules", parse_opening_rules)
    monkeypatch.setitem(PART_PARSERS, "routing", parse_routing)
    wired = parse_case_config(table, ORIGIN)
    assert isinstance(wired.rules, tuple) and isinstance(wired.routing, tuple)
    assert rules_config(wired) == rules_config(raw) == parse(**table)
    assert [r.name for r in rules_config(wired).rules] == ["t"]
    assert rules_config(wired).merge_days == 3
    # Wired, a route to an unknown team or owner fails when the settings load.
    bad = {**table, "routing": [{"team": "物流组", "owner": "赵六"}]}
    with pytest.raises(ValueError, match=r"voc.toml: \[\[cases.routing\]\] 第 1 条 owner"):
        parse_case_config(bad, ORIGIN)


def test_labels_needed_follow_the_voice_rules_only():
    assert parse().labels_needed() == ("negative", "neutral", "positive")  # complaint_platform
    assert parse(rules=[{"name": "t", "channel": "ticket"}]).labels_needed() == ("negative",)
    alerts_only = parse(rules=[{"name": "a", "from": "alerts"}, {"name": "n"}])
    assert alerts_only.labels_needed() == ("negative",)
    assert alerts_only.rules[0].sentiments == ()  # alert verbatims are taken whatever the label


# --- matching ------------------------------------------------------------------------------


def test_each_criterion_must_match_and_globs_lists_and_missing_values_behave():
    [rule] = parse(
        rules=[
            {
                "name": "r",
                "source": "demo_*",
                "category": ["物流*"],
                "theme": "快递*",
                "segment": ["高价值", "高贡献"],
                "min_anger": 0.5,
                "min_reach": 3,
            }
        ]
    ).rules
    good = cand("g", categories=("商品质量", "物流配送"), theme_label="快递慢",
                segment="高贡献", customer_id="c", anger=0.5, reach=3)  # fmt: skip
    assert rule.matches(good, "ticket_export")
    changed = {
        "source": {"source": "shop"},
        "category": {"categories": ("商品质量",)},
        "theme": {"theme_label": "退款"},
        "segment (unlinked)": {"segment": None, "customer_id": None},
        "anger (unscored)": {"anger": None},
        "anger": {"anger": 0.49},
        "reach": {"reach": 2},
    }
    base = {"categories": ("商品质量", "物流配送"), "theme_label": "快递慢", "segment": "高贡献",
            "customer_id": "c", "anger": 0.5, "reach": 3}  # fmt: skip
    for what, change in changed.items():
        assert not rule.matches(cand("b", **{**base, **change}), "ticket_export"), what
    # A theme criterion matches the theme id too.
    [by_id] = parse(rules=[{"name": "t", "theme": "t01*"}]).rules
    assert by_id.matches(cand("i", theme_id="t017"), None)
    assert not by_id.matches(cand("i"), None)


def test_an_escalation_criterion_matches_any_threat_of_the_voice():
    [threat] = parse(rules=[{"name": "threat", "escalation": ["regulator", "med*"]}]).rules
    assert threat.matches(cand("a", escalations=("compensation", "media")), None)
    assert not threat.matches(cand("b", escalations=("legal",)), None)
    assert not threat.matches(cand("c"), None)


def test_sentiment_and_source_kind_criteria():
    [complaints, positive] = parse(
        rules=[
            {"name": "c", "source_kind": "complaints", "sentiment": "any"},
            {"name": "p", "sentiment": ["positive"]},
        ]
    ).rules
    neutral = cand("n", sentiment="neutral", source="heimao")
    assert complaints.matches(neutral, "complaints")
    assert not complaints.matches(neutral, "microblog")
    assert not complaints.matches(neutral, None)  # a source not in the settings has no kind
    assert positive.matches(cand("p", sentiment="positive"), None)
    assert not positive.matches(cand("q"), None)


def test_the_first_matching_rule_takes_a_voice_once():
    config = parse(
        rules=[
            {"name": "vip", "segment": "高价值"},
            {"name": "ticket", "channel": "ticket"},
            {"name": "never", "channel": "survey"},
        ]
    )
    vip = cand("v", customer_id="c1", segment="高价值")
    plain = cand("p")
    social = cand("s", channel="social")
    assigned = assign_rules([vip, plain, social, plain], config)
    assert [(rule.name, c.voice.doc_id) for _, rule, c in assigned] == [
        ("vip", "v"),
        ("ticket", "p"),
    ]


# --- merge keys and merging -------------------------------------------------------------


def test_merge_key_prefers_customer_and_theme_then_duplicate_group_then_document():
    assert merge_key(voice("a", customer_id="c1", theme_id="t1", dup_group="g")) == "cust:c1:t1"
    assert merge_key(voice("a", customer_id="c1", category="物流配送")) == "cust:c1:物流配送"
    assert merge_key(voice("a", customer_id="c1")) == "cust:c1:-"
    assert merge_key(voice("a", dup_group="g7")) == "dup:g7"
    assert merge_key(voice("a")) == "doc:a"


def test_same_customer_and_theme_merge_within_merge_days_and_split_after():
    config = parse(merge_days=7, rules=[{"name": "n"}])
    c = {"customer_id": "c1", "theme_id": "t1"}
    voices = [
        cand("d1", 0, **c),
        cand("d2", 24 * 6, **c),  # 6 days after d1
        cand("d3", 24 * 13, **c),  # 7 days after d2: still within
        cand("d4", 24 * 20 + 1, **c),  # 7 days and an hour after d3: a new case
        cand("o1", 1, customer_id="c1", theme_id="t2"),  # another theme
        cand("o2", 2, customer_id="c2", theme_id="t1"),  # another customer
    ]
    openings = build_openings(voices, config)
    got = [(o.merge_key, [v.doc_id for v in o.voices]) for o in openings]
    assert got == [
        ("cust:c1:t1", ["d1", "d2", "d3"]),
        ("cust:c1:t2", ["o1"]),
        ("cust:c2:t1", ["o2"]),
        ("cust:c1:t1", ["d4"]),
    ]


def test_near_duplicate_reposts_are_one_case_and_unrelated_voices_their_own():
    config = parse(rules=[{"name": "social", "channel": "social"}])
    posts = [
        cand("p1", 0, channel="social", dup_group="g1", reach=3),
        cand("p2", 2, channel="social", dup_group="g1", reach=500),
        cand("p3", 3, channel="social"),
    ]
    [reposts, alone] = build_openings(posts, config)
    assert (reposts.merge_key, len(reposts.voices)) == ("dup:g1", 2)
    assert reposts.severity["reach"] == 503  # 2 points: the reposts' reach adds up
    assert (alone.merge_key, [v.doc_id for v in alone.voices]) == ("doc:p3", ["p3"])


def test_alert_verbatims_open_one_case_per_episode_before_other_rules():
    config = parse(
        rules=[
            {"name": "alert", "from": "alerts", "min_severity": "medium"},
            {"name": "ticket", "channel": "ticket"},
        ]
    )
    alerts = [
        AlertVerbatims("ep1", "high", "theme", "t1", ("a1", "a2")),
        AlertVerbatims("ep2", "low", "source", "shop", ("a3",)),  # below min_severity
    ]
    voices = [cand("a1", 0), cand("a2", 24 * 30, sentiment="neutral"), cand("a3", 1)]
    openings = build_openings(voices, config, alerts=alerts)
    got = [(o.merge_key, o.rule, [v.doc_id for v in o.voices]) for o in openings]
    # An episode's verbatims stay together whatever their dates and labels.
    assert got == [("alert:ep1", "alert", ["a1", "a2"]), ("doc:a3", "ticket", ["a3"])]
    [kinds] = parse(rules=[{"name": "a", "from": "alerts", "alert_kind": "source"}]).rules
    assert not kinds.matches_alert(alerts[0]) and kinds.matches_alert(alerts[1])


def test_routing_takes_the_first_route_matching_any_voice_value():
    config = parse(
        rules=[{"name": "n"}],
        routing=[
            {"category": "物流*", "region": "广东", "team": "物流组", "owner": "王芳"},
            {"channel": "social", "team": "舆情组"},
            {"team": "客服组"},
        ],
    )
    guangdong = cand("g", categories=("包装破损", "物流配送"), customer_id="c", province="广东")
    beijing = cand("b", categories=("物流配送",), customer_id="d", province="北京")
    social = cand("s", channel="social")
    by_id = {o.voices[0].doc_id: o for o in build_openings([guangdong, beijing, social], config)}
    assert (by_id["g"].team, by_id["g"].owner) == ("物流组", "王芳")
    assert (by_id["b"].team, by_id["b"].owner) == ("客服组", None)
    assert by_id["s"].team == "舆情组"
    assert build_openings([beijing], parse(rules=[{"name": "n"}]))[0].team is None


def test_an_opening_carries_its_fields_title_and_the_rule_floor():
    config = parse(rules=[{"name": "platform", "source_kind": "complaints", "min_priority": "P2"}])
    v = cand("c", categories=("退款售后",), aspects=("客服",), source="heimao", channel="social",
             negative_score=0.7, customer_id="c9", segment="一般", province="浙江",
             excerpt="退款申请  两周了\n还没有处理，" + "很" * 60)  # fmt: skip
    [o] = build_openings([v], config, source_kinds={"heimao": "complaints"})
    assert o.rule == "platform"
    assert o.priority == "P2"  # 1 + 0 + 1 + 0 = 2 points would be P4
    assert o.severity["points"] == 2
    assert (o.customer_id, o.segment, o.province) == ("c9", "一般", "浙江")
    assert (o.source, o.channel, o.category, o.aspect) == ("heimao", "social", "退款售后", "客服")
    assert o.title == "退款售后：退款申请 两周了 还没有处理，" + "很" * 25
    assert len(o.title) == len("退款售后：") + 40
    assert build_openings([v], config) == []  # without the kind map the rule cannot match
