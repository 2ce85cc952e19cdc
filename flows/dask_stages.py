"""The enrichment stages on a Dask cluster (settings ``[cluster] runner = "dask"``).

The daily flow fetches and loads as always, then runs `enrich_on_dask`, a subflow whose task
runner is `prefect_dask.DaskTaskRunner` (a local cluster it starts and stops, or an existing
scheduler). For each stage of the pipeline, in order:

- a stage that can be split (`voc.stages.partitionable`: normalise, segment, taxonomy,
  aspects, sentiment, emotion, escalation) has its pending documents selected by the flow
  batch by batch, exactly as `warehouse.enrichment.run_stage` does, each batch cut into
  partitions (`voc.stages.partition`); each partition is one `enrich_partition` task. The
  worker builds the pipeline once per process (`worker_stage`: models loaded once) and
  returns ``stage.enrich(partition)``; it never opens the warehouse;
- the flow saves each partition's records (`warehouse.enrichment.save_results`), so DuckDB
  keeps its one writer;
- a stage that reads its own history (near-duplicates) runs in the flow's process, as in a
  local run.

A local run with the same ``partition_docs`` calls `Stage.enrich` on the same partitions,
so both write identical results (tests/e2e/test_dask_runner.py).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from distributed import get_worker
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect_dask import DaskTaskRunner

from flows.tasks import StageResult, run_stage
from nlp.pipeline import build_pipeline
from nlp.sentiment import set_threads
from voc.cluster_config import ClusterConfig
from voc.settings import Settings
from voc.stages import Stage, StageDoc, partition, partitionable
from warehouse import enrichment
from warehouse.db import warehouse

#: The pipeline each worker process built, by the settings it was built from: models are
#: loaded once per process, whatever number of partitions and runs it computes.
_WORKER_STAGES: dict[tuple, dict[str, Stage]] = {}


@dataclass(frozen=True)
class PartitionResult:
    """What one partition task returns: the stage's records, and where and how fast."""

    records: list[Any]
    worker: str
    seconds: float


class Partition:
    """A partition's documents as one opaque task argument: Prefect and Dask both walk
    into lists, tuples and dataclasses (every document, every token), and Dask rebuilds
    the frozen `StageDoc`s it meets as tuples."""

    __slots__ = ("docs",)

    def __init__(self, docs: Sequence[StageDoc]) -> None:
        self.docs = list(docs)

    def __getstate__(self) -> list[StageDoc]:
        return self.docs

    def __setstate__(self, docs: list[StageDoc]) -> None:
        self.docs = docs


#: Every setting `build_pipeline` reads.
_MODEL_FIELDS = (
    "user_dict_paths",
    "stopword_paths",
    "segmenter",
    "taxonomy_path",
    "aspect_model_dir",
    "sentiment_model_dir",
    "sentiment_int8",
    "emotion_model_dir",
)


class Unstored:
    """A subflow argument that Prefect does not store with the flow run (the API keeps a
    run's parameters as JSON; the settings hold the author salt)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _model_key(settings: Settings) -> tuple:
    return tuple(getattr(settings, name) for name in _MODEL_FIELDS)


def model_settings(settings: Settings) -> Settings:
    """Only what building the pipeline reads: a worker gets no warehouse path, sources,
    author salt or alert channels (a remote cluster's traffic may not be encrypted)."""
    return Settings(**{name: getattr(settings, name) for name in _MODEL_FIELDS})


def _worker() -> tuple[str, int | None]:
    """This process's Dask worker address and threads (outside a worker: its pid, None)."""
    try:
        worker = get_worker()
    except ValueError:
        return f"pid {os.getpid()}", None
    return worker.address, worker.state.nthreads


def worker_stage(settings: Settings, name: str, version: str) -> Stage:
    """The stage `name` of this process's pipeline, built on first use.

    A worker of a long-lived cluster may have built it from files that changed since (a
    taxonomy edit): it is rebuilt once when its version is not the flow's.

    Raises:
        RuntimeError: the worker's stage still has another version than the flow's (its
            model directory holds other weights); the message names both.
    """
    key = _model_key(settings)
    for attempt in range(2):
        stages = _WORKER_STAGES.get(key) if attempt == 0 else None
        if stages is None:
            # Models take the worker's threads, not every CPU of a machine it shares.
            threads = _worker()[1]
            if threads:
                set_threads(threads)
            stages = {s.name: s for s in build_pipeline(settings)}
            _WORKER_STAGES[key] = stages
        stage = stages[name]
        if stage.version == version:
            return stage
    raise RuntimeError(
        f"stage {name!r} on worker {_worker()[0]} is version {stage.version}, the flow's is "
        f"{version}: the worker must see the same model and dictionary files"
    )


@task(cache_policy=NO_CACHE, task_run_name="enrich-{name}")
def enrich_partition(
    settings: Settings, name: str, version: str, docs: Partition
) -> PartitionResult:
    """One partition's records for one stage, computed on a worker (no warehouse access)."""
    started = time.perf_counter()
    records = worker_stage(settings, name, version).enrich(docs.docs)
    return PartitionResult(records, _worker()[0], time.perf_counter() - started)


def _run_partitioned(settings: Settings, stage: Stage, prints: dict[str, str]) -> StageResult:
    """Bring one splittable stage up to date on the cluster; the flow saves every partition."""
    logger = get_run_logger()
    started = time.perf_counter()
    size = settings.cluster.dask_partition_docs
    for_workers = model_settings(settings)
    n_docs = n_records = 0
    workers: set[str] = set()
    with warehouse(settings.db_path) as con:
        total = enrichment.count_pending(con, stage, prints)
        # The batches of a local run (`enrichment.run_stage`), so partitions coincide.
        while n_docs < total and (
            batch := enrichment.select_pending(con, stage, prints, stage.batch_size)
        ):
            parts = partition(batch, size)
            futures = [
                enrich_partition.submit(for_workers, stage.name, stage.version, Partition(part))
                for part in parts
            ]
            for number, (part, future) in enumerate(zip(parts, futures, strict=True), 1):
                done = future.result()
                saved = enrichment.save_results(con, stage, prints, part, done.records)
                n_docs += saved.n_docs
                n_records += saved.n_records
                workers.add(done.worker)
                logger.info(
                    "%s (%s): %d/%d; partition %d/%d (%d documents) on %s in %.2fs",
                    stage.name,
                    stage.version,
                    n_docs,
                    total,
                    number,
                    len(parts),
                    len(part),
                    done.worker,
                    done.seconds,
                )
    return StageResult(
        stage.name,
        source=f"dask: {len(workers)} worker{'s' if len(workers) != 1 else ''}" if workers else "",
        n_in=n_docs,
        n_out=n_records,
        seconds=time.perf_counter() - started,
    )


@flow(name="voc-enrich-on-dask", log_prints=False, validate_parameters=False)
def enrich_on_dask(settings: Unstored, prints: dict[str, str]) -> list[StageResult]:
    """Bring every enrichment stage up to date, the splittable ones on the Dask cluster."""
    settings = settings.value
    results = []
    for stage in build_pipeline(settings):
        if partitionable(stage):
            results.append(_run_partitioned(settings, stage, prints))
        else:  # reads its own history: in this process, in order
            results.append(run_stage(settings, stage.name, prints))
    return results


def dask_task_runner(config: ClusterConfig) -> DaskTaskRunner:
    """The task runner for `config`: an existing scheduler, or a local cluster of worker
    processes (with adaptive scaling when adapt_min/adapt_max are set)."""
    if config.address:
        return DaskTaskRunner(address=config.address)
    return DaskTaskRunner(
        cluster_kwargs=config.cluster_kwargs, adapt_kwargs=config.adapt_kwargs or None
    )


def run_stages_on_dask(settings: Settings, prints: dict[str, str]) -> list[StageResult]:
    """Run `enrich_on_dask` on the cluster of `settings.cluster`; its stages' results.

    With nothing pending for any stage (a day with no new documents) no cluster is
    started or contacted: running the stages in order would change nothing.
    """
    logger = get_run_logger()
    stages = build_pipeline(settings)
    with warehouse(settings.db_path) as con:
        pending = {s.name: enrichment.count_pending(con, s, prints) for s in stages}
    if not any(pending.values()):
        logger.info("enrichment stages: nothing pending, no cluster needed")
        return [StageResult(s.name) for s in stages]
    logger.info("enrichment stages on %s", settings.cluster.describe())
    runner = dask_task_runner(settings.cluster)
    return enrich_on_dask.with_options(task_runner=runner)(Unstored(settings), prints)
