from pathlib import Path

import pytest

from nlp.segment import Segmenter


@pytest.fixture(scope="module")
def segmenter() -> Segmenter:
    return Segmenter()


def test_bundled_user_dictionary_keeps_brand_and_domain_words(segmenter: Segmenter) -> None:
    tokens = segmenter.tokens("客声优选的快递员态度差，七天无理由退货也不给办")
    assert "客声优选" in tokens
    assert "快递员" in tokens
    assert "七天无理由退货" in tokens


def test_stopwords_and_punctuation_are_dropped(segmenter: Segmenter) -> None:
    tokens = segmenter.tokens("我们的物流，真的太慢了！！！ 123")
    assert "物流" in tokens
    for noise in ("我们", "的", "，", "！", "123", "真的"):
        assert noise not in tokens


def test_configured_dictionary_and_stopwords_extend_the_bundled_ones(tmp_path: Path) -> None:
    user_dict = tmp_path / "words.txt"
    user_dict.write_text("云端智能锁 10 n\n", encoding="utf-8")
    stops = tmp_path / "stop.txt"
    stops.write_text("# ours\n物流\n", encoding="utf-8")
    seg = Segmenter([user_dict], [stops])
    tokens = seg.tokens("云端智能锁的物流太慢")
    assert "云端智能锁" in tokens
    assert "物流" not in tokens
    assert "的" not in tokens  # bundled stopwords still apply


def test_missing_configured_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nowhere\.txt"):
        Segmenter([tmp_path / "nowhere.txt"])
