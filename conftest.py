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
