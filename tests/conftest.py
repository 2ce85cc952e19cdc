"""Fixtures shared across test packages."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from demo.server import DemoServer, start_demo_server
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
