"""The ONNX Runtime path (the pipeline's default) agrees with the PyTorch model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nlp.sentiment import load_sentiment_model
from nlp.training.train_sentiment import default_split
from voc.settings import SettingsError, load_settings


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "model-cache"
    monkeypatch.setenv("VOC_MODEL_CACHE", str(directory))
    return directory


@pytest.mark.filterwarnings("ignore")
def test_onnx_runtimes_agree_with_the_torch_model_and_name_themselves(cache: Path) -> None:
    texts = [r.text for r in default_split().test[:400]]
    texts += ["", "   ", "😀😀", "好" * 5000]
    torch32 = load_sentiment_model()
    onnx32 = load_sentiment_model(runtime="onnx")
    onnx8 = load_sentiment_model(runtime="onnx", int8=True)
    assert onnx32.version == torch32.version + "+onnx"
    assert onnx8.version == torch32.version + "+onnx-int8"
    reference = torch32.predict(texts)
    same = onnx32.predict(texts)
    # The fp32 export is the same network: the same labels, scores equal to float32 noise.
    assert [r.label for r in same] == [r.label for r in reference]
    assert max(abs(a.score - b.score) for a, b in zip(same, reference, strict=True)) < 1e-5
    quantized = onnx8.predict(texts)
    agree = sum(a.label == b.label for a, b in zip(quantized, reference, strict=True))
    assert agree / len(texts) >= 0.98
    # Unreadable texts never reach the model.
    assert [(r.label, r.score) for r in quantized[-4:-1]] == [("neutral", 0.5)] * 3
    assert sorted(p.name for p in cache.iterdir()) == sorted(
        [
            f"{onnx32.version.removesuffix('+onnx')}.onnx",
            f"{onnx8.version.removesuffix('+onnx-int8')}.int8.onnx",
        ]
    )


@pytest.mark.filterwarnings("ignore")
def test_the_export_is_made_once_and_reused_by_later_loads(cache: Path) -> None:
    first = load_sentiment_model(runtime="onnx", int8=True)
    (exported,) = list(cache.iterdir())
    stamp = exported.stat().st_mtime_ns
    os.utime(exported, ns=(stamp - 10**9, stamp - 10**9))
    second = load_sentiment_model(runtime="onnx", int8=True)
    assert exported.stat().st_mtime_ns == stamp - 10**9
    text = ["物流太慢了，客服也不回消息"]
    assert first.predict(text) == second.predict(text)
    assert second.predict(text)[0].label == "negative"


@pytest.mark.filterwarnings("ignore")
def test_an_unwritable_cache_falls_back_to_the_temporary_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("x")
    monkeypatch.setenv("VOC_MODEL_CACHE", str(blocked / "cache"))
    model = load_sentiment_model(runtime="onnx", int8=True)
    assert model.predict(["质量很好，很满意"])[0].label == "positive"
    assert not (blocked / "cache").exists()


def test_unknown_runtimes_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="unknown sentiment runtime 'tensorrt'"):
        load_sentiment_model(runtime="tensorrt")
    with pytest.raises(SettingsError, match="sentiment_runtime = 'gpu'"):
        load_settings(None, env={}, sentiment_runtime="gpu")
    assert load_settings(None, env={}).sentiment_runtime == "onnx"
