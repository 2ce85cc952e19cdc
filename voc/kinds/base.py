"""What a source kind is, the options every source shares, and how options are validated.

A kind's options are a pydantic model with ``extra="forbid"``: an unknown or misspelled
option, a wrong type or a missing required option is an `OptionError` whose message names
the option (and the nearest valid name), in the form the settings loader prefixes with the
file and the source.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError


class OptionError(ValueError):
    """A source's options that cannot be used; one line per problem, each naming the option."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _number_as_text(value: Any) -> Any:
    # TOML users write ids unquoted (uid = 2988887777); they were always read as text.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


#: Digits only, given as text or as a TOML integer (app, product, user and post ids).
Digits = Annotated[str, BeforeValidator(_number_as_text), Field(pattern=r"^\d+$")]
#: Free text that may be written as a number in TOML (a company id, a query of digits).
Text = Annotated[str, BeforeValidator(_number_as_text)]
#: The name of an environment variable (never the secret itself).
EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class Options(BaseModel):
    """Base of every options model: unknown keys are errors, values are read-only."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceOptions(Options):
    """Options every source takes."""

    brand: str | None = Field(
        None,
        description="品牌名：写入每条文档的 brand，并从主题短语中排除 / the brand this "
        "source is about (Document.brand; kept out of theme phrases)",
    )
    lookback_days: int | None = Field(
        None,
        ge=0,
        description="增量运行从最新文档前回看的天数（默认 [voc] lookback_days）/ days an "
        "incremental run re-reads before the newest landed document (default: the [voc] "
        "setting)",
    )
    backfill_days: int | None = Field(
        None,
        ge=1,
        description="首次增量运行回溯的天数（默认 [voc] backfill_days）/ days a source's first "
        "incremental run fetches (default: the [voc] setting)",
    )


class HttpOptions(SourceOptions):
    """Options of every source fetched over HTTP: timeouts, retries, a proxy."""

    download_timeout: float = Field(
        30.0, gt=0, description="每个请求的超时秒数 / seconds per request"
    )
    retry_times: int = Field(
        2,
        ge=0,
        description="5xx/429/超时的重试次数 / retries of 5xx, 429 and timeouts",
    )
    retry_backoff: float = Field(
        1.0,
        ge=0,
        description="第一次重试前等待的秒数，之后每次翻倍（最多 30 秒，或服务器的 Retry-After）"
        " / the first retry's wait in seconds, doubled each time (capped at 30 s, or the "
        "server's Retry-After)",
    )
    proxy_env: EnvName | None = Field(
        None,
        description="保存代理 URL 的环境变量名 / name of an environment variable holding a "
        "proxy URL (http_proxy/https_proxy apply anyway)",
    )


class WebOptions(HttpOptions):
    """Options every Scrapy-crawled source takes (politeness and the login cookie)."""

    download_delay: float = Field(
        0.0,
        ge=0,
        description="对该站两次请求之间至少间隔的秒数（AutoThrottle 从 1 秒起在其上自适应）/ "
        "least seconds between requests to this site (AutoThrottle starts at 1 s and "
        "adapts above it)",
    )
    concurrent_requests: int = Field(
        2, ge=1, description="对该站的并发请求数 / parallel requests to this site"
    )
    obey_robots: bool = Field(
        True,
        description="遵守 robots.txt（仅对自己的站点设为 false）/ obey robots.txt (set false "
        "only for a site you own)",
    )
    cookie_env: EnvName | None = Field(
        None,
        description="保存 Cookie 请求头的环境变量名 / name of an environment variable "
        "holding the Cookie header",
    )


#: Web option -> the Scrapy setting (``-s``) it becomes, rather than a spider argument.
SCRAPY_SETTINGS: dict[str, str] = {
    "download_delay": "DOWNLOAD_DELAY",
    "obey_robots": "ROBOTSTXT_OBEY",
    "concurrent_requests": "CONCURRENT_REQUESTS_PER_DOMAIN",
    "retry_times": "RETRY_TIMES",
    "download_timeout": "DOWNLOAD_TIMEOUT",
    "retry_backoff": "RETRY_BACKOFF_BASE",
}
#: Options the pipeline reads itself (the incremental window), never passed to a spider.
PIPELINE_OPTIONS = frozenset({"lookback_days", "backfill_days"})


@dataclass(frozen=True)
class SourceKind:
    """One kind of source.

    Attributes:
        name: The canonical name, written as ``kind = "..."``.
        description: One line, Chinese first.
        options: The options model (defaults filled, unknown keys refused).
        channel: The `Document.channel` its documents carry.
        example: A ``[sources.NAME]`` TOML table that loads as is.
        spider: The Scrapy spider that crawls it (``scrapy crawl <spider>``), or None.
        connector: ``module:function`` of the loader that reads it, or None.
        aliases: Earlier names, still accepted with a deprecation message.
    """

    name: str
    description: str
    options: type[SourceOptions]
    channel: str
    example: str
    spider: str | None = None
    connector: str | None = None
    aliases: tuple[str, ...] = field(default=())

    @property
    def implementation(self) -> str:
        return f"spider {self.spider}" if self.spider else f"connector {self.connector}"

    def validate(self, options: Mapping[str, Any]) -> SourceOptions:
        """The options as this kind's model, defaults filled.

        Raises:
            OptionError: one line per unknown, mistyped or missing option.
        """
        try:
            return self.options.model_validate(dict(options))
        except ValidationError as exc:
            raise OptionError([_describe(self.options, e) for e in exc.errors()]) from None


def _describe(model: type[BaseModel], error: Mapping[str, Any]) -> str:
    loc = tuple(error["loc"])
    option = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    kind = error["type"]
    if kind == "extra_forbidden":
        valid = _names_at(model, loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), valid, n=1, cutoff=0.6)
        if close:
            suggestion = ".".join([*map(str, loc[:-1]), close[0]])
            return f"未知选项 {option}；是否要写 {suggestion}？"
        return f"未知选项 {option}（可用选项：{', '.join(valid)}）"
    if kind == "missing":
        return f"缺少必填选项 {option}"
    message = re.sub(r"^(Value error|Assertion failed), ", "", str(error["msg"]))
    if not loc:  # a rule across options (model validator): the message names them
        return message
    return f"选项 {option} 的值 {error.get('input')!r} 无效：{message}"


def _names_at(model: type[BaseModel], path: tuple[Any, ...]) -> list[str]:
    """The option names valid at `path` (nested tables such as ``selectors``)."""
    for part in path:
        annotation = model.model_fields[str(part)].annotation
        nested = [a for a in (annotation, *getattr(annotation, "__args__", ())) if _is_model(a)]
        if not nested:
            return []
        model = nested[0]
    return list(model.model_fields)


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)
