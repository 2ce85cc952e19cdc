"""The rjieba backend against the jieba reference: the same tokens on the project's own
texts, and exactly the differences docs/segmenter.md lists where they part."""

import json
from pathlib import Path

import pytest

from demo.data import build_corpus
from nlp.normalize import normalize_text
from nlp.segment import Segmenter

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

#: Runs of one character whose cuts score the same: jieba keeps the pair first, jieba-rs
#: last (docs/segmenter.md, "Where they differ").
TIE_BREAKS = {
    "快快快的": (["快快", "快", "的"], ["快", "快快", "的"]),
    "嘻嘻嘻嘻嘻嘻嘻": (["嘻嘻", "嘻嘻", "嘻嘻", "嘻"], ["嘻", "嘻嘻", "嘻嘻", "嘻嘻"]),
    "不好不好不好": (["不好", "不", "好不好"], ["不", "好不好", "不好"]),
    "光光光的": (["光光", "光", "的"], ["光", "光光", "的"]),
}

#: Latin-and-digit runs joined by a symbol: jieba-rs's own cut keeps them whole; the
#: backend splits them as jieba does.
LATIN_RUNS = {
    "2.0T发动机": (["2.0", "T", "发动机"], ["2.0T", "发动机"]),
    "CX-5的油耗": (["CX", "-", "5", "的", "油耗"], ["CX-5", "的", "油耗"]),
    "链接t.cn/A6x": (["链接", "t", ".", "cn", "/", "A6x"], ["链接", "t.cn", "/", "A6x"]),
}


@pytest.fixture(scope="module")
def jieba_seg() -> Segmenter:
    return Segmenter(backend="jieba")


@pytest.fixture(scope="module")
def rjieba_seg() -> Segmenter:
    return Segmenter(backend="rjieba")


def _project_texts() -> list[str]:
    corpus = build_corpus()
    texts = [r.text for r in corpus.reviews] + [p.text for p in corpus.posts]
    texts += [t.description for t in corpus.tickets]
    page = json.loads((FIXTURES / "weibo_search_page.json").read_text(encoding="utf-8"))
    texts += [s["text"] for s in page["data"]["statuses"]]
    return sorted({normalize_text(t) for t in texts if t} - {""})


def test_backends_give_the_same_tokens_on_the_demo_and_fixture_texts(
    jieba_seg: Segmenter, rjieba_seg: Segmenter
) -> None:
    texts = _project_texts()
    assert len(texts) > 10_000
    differing = [t for t in texts if jieba_seg.tokens(t) != rjieba_seg.tokens(t)]
    # The one demo text that differs does so by a tie (光光光 → 光光/光 vs 光/光光)...
    assert len(differing) == 1
    assert "光光光" in differing[0]
    # ...which moves a token but keeps the same words.
    assert sorted(jieba_seg.tokens(differing[0])) == sorted(rjieba_seg.tokens(differing[0]))


@pytest.mark.parametrize("text", sorted(TIE_BREAKS))
def test_equal_scoring_runs_are_the_documented_difference(
    text: str, jieba_seg: Segmenter, rjieba_seg: Segmenter
) -> None:
    ours, theirs = TIE_BREAKS[text]
    assert jieba_seg.cut(text) == ours
    assert rjieba_seg.cut(text) == theirs


@pytest.mark.parametrize("text", sorted(LATIN_RUNS))
def test_latin_runs_are_split_the_way_jieba_splits_them(
    text: str, jieba_seg: Segmenter, rjieba_seg: Segmenter
) -> None:
    ours, raw = LATIN_RUNS[text]
    assert jieba_seg.cut(text) == ours
    assert rjieba_seg.cut(text) == ours
    assert Segmenter(backend="rjieba", jieba_compatible=False).cut(text) == raw


def test_a_latin_run_in_the_user_dictionary_stays_whole(tmp_path: Path) -> None:
    words = tmp_path / "words.txt"
    words.write_text("Wi-Fi 20 n\n", encoding="utf-8")
    seg = Segmenter([words], backend="rjieba")
    assert seg.cut("Wi-Fi信号差")[0] == "Wi-Fi"
    assert Segmenter(backend="rjieba").cut("Wi-Fi信号差")[:3] == ["Wi", "-", "Fi"]


@pytest.mark.parametrize("backend", ["jieba", "rjieba"])
def test_each_backend_reads_the_dictionaries_and_drops_the_same_stopwords(
    backend: str, tmp_path: Path
) -> None:
    user_dict = tmp_path / "words.txt"
    user_dict.write_text("云端智能锁 10 n\n", encoding="utf-8")
    stops = tmp_path / "stop.txt"
    stops.write_text("物流\n", encoding="utf-8")
    seg = Segmenter([user_dict], [stops], backend=backend)
    assert seg.tokens("客声优选的云端智能锁，物流太慢！！ 123") == [
        "客声优选",
        "云端智能锁",
        "太慢",
    ]


@pytest.mark.parametrize("backend", ["jieba", "rjieba"])
def test_a_word_added_at_run_time_is_kept_whole_and_changes_the_version(backend: str) -> None:
    seg = Segmenter(backend=backend)
    assert "星河耳机" not in seg.tokens("星河耳机音质差")
    before = seg.version
    seg.add_word("星河耳机")
    assert seg.tokens("星河耳机音质差")[0] == "星河耳机"
    assert seg.version != before


def test_the_backends_have_different_versions_and_spans_index_the_text(
    jieba_seg: Segmenter, rjieba_seg: Segmenter
) -> None:
    assert jieba_seg.version.startswith("jieba-")
    assert rjieba_seg.version.startswith("rjieba-")
    text = "我们的物流，真的太慢了"
    for seg in (jieba_seg, rjieba_seg):
        assert [text[i : i + len(t)] for i, t in seg.token_spans(text)] == seg.tokens(text)


def test_an_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown segmenter 'hanlp'"):
        Segmenter(backend="hanlp")


def test_the_pipeline_segments_with_the_configured_backend() -> None:
    from nlp.pipeline import build_pipeline
    from voc.settings import Settings

    for backend in ("jieba", "rjieba"):
        stage = next(s for s in build_pipeline(Settings(segmenter=backend)) if s.name == "segment")
        assert stage.version.startswith(f"{backend}-")
        assert stage.version == Segmenter(backend=backend).version


def test_settings_offer_exactly_the_segmenter_backends() -> None:
    from nlp.segment import BACKENDS
    from voc.settings import SEGMENTERS

    assert SEGMENTERS == BACKENDS
