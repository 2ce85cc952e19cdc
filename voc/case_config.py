"""The ``[cases]`` settings table: where the case store is, merging, teams, and the slots of
the parts other modules parse (SLA policies, the working calendar, opening and routing
rules, 回访 rules).

Settings, not behaviour: `voc.settings` builds a `CaseConfig` at load time, so a bad value
is an error naming the file and the key before anything runs. Example (``docs/cases.md``)::

    [cases]
    # database_url = "postgresql+psycopg://voc@db.internal/voc"   # no password here:
    database_url_env = "VOC_CASES_DATABASE_URL"                    # the URL with it
    merge_days = 7

    [cases.teams."客服一组"]
    channels = ["wecom_service"]       # [alerts.channels] names
    owners = ["张三", "李四"]
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from voc.business_time import parse_calendar_config
from voc.case_priority import parse_case_priority
from voc.case_rules import parse_opening_rules, parse_routing
from voc.followup_config import parse_followups
from voc.response_times import parse_response_times
from voc.sla_policy import SlaConfig, SlaPolicy, parse_sla_config

#: The parts other modules own: sub-table → its parser ``parse_<part>(value, origin)``
#: (a parser that also takes ``teams=`` gets the parsed teams, to check team names).
PART_PARSERS: dict[str, Callable[..., Any]] = {
    "rules": parse_opening_rules,
    "routing": parse_routing,
    "priority": parse_case_priority,
    "response_times": parse_response_times,
    "followups": parse_followups,
    "calendar": parse_calendar_config,
}

#: The SLA without a ``[cases.sla]`` table: the practice's "reply within 24 hours", and a
#: resolution within three days, around the clock (calendar time needs no holiday data, so
#: a year the calendar package does not know yet cannot stop a settings load).
DEFAULT_SLA = SlaConfig(
    policies=(
        SlaPolicy(name="默认", first_response=24 * 60, resolution=3 * 24 * 60, time="calendar"),
    )
)
PARTS = ("sla", "calendar", "rules", "routing", "priority", "followups", "response_times")

_KEYS = {"database_url", "database_url_env", "merge_days", "teams", *PARTS}
_TEAM_KEYS = {"channels", "owners"}
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SCHEMES = ("sqlite", "postgresql", "postgresql+psycopg")


@dataclass(frozen=True)
class TeamConfig:
    """A team that cases are routed to.

    Attributes:
        name: The team's name as routing rules and cases carry it (e.g. 客服一组).
        channels: ``[alerts.channels]`` names its SLA alerts and 回访 lists go to.
        owners: The people in the team (who cases and 回访 can be given to); empty = anyone.
    """

    name: str
    channels: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()


@dataclass(frozen=True)
class CaseConfig:
    """Everything under ``[cases]``.

    Attributes:
        database_url: The case store's SQLAlchemy URL (``sqlite:///...`` or
            ``postgresql+psycopg://...``) without a password; None = the SQLite side
            store beside the warehouse (``<stem>.actions.sqlite``).
        database_url_env: The environment variable holding the URL when it has a password
            (read when the store is opened, never stored).
        merge_days: An opening joins an open case with the same merge key whose newest
            voice is at most this many days older.
        teams: Team name → `TeamConfig`.
        sla: SLA policies (``[cases.sla]``, `voc.sla`); without the table `DEFAULT_SLA`.
        calendar: The working calendar (``[cases.calendar]``, `voc.business_time`).
        rules: Opening rules (``[[cases.rules]]``, `voc.case_rules`); None = the defaults.
        routing: Routing rules (``[[cases.routing]]``, `voc.case_rules`).
        priority: The priority formula (``[cases.priority]``, `voc.case_priority`).
        followups: 回访 rules (``[cases.followups]``, `voc.followup_rules`).
        response_times: Response-time analytics (``[cases.response_times]``,
            `voc.response_times`).
    """

    database_url: str | None = None
    database_url_env: str | None = None
    merge_days: int = 7
    teams: Mapping[str, TeamConfig] = field(default_factory=dict)
    sla: SlaConfig = DEFAULT_SLA
    calendar: Any = None
    rules: Any = None
    routing: Any = None
    priority: Any = None
    followups: Any = None
    response_times: Any = None

    def team(self, name: str) -> TeamConfig | None:
        """The team called `name`, or None."""
        return self.teams.get(name)


def parse_case_config(
    table: Mapping[str, Any] | None,
    origin: str,
    channel_names: set[str] | frozenset[str] | None = None,
) -> CaseConfig:
    """Build a `CaseConfig` from the ``[cases]`` table of a settings file.

    Args:
        table: The parsed TOML table (None or empty = the defaults).
        origin: The file name, for error messages.
        channel_names: The configured ``[alerts.channels]``; when given, a team naming
            another channel is an error.

    Raises:
        ValueError: naming `origin` and the key, in Chinese and English.
    """
    where = f"{origin}: [cases]"
    table = {} if table is None else table
    if not isinstance(table, Mapping):
        raise ValueError(f"{where} 必须是表 / must be a table")
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise ValueError(
            f"{where} 未知设置 {', '.join(unknown)}；可用：{', '.join(sorted(_KEYS))} / "
            f"unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_KEYS))}"
        )
    url = _database_url(table.get("database_url"), where)
    env = table.get("database_url_env")
    if env is not None and (not isinstance(env, str) or not _ENV_NAME.match(env)):
        raise ValueError(
            f"{where} database_url_env: 须为环境变量名 / must be an environment variable "
            f"name, got {env!r}"
        )
    merge_days = table.get("merge_days", 7)
    if isinstance(merge_days, bool) or not isinstance(merge_days, int) or merge_days < 1:
        raise ValueError(
            f"{where} merge_days: 必须是正整数 / must be a positive integer, got {merge_days!r}"
        )
    teams = _teams(table.get("teams", {}), origin, channel_names)
    parts: dict[str, Any] = {}
    for part in PARTS:
        if part not in table or part == "sla":
            continue
        parser = PART_PARSERS.get(part)
        if parser is None:
            parts[part] = table[part]  # not wired yet: kept as given
        elif "teams" in inspect.signature(parser).parameters:
            parts[part] = parser(table[part], origin, teams=teams)
        else:
            parts[part] = parser(table[part], origin)
    if "sla" in table:
        # Business-time targets need the working calendar (the default one when the file
        # has no [cases.calendar]), which must know the years the due times can reach.
        calendar = parts.get("calendar") or parse_calendar_config({}, origin)
        parts["sla"] = parse_sla_config(table["sla"], origin, calendar=calendar)
    return CaseConfig(
        database_url=url,
        database_url_env=env,
        merge_days=merge_days,
        teams=teams,
        **parts,
    )


def _database_url(value: Any, where: str) -> str | None:
    if value is None or value == "":
        return None
    key = f"{where} database_url"
    if not isinstance(value, str):
        raise ValueError(f"{key}: 必须是文本 / must be a string")
    scheme = value.split(":", 1)[0]
    if scheme not in _SCHEMES or "://" not in value:
        raise ValueError(
            f"{key}: 只支持 sqlite:/// 与 postgresql+psycopg:// / must be a sqlite:/// or "
            f"postgresql+psycopg:// URL, got {value.split('://', 1)[0]!r}"
        )
    parts = urlsplit(value)
    if parts.password or "password" in parse_qs(parts.query):
        raise ValueError(
            f"{key}: 不要把密码写进配置文件，请放在环境变量中并设 database_url_env / do not "
            f"put a password in the settings file: put the URL in an environment variable "
            f"and name it in database_url_env"
        )
    return value


def _teams(
    raw: Any, origin: str, channel_names: set[str] | frozenset[str] | None
) -> dict[str, TeamConfig]:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{origin}: [cases.teams] 必须是表 / must be a table")
    teams = {}
    for name, spec in raw.items():
        where = f"{origin}: [cases.teams.{name}]"
        if not isinstance(spec, Mapping):
            raise ValueError(f"{where} 必须是表 / must be a table")
        unknown = sorted(set(spec) - _TEAM_KEYS)
        if unknown:
            raise ValueError(
                f"{where} 未知设置 {', '.join(unknown)} / unknown key(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(_TEAM_KEYS))}"
            )
        channels = _names(spec.get("channels", []), f"{where} channels")
        if channel_names is not None:
            missing = [c for c in channels if c not in channel_names]
            if missing:
                raise ValueError(
                    f"{where} channels: 未定义的渠道 {', '.join(missing)}（见 [alerts.channels]）"
                    f" / unknown channel(s) {', '.join(missing)}; configured: "
                    f"{', '.join(sorted(channel_names)) or 'none'}"
                )
        owners = _names(spec.get("owners", []), f"{where} owners")
        teams[str(name)] = TeamConfig(str(name), channels, owners)
    return teams


def _names(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"{key}: 必须是非空文本的列表 / must be a list of non-empty strings")
    return tuple(v.strip() for v in value)
