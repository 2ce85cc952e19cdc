from nlp.normalize import hash_normalized, normalize_documents, normalize_text


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
