"""One settings object, built only at entry points (CLI, flow start, dashboard start).

Values come from, in increasing priority: the defaults below, a TOML file (``--config`` or
``VOC_CONFIG``), and a few environment variables (``VOC_DB``, ``VOC_AUTHOR_SALT``...).
Nothing here is read at import time.
"""

from __future__ import annotations

import logging
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from voc.alert_settings import AlertConfig, parse_alert_config
from voc.case_config import CaseConfig, parse_case_config
from voc.cluster_config import ClusterConfig, parse_cluster_config
from voc.customers import CustomerConfig
from voc.kinds import OptionError, SourceOptions, find_kind, kind_names, nearest_kind

#: Where the bundled demo sources listen unless told otherwise.
DEMO_HOST = "127.0.0.1"
DEMO_PORT = 8765

#: The canonical source kind names (`voc.kinds`; ``voc sources kinds`` lists their options).
SOURCE_KINDS = kind_names()

logger = logging.getLogger(__name__)


#: The word segmenter backends (`nlp.segment.BACKENDS`; voc imports no nlp).
SEGMENTERS = ("jieba", "rjieba")
#: How the sentiment model runs (`nlp.sentiment.RUNTIMES`).
SENTIMENT_RUNTIMES = ("onnx", "torch")


class SettingsError(ValueError):
    """A configuration file or value that cannot be used; the message names it."""


@dataclass(frozen=True)
class SourceConfig:
    """One configured source.

    Attributes:
        name: Unique name; becomes `Document.source`.
        kind: One of `SOURCE_KINDS` (an alias given here is replaced by its canonical name);
            ``voc sources kinds`` and ``docs/source-kinds.md`` describe each kind.
        url: Base URL (a ticket export's index URL or local directory; a mailbox's
            ``imaps://host/FOLDER`` or local folder).
        options: The options as given (validated and normalised when the source comes
            from `load_settings`); `typed_options` has them with their defaults.
        enabled: Disabled sources are skipped.
    """

    name: str
    kind: str
    url: str
    options: Mapping[str, Any] = field(default_factory=dict)
    enabled: bool = True

    def __post_init__(self) -> None:
        kind = find_kind(self.kind)
        if kind is not None and kind.name != self.kind:
            object.__setattr__(self, "kind", kind.name)

    @cached_property
    def typed_options(self) -> SourceOptions:
        """The options as the kind's model, defaults filled.

        Raises:
            ValueError: (`OptionError`) for an unknown kind or unusable options, one line
                per problem naming the option.
        """
        kind = find_kind(self.kind)
        if kind is None:
            raise OptionError([f"未知类型 {self.kind}"])
        return kind.validate(self.options)


def demo_sources(base_url: str) -> tuple[SourceConfig, ...]:
    """The four bundled demo sources, served by `demo.server` at `base_url`."""
    base = base_url.rstrip("/")
    return (
        SourceConfig("demo_shop", "shop_reviews", f"{base}/shop/", {"brand": "客声优选"}),
        SourceConfig(
            "demo_weibo",
            "microblog",
            f"{base}/api/search",
            {"query": "客声优选", "brand": "客声优选"},
        ),
        SourceConfig(
            "demo_helpdesk",
            "ticket_export",
            f"{base}/helpdesk/exports/index.json",
            {"brand": "客声优选", "columns": {"customer_key": ["会员号"]}},
        ),
        SourceConfig(
            "demo_survey",
            "survey",
            f"{base}/survey/exports/index.json",
            {"brand": "客声优选", "columns": {"respondent": ["会员号"]}},
        ),
    )


@dataclass(frozen=True)
class Settings:
    """Everything a run needs.

    Attributes:
        db_path: The DuckDB warehouse file.
        work_dir: Scratch space for per-run files (spider JSONL output, stats); default
            ``runs/`` beside the warehouse file.
        sources: Configured sources.
        sentiment_model_dir: A local Hugging Face model directory; None = the bundled default.
        sentiment_int8: Run the sentiment model with int8 dynamic quantization (faster on
            CPU at equal accuracy on the bundled model; turn off to compare).
        sentiment_runtime: ``"onnx"`` (default: the model's ONNX export run by ONNX
            Runtime, the fastest CPU path) or ``"torch"`` (PyTorch itself).
        lookback_days: An incremental run starts this many days before the newest document
            a source has landed, to pick up late posts and edits (per source: option
            ``lookback_days``).
        backfill_days: Days a source's first incremental run fetches (per source: option
            ``backfill_days``).
        keep_raw_text: With mask_pii, also keep the unmasked text of masked documents, in
            the separate table ``raw_texts_unmasked`` (off by default).
        mask_pii: Mask phone, ID-card, bank-card, e-mail and order numbers in texts before
            they are stored (`nlp.pii`).
        taxonomy_path: The complaint taxonomy YAML (`nlp.taxonomy`); None = the bundled
            one. Editing it re-tags all stored history on the next run.
        aspect_model_dir: Aspect-sentiment model directory; None = the bundled one.
        emotion_model_dir: Emotion model directory; None = the bundled one.
        alerts: Alert delivery: channels, routes, quiet hours (`voc.alert_settings`).
        customers: How a CRM customer file is read (``[customers]``: column mapping,
            conflict policy; `voc.customers.CustomerConfig`, ``docs/customers.md``).
        cases: Cases, SLA clocks and 回访 (``[cases]``: the case store, opening and
            routing rules, teams, policies; `voc.case_config.CaseConfig`,
            ``docs/cases.md``).
        cluster: Where the NLP stages run (``[cluster]``: one process by default, or a
            Dask cluster; `voc.cluster_config.ClusterConfig`, README "Running on a
            cluster").
        segmenter: Word segmenter backend, ``"jieba"`` or ``"rjieba"`` (the jieba-rs
            port: 99.99 % of jieba's tokens on the shared corpora, 3.5-11x faster;
            `nlp.segment`, ``docs/segmenter.md``). Changing it re-segments stored history
            on the next run (the segment stage's version changes).
        user_dict_paths: Extra jieba user dictionaries (added after the bundled one).
        stopword_paths: Extra stopword lists (added to the bundled one).
        author_salt: Salt for hashing author names (set ``VOC_AUTHOR_SALT`` in production).
        timezone: Timezone that defines a "day" for stats and schedules.
        schedule_cron: Cron for `voc schedule`.
        prefect_home: ``PREFECT_HOME`` (settings, SQLite database, logs) of the Prefect
            server `voc schedule` starts and supervises; None = ``<runs_dir>/prefect``.
        prefect_port: Port of that server on 127.0.0.1 (its UI and API).
        prefect_startup_timeout: Seconds a Prefect server may take to answer its health
            check: the supervised one, and the temporary one a one-off run (``voc
            ingest``, ``voc demo``) starts (Prefect's own default is 20 s, too short on
            a loaded machine). ``VOC_PREFECT_STARTUP_TIMEOUT``.
        prefect_startup_retries: Further attempts when a temporary server does not
            start in time (``VOC_PREFECT_STARTUP_RETRIES``).
        spike_alpha: Significance of a spike test, per series per day (`signals.spikes`).
        spike_min_count: Fewest negative documents in a spike window.
        spike_min_ratio: Fewest times the expected negative volume for a volume spike.
        theme_max_docs: Negative documents sampled (newest first) for theme discovery.
        runs_keep_days: Days a run's folder under `runs_dir` (its fetched documents and
            spider logs) is kept; older ones are removed at the start of a run. 0 = keep all.
        demo_host: Host the bundled demo sources listen on.
        demo_port: Port the bundled demo sources listen on.
        dashboard_port: Port for the Streamlit dashboard.
        shared_parquet_dir: A shared warehouse directory (``[warehouse]
            shared_parquet_dir``): after each run the flow publishes the warehouse there as
            hive-partitioned Parquet (`warehouse.parquet_export`), and the dashboard reads
            it instead of the snapshot file, so several dashboard replicas and workers read
            one warehouse (``docs/shared-warehouse.md``). None = off.
        shared_parquet_by: Partition unit of the shared warehouse's day-keyed tables,
            ``"month"`` or ``"day"`` (``[warehouse] partition_by``).
    """

    db_path: Path = Path("data/voc.duckdb")
    work_dir: Path | None = None
    sources: tuple[SourceConfig, ...] = demo_sources(f"http://{DEMO_HOST}:{DEMO_PORT}")
    sentiment_model_dir: Path | None = None
    sentiment_int8: bool = True
    sentiment_runtime: str = "onnx"
    mask_pii: bool = True
    keep_raw_text: bool = False
    lookback_days: int = 2
    backfill_days: int = 30
    taxonomy_path: Path | None = None
    aspect_model_dir: Path | None = None
    emotion_model_dir: Path | None = None
    alerts: AlertConfig = field(default_factory=AlertConfig)
    customers: CustomerConfig = field(default_factory=CustomerConfig)
    cases: CaseConfig = field(default_factory=CaseConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    segmenter: str = "rjieba"
    user_dict_paths: tuple[Path, ...] = ()
    stopword_paths: tuple[Path, ...] = ()
    author_salt: str = "voc-monitor"
    timezone: str = "Asia/Shanghai"
    schedule_cron: str = "0 6 * * *"
    prefect_home: Path | None = None
    prefect_port: int = 4200
    prefect_startup_timeout: float = 120.0
    prefect_startup_retries: int = 1
    spike_alpha: float = 1e-3
    spike_min_count: int = 5
    spike_min_ratio: float = 1.5
    theme_max_docs: int = 20000
    runs_keep_days: int = 14
    demo_host: str = DEMO_HOST
    demo_port: int = DEMO_PORT
    dashboard_port: int = 8501
    shared_parquet_dir: str | None = None
    shared_parquet_by: str = "month"

    @property
    def runs_dir(self) -> Path:
        """Where per-run files go."""
        return self.work_dir or self.db_path.parent / "runs"

    @property
    def prefect_server_home(self) -> Path:
        """``PREFECT_HOME`` of the server `voc schedule` supervises."""
        return self.prefect_home or self.runs_dir / "prefect"

    @property
    def demo_base_url(self) -> str:
        return f"http://{self.demo_host}:{self.demo_port}"

    def with_demo_port(self, port: int) -> Settings:
        """Same settings with the demo sources pointed at another port."""
        new = replace(self, demo_port=port)
        names = {s.name for s in demo_sources(self.demo_base_url)}
        others = tuple(s for s in self.sources if s.name not in names)
        return replace(new, sources=demo_sources(new.demo_base_url) + others)

    def source(self, name: str) -> SourceConfig:
        for src in self.sources:
            if src.name == name:
                return src
        raise SettingsError(
            f"unknown source {name!r}; configured: {', '.join(s.name for s in self.sources)}"
        )


def load_settings(
    config_path: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build the settings from defaults, an optional TOML file, environment and overrides.

    Args:
        config_path: TOML file; falls back to ``VOC_CONFIG`` in `env`.
        env: Environment to read (default: ``os.environ``).
        **overrides: Field values that win over everything else (None values are ignored).

    Raises:
        SettingsError: for an unreadable file, unknown keys or invalid sources.
    """
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    config_path = config_path or env.get("VOC_CONFIG")
    if config_path:
        values.update(_read_toml(Path(config_path)))
    env_map = {
        "VOC_DB": "db_path",
        "VOC_WORK_DIR": "work_dir",
        "VOC_SENTIMENT_MODEL": "sentiment_model_dir",
        "VOC_AUTHOR_SALT": "author_salt",
        "VOC_SHARED_PARQUET_DIR": "shared_parquet_dir",
        "VOC_PREFECT_HOME": "prefect_home",
        "VOC_PREFECT_STARTUP_TIMEOUT": "prefect_startup_timeout",
        "VOC_PREFECT_STARTUP_RETRIES": "prefect_startup_retries",
    }
    for var, key in env_map.items():
        if env.get(var):
            values[key] = env[var]
    values.update({k: v for k, v in overrides.items() if v is not None})
    return _build(values, str(config_path or "defaults"))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError as exc:
        raise SettingsError(f"config file not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: invalid TOML: {exc}") from exc
    values = dict(raw.get("voc", {}))
    if "sources" in raw:
        values["sources"] = raw["sources"]
    if "alerts" in raw:
        values["alerts"] = raw["alerts"]
    if "customers" in raw:
        values["customers"] = raw["customers"]
    for table in ("cases", "cluster"):
        if table in raw:
            values[table] = raw[table]
    for key, value in raw.get("warehouse", {}).items():
        values[_WAREHOUSE_KEYS.get(key, f"warehouse.{key}")] = value
    return values


#: ``[warehouse]`` keys and the settings they set.
_WAREHOUSE_KEYS = {"shared_parquet_dir": "shared_parquet_dir", "partition_by": "shared_parquet_by"}


def _build(values: dict[str, Any], origin: str) -> Settings:
    known = set(Settings.__dataclass_fields__)
    unknown = sorted(set(values) - known)
    if unknown:
        raise SettingsError(f"{origin}: unknown setting(s): {', '.join(unknown)}")
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key == "db_path":
            out[key] = Path(value)
        elif key in (
            "work_dir",
            "sentiment_model_dir",
            "taxonomy_path",
            "aspect_model_dir",
            "emotion_model_dir",
            "prefect_home",
        ):
            out[key] = Path(value) if value else None
        elif key in (
            "prefect_port",
            "prefect_startup_retries",
            "prefect_startup_timeout",
            "runs_keep_days",
        ):
            out[key] = _number(key, value, origin)
        elif key == "alerts":
            if isinstance(value, AlertConfig):
                out[key] = value
            else:
                try:
                    out[key] = parse_alert_config(value, origin)
                except ValueError as exc:
                    raise SettingsError(str(exc)) from exc
        elif key == "customers":
            out[key] = _build_customers(value, origin)
        elif key == "cluster":
            try:
                out[key] = parse_cluster_config(value, origin)
            except ValueError as exc:
                raise SettingsError(str(exc)) from exc
        elif key == "cases":
            continue  # after the alerts: teams name alert channels
        elif key in ("user_dict_paths", "stopword_paths"):
            out[key] = tuple(Path(v) for v in value)
        elif key == "sentiment_runtime":
            if value not in SENTIMENT_RUNTIMES:
                raise SettingsError(
                    f"{origin}: sentiment_runtime = {value!r}: choose one of "
                    f"{', '.join(SENTIMENT_RUNTIMES)}"
                )
            out[key] = value
        elif key == "segmenter":
            if value not in SEGMENTERS:
                raise SettingsError(
                    f"{origin}: segmenter = {value!r}: choose one of {', '.join(SEGMENTERS)}"
                )
            out[key] = value
        elif key == "sources":
            out[key] = _build_sources(value, origin)
        elif key == "shared_parquet_dir":
            out[key] = str(value) if value else None
        elif key == "shared_parquet_by":
            if value not in ("month", "day"):
                raise SettingsError(
                    f"{origin}: [warehouse] partition_by = {value!r}: choose month or day"
                )
            out[key] = value
        else:
            out[key] = value
    if "cases" in values:
        out["cases"] = _build_cases(values["cases"], origin, out.get("alerts", AlertConfig()))
    return Settings(**out)


def _number(key: str, value: Any, origin: str) -> int | float:
    kind = float if key == "prefect_startup_timeout" else int
    try:
        number = kind(value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{origin}: {key} = {value!r}: not a number") from exc
    if number < 0 or (number == 0 and key not in ("prefect_startup_retries", "runs_keep_days")):
        raise SettingsError(f"{origin}: {key} = {value!r}: must be positive")
    return number


def _build_cases(raw: Any, origin: str, alerts: AlertConfig) -> CaseConfig:
    if isinstance(raw, CaseConfig):
        return raw
    try:
        return parse_case_config(raw, origin, {c.name for c in alerts.channels})
    except ValueError as exc:
        raise SettingsError(str(exc)) from exc


def _build_customers(raw: Any, origin: str) -> CustomerConfig:
    if isinstance(raw, CustomerConfig):
        return raw
    try:
        return CustomerConfig.model_validate(raw)
    except ValidationError as exc:
        lines = [
            f"{origin}: [customers] {'.'.join(map(str, e['loc']))}: {e['msg']}"
            for e in exc.errors()
        ]
        raise SettingsError("\n".join(lines)) from None


def _build_sources(raw: Any, origin: str) -> tuple[SourceConfig, ...]:
    if isinstance(raw, tuple) and all(isinstance(s, SourceConfig) for s in raw):
        return raw
    if not isinstance(raw, Mapping):
        raise SettingsError(f"{origin}: [sources] must be a table of tables")
    return tuple(_build_source(str(name), spec, origin) for name, spec in raw.items())


def _build_source(name: str, spec: Any, origin: str) -> SourceConfig:
    """One ``[sources.NAME]`` table, its options checked against its kind's model."""
    where = f"{origin}: 数据源 {name}"
    if not isinstance(spec, Mapping):
        raise SettingsError(f"{where}: [sources.{name}] must be a table")
    given = spec.get("kind")
    kind = find_kind(given) if isinstance(given, str) else None
    if kind is None:
        near = nearest_kind(given) if isinstance(given, str) else None
        hint = f"；是否要写 {near}？" if near else ""
        raise SettingsError(
            f"{where}: 未知类型 {given}{hint} (source {name!r}: kind must be one of "
            f"{', '.join(SOURCE_KINDS)})"
        )
    where = f"{where} ({kind.name})"
    if kind.name != given:
        logger.warning(
            "%s: kind %r 已弃用，请改写 kind = %r / kind %r is deprecated and will be "
            "removed in the next release",
            where,
            given,
            kind.name,
            given,
        )
    if not spec.get("url") or not isinstance(spec["url"], str):
        raise SettingsError(f"{where}: url is required")
    enabled = spec.get("enabled", True)
    if not isinstance(enabled, bool):
        raise SettingsError(f"{where}: enabled must be true or false, got {enabled!r}")
    try:
        typed = kind.validate(
            {k: v for k, v in spec.items() if k not in ("kind", "url", "enabled")}
        )
    except OptionError as exc:
        raise SettingsError("\n".join(f"{where}: {p}" for p in exc.problems)) from None
    # What was written, normalised (ids as text, a lone header as a list); flows read
    # lookback_days from it.
    options = typed.model_dump(exclude_unset=True)
    return SourceConfig(name, kind.name, spec["url"], options, enabled)
