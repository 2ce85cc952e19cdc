"""One real demo ingestion per test session: demo sources over HTTP, Scrapy subprocesses,
the Prefect flow under a test harness, a DuckDB file. Tests read what it produced."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from demo.server import DemoServer, start_demo_server

#: A window around the planted event, long enough for a spike baseline.
E2E_SINCE = date(2025, 7, 10)
E2E_UNTIL = date(2025, 8, 20)


#: Modules whose tests read the session's ingested warehouse (`e2e_db`). Under pytest-xdist
#: they run on one worker (see `pytest_xdist_make_scheduler` in tests/conftest.py), so the
#: demo ingestion happens once, and `e2e_rerun` still comes after the tests before it.
E2E_DB_MODULES = frozenset(
    {
        "test_browser.py",
        "test_cases_demo.py",
        "test_customers_demo.py",
        "test_dashboard.py",
        "test_pipeline.py",
        "test_theme_stability.py",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    stray = [
        item.nodeid
        for item in items
        if "e2e_db" in getattr(item, "fixturenames", ()) and item.path.name not in E2E_DB_MODULES
    ]
    if stray:
        raise pytest.UsageError(f"add their modules to E2E_DB_MODULES: {', '.join(stray)}")


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


@pytest.fixture(scope="session")
def e2e_server() -> Iterator[DemoServer]:
    with start_demo_server("127.0.0.1", 0) as server:
        yield server


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def demo_port() -> int:
    """One port for every `voc demo` of the session: stored URLs name it."""
    return free_port()


def run_demo(db: Path, port: int) -> None:
    """`voc demo --no-dashboard` over the e2e window; asserts it exits 0."""
    from cli.main import main

    args = ["demo", "--db", str(db), "--since", str(E2E_SINCE), "--until", str(E2E_UNTIL)]
    assert main([*args, "--no-dashboard", "--port", str(port)]) == 0


@pytest.fixture(scope="session")
def e2e_db(prefect_harness, demo_port: int, tmp_path_factory) -> Path:
    """The warehouse after `voc demo --no-dashboard` over the e2e window."""
    db = tmp_path_factory.mktemp("e2e") / "voc.duckdb"
    run_demo(db, demo_port)
    return db


_COUNTED = (
    "raw_documents",
    "doc_texts",
    "doc_sentiment",
    "doc_themes",
    "spike_alerts",
    "daily_source_stats",
)


@pytest.fixture(scope="session")
def e2e_rerun(e2e_db: Path, demo_port: int) -> tuple[tuple, tuple]:
    """Row counts before and after running the same demo window again."""
    import duckdb

    def counts() -> tuple:
        with duckdb.connect(str(e2e_db), read_only=True) as con:
            # Table names come from the constant above, never from input.
            return tuple(
                con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in _COUNTED
            )

    before = counts()
    run_demo(e2e_db, demo_port)
    return before, counts()
