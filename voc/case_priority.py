"""The case priority formula (``[cases.priority]``, docs/cases-rules.md).

Each severity input earns points by the thresholds it reaches (0 for a missing score):
negativity (1 − the sentiment model's positivity score), anger probability and public
reach (reposts + comments); a customer tier earns its configured points. The sum picks
P1–P4 by the configured levels; an opening rule may set a floor.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from types import MappingProxyType
from typing import Any

from voc.cases import PRIORITIES

_PRIORITY_KEYS = {"negative_score", "anger", "reach", "tiers", "levels"}


def number(value: Any, key: str, where: str, top: float | None) -> float:
    """`value` checked to be a number from 0 (to `top`); errors name `where` and `key`."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where} {key}: 须为数字 / must be a number, got {value!r}")
    if value < 0 or (top is not None and value > top):
        bound = f"0 到 {top}" if top is not None else "≥ 0"
        en = f"from 0 to {top}" if top is not None else "≥ 0"
        raise ValueError(f"{where} {key}: 须在 {bound} / must be {en}, got {value!r}")
    return value


DEFAULT_TIERS: Mapping[str, int] = MappingProxyType({"高价值": 3, "高贡献": 2, "一般": 1})
DEFAULT_LEVELS: Mapping[str, int] = MappingProxyType({"P1": 8, "P2": 5, "P3": 3})


@dataclass(frozen=True)
class PriorityConfig:
    """``[cases.priority]``: the points formula.

    Attributes:
        negative_score: Thresholds of negativity (0–1) for 1, 2, 3 … points.
        anger: Thresholds of anger probability (0–1).
        reach: Thresholds of reposts + comments.
        tiers: Points of a customer tier (segment); an unlisted tier or no customer: 0.
        levels: Least points for P1, P2, P3; fewer than P3's is P4.
    """

    negative_score: tuple[float, ...] = (0.6, 0.75, 0.9)
    anger: tuple[float, ...] = (0.4, 0.6, 0.8)
    reach: tuple[float, ...] = (10, 100, 1000)
    tiers: Mapping[str, int] = field(default_factory=lambda: DEFAULT_TIERS)
    levels: Mapping[str, int] = field(default_factory=lambda: DEFAULT_LEVELS)


@dataclass(frozen=True)
class Points:
    """A case's priority points, input by input."""

    negative: int
    anger: int
    tier: int
    reach: int

    @property
    def total(self) -> int:
        return self.negative + self.anger + self.tier + self.reach


def priority_points(
    p: PriorityConfig,
    negative_score: float | None,
    anger: float | None,
    segment: str | None,
    reach: int,
) -> Points:
    """Points of each severity input: the number of thresholds it reaches (a missing
    score earns 0), and the tier's configured points."""
    return Points(
        negative=0 if negative_score is None else bisect_right(p.negative_score, negative_score),
        anger=0 if anger is None else bisect_right(p.anger, anger),
        tier=int(p.tiers.get(segment, 0)) if segment else 0,
        reach=bisect_right(p.reach, reach or 0),
    )


def priority_of(p: PriorityConfig, points: int, floor: str | None = None) -> str:
    """P1 if `points` reach the P1 level, else P2, P3, else P4; never below `floor`."""
    level = next((name for name in PRIORITIES[:3] if points >= p.levels[name]), "P4")
    if floor is not None and PRIORITIES.index(floor) < PRIORITIES.index(level):
        return floor
    return level


def _thresholds(spec: Mapping[str, Any], key: str, where: str, top: float | None) -> tuple:
    raw = spec[key]
    if not isinstance(raw, list) or not raw:
        raise ValueError(
            f"{where} {key}: 须为递增的数字列表 / must be a list of increasing numbers"
        )
    values = [number(v, key, where, top) for v in raw]
    if any(b <= a for a, b in pairwise(values)):
        raise ValueError(f"{where} {key}: 阈值须严格递增 / thresholds must increase, got {raw!r}")
    return tuple(values)


def parse_case_priority(spec: Any, origin: str) -> PriorityConfig:
    """Build the formula from the ``[cases.priority]`` table.

    Raises:
        ValueError: naming `origin`, the table and the key, in Chinese and English.
    """
    where = f"{origin}: [cases.priority]"
    if not isinstance(spec, Mapping):
        raise ValueError(f"{where}: 须为表 / must be a table")
    unknown = sorted(set(spec) - _PRIORITY_KEYS)
    if unknown:
        raise ValueError(f"{where}: 未知的键 / unknown key(s): {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for key, top in (("negative_score", 1.0), ("anger", 1.0), ("reach", None)):
        if key in spec:
            values[key] = _thresholds(spec, key, where, top)
    for key in ("tiers", "levels"):
        if key not in spec:
            continue
        raw = spec[key]
        if not isinstance(raw, Mapping) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in raw.values()
        ):
            raise ValueError(
                f"{where} {key}: 须为 名称 = 非负整数 的表 / must be a table of name = "
                "points (integers ≥ 0)"
            )
        values[key] = MappingProxyType(dict(raw))
    if "levels" in values:
        levels = values["levels"]
        if set(levels) != {"P1", "P2", "P3"}:
            raise ValueError(
                f"{where} levels: 须且仅须给出 P1、P2、P3 / must give exactly P1, P2 and P3 "
                f"(fewer points than P3 is P4), got {', '.join(levels) or 'none'}"
            )
        if not levels["P1"] > levels["P2"] > levels["P3"]:
            raise ValueError(
                f"{where} levels: 须 P1 > P2 > P3 / must decrease from P1 to P3, got {dict(levels)}"
            )
    return PriorityConfig(**values)
