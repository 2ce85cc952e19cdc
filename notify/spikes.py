"""From stored spike episodes to alert messages: one message per event.

An event on one day often shows in several series at once (the source's negative volume
and share, the 物流 category, the theme, the aspect). Episodes whose periods overlap are
one event, sent as one message: its lead is the most significant source episode (else the
most significant one), the others are listed as what it concerns. The message id is the
lead's episode id, which stays the same while later runs extend the spike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from notify.message import AlertMessage
from voc.signals import SEGMENT_SEP, split_segment_key

KIND_NAMES = {
    "source": "来源",
    "product": "商品",
    "category": "类别",
    "theme": "主题",
    "aspect": "方面",
}


def key_name(kind: str, value: str, theme_labels: Mapping[str, str]) -> str:
    """What a series key is called in a message: ``来源 demo_weibo``, ``主题 物流慢``,
    ``高价值 客户``, ``高价值 客户 · 物流``."""
    segment = split_segment_key((kind, value))
    if segment:
        name = f"{segment[0]} 客户"
        return name if segment[1] is None else f"{name}{SEGMENT_SEP}{segment[1]}"
    if kind == "theme":
        value = theme_labels.get(value, value)
    return f"{KIND_NAMES.get(kind, kind)} {value}"


METRIC_NAMES = {"negative_volume": "负面声量", "negative_share": "负面占比"}
_RANK = {"info": 0, "warning": 1, "critical": 2}


def group_events(episodes: Sequence[Mapping[str, Any]]) -> list[list[Mapping[str, Any]]]:
    """Episodes (as `warehouse.spikes.spike_episodes` returns them) grouped into events:
    daily episodes whose [start, end] overlap, each group most significant first."""
    daily = sorted(
        (e for e in episodes if e["granularity"] == "day"), key=lambda e: (e["start"], e["end"])
    )
    groups: list[list[Mapping[str, Any]]] = []
    end = ""
    for ep in daily:
        if groups and ep["start"] <= end:
            groups[-1].append(ep)
            end = max(end, ep["end"])
        else:
            groups.append([ep])
            end = ep["end"]
    return [sorted(g, key=_significance) for g in groups]


def _significance(ep: Mapping[str, Any]) -> tuple:
    return (ep["key_kind"] != "source", ep["p_value"], ep["episode_id"])


def event_message(
    group: Sequence[Mapping[str, Any]],
    theme_labels: Mapping[str, str],
    dashboard_url: str | None = None,
) -> AlertMessage:
    """The alert message of one event (see `group_events`)."""
    lead = group[0]
    explanation = lead["explanation"]

    def name(ep: Mapping[str, Any]) -> str:
        return key_name(ep["key_kind"], ep["key_value"], theme_labels)

    start, end = lead["start"][:10], lead["end"][:10]
    window = start if start == end else f"{start} 至 {end}"
    metric = METRIC_NAMES.get(lead["metric"], lead["metric"])
    severity = max((ep["severity"] for ep in group), key=lambda s: _RANK.get(s, 0))
    themes = [d["value"] for d in explanation.get("themes", [])][:3]
    also = [name(ep) for ep in group[1:] if name(ep) != name(lead)]
    link = None
    if dashboard_url:
        link = f"{dashboard_url.rstrip('/')}/?{urlencode({'alert': lead['episode_id']})}"
    return AlertMessage(
        alert_id=lead["episode_id"],
        severity=severity,
        title=f"{name(lead)} {metric}激增" + (f"：{themes[0]}" if themes else ""),
        source=lead["key_value"] if lead["key_kind"] == "source" else "全部",
        scope="；".join(dict.fromkeys([name(lead), *also])),
        window=window,
        metric=lead["metric"],
        observed=float(lead["observed"]),
        expected=float(lead["expected"]),
        statistic=f"{lead['ratio']:.1f} 倍，p = {lead['p_value']:.1e}",
        themes=tuple(themes),
        aspects=tuple(d["value"] for d in explanation.get("aspects", [])[:3]),
        key_phrases=tuple(d["value"] for d in explanation.get("phrases", [])[:5]),
        verbatims=tuple(
            (v["text"], int(v["group_size"]), None) for v in explanation.get("verbatims", [])[:5]
        ),
        link=link,
        categories=tuple(
            dict.fromkeys(
                [ep["key_value"] for ep in group if ep["key_kind"] == "category"]
                + [d["value"] for d in explanation.get("categories", [])[:2]]
            )
        ),
        kind="spike",
        segments=tuple(
            dict.fromkeys(
                found[0]
                for ep in group
                if (found := split_segment_key((ep["key_kind"], ep["key_value"])))
            )
        ),
    )


def recent_events(
    episodes: Sequence[Mapping[str, Any]], newest: datetime, max_age_days: int
) -> list[list[Mapping[str, Any]]]:
    """Events still open or that ended within `max_age_days` of the newest data: what is
    worth telling people now (older ones are history, shown in the dashboard)."""
    cutoff = newest.toordinal() - max_age_days
    return [
        g
        for g in group_events(episodes)
        if any(ep["is_open"] for ep in g)
        or max(datetime.fromisoformat(ep["end"]).toordinal() for ep in g) >= cutoff
    ]
