from pathlib import Path

import pytest

from nlp.normalize import normalize_text
from nlp.taxonomy import (
    DEFAULT_SIMILARITY_THRESHOLD,
    Taxonomy,
    TaxonomyError,
    default_taxonomy_path,
    load_taxonomy,
    parse_taxonomy,
)

DEFAULT_CATEGORIES = (
    "物流",
    "商品质量",
    "客服态度",
    "价格",
    "退换货",
    "售后维修",
    "包装",
    "功能故障",
    "虚假宣传",
    "账户与支付",
)


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return load_taxonomy()


def _categories(taxonomy: Taxonomy, text: str, tokens=None) -> set[str]:
    return {m.category for m in taxonomy.tag(normalize_text(text), tokens)}


def _write(tmp_path: Path, body: str, name: str = "t.yaml") -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def test_default_taxonomy_has_the_ten_categories_with_examples(taxonomy: Taxonomy) -> None:
    assert taxonomy.names == DEFAULT_CATEGORIES
    for category in taxonomy.categories:
        assert 3 <= len(category.examples) <= 6, category.name
        assert len(category.keywords) >= 15, category.name
    assert taxonomy.similarity_threshold == DEFAULT_SIMILARITY_THRESHOLD
    # Every example is tagged with its own category, else it could never teach anything.
    assert taxonomy.unmatched_examples() == []


def test_one_complaint_gets_every_category_it_mentions(taxonomy: Taxonomy) -> None:
    assert _categories(taxonomy, "快递三天没到，客服也不回") == {"物流", "客服态度"}
    matches = taxonomy.tag("物流很快但是质量太差")
    assert {m.category for m in matches} == {"物流", "商品质量"}
    assert {(m.category, m.matched_by, m.evidence) for m in matches} == {
        ("物流", "keyword", "物流"),
        ("商品质量", "keyword", "质量"),
    }


def test_tagging_is_about_topic_not_polarity(taxonomy: Taxonomy) -> None:
    assert _categories(taxonomy, "发货超快，包装也很用心") == {"物流", "包装"}
    assert _categories(taxonomy, "发货太慢，包装也很简陋") == {"物流", "包装"}


def test_traditional_and_full_width_text_matches_after_normalising(taxonomy: Taxonomy) -> None:
    assert _categories(taxonomy, "客服態度很差，退款一直不處理") >= {"客服态度", "退换货"}
    assert _categories(taxonomy, "ＡＰＰ有ＢＵＧ，老是閃退") == {"功能故障"}


def test_regex_catches_phrasings_without_a_keyword(taxonomy: Taxonomy) -> None:
    matches = taxonomy.tag("等了五天才到")
    assert [(m.category, m.matched_by, m.evidence) for m in matches] == [
        ("物流", "regex", "五天才到")
    ]
    assert _categories(taxonomy, "同一笔订单扣了两次") == {"账户与支付"}


def test_examples_tag_texts_that_no_rule_catches(taxonomy: Taxonomy) -> None:
    text = "按了半天开关一点动静都没有"
    assert taxonomy.without(examples=True).tag(text) == []
    matches = taxonomy.tag(text)
    assert [m.category for m in matches] == ["功能故障"]
    assert matches[0].matched_by == "example"
    assert matches[0].evidence == "按了开关一点动静都没有"
    assert DEFAULT_SIMILARITY_THRESHOLD <= matches[0].score < 1.0
    # Examples are a last resort: a text a keyword catches gets no example matches.
    assert {m.matched_by for m in taxonomy.tag("快递员按了门铃一点动静都没有")} == {"keyword"}


def test_unrelated_text_gets_no_category(taxonomy: Taxonomy) -> None:
    assert taxonomy.tag("今天天气晴朗，适合去公园散步") == []
    assert taxonomy.tag("") == []


def test_tokens_stop_a_keyword_that_straddles_two_words(taxonomy: Taxonomy) -> None:
    # 评价|格外 contains 价格 only across a word boundary.
    assert "价格" in _categories(taxonomy, "评价格外好")
    assert "价格" not in _categories(taxonomy, "评价格外好", ["评价", "格外", "好"])
    # A keyword inside a longer word still counts: 快递员 is about delivery.
    assert _categories(taxonomy, "快递员态度很差", ["快递员", "态度", "很差"]) == {
        "物流",
        "客服态度",
    }


def test_latin_keywords_match_whole_words_only(taxonomy: Taxonomy) -> None:
    assert _categories(taxonomy, "手机系统有个bug") == {"功能故障"}
    assert taxonomy.tag("debugging the systems and items") == []


def test_tag_many_matches_tag_one_by_one(taxonomy: Taxonomy) -> None:
    texts = ["快递三天没到，客服也不回", "按了半天开关一点动静都没有", "今天天气晴朗"]
    tokens = [["快递", "三天", "客服", "不", "回"], None, None]
    assert taxonomy.tag_many(texts, tokens) == [
        taxonomy.tag(t, tok) for t, tok in zip(texts, tokens, strict=True)
    ]
    with pytest.raises(ValueError, match="3 texts but 1 token lists"):
        taxonomy.tag_many(texts, [None])


def test_version_changes_with_what_tags_and_only_with_that(tmp_path: Path) -> None:
    base = """
categories:
  物流:
    description: 配送
    keywords: [快递, 物流]
    regexes: ['(还|都)没到']
    examples: [等了一个星期才拿到]
"""
    version = load_taxonomy(_write(tmp_path, base)).version
    reformatted = """# a comment
categories:
  物流:
    description: 发货和配送，换了说明
    keywords:
      - 物流
      - 快递
    regexes: ['(还|都)没到']
    examples: [等了一个星期才拿到]
"""
    assert load_taxonomy(_write(tmp_path, reformatted, "b.yaml")).version == version
    for changed in (
        base.replace("[快递, 物流]", "[快递, 物流, 配送]"),
        base.replace("(还|都)没到", "(还|都)没送到"),
        base.replace("才拿到", "才收到"),
        base.replace("物流:", "配送:"),
        "similarity_threshold: 0.5\n" + base,
    ):
        assert load_taxonomy(_write(tmp_path, changed, "c.yaml")).version != version
    assert load_taxonomy().version == load_taxonomy(default_taxonomy_path()).version


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("- 物流\n", "expected a mapping with a 'categories' key"),
        ("categories: {}\n", "'categories' must be a non-empty mapping"),
        ("kategories: {物流: {keywords: [快递]}}\n", "unknown top-level key(s) kategories"),
        (
            "categories:\n  物流:\n    keyword: [快递]\n",
            "category '物流': unknown key(s) keyword",
        ),
        (
            "categories:\n  物流:\n    keywords: 快递\n",
            "category '物流': key 'keywords' must be a list, got str",
        ),
        (
            "categories:\n  物流:\n    keywords: [快递, 3]\n",
            "category '物流': key 'keywords' item 2 must be a non-empty string, got 3",
        ),
        (
            "categories:\n  价格:\n    keywords: [贵]\n",
            "category '价格': key 'keywords' item 1 '贵' is a single character",
        ),
        (
            "categories:\n  物流:\n    keywords: [快递]\n    regexes: ['(没到']\n",
            "category '物流': key 'regexes' item 1 '(没到' is not a valid regex: missing )",
        ),
        (
            "categories:\n  物流:\n    regexes: ['(快递)?']\n",
            "key 'regexes' item 1 '(快递)?' matches the empty string",
        ),
        ("categories:\n  物流:\n    description: 配送\n", "needs at least one of keywords"),
        ("categories:\n  物流: 快递\n", "category '物流': expected a mapping"),
        (
            "categories:\n  物流: {keywords: [快递]}\n  物流: {keywords: [配送]}\n",
            "key '物流' appears twice",
        ),
        (
            "categories:\n  價格: {keywords: [价钱]}\n  价格: {keywords: [便宜]}\n",
            "category '价格' is the same as '价格' once normalised",
        ),
        (
            "similarity_threshold: 2\ncategories:\n  物流: {keywords: [快递]}\n",
            "similarity_threshold must be a number in (0, 1], got 2",
        ),
        ("categories: [物流\n", "not valid YAML"),
    ],
)
def test_invalid_taxonomy_names_file_category_and_key(
    tmp_path: Path, body: str, message: str
) -> None:
    path = _write(tmp_path, body)
    with pytest.raises(TaxonomyError) as caught:
        load_taxonomy(path)
    assert str(path) in str(caught.value)
    assert message in str(caught.value)


def test_missing_taxonomy_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(TaxonomyError, match=r"taxonomy file not found: .*nope\.yaml"):
        load_taxonomy(tmp_path / "nope.yaml")


def test_keywords_and_examples_are_normalised_when_loaded() -> None:
    taxonomy = parse_taxonomy(
        {"categories": {"功能故障": {"keywords": ["ＡＰＰ閃退", "闪退", "app闪退"]}}}
    )
    assert taxonomy.categories[0].keywords == ("app闪退", "闪退")
    assert [m.evidence for m in taxonomy.tag("app闪退了")] == ["app闪退"]
