"""Serving the daily flow on a cron schedule."""

from __future__ import annotations

from prefect.schedules import Cron

from flows.daily import daily_ingest


def build_schedule(cron: str, timezone: str) -> Cron:
    """The cron schedule object, validated (raises ValueError on a bad expression)."""
    return Cron(cron, timezone=timezone)


def serve_daily(cron: str, timezone: str, config_path: str | None, db_path: str) -> None:
    """Serve `daily_ingest` as deployment ``voc-daily`` until interrupted."""
    daily_ingest.serve(
        name="voc-daily",
        schedules=[build_schedule(cron, timezone)],
        parameters={"config_path": config_path, "db_path": db_path},
    )
