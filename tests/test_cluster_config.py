"""The ``[cluster]`` settings table: one process by default, a local Dask cluster or an
existing scheduler, and a clear error naming the file and the key for a bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from voc.cluster_config import DEFAULT_PARTITION_DOCS, DEFAULT_STAGE_THREADS
from voc.settings import SettingsError, load_settings


def _load(tmp_path: Path, table: str):
    config = tmp_path / "voc.toml"
    config.write_text(f"[cluster]\n{table}", encoding="utf-8")
    return load_settings(config, env={}).cluster


def test_without_a_table_the_stages_run_in_one_process() -> None:
    cluster = load_settings(env={}).cluster
    assert cluster.runner == "local" and not cluster.dask
    assert cluster.partition_docs is None
    assert cluster.local_stage_threads == DEFAULT_STAGE_THREADS
    assert cluster.describe() == f"local (one process, {DEFAULT_STAGE_THREADS} stages side by side)"


def test_a_local_run_takes_its_number_of_stages_side_by_side(tmp_path: Path) -> None:
    cluster = _load(tmp_path, "stage_threads = 1\n")
    assert not cluster.dask and cluster.local_stage_threads == 1
    with pytest.raises(SettingsError, match="stage_threads"):
        _load(tmp_path, "stage_threads = 0\n")


def test_a_local_cluster_passes_its_sizes_to_the_task_runner(tmp_path: Path) -> None:
    cluster = _load(
        tmp_path,
        'runner = "dask"\nn_workers = 4\nthreads_per_worker = 2\nadapt_min = 1\n'
        "adapt_max = 8\npartition_docs = 500\n",
    )
    assert cluster.dask and cluster.address is None
    assert cluster.cluster_kwargs == {
        "n_workers": 4,
        "threads_per_worker": 2,
        "processes": True,
        "dashboard_address": None,
    }
    assert cluster.adapt_kwargs == {"minimum": 1, "maximum": 8}
    assert cluster.dask_partition_docs == 500
    assert cluster.describe() == (
        "dask local cluster: 4 workers x 2 threads, adapting 1..8"
    )  # fmt: skip


def test_adapt_alone_scales_up_to_n_workers_never_unbounded(tmp_path: Path) -> None:
    cluster = _load(tmp_path, 'runner = "dask"\nn_workers = 3\nadapt_min = 1\n')
    assert cluster.adapt_kwargs == {"minimum": 1, "maximum": 3}
    assert _load(tmp_path, "adapt_max = 5\n").adapt_kwargs == {"minimum": 0, "maximum": 5}
    assert _load(tmp_path, "n_workers = 3\n").adapt_kwargs == {}


def test_an_existing_scheduler_takes_no_local_cluster_sizes(tmp_path: Path) -> None:
    cluster = _load(tmp_path, 'runner = "dask"\naddress = "tcp://scheduler.internal:8786"\n')
    assert cluster.address == "tcp://scheduler.internal:8786"
    assert cluster.cluster_kwargs == {} and cluster.adapt_kwargs == {}
    assert cluster.dask_partition_docs == DEFAULT_PARTITION_DOCS
    assert cluster.describe() == "dask at tcp://scheduler.internal:8786"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('runner = "ray"\n', r"\[cluster\] runner: .*got 'ray'"),
        ("workers = 2\n", r"\[cluster\] .*unknown key\(s\): workers"),
        ('address = "scheduler.internal:8786"\n', r"\[cluster\] address: .*tcp://host:8786"),
        (
            'address = "tcp://scheduler.internal:8786"\nn_workers = 2\n',
            r"\[cluster\] address: .*local-cluster keys \(n_workers\)",
        ),
        ("n_workers = 0\n", r"\[cluster\] n_workers: .*integer ≥ 1, got 0"),
        ("threads_per_worker = 1.5\n", r"\[cluster\] threads_per_worker: .*got 1.5"),
        ("partition_docs = true\n", r"\[cluster\] partition_docs: .*got True"),
        ("adapt_min = 4\nadapt_max = 2\n", r"\[cluster\] adapt_min: .*\(4 > 2\)"),
        ("n_workers = 2\nadapt_min = 3\n", r"\[cluster\] adapt_min: .*\(3 > 2\)"),
    ],
)
def test_a_bad_cluster_value_names_the_file_and_the_key(
    tmp_path: Path, table: str, message: str
) -> None:
    with pytest.raises(SettingsError, match=message) as err:
        _load(tmp_path, table)
    assert "voc.toml" in str(err.value)


def test_cluster_must_be_a_table(tmp_path: Path) -> None:
    config = tmp_path / "voc.toml"
    config.write_text('cluster = "dask"\n', encoding="utf-8")
    with pytest.raises(SettingsError, match=r"\[cluster\] must be a table"):
        load_settings(config, env={})
