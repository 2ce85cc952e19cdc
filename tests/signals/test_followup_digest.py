"""Each owner's daily 回访 list as a message: what it says, and that ``[alerts]`` routes by
kind and by the team in its scope send it to the right channel."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace

from signals.followup_digest import followup_messages, with_team_routes
from voc.alert_settings import AlertConfig, ChannelConfig, Route
from voc.cases import Case, Followup
from warehouse.followup_views import DailyList

DAY = date(2025, 10, 14)
AT = datetime(2025, 10, 13, tzinfo=UTC)


def _followup(i: int, owner: str, team: str | None, due: date, case_id: int | None = None):
    return Followup(i, case_id, f"cust-{i}", owner, team, due, "case_resolved", "planned", AT)


def _case(case_id: int) -> Case:
    return Case(
        case_id,
        "doc:d",
        "negative_ticket",
        "物流慢 三天没到",
        "follow_up",
        "P2",
        "售后",
        "王五",
        "cust-1",
        "高价值",
        None,
        "demo_tickets",
        "ticket",
        "t",
        "物流慢",
        None,
        None,
        {},
        AT,
        AT,
        3,
        1,
        None,
        None,
        None,
    )


def test_one_message_per_owner_oldest_first() -> None:
    daily = DailyList(
        DAY,
        {
            "王五": [
                _followup(2, "王五", "售后", DAY, case_id=7),
                _followup(1, "王五", "售后", date(2025, 10, 10)),
            ],
            "李四": [_followup(3, "李四", None, DAY)],
        },
        {7: _case(7)},
    )
    wang, li = followup_messages(daily, "http://dash.example:8501")
    assert (wang.alert_id, wang.kind, wang.severity) == (
        "followup:2025-10-14:王五",
        "followup",
        "info",
    )
    assert wang.title == "王五 今日回访 2 个（逾期 1 个）"
    assert wang.scope == "团队 售后 · 负责人 王五" and li.scope == "团队 未分配 · 负责人 李四"
    assert [v.text for v in wang.verbatims] == [
        "工单解决后回访：cust-1（逾期 4 天）",
        "工单解决后回访：物流慢 三天没到",
    ]
    assert wang.segments == ("高价值",)
    assert wang.link.startswith("http://dash.example:8501/?page=followups&owner=")
    config = AlertConfig(
        channels=(
            ChannelConfig("all", "webhook", url="http://127.0.0.1:9/a"),
            ChannelConfig("after_sales", "webhook", url="http://127.0.0.1:9/b"),
            ChannelConfig("lists", "webhook", url="http://127.0.0.1:9/c"),
        ),
        routes=(
            Route(("after_sales",), kind=("followup",), scope=("团队 售后*",)),
            Route(("lists",), kind=("followup",)),
        ),
    )
    assert config.channels_for(wang) == ("after_sales",)
    assert config.channels_for(li) == ("lists",)
    assert followup_messages(DailyList(DAY, {}, {})) == []
    # A team's own channels come first; a team without channels keeps the [alerts] routes.
    teams = {"售后": SimpleNamespace(channels=("all",)), "[VIP]": SimpleNamespace(channels=())}
    routed = with_team_routes(config, teams)
    assert routed.channels_for(wang) == ("all",) and routed.channels_for(li) == ("lists",)
    vip = with_team_routes(config, {"[VIP]": SimpleNamespace(channels=("all",))})
    assert vip.channels_for(wang) == ("after_sales",)
    assert vip.routes[0].scope == ("团队 [[]VIP] · *",)
