"""Test-session environment, set before any test module imports prefect or transformers."""

import os
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
# Under pytest-xdist each worker inherits the controller's environment; a worker gets its
# own Prefect home (settings, local storage) unless the caller chose one.
if "PREFECT_HOME" not in os.environ or os.environ.get("_VOC_TEST_PREFECT_HOME") == "1":
    os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="voc-prefect-home-")
    os.environ["_VOC_TEST_PREFECT_HOME"] = "1"
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")

# Each xdist worker runs on its own share of the CPUs. Torch sizes its thread pool from the
# CPUs a process may use (`nlp.sentiment.usable_cpus`); two workers each spinning up a pool
# over every core oversubscribe a 2-core machine.
_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _worker.startswith("gw") and hasattr(os, "sched_setaffinity"):
    _cpus = sorted(os.sched_getaffinity(0))
    _index, _count = int(_worker[2:]), int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    _share = _cpus[_index::_count] if _count <= len(_cpus) else [_cpus[_index % len(_cpus)]]
    os.sched_setaffinity(0, _share)
