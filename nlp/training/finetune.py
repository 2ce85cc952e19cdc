"""Fine-tuning a sentiment model on a user's labelled texts: the answer to "the model does
not fit my domain". Works from the bundled default or any local Hugging Face
sequence-classification directory, on CPU, with a progress bar and before/after metrics on
a held-out split of the user's own data."""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from sklearn.model_selection import train_test_split
from tqdm.auto import tqdm

from nlp.normalize import normalize_text
from nlp.sentiment import SentimentModel, load_sentiment_model
from nlp.training.evaluate import evaluate_model
from nlp.training.sentiment_recipe import collate, length_batches

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FinetuneConfig:
    """Fine-tuning settings.

    Attributes:
        epochs: Passes over the training split.
        lr: Peak learning rate; None = 5e-4 for small models (< 20M parameters), else 3e-5.
        batch_size: Texts per step.
        max_tokens: Tokens per text during training (longer texts are truncated).
        holdout: Share of the data kept out of training to measure before/after.
        warmup: Share of steps with a rising learning rate.
        weight_decay: AdamW weight decay.
        seed: Makes the split and the training order reproducible.
    """

    epochs: int = 3
    lr: float | None = None
    batch_size: int = 32
    max_tokens: int = 128
    holdout: float = 0.2
    warmup: float = 0.06
    weight_decay: float = 0.01
    seed: int = 13


@dataclass(frozen=True)
class FinetuneReport:
    """What a fine-tuning run did and how much it helped on the held-out split."""

    base_version: str
    version: str
    out_dir: Path
    n_train: int
    n_holdout: int
    seconds: float
    before: dict[str, Any]
    after: dict[str, Any]
    n_corrections: int = 0
    n_corrections_skipped: int = 0


def finetune_sentiment(
    texts: Sequence[str],
    labels: Sequence[int],
    out_dir: str | Path,
    base: str | Path | None = None,
    config: FinetuneConfig = FinetuneConfig(),
    progress: bool = True,
    corrections: Sequence[tuple[str, int]] = (),
    corrections_info: Mapping[str, Any] | None = None,
) -> FinetuneReport:
    """Fine-tune `base` (default: the bundled model) on texts labelled 0/1, save to `out_dir`.

    The data is split (stratified, seeded) into a training part and a held-out part; the
    held-out part is scored before and after, with `nlp.training.evaluate.evaluate_model`.

    Args:
        texts: Raw texts (normalised here as the pipeline normalises them).
        labels: 0 = negative, 1 = positive.
        out_dir: Where the fine-tuned model directory is written.
        base: Model directory to start from; None = the bundled default.
        config: Training settings.
        progress: Show a progress bar on stderr.
        corrections: ``(text, label)`` pairs (0 negative, 1 positive, 2 neutral), e.g. the
            dashboard's corrections merged by `nlp.training.sentiment_data.merge_corrections`: added
            to the training part only, never held out. Neutral ones train the neutral
            class of a three-class model and are skipped (counted) for a two-class one.
        corrections_info: Recorded under ``corrections`` in ``finetune.json``, with the
            counts used and skipped.

    Raises:
        ValueError: too few rows, or only one class present.
    """
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    if len(texts) < 20 or len(set(labels)) < 2:
        raise ValueError("fine-tuning needs at least 20 rows with both labels present")
    out_dir = Path(out_dir)
    normalised = [normalize_text(t) for t in texts]
    train_x, hold_x, train_y, hold_y = train_test_split(
        normalised,
        list(labels),
        test_size=config.holdout,
        random_state=config.seed,
        stratify=list(labels),
    )
    model = load_sentiment_model(base)
    usable = [(normalize_text(t), y) for t, y in corrections if y != 2 or _has_neutral(model)]
    train_x += [t for t, _ in usable]
    train_y += [y for _, y in usable]
    before = evaluate_model(model, hold_x, hold_y)
    started = time.perf_counter()
    _train(model, train_x, train_y, config, progress)
    _save(model, out_dir, base_version=model.version)
    tuned = load_sentiment_model(out_dir)
    after = evaluate_model(tuned, hold_x, hold_y)
    report = FinetuneReport(
        model.version,
        tuned.version,
        out_dir,
        len(train_x),
        len(hold_x),
        round(time.perf_counter() - started, 1),
        before,
        after,
        n_corrections=len(usable),
        n_corrections_skipped=len(corrections) - len(usable),
    )
    record = asdict(report) | {"out_dir": str(out_dir), "config": asdict(config)}
    if corrections or corrections_info:
        record["corrections"] = dict(corrections_info or {}) | {
            "used": report.n_corrections,
            "skipped_neutral": report.n_corrections_skipped,
        }
    (out_dir / "finetune.json").write_text(
        json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    return report


def _has_neutral(model: SentimentModel) -> bool:
    return "neutral" in model.class_roles


def _train(
    model: SentimentModel,
    texts: list[str],
    labels: list[int],
    config: FinetuneConfig,
    progress: bool,
) -> None:
    from transformers import get_linear_schedule_with_warmup

    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    class_of = {0: model.class_roles.index("negative"), 1: model.class_roles.index("positive")}
    if _has_neutral(model):
        class_of[2] = model.class_roles.index("neutral")
    encoded = model.tokenizer(
        texts, truncation=True, max_length=min(config.max_tokens, model.max_tokens)
    )["input_ids"]
    net = model.model
    n_params = sum(p.numel() for p in net.parameters())
    lr = config.lr or (5e-4 if n_params < 20_000_000 else 3e-5)
    optimizer = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=config.weight_decay)
    steps_per_epoch = -(-len(texts) // config.batch_size)
    total = steps_per_epoch * config.epochs
    schedule = get_linear_schedule_with_warmup(optimizer, int(total * config.warmup), total)
    pad = model.tokenizer.pad_token_id or 0
    bar = tqdm(total=total, desc="微调 fine-tuning", unit="step", disable=not progress)
    net.train()
    try:
        for _ in range(config.epochs):
            for batch in length_batches([len(e) for e in encoded], config.batch_size, rng):
                ids, mask = collate(encoded, batch, pad)
                target = torch.tensor([class_of[labels[i]] for i in batch])
                loss = torch.nn.functional.cross_entropy(
                    net(input_ids=ids, attention_mask=mask).logits.float(), target
                )
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                optimizer.step()
                schedule.step()
                optimizer.zero_grad()
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.3f}")
    finally:
        bar.close()
        net.eval()


def _save(model: SentimentModel, out_dir: Path, base_version: str) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    model.model.config.voc_model_name = out_dir.resolve().name
    model.model.config.voc_base_model = base_version
    model.model.save_pretrained(out_dir, safe_serialization=True)
    model.tokenizer.save_pretrained(out_dir)
    logger.info("saved fine-tuned model to %s", out_dir)
