"""The ``[cluster]`` settings table: where the NLP enrichment stages run.

By default (no table, or ``runner = "local"``) every stage runs in the flow's own process,
as it always has. With ``runner = "dask"`` the daily flow runs the stages that are pure over
a batch as Prefect tasks on a Dask cluster (``flows.dask_stages``): a local cluster of
worker processes that the run starts and stops, or an existing scheduler. Example
(README, "Running on a cluster")::

    [cluster]
    runner = "dask"
    n_workers = 2              # a local cluster: worker processes on this machine
    threads_per_worker = 1
    partition_docs = 2000      # documents per task

    # a local run (runner = "local"): how many stages run side by side (default 2)
    # stage_threads = 2

    # or an existing scheduler instead of n_workers / threads_per_worker / adapt_*:
    # address = "tcp://scheduler.internal:8786"

Settings, not behaviour: `voc.settings` builds a `ClusterConfig` at load time, so a bad
value is an error naming the file and the key before anything runs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

RUNNERS = ("local", "dask")
#: Documents per Dask task when ``partition_docs`` is not set.
DEFAULT_PARTITION_DOCS = 2_000
#: Keys that only a local cluster (started by the run) takes.
_LOCAL_CLUSTER_KEYS = ("n_workers", "threads_per_worker", "adapt_min", "adapt_max")
_KEYS = ("runner", "address", *_LOCAL_CLUSTER_KEYS, "partition_docs", "stage_threads")
#: Stages side by side in a local run when ``stage_threads`` is not set: two keep both cores
#: of the reference machine busy (the models release the GIL) while only two batches and
#: their results are in memory at once.
DEFAULT_STAGE_THREADS = 2
_ADDRESS = re.compile(r"^(tcp|tls|ucx)://\S+$")


@dataclass(frozen=True)
class ClusterConfig:
    """Everything under ``[cluster]``.

    Attributes:
        runner: ``"local"`` (one process, the default) or ``"dask"``.
        address: An existing Dask scheduler (``tcp://host:8786``); None = a local cluster
            started for the run and stopped after it.
        n_workers: Worker processes of the local cluster (the initial count with adapt).
        threads_per_worker: Threads per worker process; also the torch threads a worker
            gives the models.
        adapt_min: When either is set, the local cluster scales between `adapt_min`
            (default 0) and `adapt_max` (default `n_workers`, never unbounded) workers
            with the load (Dask's ``cluster.adapt``).
        adapt_max: See `adapt_min`.
        partition_docs: Documents per partition: per Dask task, and, when set, per
            `Stage.enrich` call in a local run too. A model's scores can depend on the
            texts that share its forward pass (int8 dynamic quantisation scales per pass),
            so a local run and a Dask run with the same value write identical results.
            None: the stage's own batch in a local run (as before), `DEFAULT_PARTITION_DOCS`
            on Dask.
        stage_threads: In a local run, how many enrichment stages run side by side (each
            holds one batch and its results in memory; the models release the GIL). None:
            `DEFAULT_STAGE_THREADS`.
    """

    runner: str = "local"
    address: str | None = None
    n_workers: int = 2
    threads_per_worker: int = 1
    adapt_min: int | None = None
    adapt_max: int | None = None
    partition_docs: int | None = None
    stage_threads: int | None = None

    @property
    def local_stage_threads(self) -> int:
        """Stages side by side in a local run."""
        return self.stage_threads or DEFAULT_STAGE_THREADS

    @property
    def dask(self) -> bool:
        """True when the stages run on Dask."""
        return self.runner == "dask"

    @property
    def dask_partition_docs(self) -> int:
        """Documents per Dask task."""
        return self.partition_docs or DEFAULT_PARTITION_DOCS

    @property
    def cluster_kwargs(self) -> dict[str, Any]:
        """``DaskTaskRunner(cluster_kwargs=...)`` for a local cluster (empty with an address)."""
        if self.address:
            return {}
        return {
            "n_workers": self.n_workers,
            "threads_per_worker": self.threads_per_worker,
            "processes": True,
            # No Dask dashboard (bokeh is not a dependency).
            "dashboard_address": None,
        }

    @property
    def adapt_kwargs(self) -> dict[str, int]:
        """``DaskTaskRunner(adapt_kwargs=...)``; empty = a fixed number of workers."""
        if self.adapt_min is None and self.adapt_max is None:
            return {}
        return {
            "minimum": self.adapt_min or 0,
            "maximum": self.adapt_max if self.adapt_max is not None else self.n_workers,
        }

    def describe(self) -> str:
        """One line for the run log: where the stages run."""
        if not self.dask:
            return f"local (one process, {self.local_stage_threads} stages side by side)"
        if self.address:
            return f"dask at {self.address}"
        adapt = self.adapt_kwargs
        scale = f", adapting {adapt['minimum']}..{adapt['maximum']}" if adapt else ""
        return (
            f"dask local cluster: {self.n_workers} workers x {self.threads_per_worker} "
            f"threads{scale}"
        )


def _count(raw: Mapping[str, Any], key: str, where: str, least: int) -> int | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ValueError(
            f"{where} {key}: 必须是不小于 {least} 的整数 / must be an integer ≥ {least}, "
            f"got {value!r}"
        )
    return value


def parse_cluster_config(raw: Any, origin: str) -> ClusterConfig:
    """The ``[cluster]`` table as a `ClusterConfig`.

    Raises:
        ValueError: an unknown key, a runner other than local/dask, an address that is not
            a scheduler URL, an address together with local-cluster keys, a count below
            its minimum, or adapt_min above adapt_max; the message names the file and key.
    """
    if isinstance(raw, ClusterConfig):
        return raw
    where = f"{origin}: [cluster]"
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where} must be a table")
    unknown = sorted(set(raw) - set(_KEYS))
    if unknown:
        raise ValueError(
            f"{where} 未知设置 / unknown key(s): {', '.join(unknown)} (known: {', '.join(_KEYS)})"
        )
    runner = raw.get("runner", "local")
    if runner not in RUNNERS:
        raise ValueError(
            f"{where} runner: 须为 local 或 dask / must be one of {RUNNERS}, got {runner!r}"
        )
    address = raw.get("address")
    if address is not None:
        if not isinstance(address, str) or not _ADDRESS.match(address):
            raise ValueError(
                f"{where} address: 须为调度器地址 / must be a scheduler address such as "
                f"tcp://host:8786, got {address!r}"
            )
        clash = [k for k in _LOCAL_CLUSTER_KEYS if k in raw]
        if clash:
            raise ValueError(
                f"{where} address: 不能与 {', '.join(clash)} 同时设置 / an existing scheduler "
                f"takes no local-cluster keys ({', '.join(clash)})"
            )
    n_workers = _count(raw, "n_workers", where, 1)
    threads = _count(raw, "threads_per_worker", where, 1)
    adapt_min = _count(raw, "adapt_min", where, 0)
    adapt_max = _count(raw, "adapt_max", where, 1)
    defaults = ClusterConfig()
    most = adapt_max if adapt_max is not None else (n_workers or defaults.n_workers)
    if adapt_min is not None and adapt_min > most:
        raise ValueError(
            f"{where} adapt_min: 不能大于 adapt_max（默认 n_workers）/ must not exceed "
            f"adapt_max (default n_workers) ({adapt_min} > {most})"
        )
    return ClusterConfig(
        runner=runner,
        address=address,
        n_workers=n_workers if n_workers is not None else defaults.n_workers,
        threads_per_worker=threads if threads is not None else defaults.threads_per_worker,
        adapt_min=adapt_min,
        adapt_max=adapt_max,
        partition_docs=_count(raw, "partition_docs", where, 1),
        stage_threads=_count(raw, "stage_threads", where, 1),
    )
