"""`voc sentiment train --corrections`: the dashboard's corrections join the training part
(overriding CSV rows of the same text, never held out) and are counted in finetune.json."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from cli.main import main
from nlp.model_report import model_report
from nlp.sentiment import load_sentiment_model
from nlp.training.sentiment_data import NEGATIVE, NEUTRAL, POSITIVE, merge_corrections
from warehouse.corrections import add_correction

_BAD = ["指示灯一直是蓝灯", "开机就亮蓝灯", "蓝灯闪个不停"]
_GOOD = ["指示灯一直是绿灯", "开机就亮绿灯", "绿灯稳定"]
N_ROWS = 50


def _write_csv(path: Path) -> list[tuple[str, int]]:
    rows = [(f"{(_GOOD if i % 2 else _BAD)[i % 3]}，第{i}台机器", i % 2) for i in range(N_ROWS)]
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["评论", "标签"])
        writer.writerows(rows)
    return rows


def test_a_correction_overrides_rows_of_its_text_and_the_latest_wins() -> None:
    merged = merge_corrections(
        ["快递太慢了", "质量很好", "\t快递太慢了 ", "一般"],
        [POSITIVE, POSITIVE, POSITIVE, NEGATIVE],
        [
            ("快遞太慢了", "neutral"),  # Traditional: the same text once normalised
            ("还行吧", "neutral"),
            (" 快递太慢了 ", "negative"),  # a later correction of the same text wins
        ],
    )
    assert merged.texts == ["质量很好", "一般"] and merged.labels == [POSITIVE, NEGATIVE]
    assert dict(zip(merged.extra_texts, merged.extra_labels, strict=True)) == {
        "还行吧": NEUTRAL,
        " 快递太慢了 ": NEGATIVE,
    }
    assert merged.replaced_rows == 2 and merged.folded == 1
    with pytest.raises(ValueError, match="'bad' is not one of negative, positive, neutral"):
        merge_corrections([], [], [("x", "bad")])


def test_cli_train_uses_corrections_only_for_training(tmp_path: Path, capsys) -> None:
    data = tmp_path / "domain.csv"
    rows = _write_csv(data)
    db = tmp_path / "voc.duckdb"  # only its side store is needed
    covered = rows[0][0]  # a negative CSV row the dashboard user says is neutral
    add_correction(db, "d1", covered, "m+1", "negative", "positive", "张三")
    add_correction(db, "d1", covered, "m+1", "negative", "neutral", "张三")  # latest wins
    add_correction(db, "d2", "蓝灯一闪一闪，售后说正常", "m+1", "negative", "neutral", "李四")
    add_correction(db, "d3", "换了新机器，终于绿灯", "m+1", "negative", "positive", "李四")
    add_correction(db, "d4", "换了新机器，终于绿灯 ", "m+1", "negative", "positive", "李四")
    out = tmp_path / "tuned"
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
            "1",
            "--corrections",
            str(db),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "corrections used: 3" in printed
    record = json.loads((out / "finetune.json").read_text(encoding="utf-8"))
    assert record["corrections"] == {
        "from": str(db.with_name("voc.actions.sqlite")),
        "found": 4,
        "replaced_rows": 1,
        "folded": 1,
        "used": 3,
        "skipped_neutral": 0,
    }
    # The held-out part comes from the 49 CSV rows left, never from a correction.
    assert record["n_holdout"] == 10
    assert record["n_train"] == N_ROWS - 1 - 10 + 3
    assert record["after"]["n"] == 10

    report = model_report(out)
    assert report["kind"] == "fine-tuned"
    assert report["version"] == load_sentiment_model(out).version
    assert report["training"]["corrections"]["used"] == 3
    (gold,) = report["gold_sets"]
    assert sum(map(sum, gold["confusion_matrix"]["matrix"])) == gold["n"] == 10


def test_cli_train_with_a_missing_corrections_source_is_a_clear_error(
    tmp_path: Path, capsys
) -> None:
    data = tmp_path / "domain.csv"
    _write_csv(data)
    args = ["sentiment", "train", "--data", str(data), "--text-col", "评论"]
    args += ["--label-col", "标签", "--out", str(tmp_path / "m")]
    assert main([*args, "--corrections", str(tmp_path / "nowhere.duckdb")]) == 2
    assert "nowhere" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_train_help_says_what_happens_to_neutral_corrections(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["sentiment", "train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--corrections WAREHOUSE" in text
    assert "never to the held-out rows" in text
    assert "two-class model has no neutral class" in text
