"""Candidate voices + opening rules → case openings (`voc.cases.CaseOpening`). Pure.

Each voice goes to the first rule (file order) that matches it, once. Voices that belong
together share a merge key (`merge_key`): the same customer and theme, else the same
near-duplicate group (reposts, copy-paste), else the document alone; an alert rule's
verbatims share their episode's key. Voices with one key form one opening unless more
than ``merge_days`` pass between one and the next (then a new opening starts): the store
(`CaseStore.open_cases`) does the same against the cases already open, and skips voices
already in a case, so re-reading a day opens nothing new.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import timedelta

from voc.case_match import AlertVerbatims, Candidate
from voc.case_priority import priority_of, priority_points
from voc.case_rules import CaseRulesConfig, OpenRule
from voc.cases import PRIORITIES, CaseOpening, CaseVoice

#: Characters of the first voice's excerpt in a case title.
TITLE_CHARS = 40


def merge_key(voice: CaseVoice) -> str:
    """``cust:<customer>:<theme>`` for a customer's voice (theme id, else its first
    category, else ``-``), else ``dup:<group>`` for a voice in a near-duplicate group,
    else ``doc:<doc id>``."""
    if voice.customer_id:
        return f"cust:{voice.customer_id}:{voice.theme_id or voice.category or '-'}"
    if voice.dup_group:
        return f"dup:{voice.dup_group}"
    return f"doc:{voice.doc_id}"


def assign_rules(
    candidates: Iterable[Candidate],
    config: CaseRulesConfig,
    source_kinds: Mapping[str, str] | None = None,
    alerts: Sequence[AlertVerbatims] = (),
) -> list[tuple[str, OpenRule, Candidate]]:
    """(merge key, rule, candidate) for every candidate some rule takes, in candidate order;
    a document appears once.

    Args:
        candidates: Oldest first (`warehouse.case_candidates.candidate_voices`).
        config: The rules.
        source_kinds: Source name → kind (``Settings.sources``); unknown sources have none.
        alerts: The alerts whose verbatims alert rules take.
    """
    kinds = source_kinds or {}
    alert_of: dict[str, list[AlertVerbatims]] = defaultdict(list)
    for alert in alerts:
        for doc_id in alert.doc_ids:
            alert_of[doc_id].append(alert)
    seen: set[str] = set()
    out = []
    for c in candidates:
        doc_id = c.voice.doc_id
        if doc_id in seen:
            continue
        seen.add(doc_id)
        kind = kinds.get(c.voice.source)
        for rule in config.rules:
            if rule.origin == "alerts":
                alert = next((a for a in alert_of.get(doc_id, ()) if rule.matches_alert(a)), None)
                if alert is None or not rule.matches(c, kind):
                    continue
                out.append((f"alert:{alert.episode_id}", rule, c))
                break
            if rule.matches(c, kind):
                out.append((merge_key(c.voice), rule, c))
                break
    return out


def build_openings(
    candidates: Iterable[Candidate],
    config: CaseRulesConfig,
    source_kinds: Mapping[str, str] | None = None,
    alerts: Sequence[AlertVerbatims] = (),
) -> list[CaseOpening]:
    """The case openings of `candidates` by `config`'s rules, oldest first voice first.

    Args:
        candidates: Oldest first (`warehouse.case_candidates.candidate_voices`).
        config: Rules, priority formula, routes and merge_days.
        source_kinds: Source name → kind, for ``source_kind`` criteria.
        alerts: Alerts whose verbatims the alert rules take.
    """
    groups: dict[str, list[tuple[OpenRule, Candidate]]] = defaultdict(list)
    for key, rule, c in assign_rules(candidates, config, source_kinds, alerts):
        groups[key].append((rule, c))
    gap = timedelta(days=config.merge_days)
    openings = []
    for key, items in groups.items():
        items.sort(key=lambda item: (item[1].voice.created_at, item[1].voice.doc_id))
        run: list[tuple[OpenRule, Candidate]] = []
        for item in items:
            newest = run[-1][1].voice.created_at if run else None
            if (
                newest is not None
                and not key.startswith("alert:")
                and (item[1].voice.created_at - newest > gap)
            ):
                openings.append(opening(key, run, config))
                run = []
            run.append(item)
        openings.append(opening(key, run, config))
    openings.sort(key=lambda o: (o.voices[0].created_at, o.merge_key))
    return openings


def _first(voices: Sequence[CaseVoice], attr: str):
    if len(voices) == 1:
        return getattr(voices[0], attr)
    return next((getattr(v, attr) for v in voices if getattr(v, attr) is not None), None)


Items = Sequence[tuple[OpenRule, Candidate]]
#: A case's values for each routing criterion, from its voices.
_ROUTE_VALUES: dict[str, Callable[[Items], set[str]]] = {
    "rule": lambda items: {rule.name for rule, _ in items},
    "theme": lambda items: {
        x for _, c in items for x in (c.voice.theme_id, c.voice.theme_label) if x
    },
    "category": lambda items: {x for _, c in items for x in c.categories},
    "aspect": lambda items: {x for _, c in items for x in c.aspects},
    "region": lambda items: {c.voice.province for _, c in items if c.voice.province},
    "segment": lambda items: {c.voice.segment for _, c in items if c.voice.segment},
    "source": lambda items: {c.voice.source for _, c in items},
    "channel": lambda items: {c.voice.channel for _, c in items},
}


def opening(
    key: str, items: Sequence[tuple[OpenRule, Candidate]], config: CaseRulesConfig
) -> CaseOpening:
    """One opening of voices sharing `key` (oldest first): the rule of the first voice;
    severity from the most negative and angriest voice, the summed reach and the highest
    tier; priority by the formula, at least every matched rule's floor; the team and
    owner of the first route matching any of its voices' values; the other fields from
    the earliest voice that has them."""
    voices = tuple(c.voice for _, c in items)
    p = config.priority
    if len(voices) == 1:  # most openings: skip the aggregation
        v = voices[0]
        negative, anger, reach, segment = v.negative_score, v.anger, v.reach or 0, v.segment
        floor = items[0][0].min_priority
    else:
        negative = max((v.negative_score for v in voices if v.negative_score is not None),
                       default=None)  # fmt: skip
        anger = max((v.anger for v in voices if v.anger is not None), default=None)
        reach = sum(v.reach or 0 for v in voices)
        # The tier worth most points (a customer's tier may change between voices).
        segment = max((v.segment for v in voices if v.segment),
                      key=lambda s: p.tiers.get(s, 0), default=None)  # fmt: skip
        floors = [rule.min_priority for rule, _ in items if rule.min_priority]
        floor = min(floors, key=PRIORITIES.index) if floors else None
    points = priority_points(p, negative, anger, segment, reach)
    route_fields = {k: _ROUTE_VALUES[k](items) for k in config.route_keys}
    route = next((r for r in config.routes if r.matches(route_fields)), None)
    theme_label = _first(voices, "theme_label")
    category = _first(voices, "category")
    aspect = _first(voices, "aspect")
    topic = theme_label or category or aspect
    excerpt = " ".join(voices[0].excerpt.split())[:TITLE_CHARS]
    return CaseOpening(
        merge_key=key,
        rule=items[0][0].name,
        title=f"{topic}：{excerpt}" if topic else excerpt,
        voices=voices,
        priority=priority_of(p, points.total, floor),
        severity={
            "negative_score": negative,
            "anger": anger,
            "reach": reach,
            "segment": segment,
            "points": points.total,
            "points_negative": points.negative,
            "points_anger": points.anger,
            "points_tier": points.tier,
            "points_reach": points.reach,
        },
        team=route.team if route else None,
        owner=route.owner if route else None,
        customer_id=_first(voices, "customer_id"),
        segment=segment,
        province=_first(voices, "province"),
        source=voices[0].source,
        channel=voices[0].channel,
        theme_id=_first(voices, "theme_id"),
        theme_label=theme_label,
        aspect=aspect,
        category=category,
    )
