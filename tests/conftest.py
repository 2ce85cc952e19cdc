"""Fixtures shared across test packages."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from demo.server import DemoServer, start_demo_server
from warehouse.case_db import connect_store, create_schema
from warehouse.db import open_warehouse


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """`--dist loadgroup` by module: a module's tests share its module-scoped fixtures (a
    crawl, a seeded warehouse) on one worker, the tests sharing the e2e warehouse are one
    group, and the other e2e tests (each a whole ingestion) are scheduled one by one.

    pytest 9.2 keeps node ids where pytest-xdist 3.8's `xdist_group` suffix no longer
    reaches them, so the mark alone does not group; the scheduler groups by module instead.
    """
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    from tests.e2e.conftest import E2E_DB_MODULES

    class Scheduling(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            if not module.startswith("tests/e2e/"):
                return module
            if module.rsplit("/", 1)[-1] in E2E_DB_MODULES:
                return "e2e_db"
            return super()._split_scope(nodeid)

    return Scheduling(config, log)


@pytest.fixture(scope="session")
def demo_server() -> Iterator[DemoServer]:
    """The bundled demo sources on a free localhost port, for the whole session."""
    with start_demo_server("127.0.0.1", 0) as server:
        yield server


@pytest.fixture(scope="session")
def warehouse_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse file migrated from empty once per session (per xdist worker)."""
    path = tmp_path_factory.mktemp("warehouse-template") / "template.duckdb"
    open_warehouse(path).close()
    return path


@pytest.fixture
def new_warehouse(warehouse_template: Path) -> Callable[[Path], Path]:
    """Makes `path` a fresh, fully migrated warehouse file (a copy of the template).

    Replaying every migration costs a few hundred milliseconds per file; tests that are
    not about migrations start from the copy, and `open_warehouse` still checks that
    nothing is pending. Tests of the migrations themselves open an empty file instead.
    """

    def make(path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(warehouse_template, path)
        return path

    return make


@pytest.fixture(params=["sqlite", "postgresql"])
def case_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """A fresh, empty case store (schema created) on a real database: a SQLite file, or a
    new database on the PostgreSQL server of ``VOC_TEST_POSTGRES_URL``
    (`scripts/with-postgres.sh`, which `make test` runs). Without that URL the postgresql
    case skips, or fails when ``VOC_REQUIRE_POSTGRES=1`` (`.ci/run`).

    ``engine.url.render_as_string(hide_password=False)`` is the store's URL, for tests of
    code that connects by URL (the CLI, the dashboard).
    """
    if request.param == "sqlite":
        engine = connect_store(f"sqlite:///{tmp_path / 'cases.sqlite'}")
        create_schema(engine)
        yield engine
        engine.dispose()
        return
    admin_url = os.environ.get("VOC_TEST_POSTGRES_URL")
    if not admin_url:
        message = "VOC_TEST_POSTGRES_URL is not set (run under scripts/with-postgres.sh)"
        if os.environ.get("VOC_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    name = f"voc_test_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with admin.connect() as con:
        con.exec_driver_sql(f'CREATE DATABASE "{name}"')  # a generated name, not input
    engine = connect_store(sa.make_url(admin_url).set(database=name))
    try:
        create_schema(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as con:
            con.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
