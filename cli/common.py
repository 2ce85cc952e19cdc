"""What every `voc` command shares: the common options, date parsing and the settings."""

from __future__ import annotations

import argparse
import os
import sys
import time
import urllib.request
from datetime import date
from subprocess import Popen

from voc.settings import Settings, load_settings


def quiet_defaults() -> None:
    """Entry-point side effects only: nothing reaches the network for models or telemetry."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def parse_date(text: str) -> date:
    """An argparse type: a YYYY-MM-DD day."""
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from exc


def settings_from(args: argparse.Namespace) -> Settings:
    """The settings of a command: its ``--config`` file and ``--db`` override."""
    return load_settings(getattr(args, "config", None), db_path=getattr(args, "db", None))


def add_common(p: argparse.ArgumentParser) -> None:
    """Add ``--config`` and ``--db`` to a command."""
    p.add_argument(
        "--config",
        help="TOML settings file (default: $VOC_CONFIG or built-in "
        "defaults: the bundled demo sources)",
    )
    p.add_argument("--db", help="DuckDB warehouse file (default: data/voc.duckdb or $VOC_DB)")


def wait_for_http(url: str, proc: Popen, timeout: float) -> bool:
    """Whether `url` answered 200 within `timeout` seconds while `proc` kept running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return True
        except OSError:
            time.sleep(0.5)
    return False


def start_prefect_api(settings: Settings) -> bool:
    """Before a one-off flow run: the temporary Prefect server, started with the project's
    timeout and retries (`flows.api`). Prints where it runs and how long it took, or why
    it did not start (then the caller exits 1: nothing has run)."""
    from flows.api import TemporaryServerError, ensure_prefect_api

    try:
        server = ensure_prefect_api(
            settings.prefect_startup_timeout, settings.prefect_startup_retries
        )
    except TemporaryServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return False
    if server is not None:
        print(
            f"临时 Prefect 服务 / temporary Prefect server at {server.api_url} "
            f"(up in {server.seconds:.1f}s, attempt {server.attempts})",
            file=sys.stderr,
            flush=True,
        )
    return True
