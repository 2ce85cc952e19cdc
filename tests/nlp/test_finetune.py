"""Fine-tuning and evaluation on a user's labelled CSV, through the library and the CLI."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest

from cli.main import main
from nlp.training.evaluate import binary_scores
from nlp.training.labelled import LabelledFileError, read_labelled_csv

# A made-up domain the bundled model cannot know: an appliance's indicator colours.
_BAD = ["指示灯一直是蓝灯", "开机就亮蓝灯", "蓝灯闪个不停", "又是蓝灯", "显示蓝灯"]
_GOOD = ["指示灯一直是绿灯", "开机就亮绿灯", "绿灯稳定", "终于绿灯", "显示绿灯"]


def _write_domain_csv(path: Path, n: int = 240, seed: int = 0) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["评论", "标签"])
        for i in range(n):
            label = i % 2
            stem = rng.choice(_GOOD if label else _BAD)
            writer.writerow([f"{stem}，第{rng.randint(1, 99)}台机器", label])


def test_binary_scores_counts_the_confusion_matrix() -> None:
    report = binary_scores([0, 0, 1, 1, 1], [0, 1, 1, 1, 0])
    assert report["confusion_matrix"]["matrix"] == [[1, 1], [1, 2]]
    assert report["accuracy"] == pytest.approx(0.6)
    assert report["macro_f1"] == pytest.approx((0.5 + 2 / 3) / 2)


def test_labelled_csv_skips_bad_rows_by_number_and_reads_gbk(tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes("text,label\n很好,1\n,0\n一般,maybe\n很差,负面\n".encode("gbk"))
    data = read_labelled_csv(path, "text", "label")
    assert data.texts == ["很好", "很差"] and data.labels == [1, 0]
    assert data.problems == [
        "gbk.csv row 3: text is empty",
        "gbk.csv row 4: label 'maybe' is not 0/1 or negative/positive",
    ]
    with pytest.raises(LabelledFileError, match="no column 'review'; columns are: text, label"):
        read_labelled_csv(path, "review", "label")


def test_cli_train_lifts_a_domain_and_eval_reads_the_new_model(tmp_path: Path, capsys) -> None:
    data = tmp_path / "domain.csv"
    _write_domain_csv(data)
    out = tmp_path / "my-model"
    code = main(
        [
            "sentiment",
            "train",
            "--data",
            str(data),
            "--text-col",
            "评论",
            "--label-col",
            "标签",
            "--out",
            str(out),
            "--epochs",
            "4",
        ]
    )
    assert code == 0
    record = json.loads((out / "finetune.json").read_text(encoding="utf-8"))
    assert record["n_holdout"] == 48
    assert record["after"]["accuracy"] >= 0.9
    assert record["after"]["accuracy"] > record["before"]["accuracy"] + 0.2
    printed = capsys.readouterr().out
    assert "before (sentiment-default" in printed and "after  (my-model+" in printed

    assert (
        main(
            [
                "sentiment",
                "eval",
                str(data),
                "--text-col",
                "评论",
                "--label-col",
                "标签",
                "--model",
                str(out),
                "--json",
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert {"accuracy", "macro_f1", "n", "docs_per_s", "confusion_matrix"} <= set(report)
    assert report["n"] == 240 and report["accuracy"] >= 0.9
    assert report["model_version"].startswith("my-model+")


def test_cli_predict_json_and_clear_errors(tmp_path: Path, capsys) -> None:
    assert main(["sentiment", "predict", "质量很好，物流也快", "", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["label"] for r in out["results"]] == ["positive", "neutral"]
    assert (
        main(
            ["sentiment", "eval", str(tmp_path / "none.csv"), "--text-col", "a", "--label-col", "b"]
        )
        == 2
    )
    assert "none.csv" in capsys.readouterr().err
    assert main(["sentiment", "predict", "好", "--model", str(tmp_path / "nomodel")]) == 2
    assert "nomodel" in capsys.readouterr().err
