"""What survey exports look like: 问卷星, 腾讯问卷 and Qualtrics columns, question headers,
score cells and submitted times (`scrapers.survey` reads the responses with them)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from scrapers.parsers import CHINA_TZ
from scrapers.ticket_files import cell_text
from scrapers.tickets import parse_ticket_value

__all__ = [
    "CSAT_HEADER",
    "CSAT_LABELS",
    "DEFAULT_COLUMNS",
    "META_COLUMNS",
    "NO_ANSWER",
    "NPS_HEADER",
    "OPEN_HEADER",
    "SEQUENCE_COLUMNS",
    "Layout",
    "looks_open",
    "parse_score",
    "parse_submitted",
    "read_layout",
]

#: Field → the headers tried when the source does not map it (the first present wins).
DEFAULT_COLUMNS: dict[str, tuple[str, ...]] = {
    # Only ids unique across questionnaires: 问卷星's 序号 and 腾讯问卷's 编号 restart at 1
    # in every questionnaire, so they only help derive an id (see `_response_id`).
    "response_id": ("ResponseId", "ResponseID", "Response ID", "答卷ID", "答卷编号"),
    "respondent": (
        "会员号",
        "会员ID",
        "客户编号",
        "手机号",
        "手机",
        "邮箱",
        "Email",
        "自定义字段",
        "ExternalReference",
        "ExternalDataReference",
        "RecipientEmail",
        "用户标识",
    ),
    "submitted_at": (
        "提交答卷时间",
        "结束答题时间",
        "RecordedDate",
        "EndDate",
        "提交时间",
        "Recorded Date",
        "End Date",
    ),
}
#: Per-questionnaire response numbers (问卷星, 腾讯问卷): part of a derived response id.
SEQUENCE_COLUMNS = ("序号", "编号")
#: The platforms' own columns: never a question.
META_COLUMNS = frozenset(
    {
        *SEQUENCE_COLUMNS,
        *(h for headers in DEFAULT_COLUMNS.values() for h in headers),
        "所用时间",
        "来源",
        "来源详情",
        "来自IP",
        "开始答题时间",
        "答题时长",
        "地理位置国家和地区",
        "地理位置省",
        "地理位置市",
        "用户类型",
        "昵称",
        "总分",
        "StartDate",
        "Status",
        "IPAddress",
        "Progress",
        "Duration (in seconds)",
        "Finished",
        "RecipientLastName",
        "RecipientFirstName",
        "LocationLatitude",
        "LocationLongitude",
        "DistributionChannel",
        "UserLanguage",
    }
)
NPS_HEADER = re.compile(
    r"推荐.{0,24}(可能|意愿|愿意|几分|多大)|(可能|愿意).{0,24}推荐|recommend|\bNPS\b", re.I
)
CSAT_HEADER = re.compile(r"满意|satisf|\bCSAT\b", re.I)
#: Headers of open questions (auto-detection; `SurveyOptions.questions` overrides it).
OPEN_HEADER = re.compile(
    r"原因|为什么|建议|意见|说明|描述|哪些方面|改进|补充|想说|反馈|留言|"
    r"why|reason|comment|feedback|suggest|improve|explain|tell us",
    re.I,
)
#: ``1、`` ``2.`` ``Q3:`` at the start of a question header: its number.
QUESTION_NO = re.compile(r"^\s*[QqＱ]?(\d+)\s*[、.．:：)）]\s*")
#: Cells that mean "no answer" (问卷星 writes 跳过 for a question skipped by logic).
NO_ANSWER = frozenset({"", "(跳过)", "（跳过）", "(空)", "（空）", "-", "--"})
#: CSAT answers exported as their labels.
CSAT_LABELS = {
    "非常满意": 5,
    "很满意": 5,
    "满意": 4,
    "比较满意": 4,
    "一般": 3,
    "不满意": 2,
    "不太满意": 2,
    "比较不满意": 2,
    "非常不满意": 1,
    "很不满意": 1,
    "extremely satisfied": 5,
    "very satisfied": 5,
    "satisfied": 4,
    "somewhat satisfied": 4,
    "neither satisfied nor dissatisfied": 3,
    "neutral": 3,
    "somewhat dissatisfied": 2,
    "dissatisfied": 2,
    "very dissatisfied": 1,
    "extremely dissatisfied": 1,
}
_SCORE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*分?\s*(?:[-–—:：(（].*)?$")
_US_STAMP = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4}) (\d{1,2}):(\d{2})(?::(\d{2}))?$")
_HAS_OFFSET = re.compile(r"(Z|[+-]\d{2}:?\d{2})$")


def parse_score(
    value: Any, low: int, high: int, labels: dict[str, int] | None = None
) -> int | None:
    """A score cell as a whole number in [low, high]: ``9``, ``9.0``, ``"9分"``,
    ``"10 - 极有可能"``, or a label of `labels`; None for no answer.

    Raises:
        ValueError: a non-numeric, fractional or out-of-range answer, naming the value.
    """
    text = cell_text(value)
    if text in NO_ANSWER:
        return None
    if labels and text.lower() in labels:
        return labels[text.lower()]
    match = _SCORE.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a number")
    number = float(match[1])
    if not number.is_integer() or not low <= number <= high:
        raise ValueError(f"{text!r} is not a score {low}-{high}")
    return int(number)


class Layout:
    """One file's columns: which holds each field, the open questions, the time zone."""

    def __init__(self, header: list[str], labels: dict[str, str], zone: tzinfo) -> None:
        self.header, self.labels, self.zone = header, labels, zone

    def find(self, headers: Iterable[str]) -> str | None:
        """The first of `headers` the file has, as a column id or (Qualtrics) its label."""
        for wanted in headers:
            for column in self.header:
                if wanted in (column, self.labels.get(column)):
                    return column
        return None

    def question(self, column: str) -> tuple[str, str]:
        """(question no, question text) of a column: ``1、…`` → ``1``; a Qualtrics id."""
        label = self.labels.get(column) or column
        match = QUESTION_NO.match(label)
        text = label[match.end() :] if match else label
        if column != label:  # Qualtrics: the id (Q3_TEXT) names the question
            return column, text.strip() or column
        if match:
            return match[1], text.strip() or label
        return f"c{self.header.index(column) + 1}", label


def read_layout(header: list[str], rows: list[Any]) -> tuple[Layout, list[Any]]:
    """The file's layout; a Qualtrics export's question-text and ImportId rows consumed."""
    if len(rows) >= 2 and isinstance(rows[1][1], dict) and _is_import_row(rows[1][1]):
        texts, imports = rows[0][1], rows[1][1]
        labels = {c: cell_text(texts.get(c)) or c for c in header}
        return Layout(header, labels, _import_zone(imports) or CHINA_TZ), rows[2:]
    return Layout(header, {c: c for c in header}, CHINA_TZ), rows


def _is_import_row(row: dict[str, Any]) -> bool:
    cells = [cell_text(v) for v in row.values() if cell_text(v)]
    return bool(cells) and sum(c.startswith('{"ImportId"') for c in cells) >= len(cells) / 2


def _import_zone(row: dict[str, Any]) -> tzinfo | None:
    """The time zone Qualtrics names in the ImportId row (``"timeZone":"America/Denver"``)."""
    for cell in row.values():
        try:
            zone = json.loads(cell_text(cell)).get("timeZone")
        except (ValueError, AttributeError):
            continue
        if zone:
            try:
                return ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError):
                return None
    return None


def looks_open(label: str, column: str, rows: list[Any]) -> bool:
    """Whether a question column holds free text: an open-question header (原因, 建议,
    why…, a Qualtrics ``_TEXT`` column), or mostly distinct answers of 8+ characters."""
    if column.endswith("_TEXT") or OPEN_HEADER.search(label):
        return True
    values = [cell_text(r.get(column)) for r in rows if isinstance(r, dict)]
    values = [v for v in values if v not in NO_ANSWER]
    if not values or all(_SCORE.match(v) for v in values):
        return False
    mean_length = sum(len(v) for v in values) / len(values)
    return mean_length >= 8 and len(set(values)) >= 0.8 * len(values)


def parse_submitted(value: Any, zone: tzinfo) -> datetime:
    """A submitted-time cell; naive times are in the export's zone (China time, or the
    Qualtrics export's timeZone); ``9/11/2022 17:54`` is month/day/year.

    Raises:
        ValueError: naming the value.
    """
    text = cell_text(value)
    if not text:
        raise ValueError("is empty")
    us = _US_STAMP.match(text) if isinstance(value, str) else None
    if us:
        month, day, year, hour, minute, second = (int(g) if g else 0 for g in us.groups())
        try:
            return datetime(year, month, day, hour, minute, second, tzinfo=zone)
        except ValueError:
            raise ValueError(f"is not a date: {text!r}") from None
    parsed = parse_ticket_value(value)
    naive = (isinstance(value, datetime) and value.tzinfo is None) or (
        isinstance(value, str) and not _HAS_OFFSET.search(text)
    )
    return parsed.replace(tzinfo=zone) if naive and zone is not CHINA_TZ else parsed
