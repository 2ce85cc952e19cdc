"""Leave-one-domain-out sentiment benchmark, fine-tuning, three-way gold set, speed.

    python -m benchmarks.sentiment.lodo [--quick] [--domains 水果 waimai] [--json out.json]

For each held-out domain (the 9 categories of online_shopping_9_cats.csv and waimai), every
method is trained on all labelled texts outside that domain (see `data.lodo_splits`) and
scored on the domain's texts:

- ``baseline``: char 1-3-gram TF-IDF + logistic regression (`fit_tfidf_baseline`) on the
  positive/negative texts outside the domain;
- ``recipe``: the default model's recipe (`nlp.training.sentiment_recipe`) including its domain
  adaptation, which reads the held-out domain's texts WITHOUT their labels (as a user's
  warehouse holds their own customers' texts): a self-trained n-gram teacher, masked-LM
  on the domain's texts, and a student fine-tuned on the labelled texts plus the domain's
  texts with the teacher's probabilities as targets (`adapt_to_domain`). It also trains on
  the neutral examples (Weibo, aspect sets) that the binary baseline cannot use. Shorter
  schedule than the shipped model: one masked-LM epoch, run ONCE on the texts that belong
  to no benchmark domain and shared by all folds, then ``--epochs`` (default 2)
  fine-tuning epochs per fold on at most 30,000 labelled texts (the teacher sees all),
  max 128 tokens. ``--quick`` caps training at 20,000 texts per fold and uses one epoch
  (a smoke run);
- ``snownlp``: ``SnowNLP(t).sentiments >= 0.5`` on a seeded sample of at most 1,000 texts
  per domain (it takes a few ms per text).

Fine-tuning (acceptance b): for every held-out domain with at least 3,000 texts, 2,000 of
them are written to a CSV and ``voc sentiment train --from <the fold's model>`` is run on
it (the real CLI, which keeps 20% of the rows for its own before/after); ``voc sentiment
eval`` then scores the fold's model and the fine-tuned one on the rest of the domain.

Three-way gold set: the shipped model on the Weibo posts of
`nlp.training.sentiment_data.load_gold` (negative/neutral/positive, never trained on).

The speed section (`benchmarks.sentiment.report`, which also formats the table) times
~60-character texts: the shipped default model through `nlp.sentiment` batch inference,
the same model with torch dynamic int8 quantisation of its linear layers, and the TF-IDF
baseline; ratios are printed.

Exits with status 2 and a message naming the folder when ``../shared/data`` is absent.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.sentiment.report import (
    METHODS,
    SNOWNLP_SAMPLE,
    Score,
    format_report,
    measure_speed,
    pad_columns,
)
from nlp.sentiment import usable_cpus
from nlp.training.sentiment_data import (
    LODO_DOMAINS,
    SHARED_DATA,
    LodoSplit,
    SharedDataMissing,
    Text,
    load_texts,
    lodo_splits,
    require_shared_data,
)

logger = logging.getLogger(__name__)

QUICK_MAX_TRAIN = 20_000
FINETUNE_ROWS = 2000


def fit_tfidf_baseline(texts: Sequence[str], labels: Sequence[int]) -> Any:
    """Char 1-3-gram TF-IDF (sublinear tf, min_df 2) + logistic regression (C=1).

    Returns:
        A fitted scikit-learn pipeline; ``predict_proba(texts)[:, 1]`` is P(positive).
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    pipe = make_pipeline(
        TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2),
        LogisticRegression(C=1.0, max_iter=2000),
    )
    return pipe.fit(list(texts), list(labels))


def _score(domain: str, method: str, gold: Sequence[int], prob: np.ndarray, secs: float) -> Score:
    from sklearn.metrics import accuracy_score, f1_score

    pred = (np.asarray(prob) >= 0.5).astype(int)
    return Score(
        domain,
        method,
        len(gold),
        round(float(accuracy_score(gold, pred)), 4),
        round(float(f1_score(gold, pred, average="macro")), 4),
        round(secs, 1),
    )


def run_baseline(split: LodoSplit) -> Score:
    """Train and score the TF-IDF baseline on one fold."""
    started = time.perf_counter()
    binary = [t for t in split.train if t.label in (0, 1)]
    pipe = fit_tfidf_baseline([t.text for t in binary], [t.label for t in binary])
    prob = pipe.predict_proba([t.text for t in split.test])[:, 1]
    gold = [t.label for t in split.test]
    return _score(split.domain, "baseline", gold, prob, time.perf_counter() - started)


def run_snownlp(split: LodoSplit, sample: int = SNOWNLP_SAMPLE) -> Score:
    """Score SnowNLP on a seeded sample of at most ``sample`` texts of the domain."""
    from snownlp import SnowNLP

    started = time.perf_counter()
    test = split.test
    if len(test) > sample:
        test = random.Random(0).sample(test, sample)
    prob = np.array([SnowNLP(t.text).sentiments for t in test])
    gold = [t.label for t in test]
    return _score(split.domain, "snownlp", gold, prob, time.perf_counter() - started)


class RecipeRunner:
    """The default recipe with the benchmark's shared pre-training (see module doc)."""

    def __init__(self, texts: Sequence[Text], cfg: Any, max_train: int | None, work: Path):
        from nlp.training.sentiment_recipe import (
            bert_config,
            build_vocab,
            encode,
            make_tokenizer,
            pretrain_encoder,
        )

        started = time.perf_counter()
        self.cfg = cfg
        self.max_train = max_train
        self.work = work
        # The vocabulary may see every text (no labels); pre-training sees no text of any
        # benchmark domain, so one encoder serves all folds.
        vocab = build_vocab([t.text for t in texts], cfg.min_char_freq)
        corpus = [t.text for t in texts if not set(t.domains) & set(LODO_DOMAINS)]
        if max_train:
            corpus = random.Random(cfg.seed).sample(corpus, min(len(corpus), max_train))
        self.tokenizer = make_tokenizer(vocab, work, cfg.max_len)
        self.config = bert_config(self.tokenizer, cfg, "lodo")
        self.encoder = (
            pretrain_encoder(
                self.config, encode(self.tokenizer, corpus, cfg.max_len), self.tokenizer, cfg
            )
            if cfg.pretrain_epochs
            else {}
        )
        self.pretrain_seconds = round(time.perf_counter() - started, 1)
        self.corpus_size = len(corpus)

    def run(self, split: LodoSplit) -> tuple[Score, Any]:
        """Adapt to one fold's held-out domain (its texts, not its labels) and score it.

        Returns:
            The score and the fold's model.
        """
        import torch
        from transformers import BertForSequenceClassification

        from nlp.training.sentiment_recipe import (
            adapt_to_domain,
            encode,
            positive_score,
            predict_proba,
        )

        started = time.perf_counter()
        train = split.train
        if self.max_train and len(train) > self.max_train:
            train = random.Random(self.cfg.seed).sample(train, self.max_train)
        test_texts = [t.text for t in split.test]
        torch.manual_seed(self.cfg.seed)
        model = BertForSequenceClassification(self.config)
        adapt_to_domain(
            model,
            self.encoder,
            self.tokenizer,
            [t.text for t in train],
            [int(t.label) for t in train if t.label is not None],
            test_texts,
            self.cfg,
        )
        test_enc = encode(self.tokenizer, test_texts, self.cfg.max_len)
        prob = positive_score(predict_proba(model, test_enc, self.tokenizer.pad_token_id))
        gold = [t.label for t in split.test]
        score = _score(split.domain, "recipe", gold, prob, time.perf_counter() - started)
        return score, model


def run_finetune(
    split: LodoSplit, model: Any, tokenizer: Any, work: Path, rows: int = FINETUNE_ROWS
) -> dict[str, Any] | None:
    """Acceptance (b): ``voc sentiment train`` on ``rows`` labelled texts of the held-out
    domain, starting from the fold's model, then ``voc sentiment eval`` on the rest.

    Both are run as the real CLI (subprocesses). None when the domain has fewer than
    ``rows + 1000`` texts.
    """
    import csv
    import subprocess

    if len(split.test) < rows + 1000:
        return None
    texts = random.Random(0).sample(split.test, len(split.test))
    fold_dir = work / f"fold-{split.domain}"
    model.save_pretrained(fold_dir, safe_serialization=True)
    tokenizer.save_pretrained(fold_dir)
    files = {"train": texts[:rows], "rest": texts[rows:]}
    for name, part in files.items():
        with (work / f"{name}.csv").open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["text", "label"])
            writer.writerows([t.text, t.label] for t in part)
    voc = [sys.executable, "-m", "cli.main", "sentiment"]
    cols = ["--text-col", "text", "--label-col", "label"]
    tuned = work / f"tuned-{split.domain}"
    started = time.perf_counter()
    with (work / "finetune.log").open("a", encoding="utf-8") as log:
        subprocess.run(
            [
                *voc,
                "train",
                "--data",
                str(work / "train.csv"),
                *cols,
                "--out",
                str(tuned),
                "--from",
                str(fold_dir),
            ],
            check=True,
            stdout=log,
            stderr=log,
        )
    train_seconds = time.perf_counter() - started
    result = {
        "domain": split.domain,
        "rows": rows,
        "rest": len(files["rest"]),
        "train_seconds": round(train_seconds, 1),
    }
    for name, directory in (("before", fold_dir), ("after", tuned)):
        out = subprocess.run(
            [*voc, "eval", str(work / "rest.csv"), *cols, "--model", str(directory), "--json"],
            check=True,
            capture_output=True,
            text=True,
        )
        report = json.loads(out.stdout)
        result[name] = {k: round(report[k], 4) for k in ("accuracy", "macro_f1")}
    return result


def run_neutral(root: Path) -> dict[str, Any] | None:
    """Three-way evaluation of the shipped model on the Weibo gold set (`load_gold`).

    Returns:
        Accuracy, macro-F1, per-class F1 and the confusion matrix (rows gold, columns
        predicted; order negative, neutral, positive), or None without the gold files.
    """
    from sklearn.metrics import confusion_matrix, f1_score

    from nlp.normalize import normalize_text
    from nlp.sentiment import load_sentiment_model
    from nlp.training.sentiment_data import NEGATIVE, NEUTRAL, POSITIVE, load_gold

    gold = load_gold(root)
    if not gold:
        return None
    model = load_sentiment_model()
    results = model.predict([normalize_text(t) for t, _ in gold])
    order = ["negative", "neutral", "positive"]
    value = {NEGATIVE: "negative", NEUTRAL: "neutral", POSITIVE: "positive"}
    truth = [value[label] for _, label in gold]
    pred = [r.label for r in results]
    per_class = f1_score(truth, pred, labels=order, average=None)
    return {
        "model_version": model.version,
        "n": len(gold),
        "accuracy": round(float(np.mean([a == b for a, b in zip(truth, pred, strict=True)])), 4),
        "macro_f1": round(float(np.mean(per_class)), 4),
        "f1": {c: round(float(f), 4) for c, f in zip(order, per_class, strict=True)},
        "confusion_matrix": {
            "labels": order,
            "matrix": confusion_matrix(truth, pred, labels=order).tolist(),
        },
    }


def run_fold(
    split: LodoSplit, methods: Sequence[str], runner: Any, finetune: bool, work: str
) -> tuple[list[Score], dict[str, Any] | None]:
    """Every method on one held-out domain (and the fine-tuning section for the recipe)."""
    scores = []
    tuned = None
    if "baseline" in methods:
        scores.append(run_baseline(split))
    if "snownlp" in methods:
        scores.append(run_snownlp(split))
    if runner is not None:
        score, model = runner.run(split)
        scores.append(score)
        if finetune:
            fold_work = Path(work) / f"ft-{split.domain}"
            fold_work.mkdir(exist_ok=True)
            tuned = run_finetune(split, model, runner.tokenizer, fold_work)
            logger.info("fine-tuning: %s", tuned)
    logger.info("%s", scores)
    return scores, tuned


def _pin_worker(cpu_sets: Any, threads: int) -> None:
    import torch

    os.sched_setaffinity(0, cpu_sets.get())
    torch.set_num_threads(threads)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")


def _parallel_folds(fold_args: list[tuple[Any, ...]], jobs: int) -> list[Any]:
    """Run folds in ``jobs`` spawned processes, each pinned to its share of the CPUs
    (subprocesses such as ``voc sentiment train`` inherit the pinning)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from nlp.sentiment import usable_cpus

    cpus = sorted(os.sched_getaffinity(0))
    jobs = min(jobs, len(cpus), len(fold_args))
    per = max(1, usable_cpus() // jobs)
    ctx = multiprocessing.get_context("spawn")
    manager = ctx.Manager()
    cpu_sets = manager.Queue()
    for i in range(jobs):
        cpu_sets.put(set(cpus[i * per : (i + 1) * per]))
    # Largest folds first, so the two workers finish close together.
    order = sorted(range(len(fold_args)), key=lambda i: -len(fold_args[i][0].test))
    with ProcessPoolExecutor(jobs, ctx, initializer=_pin_worker, initargs=(cpu_sets, per)) as ex:
        futures = {i: ex.submit(run_fold, *fold_args[i]) for i in order}
        results = [futures[i].result() for i in range(len(fold_args))]
    manager.shutdown()
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Command line; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run (see module doc)")
    parser.add_argument("--domains", nargs="+", default=list(LODO_DOMAINS))
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--epochs", type=int, default=2, help="recipe fine-tuning epochs")
    parser.add_argument("--teacher-weight", type=float, default=None)
    parser.add_argument("--no-speed", action="store_true", help="skip the speed section")
    parser.add_argument(
        "--no-finetune", action="store_true", help="skip the fine-tuning section (b)"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="folds run in this many parallel processes, each pinned to its own CPUs "
        "(default 1; 2 on a 2-core machine roughly halves the wall time)",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--data", type=Path, default=SHARED_DATA, help="shared data folder")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        root = require_shared_data(args.data)
    except SharedDataMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    unknown = set(args.domains) - set(LODO_DOMAINS)
    if unknown:
        parser.error(f"unknown domains {sorted(unknown)}; choose from {list(LODO_DOMAINS)}")

    import torch

    from nlp.training.sentiment_recipe import BENCHMARK_CONFIG

    torch.set_num_threads(args.threads or usable_cpus())
    started = time.perf_counter()
    texts = load_texts(root)
    cfg = replace(BENCHMARK_CONFIG, epochs=1 if args.quick else args.epochs)
    if args.teacher_weight is not None:
        cfg = replace(cfg, teacher_weight=args.teacher_weight)
    runner = None
    scores: list[Score] = []
    finetunes: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as work:
        if "recipe" in args.methods:
            runner = RecipeRunner(texts, cfg, QUICK_MAX_TRAIN if args.quick else None, Path(work))
        splits = list(lodo_splits(texts, args.domains))
        fold_args = [(split, args.methods, runner, not args.no_finetune, work) for split in splits]
        if args.jobs > 1:
            results = _parallel_folds(fold_args, args.jobs)
        else:
            results = [run_fold(*a) for a in fold_args]
        for fold_scores, tuned in results:
            scores += fold_scores
            finetunes += [tuned] if tuned else []
    speed = None
    if not args.no_speed:
        train = [t for t in texts if t.label in (0, 1)]
        baseline = fit_tfidf_baseline([t.text for t in train], [t.label for t in train])
        speed = measure_speed(texts, baseline)
    neutral = run_neutral(root)
    seconds = round(time.perf_counter() - started, 1)
    print(format_report(scores, speed))
    if finetunes:
        print(
            f"\n(b) voc sentiment train on {FINETUNE_ROWS:,} rows of the held-out domain, "
            "from the fold's model; accuracy on the rest of the domain:"
        )
        for f in finetunes:
            print(
                f"  {pad_columns(f['domain'], 8)} rest {f['rest']:>6,}  "
                f"before {f['before']['accuracy']:.4f}  after {f['after']['accuracy']:.4f}  "
                f"({f['train_seconds']:.0f} s training)"
            )
    if neutral:
        m = neutral["confusion_matrix"]["matrix"]
        print(
            f"\nthree-way gold set (Weibo, {neutral['n']:,} posts), shipped model "
            f"{neutral['model_version']}: accuracy {neutral['accuracy']:.4f}, macro-F1 "
            f"{neutral['macro_f1']:.4f}, F1 {neutral['f1']}; confusion (rows gold "
            f"neg/neu/pos): {m}"
        )
    settings = "quick" if args.quick else "full"
    print(f"\n{settings} run, {seconds:.0f} s wall, {torch.get_num_threads()} threads")
    if runner is not None:
        print(
            f"recipe: {cfg}; shared masked-LM corpus {runner.corpus_size:,} texts "
            f"({runner.pretrain_seconds:.0f} s)"
        )
    if args.json:
        payload = {
            "settings": settings,
            "seconds": seconds,
            "recipe_config": repr(cfg) if runner else None,
            "scores": [asdict(s) for s in scores],
            "speed_docs_per_s": speed,
            "finetune": finetunes,
            "three_way_gold": neutral,
        }
        args.json.write_text(json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
