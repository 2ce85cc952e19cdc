"""The default sentiment recipe: a small from-scratch BERT with three classes (negative,
positive, neutral), masked-LM pre-trained on all unlabelled text given to it, then
fine-tuned on gold labels mixed with an n-gram teacher's out-of-fold probabilities
(distillation).

Domain adaptation (`adapt_to_domain`): given unlabelled texts of a new domain, the
teacher (char 1-4-gram + jieba word 1-2-gram TF-IDF, logistic regression) is trained on
the labelled texts, labels the new domain, and is re-trained once on its own confident
labels there (self-training); the student's encoder continues masked-LM on the new
domain's texts, and the student is fine-tuned on the labelled texts plus the new domain's
texts with the teacher's probabilities as soft targets (the new domain oversampled to at
least ``ADAPT_SHARE`` of the steps).

Label values follow `nlp.training.sentiment_data`: 0 negative, 1 positive, 2 neutral. A text's
score is ``P(positive) + 0.5 * P(neutral)``, as in `nlp.sentiment`.

The n-gram teacher is `nlp.training.sentiment_teacher`. Framework-free building blocks
shared by `nlp.training.train_sentiment` (the shipped model) and
``benchmarks/sentiment`` (leave-one-domain-out runs with a shorter schedule).
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nlp.training.sentiment_teacher import self_trained_teacher, teacher_probabilities

logger = logging.getLogger(__name__)

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
#: Class ids (= label values of `nlp.training.sentiment_data`).
ID2LABEL = {0: "negative", 1: "positive", 2: "neutral"}
N_CLASSES = len(ID2LABEL)
#: Domain adaptation: the new domain's share of fine-tuning steps, at least.
ADAPT_SHARE = 0.2


@dataclass(frozen=True, slots=True)
class RecipeConfig:
    """Settings of the recipe.

    Attributes:
        epochs: Fine-tuning passes over the labelled texts.
        pretrain_epochs: Masked-LM passes over the unlabelled texts (0 = none).
        seed: Seeds initialisation and batch order.
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
        min_char_freq: A character joins the vocabulary if seen this often.
        teacher_weight: Weight of the teacher's soft labels in the fine-tuning target
            (0 = gold labels only); the rest of the weight is on the gold label.
        adapt_pretrain_epochs: Masked-LM passes over a new domain's texts when adapting.
        max_student_train: Cap on labelled texts the student is fine-tuned on (seeded
            sample; None = all); the teacher always sees all of them.
    """

    epochs: int = 3
    pretrain_epochs: int = 1
    seed: int = 13
    max_len: int = 128
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
    teacher_weight: float = 0.0
    adapt_pretrain_epochs: int = 2
    max_student_train: int | None = None


#: The leave-one-domain-out benchmark's (shorter) schedule; epochs may be overridden.
BENCHMARK_CONFIG = RecipeConfig(
    epochs=2, pretrain_epochs=1, teacher_weight=0.5, max_student_train=30_000
)


def build_vocab(texts: Sequence[str], min_freq: int = 2) -> list[str]:
    """Character vocabulary for `transformers.BertTokenizer`.

    Texts go through the same normaliser and pre-tokeniser the BERT tokenizer uses
    (lower-casing, one token per CJK character). A pre-token of several characters (a
    Latin word, a number) is WordPiece-split into characters, so its first character is
    counted as is and the others as ``##x``; ``good`` becomes ``g ##o ##o ##d``, not
    ``[UNK]``.

    Args:
        texts: The texts the vocabulary is built from.
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


def make_tokenizer(vocab: Sequence[str], directory: Path, max_len: int) -> Any:
    """Write ``vocab.txt`` into ``directory`` and return a BertTokenizer over it."""
    from transformers import BertTokenizer

    directory.mkdir(parents=True, exist_ok=True)
    vocab_file = directory / "vocab.txt"
    vocab_file.write_text("\n".join(vocab) + "\n", encoding="utf-8")
    return BertTokenizer(
        vocab=str(vocab_file),
        do_lower_case=True,
        tokenize_chinese_chars=True,
        model_max_length=max_len,
    )


def bert_config(tokenizer: Any, cfg: RecipeConfig, model_name: str) -> Any:
    """The `transformers.BertConfig` of a three-class classifier for this recipe."""
    from transformers import BertConfig

    return BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=cfg.hidden_size,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        intermediate_size=cfg.intermediate_size,
        hidden_dropout_prob=cfg.dropout,
        attention_probs_dropout_prob=cfg.dropout,
        max_position_embeddings=max(cfg.max_len, 256),
        pad_token_id=tokenizer.pad_token_id,
        num_labels=N_CLASSES,
        id2label=dict(ID2LABEL),
        label2id={v: k for k, v in ID2LABEL.items()},
        voc_model_name=model_name,
    )


def encode(tokenizer: Any, texts: Sequence[str], max_len: int) -> list[list[int]]:
    """Token ids per text, truncated to ``max_len``."""
    return tokenizer(list(texts), truncation=True, max_length=max_len)["input_ids"]


def length_batches(
    lengths: Sequence[int], batch_size: int, rng: random.Random
) -> Iterator[list[int]]:
    """Index batches of similar length, in random order."""
    # Sort within windows of 50 batches, then shuffle the batches: little padding
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


def collate(
    encoded: Sequence[list[int]], idx: Sequence[int], pad_id: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Padded ``input_ids`` and ``attention_mask`` for the texts ``idx``."""
    width = max(len(encoded[i]) for i in idx)
    ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(idx), width), dtype=torch.long)
    for row, i in enumerate(idx):
        ids[row, : len(encoded[i])] = torch.tensor(encoded[i])
        mask[row, : len(encoded[i])] = 1
    return ids, mask


def _optimizer(
    model: torch.nn.Module, cfg: RecipeConfig, steps: int, lr: float
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
    return optimizer, get_linear_schedule_with_warmup(
        optimizer, int(steps * cfg.warmup_ratio), max(1, steps)
    )


def _mask_tokens(
    ids: torch.Tensor, mask: torch.Tensor, tokenizer: Any, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    # BERT recipe: 15% of real tokens are targets; of those 80% become [MASK], 10% a
    # random token, 10% stay.
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


def pretrain_encoder(
    config: Any,
    encoded: Sequence[list[int]],
    tokenizer: Any,
    cfg: RecipeConfig,
    init: dict[str, torch.Tensor] | None = None,
    epochs: int | None = None,
) -> dict[str, torch.Tensor]:
    """Masked-LM pre-training of an encoder on unlabelled texts.

    Args:
        config: The model config (`bert_config`).
        encoded: Token ids per text.
        tokenizer: Its tokenizer.
        cfg: Settings (``pretrain_epochs``, ``pretrain_lr``).
        init: Encoder state to continue from (``bert.*`` keys; None = fresh), as when
            adapting to a new domain.
        epochs: Overrides ``cfg.pretrain_epochs``.

    Returns:
        The encoder's state dict (keys ``bert.*``), to load into a classifier.
    """
    from transformers import BertForMaskedLM

    epochs = cfg.pretrain_epochs if epochs is None else epochs
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    mlm = BertForMaskedLM(config)
    if init:
        mlm.load_state_dict(init, strict=False)
    mlm.train()
    steps = math.ceil(len(encoded) / cfg.batch_size) * epochs
    optimizer, scheduler = _optimizer(mlm, cfg, steps, cfg.pretrain_lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    lengths = [len(e) for e in encoded]
    started = time.perf_counter()
    for epoch in range(1, epochs + 1):
        loss_sum, n = 0.0, 0
        for idx in length_batches(lengths, cfg.batch_size, rng):
            ids, mask = collate(encoded, idx, tokenizer.pad_token_id)
            inputs, labels = _mask_tokens(ids, mask, tokenizer, gen)
            targets = labels != -100
            if not targets.any():
                continue
            hidden = mlm.bert(input_ids=inputs, attention_mask=mask).last_hidden_state
            # Projecting only the masked positions skips ~85% of the vocabulary matmul.
            logits = mlm.cls(hidden[targets])
            loss = torch.nn.functional.cross_entropy(logits, labels[targets])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(mlm.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            loss_sum += loss.item()
            n += 1
        logger.info(
            "masked-LM epoch %d/%d on %d texts: loss %.4f (%.0fs)",
            epoch,
            epochs,
            len(encoded),
            loss_sum / max(1, n),
            time.perf_counter() - started,
        )
    return {k: v for k, v in mlm.state_dict().items() if k.startswith("bert.")}


def soft_targets(labels: Sequence[int], teacher: np.ndarray | None, weight: float) -> torch.Tensor:
    """``(1 - weight) * onehot(gold) + weight * teacher`` (gold only without a teacher)."""
    target = torch.nn.functional.one_hot(torch.tensor(list(labels)), N_CLASSES).float()
    if teacher is not None and weight > 0:
        target = (1 - weight) * target + weight * torch.tensor(teacher, dtype=torch.float32)
    return target


def fine_tune(
    model: Any,
    encoded: Sequence[list[int]],
    targets: torch.Tensor,
    tokenizer: Any,
    cfg: RecipeConfig,
) -> Any:
    """Fine-tune a classifier on soft targets (`soft_targets`; one row per encoded text)."""
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    steps = math.ceil(len(encoded) / cfg.batch_size) * cfg.epochs
    optimizer, scheduler = _optimizer(model, cfg, steps, cfg.lr)
    lengths = [len(e) for e in encoded]
    started = time.perf_counter()
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        loss_sum, seen = 0.0, 0
        for idx in length_batches(lengths, cfg.batch_size, rng):
            ids, mask = collate(encoded, idx, tokenizer.pad_token_id)
            logits = model(input_ids=ids, attention_mask=mask).logits
            loss = -(targets[idx] * torch.log_softmax(logits, -1)).sum(-1).mean()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            loss_sum += loss.item() * len(idx)
            seen += len(idx)
        logger.info(
            "fine-tune epoch %d/%d on %d texts: loss %.4f (%.0fs)",
            epoch,
            cfg.epochs,
            len(encoded),
            loss_sum / max(1, seen),
            time.perf_counter() - started,
        )
    model.eval()
    return model


@torch.inference_mode()
def predict_proba(
    model: Any, encoded: Sequence[list[int]], pad_id: int, batch_size: int = 256
) -> np.ndarray:
    """Class probabilities per encoded text, shape (n, classes)."""
    model.eval()
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    out = np.zeros((len(encoded), model.config.num_labels))
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        ids, mask = collate(encoded, idx, pad_id)
        out[idx] = torch.softmax(model(input_ids=ids, attention_mask=mask).logits, -1).numpy()
    return out


def positive_score(probs: np.ndarray) -> np.ndarray:
    """``P(positive) + 0.5 * P(neutral)`` per row of `predict_proba` / `teacher_matrix`."""
    return probs[:, 1] + (0.5 * probs[:, 2] if probs.shape[1] > 2 else 0.0)


def adapt_to_domain(
    model: Any,
    encoder: dict[str, torch.Tensor],
    tokenizer: Any,
    labelled: Sequence[str],
    labels: Sequence[int],
    domain_texts: Sequence[str],
    cfg: RecipeConfig,
) -> Any:
    """Domain adaptation (module doc): self-trained teacher, masked-LM, distilled fine-tune.

    Args:
        model: A fresh classifier (its encoder is replaced).
        encoder: Pre-trained encoder state (``bert.*``) to continue from.
        tokenizer: The tokenizer.
        labelled: Labelled texts (all feed the teacher; the student sees at most
            ``cfg.max_student_train``).
        labels: Their labels.
        domain_texts: The new domain's unlabelled texts.
        cfg: Settings.

    Returns:
        The fine-tuned model, in eval mode.
    """
    started = time.perf_counter()
    domain_probs = self_trained_teacher(labelled, labels, domain_texts)
    logger.info(
        "self-trained teacher on %d domain texts (%.0fs)",
        len(domain_texts),
        time.perf_counter() - started,
    )
    domain_enc = encode(tokenizer, domain_texts, cfg.max_len)
    if cfg.adapt_pretrain_epochs:
        encoder = pretrain_encoder(
            model.config,
            domain_enc,
            tokenizer,
            cfg,
            init=encoder,
            epochs=cfg.adapt_pretrain_epochs,
        )
    model.load_state_dict(encoder, strict=False)
    texts, gold = _student_sample(labelled, labels, cfg)
    teacher = teacher_probabilities(texts, gold, seed=cfg.seed) if cfg.teacher_weight else None
    source = soft_targets(gold, teacher, cfg.teacher_weight)
    repeat = max(1, round(ADAPT_SHARE * len(texts) / max(1, len(domain_texts))))
    encoded = encode(tokenizer, texts, cfg.max_len) + domain_enc * repeat
    target = torch.cat([source, torch.tensor(domain_probs, dtype=torch.float32).repeat(repeat, 1)])
    return fine_tune(model, encoded, target, tokenizer, cfg)


def _student_sample(
    texts: Sequence[str], labels: Sequence[int], cfg: RecipeConfig
) -> tuple[list[str], list[int]]:
    if cfg.max_student_train and len(texts) > cfg.max_student_train:
        idx = sorted(random.Random(cfg.seed).sample(range(len(texts)), cfg.max_student_train))
        return [texts[i] for i in idx], [labels[i] for i in idx]
    return list(texts), list(labels)


def train_recipe(
    labelled: Sequence[str],
    labels: Sequence[int],
    unlabelled: Sequence[str],
    cfg: RecipeConfig,
    work_dir: Path,
    model_name: str = "sentiment-default",
) -> tuple[Any, Any]:
    """The whole recipe: vocabulary, masked-LM pre-training, (distilled) fine-tuning.

    Args:
        labelled: Texts with gold labels.
        labels: 0 negative / 1 positive / 2 neutral, one per labelled text.
        unlabelled: Texts for the vocabulary and masked-LM (may include the labelled ones).
        cfg: Settings.
        work_dir: Where the tokenizer's ``vocab.txt`` is written.
        model_name: Stored in the config as ``voc_model_name``.

    Returns:
        ``(model, tokenizer)``; the model is a `BertForSequenceClassification` in eval mode.
    """
    from transformers import BertForSequenceClassification

    vocab = build_vocab([*labelled, *unlabelled], cfg.min_char_freq)
    tokenizer = make_tokenizer(vocab, work_dir, cfg.max_len)
    config = bert_config(tokenizer, cfg, model_name)
    torch.manual_seed(cfg.seed)
    model = BertForSequenceClassification(config)
    if cfg.pretrain_epochs:
        corpus = list(dict.fromkeys([*unlabelled, *labelled]))
        encoder = pretrain_encoder(config, encode(tokenizer, corpus, cfg.max_len), tokenizer, cfg)
        model.load_state_dict(encoder, strict=False)
    texts, gold = _student_sample(labelled, labels, cfg)
    teacher = teacher_probabilities(texts, gold, seed=cfg.seed) if cfg.teacher_weight else None
    targets = soft_targets(gold, teacher, cfg.teacher_weight)
    fine_tune(model, encode(tokenizer, texts, cfg.max_len), targets, tokenizer, cfg)
    return model, tokenizer
