"""``voc sentiment predict|eval|train``: score texts, evaluate on a labelled CSV, fine-tune."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cli.common import add_common, settings_from


def add_sentiment_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``voc sentiment predict|eval|train``."""
    parent = sub.add_parser(
        "sentiment",
        help="predict, evaluate or fine-tune the sentiment model",
        description="Work with the sentiment model: the bundled default, or any local "
        "Hugging Face sequence-classification directory (--model DIR).",
    )
    ssub = parent.add_subparsers(dest="sentiment_command", required=True, metavar="COMMAND")

    p = ssub.add_parser(
        "predict",
        help="score texts given on the command line",
        description="Print the sentiment of each text.",
    )
    add_common(p)
    p.add_argument("texts", nargs="+", metavar="TEXT", help="text(s) to score")
    p.add_argument("--model", help="model directory (default: settings, else bundled)")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(func=cmd_sentiment_predict)

    p = ssub.add_parser(
        "eval",
        help="accuracy, macro-F1, speed and confusion matrix on a labelled CSV",
        description="Evaluate a model on a labelled CSV (labels 0/1 = negative/positive; "
        "also negative/positive, 负面/正面). A prediction counts as positive when "
        "P(positive) >= 0.5; how often the model says neutral is reported as neutral_share.",
    )
    add_common(p)
    p.add_argument("file", metavar="FILE.csv", help="labelled CSV (UTF-8, UTF-8 BOM or GBK)")
    p.add_argument("--text-col", required=True, help="column with the text")
    p.add_argument("--label-col", required=True, help="column with the label")
    p.add_argument("--model", help="model directory (default: settings, else bundled)")
    p.add_argument(
        "--json",
        action="store_true",
        help="one JSON object on stdout: accuracy, macro_f1, n, docs_per_s, confusion_matrix, ...",
    )
    p.set_defaults(func=cmd_sentiment_eval)

    p = ssub.add_parser(
        "train",
        help="fine-tune a model on your labelled CSV",
        description="Fine-tune (from the bundled default unless --from DIR) on a labelled "
        "CSV, holding out a stratified share to print accuracy before and after. Writes "
        "a model directory that --model and the settings' sentiment_model_dir accept. "
        "With --corrections, the sentiment corrections made on the dashboard's 质量 "
        "Quality page are added to the training part (never to the held-out rows); "
        "finetune.json in the output directory records how many were used.",
    )
    add_common(p)
    p.add_argument("--data", required=True, metavar="FILE.csv", help="labelled CSV")
    p.add_argument("--text-col", required=True, help="column with the text")
    p.add_argument("--label-col", required=True, help="column with the label (0/1)")
    p.add_argument("--out", required=True, help="directory for the fine-tuned model")
    p.add_argument(
        "--from",
        dest="from_model",
        default="default",
        help="'default' (the bundled model) or a model directory",
    )
    p.add_argument("--epochs", type=int, default=3, help="passes over the data (default 3)")
    p.add_argument("--lr", type=float, help="peak learning rate (default: by model size)")
    p.add_argument(
        "--holdout",
        type=float,
        default=0.2,
        help="share held out for before/after metrics (default 0.2)",
    )
    p.add_argument("--seed", type=int, default=13, help="split and training seed")
    p.add_argument(
        "--corrections",
        metavar="WAREHOUSE",
        help="also train on the dashboard's sentiment corrections of this warehouse file (the "
        "latest per document unless withdrawn; read from <name>.actions.sqlite beside it,"
        " else from its sentiment_corrections table). They go to the training part only, "
        "never to the held-out rows; a CSV row with the same normalised text is dropped "
        "(the correction wins). Neutral corrections train the neutral class of a three-"
        "class model (the bundled default is one); a two-class model has no neutral "
        "class, so they are left out and counted",
    )
    p.set_defaults(func=cmd_sentiment_train)


def _load_model(args: argparse.Namespace):
    from nlp.sentiment import load_sentiment_model

    settings = settings_from(args)
    model_dir = Path(args.model) if args.model else settings.sentiment_model_dir
    return load_sentiment_model(
        model_dir, int8=settings.sentiment_int8, runtime=settings.sentiment_runtime
    )


def cmd_sentiment_predict(args: argparse.Namespace) -> int:
    from nlp.normalize import normalize_text

    model = _load_model(args)
    results = model.predict([normalize_text(t) for t in args.texts])
    if args.json:
        rows = [
            {"text": t, "label": r.label, "score": round(r.score, 4)}
            for t, r in zip(args.texts, results, strict=True)
        ]
        print(json.dumps({"model_version": model.version, "results": rows}, ensure_ascii=False))
    else:
        names = {"negative": "负面", "neutral": "中性", "positive": "正面"}
        for text, r in zip(args.texts, results, strict=True):
            print(f"{names[r.label]} {r.label:<8} P(正面)={r.score:.3f}  {text}")
    return 0


def cmd_sentiment_eval(args: argparse.Namespace) -> int:
    from nlp.training.evaluate import evaluate_model
    from nlp.training.labelled import read_labelled_csv

    data = read_labelled_csv(args.file, args.text_col, args.label_col)
    model = _load_model(args)
    report = evaluate_model(model, data.texts, data.labels)
    report |= {
        "file": str(args.file),
        "skipped_rows": len(data.problems),
        "problems": data.problems[:20],
    }
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        _print_eval(report)
    return 0


def cmd_sentiment_train(args: argparse.Namespace) -> int:
    from nlp.training.finetune import FinetuneConfig, finetune_sentiment
    from nlp.training.labelled import read_labelled_csv
    from nlp.training.sentiment_data import merge_corrections

    data = read_labelled_csv(args.data, args.text_col, args.label_col)
    for problem in data.problems[:20]:
        print(f"skipped: {problem}", file=sys.stderr)
    base = None if args.from_model == "default" else Path(args.from_model)
    config = FinetuneConfig(epochs=args.epochs, holdout=args.holdout, seed=args.seed, lr=args.lr)
    texts, labels, extra, info = data.texts, data.labels, [], None
    if args.corrections:
        from warehouse.corrections import load_corrections

        found, origin = load_corrections(args.corrections)
        merged = merge_corrections(
            data.texts, data.labels, [(c.text, c.corrected_label) for c in found]
        )
        texts, labels = merged.texts, merged.labels
        extra = list(zip(merged.extra_texts, merged.extra_labels, strict=True))
        info = {
            "from": str(origin),
            "found": len(found),
            "replaced_rows": merged.replaced_rows,
            "folded": merged.folded,
        }
        print(
            f"更正 corrections: {len(found)} from {origin}; {len(extra)} distinct texts added to "
            f"training only, {merged.replaced_rows} CSV rows with the same text replaced",
            flush=True,
        )
    print(
        f"微调 fine-tuning {args.from_model} on {len(texts)} rows from {args.data} "
        f"({len(data.problems)} skipped), holding out {args.holdout:.0%}",
        flush=True,
    )
    report = finetune_sentiment(
        texts, labels, args.out, base, config, corrections=extra, corrections_info=info
    )
    before, after = report.before, report.after
    if args.corrections:
        print(
            f"corrections used: {report.n_corrections}"
            + (
                f" ({report.n_corrections_skipped} neutral left out: the model has no "
                "neutral class)"
                if report.n_corrections_skipped
                else ""
            )
        )
    print(
        f"held-out rows: {report.n_holdout}  (trained on {report.n_train} in "
        f"{report.seconds:.0f} s)"
    )
    print(
        f"before ({report.base_version}): accuracy {before['accuracy']:.4f}  "
        f"macro-F1 {before['macro_f1']:.4f}"
    )
    print(
        f"after  ({report.version}): accuracy {after['accuracy']:.4f}  "
        f"macro-F1 {after['macro_f1']:.4f}"
    )
    print(
        f"model written to {args.out}; use it with --model {args.out} or "
        f'sentiment_model_dir = "{args.out}" in the settings file'
    )
    return 0


def _print_eval(r: dict) -> None:
    (tn, fp), (fn, tp) = r["confusion_matrix"]["matrix"]
    print(f"model {r['model_version']} on {r['file']}: n={r['n']} (skipped {r['skipped_rows']})")
    print(
        f"accuracy {r['accuracy']:.4f}  macro-F1 {r['macro_f1']:.4f}  "
        f"{r['docs_per_s']} docs/s  neutral share {r['neutral_share']:.1%}"
    )
    print("confusion (rows gold, columns predicted):")
    print(
        f"            negative positive\n  negative  {tn:>8} {fp:>8}\n  positive  {fn:>8} {tp:>8}"
    )
