"""Small builders of case voices and openings for the case store tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from voc.cases import CaseOpening, CaseVoice

T0 = datetime(2025, 9, 26, 9, 30, tzinfo=UTC)


def voice(doc_id: str, day: float = 0, **kw) -> CaseVoice:
    """A negative voice posted `day` days after `T0`."""
    values = {
        "source": "demo_tickets",
        "channel": "ticket",
        "excerpt": f"投诉 {doc_id}：快递三天没到",
        "sentiment": "negative",
        "negative_score": 0.93,
        "reach": 3,
        "theme_id": "t1",
        "theme_label": "物流慢",
    }
    values.update(kw)
    return CaseVoice(doc_id=doc_id, created_at=T0 + timedelta(days=day), **values)


def opening(key: str, *voices: CaseVoice, priority: str = "P3", **kw) -> CaseOpening:
    """An opening of `voices` under merge key `key`."""
    values = {
        "rule": "negative_ticket",
        "title": f"物流慢 {key}",
        "severity": {"negative_score": 0.93, "reach": 3, "segment": None},
        "team": "客服一组",
        "channel": "ticket",
        "source": "demo_tickets",
        "theme_id": "t1",
        "theme_label": "物流慢",
    }
    values.update(kw)
    return CaseOpening(merge_key=key, voices=tuple(voices), priority=priority, **values)
