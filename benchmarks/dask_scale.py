"""The NLP enrichment stages over N documents: one process vs Dask with 1, 2 and 4 workers.

Builds one warehouse with N documents of the scale benchmark's corpus
(`benchmarks.scale_corpus`: real text under ``../shared/data`` when present, else the demo
generator's pool) loaded but not enriched, copies it once per configuration, and brings
every stage of the pipeline up to date:

- ``local``: the daily flow's single-process path (`flows.tasks.run_stage` per stage);
- ``dask N``: the ``[cluster] runner = "dask"`` path (`flows.dask_stages.enrich_on_dask`)
  on a `distributed.LocalCluster` of N worker processes x 1 thread, started and warmed up
  (models loaded on every worker) before the clock starts; that start-up is printed apart.

Both use the same ``partition_docs``, so every Dask run's ``doc_sentiment`` is checked to be
identical to the local run's. Prints, per configuration, the stage seconds, docs/s,
docs/s per worker and the ratio to the local run measured in the same invocation.

    python benchmarks/dask_scale.py [--docs 20000] [--workers 1,2,4] [--partition-docs 2000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.scale_corpus import day_counts, generate, text_pool

_CHANNELS = {"shop": "review", "social": "social", "tickets": "ticket"}


def build_warehouse(path: Path, n_docs: int, n_days: int = 30) -> str:
    """A warehouse with `n_docs` documents over `n_days` days, none enriched; the text
    pool's description."""
    from voc.records import make_document
    from warehouse.db import warehouse
    from warehouse.loaders import upsert_documents

    pool, where = text_pool()
    docs = [
        make_document(
            source=d.source,
            channel=_CHANNELS[d.source],
            external_id=d.doc_id,
            text=d.text,
            created_at=d.created_at,
            brand="客声优选",
        )
        for d in generate(day_counts(n_docs, n_days, date(2025, 6, 1)), pool, seed=17)
    ]
    with warehouse(path) as con:
        upsert_documents(con, docs, "bench-load")
    return where


def _warm(settings, versions: dict[str, str]) -> int:
    """On a worker: build its pipeline (models loaded) before the clock starts."""
    from flows.dask_stages import worker_stage

    for name, version in versions.items():
        worker_stage(settings, name, version)
    return os.getpid()


def run_local(settings, prints: dict[str, str]) -> list:
    """Every stage in this process, as a local daily run does; the stages' results."""
    from prefect import flow

    from flows.tasks import run_stage
    from nlp.pipeline import build_pipeline

    @flow(name="bench-local-stages", validate_parameters=False)
    def local_stages(settings, prints):
        return [run_stage(settings, s.name, prints) for s in build_pipeline(settings)]

    return local_stages(settings, prints)


def run_dask(settings, prints: dict[str, str], n_workers: int) -> tuple[list, float]:
    """Every stage on a fresh local cluster of `n_workers` processes; (results, seconds
    to start the cluster and load the models on every worker)."""
    from distributed import Client, LocalCluster

    from flows.dask_stages import Unstored, dask_task_runner, enrich_on_dask
    from nlp.pipeline import build_pipeline
    from voc.cluster_config import ClusterConfig

    started = time.perf_counter()
    with (
        LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        versions = {s.name: s.version for s in build_pipeline(settings)}
        client.run(_warm, settings, versions)
        startup = time.perf_counter() - started
        config = ClusterConfig(
            runner="dask",
            address=cluster.scheduler_address,
            partition_docs=settings.cluster.partition_docs,
        )
        flow = enrich_on_dask.with_options(task_runner=dask_task_runner(config))
        results = flow(Unstored(replace(settings, cluster=config)), prints)
    return results, startup


def _sentiment_rows(db: Path) -> list[tuple]:
    from warehouse.db import read_only

    with read_only(db) as con:
        return con.execute(
            "SELECT doc_id, label, score, model_version FROM doc_sentiment ORDER BY doc_id"
        ).fetchall()


def _line(name: str, workers: int, seconds: float, n_docs: int, base: float | None) -> str:
    rate = n_docs / seconds if seconds else 0.0
    per = f"{rate / workers:8.0f}" if workers else f"{rate:8.0f}"
    ratio = f"{base / seconds:6.2f}x" if base else "  1.00x"
    return f"{name:<10} {seconds:9.1f} {rate:9.0f} {per}  {ratio}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--workers", default="1,2,4", help="Dask worker counts, e.g. 1,2,4")
    parser.add_argument("--partition-docs", type=int, default=2_000)
    args = parser.parse_args(argv)
    workers = [int(w) for w in args.workers.split(",") if w]

    from prefect.testing.utilities import prefect_test_harness

    from nlp.pipeline import build_pipeline
    from signals.theme_run import THEME_SPEC
    from voc.cluster_config import ClusterConfig
    from voc.settings import Settings
    from voc.stages import fingerprints

    with tempfile.TemporaryDirectory(prefix="voc-dask-bench-") as tmp:
        base = Path(tmp) / "base.duckdb"
        where = build_warehouse(base, args.docs)
        settings = Settings(db_path=base, cluster=ClusterConfig(partition_docs=args.partition_docs))
        stages = build_pipeline(settings)
        prints = fingerprints([*stages, THEME_SPEC])
        print(
            f"{args.docs} documents ({where}), partition_docs={args.partition_docs}, "
            f"{os.cpu_count()} CPUs"
        )
        rows: list[tuple[str, int, list, float]] = []
        with prefect_test_harness(server_startup_timeout=180):
            db = Path(tmp) / "local.duckdb"
            shutil.copyfile(base, db)
            results = run_local(replace(settings, db_path=db), prints)
            rows.append(("local", 0, results, 0.0))
            expected = _sentiment_rows(db)
            for n in workers:
                db = Path(tmp) / f"dask{n}.duckdb"
                shutil.copyfile(base, db)
                results, startup = run_dask(replace(settings, db_path=db), prints, n)
                same = _sentiment_rows(db) == expected
                rows.append((f"dask {n}", n, results, startup))
                print(f"dask {n}: cluster start + model load {startup:.1f}s; "
                      f"doc_sentiment identical to local: {same}")  # fmt: skip

    names = [r.stage for r in rows[0][2]]
    print()
    print("stage seconds: " + ", ".join(names))
    for name, _, results, _ in rows:
        print(f"  {name:<8} " + " ".join(f"{r.seconds:7.1f}" for r in results))
    print()
    print(f"{'runner':<10} {'seconds':>9} {'docs/s':>9} {'/worker':>8}  vs local")
    base_seconds = sum(r.seconds for r in rows[0][2])
    for name, n, results, _ in rows:
        seconds = sum(r.seconds for r in results)
        print(_line(name, n, seconds, args.docs, base_seconds if n else None))


if __name__ == "__main__":
    main()
