"""The NLP stages on a real Dask cluster (`[cluster] runner = "dask"`) write exactly what a
single-process run writes: the same demo days ingested once with the local runner and once
on a `distributed.LocalCluster` of two worker processes, every enrichment row compared."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from nlp.pipeline import build_pipeline
from voc.cluster_config import ClusterConfig
from voc.settings import Settings
from voc.stages import partitionable

pytestmark = pytest.mark.e2e
#: About 650 documents of the demo: six or seven partitions per stage at PARTITION_DOCS.
SINCE, UNTIL = date(2025, 8, 1), date(2025, 8, 6)
PARTITION_DOCS = 100


def _config(path: Path, runner: str) -> Path:
    # The same partitions for both runners: an int8 model's scores depend on the texts that
    # share a forward pass, so a local run is only comparable at the same partitioning.
    cluster = f'runner = "{runner}"\npartition_docs = {PARTITION_DOCS}\n'
    if runner == "dask":
        cluster += "n_workers = 2\nthreads_per_worker = 1\n"
    path.write_text(f"[cluster]\n{cluster}", encoding="utf-8")
    return path


def _enrichment_tables(settings: Settings) -> dict[str, list[str]]:
    """Table → columns compared: every output of every stage of the pipeline, and the
    per-document stage state; only the write-time columns are left out."""
    tables = {}
    for stage in build_pipeline(settings):
        for output in stage.outputs:
            columns = list(output.columns)
            if output.version_column:
                columns.append(output.version_column)
            tables[output.table] = columns
    tables["doc_stage_state"] = [
        "stage", "doc_id", "content_hash", "version", "fingerprint", "n_records"
    ]  # fmt: skip
    return tables


def _rows(db: Path, table: str, columns: list[str]) -> list[tuple]:
    # Names come from the stage declarations in code, never from input.
    listed = ", ".join(columns)
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(f"SELECT {listed} FROM {table} ORDER BY {listed}").fetchall()


def test_stages_on_a_two_worker_local_cluster_write_what_one_process_writes(
    prefect_harness, e2e_server, tmp_path: Path
) -> None:
    from flows.daily import daily_ingest

    runs, statuses = {}, {}
    for runner in ("local", "dask"):
        db = tmp_path / runner / "voc.duckdb"
        db.parent.mkdir()
        config = _config(tmp_path / f"{runner}.toml", runner)
        result = daily_ingest(
            since=SINCE,
            until=UNTIL,
            config_path=str(config),
            db_path=str(db),
            demo_port=e2e_server.port,
        )
        statuses[runner] = result["status"]
        runs[runner] = db
    # "partial" when the window holds the demo shop's review with a broken date.
    assert statuses["dask"] == statuses["local"] in ("ok", "partial")

    settings = Settings()
    tables = _enrichment_tables(settings)
    assert {"doc_texts", "doc_tokens", "doc_sentiment", "doc_aspects", "doc_emotion"} <= set(tables)
    for table, columns in tables.items():
        local, dask = _rows(runs["local"], table, columns), _rows(runs["dask"], table, columns)
        assert local, f"{table}: the local run wrote nothing to compare"
        # Exact equality, floats included: same partitions, same models.
        assert dask == local, table

    with duckdb.connect(str(runs["dask"]), read_only=True) as con:
        where = dict(con.execute("SELECT stage, source FROM run_stages").fetchall())
        n_docs = con.execute("SELECT count(*) FROM raw_documents").fetchone()[0]
    assert n_docs > 5 * PARTITION_DOCS
    # Every splittable stage ran on both worker processes; near-duplicates in the flow.
    for stage in build_pipeline(settings):
        expected = "dask: 2 workers" if partitionable(stage) else ""
        assert where[stage.name] == expected, stage.name


def _stages_on_dask(settings: Settings) -> list:
    from prefect import flow

    from flows.dask_stages import run_stages_on_dask
    from signals.theme_run import THEME_SPEC
    from voc.stages import fingerprints

    @flow(name="test-stages-on-dask", validate_parameters=False)
    def stages_on_dask(settings: Settings) -> list:
        prints = fingerprints([*build_pipeline(settings), THEME_SPEC])
        return run_stages_on_dask(settings, prints)

    return stages_on_dask(settings)


def _dask_subflow_runs() -> int:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    with get_client(sync_client=True) as client:
        only = FlowFilter(name=FlowFilterName(any_=["voc-enrich-on-dask"]))
        return client.count_flow_runs(flow_filter=only)


def test_with_nothing_pending_no_cluster_is_started(
    prefect_harness, tmp_path: Path, new_warehouse
) -> None:
    cluster = ClusterConfig(runner="dask", n_workers=2)
    settings = Settings(db_path=new_warehouse(tmp_path / "w.duckdb"), cluster=cluster)
    before = _dask_subflow_runs()
    results = _stages_on_dask(settings)
    assert [r.stage for r in results] == [s.name for s in build_pipeline(settings)]
    assert all(r.n_in == 0 and r.source == "" for r in results)
    # No subflow run, so no task runner and no cluster.
    assert _dask_subflow_runs() == before


TEXTS = (
    "物流太慢了，等了一个星期还没到，客服也不回消息",
    "质量很好，包装精美，下次还来买",
    "收到的耳机左边没有声音，申请退货一直没人处理，要投诉到消协",
    "味道一般般，价格有点贵",
    "快递小哥态度很好，送货上门，点赞",
)


def test_an_existing_scheduler_computes_the_partitions(
    prefect_harness, tmp_path: Path, new_warehouse
) -> None:
    from datetime import datetime, timedelta, timezone

    from distributed import LocalCluster

    from voc.records import make_document
    from warehouse import loaders
    from warehouse.db import warehouse

    db = new_warehouse(tmp_path / "w.duckdb")
    tz = timezone(timedelta(hours=8))
    docs = [
        make_document(
            source="shop",
            channel="review",
            external_id=f"r{i}",
            text=f"{TEXTS[i % len(TEXTS)]}（第{i}单）",
            created_at=datetime(2025, 8, 1, 9, tzinfo=tz) + timedelta(minutes=i),
        )
        for i in range(25)
    ]
    with warehouse(db) as con:
        loaders.upsert_documents(con, docs, "r1")
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        config = ClusterConfig(runner="dask", address=cluster.scheduler_address, partition_docs=10)
        salted = Settings(db_path=db, cluster=config, author_salt="pepper-not-for-the-api")
        results = _stages_on_dask(salted)
    by_stage = {r.stage: r for r in results}
    assert by_stage["sentiment"].n_in == 25 and by_stage["sentiment"].source == "dask: 1 worker"
    assert by_stage["group"].source == ""  # near-duplicates: in the flow's process
    with warehouse(db) as con:
        scored = con.execute("SELECT count(*) FROM doc_sentiment").fetchone()[0]
        tokens = con.execute("SELECT count(*) FROM doc_tokens").fetchone()[0]
    assert scored == tokens == 25
    # The settings reach the subflow without being stored with its run in the Prefect API.
    stored = [str(run.parameters) for run in _dask_subflow_parameters()]
    assert stored and not any("pepper" in p for p in stored)


def _dask_subflow_parameters() -> list:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        only = FlowFilter(name=FlowFilterName(any_=["voc-enrich-on-dask"]))
        return client.read_flow_runs(flow_filter=only, limit=20, sort=FlowRunSort.ID_DESC)
