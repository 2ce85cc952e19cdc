"""Escalation stage: the customer threatens to take the complaint further.

A complaint that names a regulator (12315, 消协, 市场监管局), the media or a complaint
platform (曝光, 黑猫投诉), a lawyer or court, or a statutory compensation claim (退一赔三)
needs an answer first: these are the voices a PR team and the cases work act on before
the rest. Rules over the normalised text, one row per document and kind, with the words
that matched as evidence.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from voc.stages import Output, StageDoc

#: Kind → the phrases that signal it (normalised, Simplified text).
RULES: dict[str, tuple[str, ...]] = {
    "regulator": (
        "12315",
        "12345",
        "消协",
        "消费者协会",
        "市场监管",
        "工商局",
        "质监局",
        "315",
    ),
    "media": ("曝光", "媒体", "记者", "黑猫投诉", "上热搜", "发微博", "发抖音", "小红书曝光"),
    "legal": ("律师", "起诉", "法院", "诉讼", "仲裁", "报警", "立案"),
    "compensation": ("退一赔三", "假一赔十", "三倍赔偿", "十倍赔偿", "赔偿", "索赔"),
}
# "315" only as a number of its own (not inside 13150000 or an order number).
_STANDALONE_DIGITS = re.compile(r"(?<!\d)(?:12315|12345|315)(?!\d)")


@dataclass(frozen=True, slots=True)
class EscalationSignal:
    """`doc_escalation`: one kind of escalation a document threatens and the words."""

    doc_id: str
    kind: str
    evidence: str


def _version() -> str:
    rules = repr(sorted((k, v) for k, v in RULES.items()))
    return "escalation-rules-v1+" + hashlib.sha256(rules.encode()).hexdigest()[:8]


def find_escalation(text: str) -> dict[str, list[str]]:
    """Kind → matched phrases in one normalised text (empty when none)."""
    digits = set(_STANDALONE_DIGITS.findall(text))
    found: dict[str, list[str]] = {}
    for kind, phrases in RULES.items():
        hits = [p for p in phrases if (p in digits if p.isdigit() else p in text)]
        # A longer phrase already says it: 消费者协会 needs no 消协, 三倍赔偿 no 赔偿.
        hits = [p for p in hits if not any(p != q and p in q for q in hits)]
        if hits:
            found[kind] = hits
    return found


#: The table this stage writes.
OUTPUT = Output("doc_escalation", EscalationSignal, "model_version", "scored_at")


@dataclass(frozen=True)
class EscalationStage:
    """Which escalations (regulator, media, legal, compensation) a document threatens."""

    name: str = "escalation"
    version: str = _version()
    channels: frozenset[str] | None = None
    reads: str = "text_norm"
    after: tuple[str, ...] = ("normalise",)
    distinct_only: bool = True
    outputs: tuple[Output, ...] = (OUTPUT,)
    batch_size: int | None = 50_000
    history_days: int | None = None

    def enrich(self, batch: Sequence[StageDoc], history: Sequence[Any] = ()) -> list[Any]:
        """One `EscalationSignal` per document and kind it threatens."""
        return [
            EscalationSignal(d.doc_id, kind, "、".join(hits))
            for d in batch
            for kind, hits in find_escalation(d.text_norm or "").items()
        ]
