"""The demo calendar and the planted event, declared once: the data generator plants it,
tests and the README check that the pipeline finds it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

#: Demo sources speak China Standard Time.
DEMO_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")

#: First and last day that demo documents are written on (inclusive).
DEMO_START = date(2025, 6, 1)
DEMO_END = date(2025, 9, 30)

#: The demo server's clock: relative dates such as "3天前" are rendered against it and
#: sent in the HTTP Date header.
DEMO_NOW = datetime(2025, 10, 1, 9, 30, tzinfo=DEMO_TZ)


@dataclass(frozen=True)
class PlantedEvent:
    """Extra negative posts about one theme on known days.

    Attributes:
        source: Demo source the event is planted in.
        theme: Human name of the theme.
        keywords: Words a planted text contains (one at least); the discovered theme's
            keywords must name some of them.
        start: First day of the event.
        days: How many days it lasts.
        multiplier: Roughly how many times the usual negative volume that source shows.
    """

    source: str
    theme: str
    keywords: tuple[str, ...]
    start: date
    days: int
    multiplier: float

    @property
    def dates(self) -> tuple[date, ...]:
        return tuple(self.start + timedelta(days=i) for i in range(self.days))


PLANTED_EVENTS: tuple[PlantedEvent, ...] = (
    PlantedEvent(
        source="demo_weibo",
        theme="物流/快递延误",
        keywords=("快递", "物流", "发货", "送货", "配送", "到货"),
        start=date(2025, 8, 12),
        days=2,
        multiplier=5.0,
    ),
)
