"""Case opening rules: which voices open a case, how urgent it is, and who gets it.

The ``merge_days``, ``[cases.priority]``, ``[[cases.rules]]`` and ``[[cases.routing]]``
parts of the ``[cases]`` table (docs/cases-rules.md has the reference and examples).
Pure: no database, no I/O; `voc.case_opening` applies them to candidate voices.

Priority is a points formula (`priority_points`): each severity input earns 0–3 points by
the thresholds it reaches, a customer tier earns its configured points, and the sum picks
P1–P4 by the configured levels; a rule may set a floor (``min_priority``).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from voc.case_match import AlertVerbatims, Candidate, Globs, no_globs
from voc.case_priority import PriorityConfig, number, parse_case_priority
from voc.cases import PRIORITIES
from voc.kinds import kind_names, nearest_kind
from voc.records import CHANNELS

#: The keys of the ``[cases]`` table this module reads (the others belong to other parts).
RULES_KEYS = ("merge_days", "priority", "rules", "routing")
SENTIMENTS = ("negative", "neutral", "positive")
#: `spike_episodes.severity` values, least severe first.
EPISODE_SEVERITIES = ("low", "medium", "high")
#: Where a rule's voices come from: every stored voice, or the verbatims behind an alert.
RULE_ORIGINS = ("voices", "alerts")
ALERT_KEY_KINDS = ("source", "product", "category", "theme", "aspect", "segment")
#: `doc_escalation.kind` values (`nlp.stages.escalation`).
ESCALATION_KINDS = ("regulator", "media", "legal", "compensation")

_GLOB_KEYS = {
    "channel": "channels",
    "source_kind": "source_kinds",
    "source": "sources",
    "segment": "segments",
    "category": "categories",
    "aspect": "aspects",
    "theme": "themes",
    "escalation": "escalations",
}
_RULE_KEYS = {
    "name", "enabled", "from", "sentiment", "min_negative_score", "min_anger", "min_reach",
    "min_priority", "min_severity", "alert_kind", *_GLOB_KEYS,
}  # fmt: skip
_ROUTE_GLOBS = {
    "rule": "rules",
    "theme": "themes",
    "category": "categories",
    "aspect": "aspects",
    "region": "regions",
    "segment": "segments",
    "source": "sources",
    "channel": "channels",
}


@dataclass(frozen=True)
class OpenRule:
    """One ``[[cases.rules]]`` entry: which voices open (or join) a case.

    Every criterion given must match; an omitted one matches everything. Glob criteria
    list shell-style patterns, any of which may match; `categories` and `aspects` match
    any of the document's categories or negatively judged aspects, `escalations` any of
    the escalations it threatens (regulator, media, legal, compensation); `themes` matches the
    theme id or its label; `segments` needs a customer link (an unlinked voice has none).

    Attributes:
        name: Shown on the case (``rule``); unique.
        origin: ``voices`` (every stored voice of the days read) or ``alerts`` (only the
            verbatims of spike alerts in those days; key ``from``).
        sentiments: Sentiment labels by the current model; empty = any (``"any"``).
        min_negative_score: Least negativity (1 − the model's positivity score).
        min_anger: Least anger probability (voices without an emotion score never match).
        min_reach: Least reposts + comments.
        min_priority: A floor: the case gets at least this priority.
        min_severity: Alerts only: the least severe episode whose verbatims open a case.
        alert_kinds: Alerts only: the episode key kinds (source, theme, category…).
    """

    name: str
    origin: str = "voices"
    channels: Globs = field(default_factory=no_globs)
    source_kinds: Globs = field(default_factory=no_globs)
    sources: Globs = field(default_factory=no_globs)
    segments: Globs = field(default_factory=no_globs)
    categories: Globs = field(default_factory=no_globs)
    aspects: Globs = field(default_factory=no_globs)
    themes: Globs = field(default_factory=no_globs)
    escalations: Globs = field(default_factory=no_globs)
    sentiments: tuple[str, ...] = ("negative",)
    min_negative_score: float | None = None
    min_anger: float | None = None
    min_reach: int | None = None
    min_priority: str | None = None
    min_severity: str = "low"
    alert_kinds: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Only the criteria given are checked (a rule is tried on every candidate voice).
        given = (("channel", self.channels), ("source", self.sources), ("segment", self.segments))
        object.__setattr__(self, "_voice_globs", tuple((a, g) for a, g in given if g))
        object.__setattr__(
            self,
            "_thresholds",
            tuple(
                (attr, floor)
                for attr, floor in (
                    ("negative_score", self.min_negative_score),
                    ("anger", self.min_anger),
                    ("reach", self.min_reach),
                )
                if floor is not None
            ),
        )

    def matches(self, c: Candidate, source_kind: str | None) -> bool:
        """Whether the voice meets every criterion (an alert rule's alert is checked by
        `matches_alert`)."""
        v = c.voice
        if self.sentiments and v.sentiment not in self.sentiments:
            return False
        for attr, floor in self._thresholds:
            value = getattr(v, attr)
            if value is None or value < floor:
                return False
        for attr, globs in self._voice_globs:
            if not globs.match(getattr(v, attr)):
                return False
        if self.source_kinds and not self.source_kinds.match(source_kind):
            return False
        if self.categories and not self.categories.match_any(c.categories):
            return False
        if self.aspects and not self.aspects.match_any(c.aspects):
            return False
        if self.escalations and not self.escalations.match_any(c.escalations):
            return False
        return not self.themes or self.themes.match_any((v.theme_id, v.theme_label))

    def matches_alert(self, alert: AlertVerbatims) -> bool:
        """Whether an alert's verbatims are this (alerts) rule's."""
        if alert.severity not in EPISODE_SEVERITIES:
            return False
        floor = EPISODE_SEVERITIES.index(self.min_severity)
        if EPISODE_SEVERITIES.index(alert.severity) < floor:
            return False
        return not self.alert_kinds or alert.key_kind in self.alert_kinds


@dataclass(frozen=True)
class CaseRoute:
    """One ``[[cases.routing]]`` entry: the team (and owner) of the cases it matches. The
    first matching route decides; criteria as in `OpenRule` (``region`` = the customer's
    province)."""

    team: str
    owner: str | None = None
    rules: Globs = field(default_factory=no_globs)
    themes: Globs = field(default_factory=no_globs)
    categories: Globs = field(default_factory=no_globs)
    aspects: Globs = field(default_factory=no_globs)
    regions: Globs = field(default_factory=no_globs)
    segments: Globs = field(default_factory=no_globs)
    sources: Globs = field(default_factory=no_globs)
    channels: Globs = field(default_factory=no_globs)

    def __post_init__(self) -> None:
        given = tuple((key, getattr(self, attr)) for key, attr in _ROUTE_GLOBS.items())
        object.__setattr__(self, "_given", tuple((k, g) for k, g in given if g))

    @property
    def keys(self) -> tuple[str, ...]:
        """The criteria this route gives (rule, theme, category…)."""
        return tuple(key for key, _ in self._given)

    def matches(self, fields: Mapping[str, Collection[str | None]]) -> bool:
        """Whether every given criterion matches one of the case's values for it (keys
        rule, theme, category, aspect, region, segment, source, channel)."""
        return all(globs.match_any(fields.get(key, ())) for key, globs in self._given)


#: The issue's examples, used when ``[[cases.rules]]`` is not written.
DEFAULT_RULES: tuple[OpenRule, ...] = (
    OpenRule("alert_verbatims", origin="alerts", min_severity="medium", sentiments=()),
    OpenRule(
        "complaint_platform", source_kinds=Globs(("complaints",)), sentiments=(), min_priority="P2"
    ),
    OpenRule("negative_ticket", channels=Globs(("ticket",))),
    OpenRule("vip_negative", segments=Globs(("高价值",)), channels=Globs(("review", "social"))),
)


@dataclass(frozen=True)
class CaseRulesConfig:
    """The opening part of ``[cases]``.

    Attributes:
        merge_days: A voice joins an open case with its merge key (same customer and
            theme, same near-duplicate group) whose newest voice is at most this many days
            older; else it opens a new case.
        rules: Opening rules in file order; the first that matches a voice decides.
        priority: The priority formula.
        routes: Routing rules in file order; the first that matches decides the team.
    """

    merge_days: int = 7
    rules: tuple[OpenRule, ...] = DEFAULT_RULES
    priority: PriorityConfig = field(default_factory=PriorityConfig)
    routes: tuple[CaseRoute, ...] = ()

    @cached_property
    def route_keys(self) -> frozenset[str]:
        """The criteria some route gives (only those values are gathered per case)."""
        return frozenset(key for route in self.routes for key in route.keys)

    def labels_needed(self) -> tuple[str, ...]:
        """The sentiment labels some voice rule accepts (what candidates must include)."""
        labels = set()
        # Alert rules read their verbatims by id, whatever the label.
        for rule in self.rules:
            if rule.origin == "voices":
                labels.update(rule.sentiments or SENTIMENTS)
        return tuple(s for s in SENTIMENTS if s in labels)


def parse_opening_rules(value: Any, origin: str) -> tuple[OpenRule, ...]:
    """Build the opening rules from the ``[[cases.rules]]`` array (disabled ones dropped).

    Raises:
        ValueError: naming `origin`, the entry and the key, in Chinese and English (e.g.
            ``voc.toml: [[cases.rules]] 第 2 条 (vip) segment: …``).
    """
    if not isinstance(value, list):
        raise ValueError(
            f"{origin}: [cases] rules: 须写成 [[cases.rules]] 表数组 / must be an array of "
            "[[cases.rules]] tables"
        )
    rules = [_rule(i, spec, origin) for i, spec in enumerate(value, 1)]
    seen: set[str] = set()
    for i, rule in enumerate(rules, 1):
        if rule.name in seen:
            raise ValueError(
                f"{origin}: [[cases.rules]] 第 {i} 条 name: 规则名重复 {rule.name!r} / "
                "rule names must be unique"
            )
        seen.add(rule.name)
    return tuple(r for r, spec in zip(rules, value, strict=True) if spec.get("enabled", True))


def parse_routing(value: Any, origin: str, teams: Mapping[str, Any]) -> tuple[CaseRoute, ...]:
    """Build the routes from the ``[[cases.routing]]`` array; `teams` are the configured
    ``[cases.teams]`` (names → `voc.case_config.TeamConfig` or their tables).

    Raises:
        ValueError: a route naming a team that is not configured, or an owner not among
            the team's ``owners`` (when it lists them); naming `origin`, entry and key.
    """
    if not isinstance(value, list):
        raise ValueError(
            f"{origin}: [cases] routing: 须写成 [[cases.routing]] 表数组 / must be an array of "
            "[[cases.routing]] tables"
        )
    return tuple(_route(i, spec, teams, origin) for i, spec in enumerate(value, 1))


def parse_case_rules(table: Mapping[str, Any], origin: str) -> CaseRulesConfig:
    """Build the whole opening part from a ``[cases]`` table (only `RULES_KEYS` and the
    team names of ``[cases.teams]`` are read).

    Raises:
        ValueError: as `parse_opening_rules`, `parse_routing` and
            `voc.case_priority.parse_case_priority`.
    """
    if not isinstance(table, Mapping):
        raise ValueError(f"{origin}: [cases] 必须是表 / must be a table")
    values: dict[str, Any] = {}
    if "merge_days" in table:
        days = table["merge_days"]
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 365:
            raise ValueError(
                f"{origin}: [cases] merge_days: 须为 1 到 365 的整数 / must be an integer "
                f"from 1 to 365, got {days!r}"
            )
        values["merge_days"] = days
    if "priority" in table:
        values["priority"] = parse_case_priority(table["priority"], origin)
    if "rules" in table:
        values["rules"] = parse_opening_rules(table["rules"], origin)
    teams = table.get("teams", {})
    if "routing" in table:
        values["routes"] = parse_routing(
            table["routing"], origin, teams if isinstance(teams, Mapping) else {}
        )
    return CaseRulesConfig(**values)


def rules_config(cases: Any, origin: str = "[cases]") -> CaseRulesConfig:
    """The opening part of a `voc.case_config.CaseConfig` (``Settings.cases``): its
    ``merge_days``, ``rules``, ``priority`` and ``routing`` slots, parsed already when the
    settings wired this module's parsers, else parsed here. None: the defaults."""
    if cases is None:
        return CaseRulesConfig()
    teams = getattr(cases, "teams", {}) or {}
    rules = getattr(cases, "rules", None)
    priority = getattr(cases, "priority", None)
    routing = getattr(cases, "routing", None)
    values: dict[str, Any] = {"merge_days": getattr(cases, "merge_days", 7)}
    if rules is not None:
        values["rules"] = rules if isinstance(rules, tuple) else parse_opening_rules(rules, origin)
    if priority is not None:
        values["priority"] = (
            priority
            if isinstance(priority, PriorityConfig)
            else parse_case_priority(priority, origin)
        )
    if routing is not None:
        values["routes"] = (
            routing if isinstance(routing, tuple) else parse_routing(routing, origin, teams)
        )
    return CaseRulesConfig(**values)


def _globs(spec: Mapping[str, Any], key: str, where: str) -> Globs:
    raw = spec[key]
    items = [raw] if isinstance(raw, str) else raw
    if (
        not isinstance(items, list)
        or not items
        or not all(isinstance(i, str) and i.strip() for i in items)
    ):
        raise ValueError(
            f"{where} {key}: 须为文本或文本列表 / must be a string or a non-empty list of "
            f"strings, got {raw!r}"
        )
    return Globs(tuple(i.strip() for i in items))


def _choice(value: Any, allowed: tuple[str, ...], where: str, key: str) -> str:
    if value not in allowed:
        raise ValueError(
            f"{where} {key}: 须为 {' / '.join(allowed)} 之一 / must be one of "
            f"{', '.join(allowed)}, got {value!r}"
        )
    return value


def _rule(index: int, spec: Any, origin: str) -> OpenRule:
    where = f"{origin}: [[cases.rules]] 第 {index} 条"
    if not isinstance(spec, Mapping):
        raise ValueError(f"{where}: 须为表 / must be a table")
    name = spec.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{where} name: 必填 / is required (a non-empty string)")
    where = f"{where} ({name.strip()})"
    unknown = sorted(set(spec) - _RULE_KEYS)
    if unknown:
        raise ValueError(f"{where}: 未知的键 / unknown key(s): {', '.join(unknown)}")
    if not isinstance(spec.get("enabled", True), bool):
        raise ValueError(f"{where} enabled: 须为 true 或 false / must be true or false")
    values: dict[str, Any] = {"name": name.strip()}
    values["origin"] = _choice(spec.get("from", "voices"), RULE_ORIGINS, where, "from")
    for key, attr in _GLOB_KEYS.items():
        if key in spec:
            values[attr] = _globs(spec, key, where)
    for channel in values.get("channels", Globs()).patterns:
        if not any(fnmatch.fnmatchcase(c, channel) for c in CHANNELS):
            _choice(channel, CHANNELS, where, "channel")
    for kind in values.get("source_kinds", Globs()).patterns:
        if not any(fnmatch.fnmatchcase(k, kind) for k in kind_names()):
            near = nearest_kind(kind)
            hint = f"；是否要写 {near}？/ did you mean {near}?" if near else ""
            raise ValueError(
                f"{where} source_kind: 未知类型 {kind!r}{hint} / unknown source kind; kinds: "
                f"{', '.join(kind_names())}"
            )
    for kind in values.get("escalations", Globs()).patterns:
        if not any(fnmatch.fnmatchcase(k, kind) for k in ESCALATION_KINDS):
            _choice(kind, ESCALATION_KINDS, where, "escalation")
    if "sentiment" in spec:
        raw = spec["sentiment"]
        items = [raw] if isinstance(raw, str) else raw
        if not isinstance(items, list) or not items:
            raise ValueError(f"{where} sentiment: 须为文本或列表 / must be a string or a list")
        if items == ["any"]:
            values["sentiments"] = ()
        else:
            values["sentiments"] = tuple(_choice(s, SENTIMENTS, where, "sentiment") for s in items)
    for key, top in (("min_negative_score", 1.0), ("min_anger", 1.0), ("min_reach", None)):
        if key in spec:
            values[key] = number(spec[key], key, where, top)
    if "min_reach" in values:
        values["min_reach"] = int(values["min_reach"])
    if "min_priority" in spec:
        values["min_priority"] = _choice(spec["min_priority"], PRIORITIES, where, "min_priority")
    if values["origin"] == "alerts":
        if "min_severity" in spec:
            values["min_severity"] = _choice(
                spec["min_severity"], EPISODE_SEVERITIES, where, "min_severity"
            )
        if "alert_kind" in spec:
            kinds = _globs(spec, "alert_kind", where).patterns
            values["alert_kinds"] = tuple(
                _choice(k, ALERT_KEY_KINDS, where, "alert_kind") for k in kinds
            )
        # An alert's verbatims are mostly negative; the rule takes them all unless told.
        values.setdefault("sentiments", ())
    elif "min_severity" in spec or "alert_kind" in spec:
        raise ValueError(
            f'{where}: min_severity / alert_kind 只用于 from = "alerts" / only apply to '
            'rules with from = "alerts"'
        )
    return OpenRule(**values)


def _route(index: int, spec: Any, teams: Mapping[str, Any], origin: str) -> CaseRoute:
    where = f"{origin}: [[cases.routing]] 第 {index} 条"
    if not isinstance(spec, Mapping):
        raise ValueError(f"{where}: 须为表 / must be a table")
    unknown = sorted(set(spec) - {"team", "owner", *_ROUTE_GLOBS})
    if unknown:
        raise ValueError(f"{where}: 未知的键 / unknown key(s): {', '.join(unknown)}")
    team = spec.get("team")
    if not isinstance(team, str) or not team.strip():
        raise ValueError(f"{where} team: 必填 / is required (a team of [cases.teams])")
    team = team.strip()
    if team not in teams:
        configured = "、".join(sorted(teams)) or "无 / none"
        raise ValueError(
            f"{where} team: 未知团队 {team!r}，已配置：{configured} / unknown team; add it "
            "under [cases.teams]"
        )
    values: dict[str, Any] = {"team": team}
    if "owner" in spec:
        owner = spec["owner"]
        if not isinstance(owner, str) or not owner.strip():
            raise ValueError(f"{where} owner: 须为非空文本 / must be a non-empty string")
        members = _owners(teams[team])
        if members and owner.strip() not in members:
            raise ValueError(
                f"{where} owner: {owner.strip()!r} 不在 {team} 的 owners 中（{'、'.join(members)}）"
                f" / is not one of the team's owners"
            )
        values["owner"] = owner.strip()
    for key, attr in _ROUTE_GLOBS.items():
        if key in spec:
            values[attr] = _globs(spec, key, where)
    return CaseRoute(**values)


def _owners(team: Any) -> tuple[str, ...]:
    owners = team.get("owners", ()) if isinstance(team, Mapping) else getattr(team, "owners", ())
    return tuple(owners or ())
