"""Emotion: the bundled model, bad input, training round trip, data split, metrics."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from demo.data import _snownlp_dir
from nlp.emotion import (
    DEFAULT_MODEL_DIR,
    LABELS,
    EmotionModel,
    EmotionResult,
    _dictionary_cut,
    clean_text,
    emotion_features,
    load_emotion_model,
)
from nlp.training.sentiment_data import SHARED_DATA, SharedDataMissing
from nlp.training.train_emotion import (
    emotion_metrics,
    load_emotion_split,
    main,
    train_emotion_model,
)

CLEAR = [
    ("气死我了，客服永远不回复", "anger"),
    ("太开心了，终于收到货了", "joy"),
    ("担心会不会泄露个人信息", "fear"),
]
# Loosely checked: most, not all, must be right.
MORE = [
    ("什么垃圾产品，骗子公司，我要投诉！", "anger"),
    ("哈哈哈哈谢谢小姐姐，太喜欢了[爱你]", "joy"),
    ("好失望啊，等了这么久还是坏的，心累[泪]", "sadness"),
    ("好害怕，万一被盗刷了怎么办", "fear"),
    ("天哪，居然真的免单了？惊呆了", "surprise"),
    ("今天下午三点在门店举行新品发布会", "neutral"),
]
ODD = ["", "   ", "😀😀", "\x00abc", None, "好" * 50_000, "@某某:", "http://t.cn/A6PqoMKY"]


@pytest.fixture(scope="session")
def default_model() -> EmotionModel:
    return load_emotion_model()


@pytest.mark.parametrize(("text", "label"), CLEAR)
def test_default_model_gets_clear_cases_right(
    default_model: EmotionModel, text: str, label: str
) -> None:
    [result] = default_model.predict([text])
    assert result.label == label
    assert result.score == max(result.scores.values())


def test_default_model_gets_most_of_a_handful_of_posts_right(default_model: EmotionModel) -> None:
    results = default_model.predict([t for t, _ in MORE])
    right = [r.label == label for r, (_, label) in zip(results, MORE, strict=True)]
    assert sum(right) >= len(MORE) - 2, list(zip(MORE, [r.label for r in results], strict=True))


def test_anger_probability_is_higher_for_angry_than_for_happy_posts(
    default_model: EmotionModel,
) -> None:
    angry, happy = default_model.predict(["气死我了，客服永远不回复", "太开心了，终于收到货了"])
    assert angry.anger > 0.5 > happy.anger
    assert happy.anger == happy.scores["anger"]


def test_default_model_version_names_model_and_weights(default_model: EmotionModel) -> None:
    name, digest = default_model.version.split("+")
    card = json.loads((DEFAULT_MODEL_DIR / "metrics.json").read_text(encoding="utf-8"))
    assert name == card["model_name"] and card["version"] == default_model.version
    assert len(digest) == 8 and int(digest, 16) >= 0
    assert default_model.labels == LABELS


def test_odd_input_gives_one_valid_result_each_in_order(default_model: EmotionModel) -> None:
    texts = [ODD[0], "气死我了，客服永远不回复", *ODD[1:], "太开心了，终于收到货了"]
    batched = default_model.predict(texts, batch_size=3)
    assert len(batched) == len(texts)
    for r in batched:
        assert isinstance(r, EmotionResult) and r.label in LABELS
        assert set(r.scores) == set(LABELS)
        assert math.isclose(sum(r.scores.values()), 1.0, abs_tol=1e-5)
    assert [r.label for r in batched] == [default_model.predict([t])[0].label for t in texts]
    assert batched[1].label == "anger" and batched[-1].label == "joy"
    # Nothing readable: neutral for sure, not the class weights' guess.
    for i in (0, 2, 3):
        assert batched[i].label == "neutral" and batched[i].scores["neutral"] == 1.0
    assert default_model.predict([]) == []


def test_features_drop_urls_and_mention_names_and_flag_cues() -> None:
    assert clean_text("//@客声小助手:转发 http://t.cn/A6Pq 太气人了！") == "//@:转发 太气人了!"
    feats = emotion_features("气死我了[怒]")
    assert "e:[怒]" in feats and feats.count("L:anger") == 2
    assert "L:joy" not in feats
    assert not [f for f in emotion_features("@张三丰 你好") if "张" in f]


TINY = [
    ("气死我了，太差劲", "anger"),
    ("垃圾客服，气死", "anger"),
    ("真让人生气，垃圾", "anger"),
    ("太开心了，好棒", "joy"),
    ("开心，谢谢你们", "joy"),
    ("好棒好开心哈哈", "joy"),
    ("好难过，很失望", "sadness"),
    ("失望透顶，难过", "sadness"),
    ("担心出事，害怕", "fear"),
    ("好害怕，很担心", "fear"),
    ("今天开会", "neutral"),
    ("明天下午开会", "neutral"),
]


def test_a_trained_model_round_trips_through_save_and_load(tmp_path: Path) -> None:
    texts, labels = [t for t, _ in TINY], [label for _, label in TINY]
    model = train_emotion_model(texts, labels, c=4.0, min_df=1, name="emotion-tiny")
    assert model.labels == ("anger", "sadness", "fear", "joy", "neutral")
    probe = ["太气人了", "好开心", "很失望", "担心", "开会", "", "完全陌生的话"]
    assert [r.label for r in model.predict(["垃圾，气死", "哈哈好开心"])] == ["anger", "joy"]

    model.save(tmp_path / "m")
    loaded = load_emotion_model(tmp_path / "m")
    assert np.array_equal(loaded.predict_proba(probe), model.predict_proba(probe))
    assert loaded.predict(probe) == model.predict(probe)
    assert loaded.version == model.version and loaded.version.startswith("emotion-tiny+")
    assert loaded.config == model.config
    assert {p.name for p in (tmp_path / "m").iterdir()} == {
        "config.json",
        "vocab.json",
        "weights.safetensors",
    }


def test_training_rejects_unknown_labels() -> None:
    with pytest.raises(ValueError, match="happy"):
        train_emotion_model(["好开心", "气死"], ["happy", "anger"])


def test_loading_names_the_missing_file_or_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"config\.json"):
        load_emotion_model(tmp_path)
    model = train_emotion_model([t for t, _ in TINY], [lb for _, lb in TINY], min_df=1)
    model.save(tmp_path)
    (tmp_path / "config.json").write_text('{"format": "pickle"}', encoding="utf-8")
    with pytest.raises(ValueError, match="unknown format"):
        load_emotion_model(tmp_path)


def test_metrics_match_a_hand_count() -> None:
    m = emotion_metrics(
        ["anger", "anger", "joy", "fear"], ["anger", "joy", "joy", "joy"], ["anger", "joy", "fear"]
    )
    assert m["accuracy"] == 0.5
    assert m["per_class"]["anger"] == {"precision": 1.0, "recall": 0.5, "f1": 0.6667, "support": 2}
    assert m["per_class"]["joy"]["precision"] == round(1 / 3, 4)
    assert m["per_class"]["fear"]["f1"] == 0.0
    assert m["macro_f1"] == round((0.6667 + 0.5 + 0.0) / 3, 4)
    assert m["confusion"] == [[1, 1, 0], [0, 1, 0], [0, 1, 0]]


def _write(path: Path, rows: list[tuple[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["id,content,label"] + [f'{i},"{t}",{lb}' for i, (t, lb) in enumerate(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_split_deduplicates_maps_labels_and_keeps_test_texts_out_of_training(
    tmp_path: Path,
) -> None:
    emotion = tmp_path / "emotion"
    _write(
        emotion / "weibo_smp2020_usual_eval_labeled.csv", [("气死了", "angry"), ("哇", "surprise")]
    )
    _write(emotion / "weibo_smp2020_virus_test_labeled.csv", [("好怕", "fear"), ("矛盾", "happy")])
    _write(emotion / "weibo_smp2020_virus_train.csv", [("气死了", "angry"), ("开心 ", "happy")])
    _write(emotion / "weibo_smp2020_virus_eval_labeled.csv", [("矛盾", "sad"), ("  开心", "happy")])
    _write(emotion / "weibo_clue2020_valid.csv", [("喜欢", "like"), ("讨厌", "disgust")])
    split = load_emotion_split(tmp_path)
    assert split.test == [
        ("哇", "surprise"),
        ("好怕", "fear"),
        ("气死了", "anger"),
        ("矛盾", "joy"),
    ]
    assert sorted(split.train) == [("喜欢", "joy"), ("开心", "joy"), ("讨厌", "anger")]


def test_missing_data_is_named_and_the_cli_exits_2(tmp_path: Path, capsys) -> None:
    with pytest.raises(SharedDataMissing, match=str(tmp_path)):
        load_emotion_split(tmp_path)
    assert main(["--out", str(tmp_path / "m"), "--data-dir", str(tmp_path)]) == 2
    assert "emotion corpora not found" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


@pytest.mark.shared_data
@pytest.mark.skipif(
    not (SHARED_DATA / "emotion").is_dir(), reason="needs ../shared/data (absent here)"
)
def test_shipped_model_macro_f1_on_the_test_set_matches_its_card(
    default_model: EmotionModel,
) -> None:
    card = json.loads((DEFAULT_MODEL_DIR / "metrics.json").read_text(encoding="utf-8"))
    split = load_emotion_split()
    assert len(split.test) == card["test"]["n"]
    assert not {t for t, _ in split.test} & {t for t, _ in split.train}
    predicted = [r.label for r in default_model.predict([t for t, _ in split.test])]
    metrics = emotion_metrics([label for _, label in split.test], predicted)
    assert metrics["macro_f1"] >= card["test"]["macro_f1"] - 0.01
    # Readme and metrics agree on the headline number.
    readme = (DEFAULT_MODEL_DIR / "README.md").read_text(encoding="utf-8")
    assert f"{card['test']['macro_f1']:.4f}" in readme


def test_the_dictionary_cut_gives_jieba_s_words_on_real_reviews() -> None:
    import jieba

    tokenizer = jieba.Tokenizer()
    texts = [
        clean_text(t)
        for name in ("pos.txt", "neg.txt")
        for t in (_snownlp_dir() / name).read_text(encoding="utf-8").splitlines()[:3000]
    ]
    texts += ["iPhone15promax续航2天，【客服】@小王 说OK~~", "５星好评！！！", "hello world 2025"]
    assert [_dictionary_cut()(t) for t in texts] == [tokenizer.lcut(t, HMM=False) for t in texts]
