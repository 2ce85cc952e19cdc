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


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


@pytest.fixture(scope="session")
def e2e_server() -> Iterator[DemoServer]:
    with start_demo_server("127.0.0.1", 0) as server:
        yield server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def demo_port() -> int:
    """One port for every `voc demo` of the session: stored URLs name it."""
    return _free_port()


@pytest.fixture(scope="session")
def e2e_db(prefect_harness, demo_port: int, tmp_path_factory) -> Path:
    """The warehouse after `voc demo --no-dashboard` over the e2e window."""
    from voc.cli import main

    db = tmp_path_factory.mktemp("e2e") / "voc.duckdb"
    code = main(
        [
            "demo",
            "--db",
            str(db),
            "--since",
            str(E2E_SINCE),
            "--until",
            str(E2E_UNTIL),
            "--no-dashboard",
            "--port",
            str(demo_port),
        ]
    )
    assert code == 0
    return db


@pytest.fixture(scope="session")
def e2e_rerun(e2e_db: Path, demo_port: int) -> tuple[tuple, tuple]:
    """Row counts before and after running the same demo window again."""
    import duckdb

    from voc.cli import main

    def counts() -> tuple:
        with duckdb.connect(str(e2e_db), read_only=True) as con:
            return tuple(
                con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][
                    0
                ]  # table names from this tuple
                for t in (
                    "raw_documents",
                    "doc_texts",
                    "doc_sentiment",
                    "doc_themes",
                    "spike_alerts",
                    "daily_source_stats",
                )
            )

    before = counts()
    code = main(
        [
            "demo",
            "--db",
            str(e2e_db),
            "--since",
            str(E2E_SINCE),
            "--until",
            str(E2E_UNTIL),
            "--no-dashboard",
            "--port",
            str(demo_port),
        ]
    )
    assert code == 0
    return before, counts()
