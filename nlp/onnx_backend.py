"""Running a Hugging Face sequence classifier with ONNX Runtime (the fast CPU path).

The model is exported once from its PyTorch weights (`torch.onnx`, opset 17) and, for
int8, quantized with ONNX Runtime's dynamic quantization; the result is kept in a cache
directory under a name that holds the model's weights digest, so a changed model is
exported again and every process (a Dask worker, a scheduled server) reuses the file.
Measured on the bundled model (2 cores, same run): about 4× the speed of PyTorch's own
dynamic int8 at the same labels on 99.7 % of texts (`benchmarks/sentiment_runtime.py`).

Cache directory: ``$VOC_MODEL_CACHE``, else ``$XDG_CACHE_HOME/voc-monitor/models``, else
``~/.cache/voc-monitor/models``; a directory that cannot be written falls back to the
system temporary directory.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

#: ONNX opset of the export.
OPSET = 17


def cache_dir() -> Path:
    """Where exported ONNX models are kept (see the module docstring)."""
    env = os.environ.get("VOC_MODEL_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "voc-monitor" / "models"


def _writable(directory: Path) -> Path:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory):
            pass
        return directory
    except OSError:
        fallback = Path(tempfile.gettempdir()) / "voc-monitor-models"
        fallback.mkdir(parents=True, exist_ok=True)
        logger.warning("model cache %s is not writable; using %s", directory, fallback)
        return fallback


def export_onnx(model: Any, tokenizer: Any, path: Path, *, int8: bool) -> Path:
    """Export a PyTorch sequence classifier to `path` (int8: dynamically quantized).

    Written to a temporary file and renamed, so processes exporting at the same time never
    read a half-written model.
    """
    import torch

    sample = tokenizer(["测试一下这个句子"], return_tensors="pt")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        fp32 = Path(tmp) / "model.onnx"
        with warnings.catch_warnings():
            # The TorchScript exporter is deprecated in favour of torch.export, which needs
            # onnxscript; this one needs only onnx and gives the same graph for BERT.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model,
                (sample["input_ids"], sample["attention_mask"]),
                str(fp32),
                input_names=["input_ids", "attention_mask"],
                output_names=["logits"],
                dynamic_axes={
                    "input_ids": {0: "batch", 1: "tokens"},
                    "attention_mask": {0: "batch", 1: "tokens"},
                    "logits": {0: "batch"},
                },
                opset_version=OPSET,
                dynamo=False,
            )
        final = fp32
        if int8:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            final = Path(tmp) / "model.int8.onnx"
            # quantize_dynamic logs a pre-processing hint on the root logger; it does not
            # apply to a transformer's MatMuls.
            root = logging.getLogger()
            level = root.level
            root.setLevel(logging.ERROR)
            try:
                quantize_dynamic(str(fp32), str(final), weight_type=QuantType.QInt8)
            finally:
                root.setLevel(level)
        os.replace(final, path)
    return path


class OnnxClassifier:
    """An ONNX Runtime session answering like the PyTorch model: logits per row."""

    def __init__(self, path: Path, threads: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # No arena: it keeps the largest batch's buffers for the process's life (~100 MB
        # over 20,000 reviews); without it they go back after each call, at no measured cost.
        options.enable_cpu_mem_arena = False
        self.path = path
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """Logits (rows × classes, float32) for int64 id and mask arrays."""
        return self._session.run(
            ["logits"], {"input_ids": input_ids, "attention_mask": attention_mask}
        )[0]


def onnx_classifier(
    model: Any, tokenizer: Any, version: str, *, int8: bool, threads: int
) -> OnnxClassifier:
    """The cached ONNX export of `model` (exported first if missing), ready to run.

    Args:
        model: The PyTorch model (fp32, eval mode).
        tokenizer: Its tokenizer (for the export's sample input).
        version: The model's version string (name + weights digest): the cache key.
        int8: Quantize to int8.
        threads: ONNX Runtime intra-op threads.
    """
    name = "".join(c if c.isalnum() or c in "-_.+" else "_" for c in version)
    path = _writable(cache_dir()) / f"{name}{'.int8' if int8 else ''}.onnx"
    if not path.is_file():
        logger.info("exporting %s to ONNX (%s) at %s", version, "int8" if int8 else "fp32", path)
        export_onnx(model, tokenizer, path, int8=int8)
    return OnnxClassifier(path, threads)
