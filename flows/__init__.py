"""Prefect flows and tasks: orchestration only (the one place that imports prefect)."""
