"""The case store unreachable (a bad URL, a PostgreSQL server stopped): today's openings
are spooled to disk, the ingestion carries on, and the next run replays them — nothing is
lost, nothing is stored twice."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.warehouse.case_seed import T0, opening, voice
from voc.cases import CaseOpening
from warehouse.case_db import connect_store, create_schema
from warehouse.case_spool import (
    open_or_spool,
    opening_from_dict,
    opening_to_dict,
    pending_spools,
    read_spool,
    spool_dir,
)
from warehouse.case_store import CaseFilters, CaseStore


def day(n: int, k: int = 3) -> list[CaseOpening]:
    """Day `n`'s openings: `k` single voices and one voice of a customer's running case."""
    out = [opening(f"doc:{n}-{i}", voice(f"{n}-{i}", n)) for i in range(k)]
    out.append(opening("cust:c1:t1", voice(f"c1-{n}", n, customer_id="c1"), customer_id="c1"))
    return out


def unreachable_url(engine: sa.Engine, tmp_path: Path) -> str:
    if engine.dialect.name == "sqlite":
        return f"sqlite:///{tmp_path / 'no-such-folder' / 'cases.sqlite'}"
    return "postgresql+psycopg://voc:s3cret@127.0.0.1:9/voc"  # nothing listens on port 9


def test_openings_spool_while_the_store_is_down_and_replay_later(
    case_engine: sa.Engine, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    down = unreachable_url(case_engine, tmp_path)
    first = open_or_spool(down, day(0), now=T0, runs_dir=runs)
    assert first.result is None and first.spooled is not None and first.spooled.is_file()
    assert "s3cret" not in (first.error or "") and first.error
    second = open_or_spool(down, day(1), now=T0 + timedelta(days=1), runs_dir=runs)
    assert second.pending == (first.spooled, second.spooled)
    header, spooled = read_spool(first.spooled)
    assert spooled == day(0) and header["now"] == T0

    back = open_or_spool(case_engine, day(2), now=T0 + timedelta(days=2), runs_dir=runs)
    assert back.replayed == (first.spooled, second.spooled) and back.error is None
    assert back.replayed_result.n_voices == 8 and back.result.n_voices == 4
    assert pending_spools(runs) == [] and not list(spool_dir(runs).iterdir())
    store = CaseStore(case_engine)
    # 3 + 3 + 3 single cases, and c1's voices of days 0-2 in one case.
    assert store.count_cases(CaseFilters()) == 10
    c1 = store.get(store.case_of_doc("c1-0"))
    assert c1.n_voices == 3 and store.case_of_doc("c1-2") == c1.case_id
    assert store.history(c1.case_id)[0].at == T0  # opened at the spooled run's time

    again = open_or_spool(case_engine, day(2), now=T0 + timedelta(days=3), runs_dir=runs)
    assert again.result.n_opened == 0 and again.result.n_known == 4 and again.replayed == ()


def test_an_unreadable_spool_file_is_set_aside_not_lost(
    case_engine: sa.Engine, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    down = unreachable_url(case_engine, tmp_path)
    good = open_or_spool(down, day(0), now=T0, runs_dir=runs).spooled
    broken = spool_dir(runs) / "00000000T000000000000-broken.jsonl"
    broken.write_text('{"format": 1, "now": "2025-09-26T00:00:00+00:00"}\n{"voices": ', "utf-8")
    back = open_or_spool(case_engine, [], now=T0, runs_dir=runs)
    assert back.replayed == (good,) and back.bad == (broken.with_suffix(".bad"),)
    assert broken.with_suffix(".bad").read_text("utf-8").endswith('{"voices": ')
    assert CaseStore(case_engine).count_cases(CaseFilters()) == 4


def test_an_opening_survives_the_round_trip_through_json() -> None:
    full = opening(
        "cust:c9:物流",
        voice("x", 1.5, url="https://weibo.example/1", anger=0.4, dup_group="g7", segment="高价值"),
        voice("y", 2, customer_id="c9", province="浙江"),
        priority="P1",
        owner="张三",
        severity={"negative_score": 0.91, "tier": "高价值", "reach": None},
        aspect="配送",
        category="物流",
    )
    assert opening_from_dict(opening_to_dict(full)) == full


# -- a PostgreSQL server that stops and comes back ----------------------------------


def _pg_bindir() -> str | None:
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.access(f"{folder}/pg_ctl", os.X_OK):
            return folder
    found = shutil.which("pg_ctl")
    return os.path.dirname(found) if found else None


class OwnServer:
    """A PostgreSQL cluster of its own (the shared test server must not be stopped)."""

    def __init__(self, bindir: str) -> None:
        self.dir = tempfile.mkdtemp(prefix="voc-pg-own.")
        self.bindir = bindir
        self.as_owner: list[str] = []
        if os.geteuid() == 0:  # initdb refuses root
            shutil.chown(self.dir, "postgres")
            self.as_owner = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", f"{self.dir}/data", "-U", "postgres", "-A", "trust", "--no-sync")
        self.url = f"postgresql+psycopg://postgres@/postgres?host={self.dir}"

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [*self.as_owner, f"{self.bindir}/{tool}", *args], check=True, capture_output=True
        )

    def start(self) -> None:
        opts = f"-k {self.dir} -c listen_addresses= -c fsync=off"
        self._run(
            "pg_ctl", "-D", f"{self.dir}/data", "-l", f"{self.dir}/log", "-w", "-o", opts, "start"
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", f"{self.dir}/data", "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        subprocess.run(
            [
                *self.as_owner,
                f"{self.bindir}/pg_ctl",
                "-D",
                f"{self.dir}/data",
                "-m",
                "immediate",
                "stop",
            ],
            capture_output=True,
        )
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def own_server() -> Iterator[OwnServer]:
    bindir = _pg_bindir()
    if bindir is None or not os.environ.get("VOC_TEST_POSTGRES_URL"):
        if os.environ.get("VOC_REQUIRE_POSTGRES") == "1":
            pytest.fail("PostgreSQL binaries not found")
        pytest.skip("PostgreSQL tests run under scripts/with-postgres.sh")
    server = OwnServer(bindir)
    try:
        server.start()
        yield server
    finally:
        server.remove()


def test_postgresql_stopped_mid_week_loses_no_opening(own_server: OwnServer, tmp_path) -> None:
    runs = tmp_path / "runs"
    engine = connect_store(own_server.url)  # one engine, as a long-running process has
    create_schema(engine)
    assert open_or_spool(engine, day(0), now=T0, runs_dir=runs).result.n_opened == 4
    own_server.stop()
    down = open_or_spool(engine, day(1), now=T0 + timedelta(days=1), runs_dir=runs)
    assert down.result is None and len(down.pending) == 1
    own_server.start()
    back = open_or_spool(engine, day(2), now=T0 + timedelta(days=2), runs_dir=runs)
    assert back.replayed == down.pending and back.error is None
    store = CaseStore(engine)
    assert store.count_cases(CaseFilters()) == 10
    assert store.get(store.case_of_doc("c1-0")).n_voices == 3
    engine.dispose()
