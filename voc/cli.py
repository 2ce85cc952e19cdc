"""The `voc` command line: a thin layer over flows, warehouse and demo."""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import webbrowser
from datetime import date
from pathlib import Path

from nlp.labelled import LabelledFileError
from voc.settings import Settings, SettingsError, load_settings


def _quiet_defaults() -> None:
    # Entry-point side effects only: nothing reaches the network for models or telemetry.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from exc


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(getattr(args, "config", None), db_path=getattr(args, "db", None))


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        help="TOML settings file (default: $VOC_CONFIG or built-in "
        "defaults: the bundled demo sources)",
    )
    p.add_argument("--db", help="DuckDB warehouse file (default: data/voc.duckdb or $VOC_DB)")


def cmd_ingest(args: argparse.Namespace) -> int:
    from flows.daily import daily_ingest

    settings = _settings(args)
    result = daily_ingest(
        since=args.since, until=args.until, config_path=args.config, db_path=str(settings.db_path)
    )
    print(json.dumps(result, ensure_ascii=False))
    return 0 if result["status"] in ("ok", "partial") else 1


def cmd_demo(args: argparse.Namespace) -> int:
    from demo.events import DEMO_END, DEMO_START
    from demo.server import start_demo_server
    from flows.daily import daily_ingest

    settings = _settings(args)
    since, until = args.since or DEMO_START, args.until or DEMO_END
    port = settings.demo_port if args.port is None else args.port
    try:
        server = start_demo_server(settings.demo_host, port)
    except OSError as exc:
        # Stored URLs name the port, so a stable one keeps re-runs idempotent; any port
        # still beats no demo.
        print(f"port {port} unavailable ({exc}); using a free port", file=sys.stderr)
        server = start_demo_server(settings.demo_host, 0)
    with server:
        print(f"演示数据源已启动 / demo sources at {server.base_url}", flush=True)
        result = daily_ingest(
            since=since,
            until=until,
            config_path=args.config,
            db_path=str(settings.db_path),
            demo_port=server.port,
        )
    print(json.dumps(result, ensure_ascii=False), flush=True)
    _print_stats(settings.db_path)
    if result["status"] == "failed":
        return 1
    if args.no_dashboard:
        return 0
    return _run_dashboard(settings.db_path, args.dashboard_port or settings.dashboard_port)


def cmd_schedule(args: argparse.Namespace) -> int:
    settings = _settings(args)
    cron = args.cron or settings.schedule_cron
    server = None
    if not os.environ.get("PREFECT_API_URL"):
        # A temporary Prefect server cannot run schedules: supervise a real one.
        port = args.prefect_port or _free_port()
        log_path = settings.runs_dir / "prefect-server.log"
        print(
            f"启动 Prefect 服务 / starting a Prefect server on 127.0.0.1:{port} (log: {log_path})",
            flush=True,
        )
        server = _start_prefect_server(port, log_path)
        os.environ["PREFECT_API_URL"] = f"http://127.0.0.1:{port}/api"
    from flows.schedule import serve_daily

    try:
        print(
            f"按计划运行 / serving voc-daily-ingest on cron '{cron}' ({settings.timezone}); "
            "Ctrl-C to stop",
            flush=True,
        )
        serve_daily(cron, settings.timezone, config_path=args.config, db_path=str(settings.db_path))
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from warehouse.db import WarehouseError, read_only
    from warehouse.queries import warehouse_summary

    settings = _settings(args)
    try:
        with read_only(settings.db_path) as con:
            summary = warehouse_summary(con)
    except WarehouseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2, default=str))
    else:
        _print_summary(summary)
    return 0


def cmd_sources_kinds(args: argparse.Namespace) -> int:
    from voc.kinds import KINDS
    from voc.kinds.render import format_kinds, kinds_as_json

    if args.json:
        print(json.dumps(kinds_as_json(KINDS), ensure_ascii=False, indent=2))
    else:
        sys.stdout.write(format_kinds(KINDS))
    return 0


def cmd_sources_check(args: argparse.Namespace) -> int:
    from dataclasses import asdict
    from datetime import timedelta

    from scrapers.check import check_source

    settings = _settings(args)  # a bad sources file fails here, naming file and key
    until = args.until or date.today()
    since = args.since or until - timedelta(days=6)
    sources = [s for s in settings.sources if s.enabled]
    checks = []
    for source in sources:
        if not args.json:
            print(f"检查 {source.name} ({source.kind}) {source.url} …", file=sys.stderr)
        checks.append(check_source(source, since, until, settings.author_salt))
    if args.json:
        payload = {
            "since": since.isoformat(),
            "until": until.isoformat(),
            "sources": [asdict(c) | {"ok": c.ok} for c in checks],
        }
        print(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        print(f"sources file OK: {len(sources)} enabled source(s); dry run {since} … {until}")
        for c in checks:
            state = "OK " if c.ok else "ERR"
            where = f"HTTP {c.status}" if c.status else ("path" if c.reachable else "unreachable")
            print(f"{state} {c.name:<16} {c.kind:<14} {where:<12} {c.items:>6} items")
            for message in [c.error, *c.problems]:
                if message:
                    print(f"      {message}")
    return 0 if all(c.ok for c in checks) else 1


def cmd_dashboard(args: argparse.Namespace) -> int:
    settings = _settings(args)
    return _run_dashboard(settings.db_path, args.port or settings.dashboard_port)


def cmd_demo_server(args: argparse.Namespace) -> int:
    from demo.server import start_demo_server

    with start_demo_server(args.host, args.port) as server:
        print(f"demo sources at {server.base_url} (Ctrl-C to stop)", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


def _load_model(args: argparse.Namespace):
    from nlp.sentiment import load_sentiment_model

    settings = _settings(args)
    model_dir = Path(args.model) if args.model else settings.sentiment_model_dir
    return load_sentiment_model(model_dir, int8=settings.sentiment_int8)


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
    from nlp.evaluate import evaluate_model
    from nlp.labelled import read_labelled_csv

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
    from nlp.finetune import FinetuneConfig, finetune_sentiment
    from nlp.labelled import read_labelled_csv
    from nlp.sentiment_data import merge_corrections

    data = read_labelled_csv(args.data, args.text_col, args.label_col)
    for problem in data.problems[:20]:
        print(f"skipped: {problem}", file=sys.stderr)
    base = None if args.from_model == "default" else Path(args.from_model)
    config = FinetuneConfig(epochs=args.epochs, holdout=args.holdout, seed=args.seed, lr=args.lr)
    texts, labels, extra, info = data.texts, data.labels, [], None
    if args.corrections:
        from warehouse.actions import load_corrections

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


def _print_stats(db_path: Path) -> None:
    from warehouse.db import read_only
    from warehouse.queries import warehouse_summary

    with read_only(db_path) as con:
        _print_summary(warehouse_summary(con))


def _print_summary(s: dict) -> None:
    docs = s["documents"]
    print(
        f"文档 documents: {docs['total']}  "
        + "  ".join(f"{k}={v}" for k, v in docs["by_channel"].items())
        + f"  (exact duplicates {docs['exact_duplicates']})"
    )
    print(
        f"情感 sentiment ({s['sentiment']['model_version']}): "
        + "  ".join(f"{k}={v}" for k, v in s["sentiment"]["by_label"].items())
    )
    print(f"主题 themes: {len(s['themes'])}")
    for t in s["themes"][:5]:
        print(f"  {t['size']:>5}  {t['label']}  ({' '.join(t['keywords'][:6])})")
    print(f"预警 alerts: {len(s['alerts'])}")
    for a in s["alerts"]:
        print(
            f"  {a['date']}  {a['source']}  {a['metric']}  observed {a['observed']:.2f} "
            f"expected {a['expected']:.2f}  theme {a['theme_label']}"
        )
    errors = s["last_run"]["errors"]
    if errors:
        print(f"最近一次运行的问题 problems in the last run: {len(errors)}")
        for e in errors[:10]:
            print(f"  - {e}")


def _run_dashboard(db_path: Path, port: int) -> int:
    app = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
    url = f"http://localhost:{port}"
    # Headless: Streamlit's own browser launch first asks for an e-mail address on stdin.
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "viewer",
        "--",
        "--db",
        str(Path(db_path).resolve()),
    ]
    proc = subprocess.Popen(cmd)
    try:
        if _wait_for_http(f"{url}/_stcore/health", proc, timeout=60):
            print(f"仪表盘已启动 / dashboard: {url}  (Ctrl-C to stop)", flush=True)
            if not os.environ.get("CI"):
                webbrowser.open(url)
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait(timeout=30)
        return 0


def _wait_for_http(url: str, proc: subprocess.Popen, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return True
        except OSError:
            time.sleep(0.5)
    return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_prefect_server(port: int, log_path: Path, timeout: float = 120.0) -> subprocess.Popen:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "prefect",
                "server",
                "start",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    health = f"http://127.0.0.1:{port}/api/health"
    if _wait_for_http(health, proc, timeout):
        return proc
    if proc.poll() is not None:
        raise RuntimeError(f"prefect server exited with code {proc.returncode}; see {log_path}")
    proc.terminate()
    raise RuntimeError(
        f"prefect server did not answer on {health} within {timeout:.0f}s; see {log_path}"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="voc", description="VoC Monitor (客声): listen to Chinese-speaking customers."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "demo",
        help="start the bundled demo sources, ingest them, open the dashboard",
        description="Serve the bundled demo sources on localhost, "
        "run the daily flow over the whole demo period (2025-06-01..2025-09-30) "
        "and open the dashboard.",
    )
    _add_common(p)
    p.add_argument("--since", type=_date, help="first day (default: start of the demo data)")
    p.add_argument("--until", type=_date, help="last day (default: end of the demo data)")
    p.add_argument(
        "--port",
        type=int,
        help="demo server port (default 8765, or a free one if that is taken; 0 = any free port)",
    )
    p.add_argument("--dashboard-port", type=int, help="dashboard port (default 8501)")
    p.add_argument(
        "--no-dashboard",
        action="store_true",
        help="ingest only, then exit (exit code 0 when the run completed)",
    )
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "ingest",
        help="run the daily flow once: incremental per source, or for --since/--until",
        description="Run the daily ingestion flow once over the configured sources. "
        "Without dates each source runs incrementally: from the newest document it has "
        "landed minus lookback_days (a new source: backfill_days back) up to today, and "
        "connectors resume from their stored cursor. With --since/--until every source "
        "is fetched for those local days (a backfill).",
    )
    _add_common(p)
    p.add_argument(
        "--since", type=_date, help="first day, YYYY-MM-DD (default: incremental per source)"
    )
    p.add_argument("--until", type=_date, help="last day, YYYY-MM-DD (default: today)")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser(
        "schedule",
        help="serve the daily flow on a cron schedule",
        description="Serve the daily flow on a cron schedule (default 06:00 "
        "Asia/Shanghai). Uses $PREFECT_API_URL if set, otherwise starts and "
        "supervises a local `prefect server`.",
    )
    _add_common(p)
    p.add_argument("--cron", help="cron expression (default from settings: '0 6 * * *')")
    p.add_argument("--prefect-port", type=int, help="port for the supervised Prefect server")
    p.set_defaults(func=cmd_schedule)

    p = sub.add_parser(
        "sources",
        help="check the configured sources; list the source kinds",
        description="Work with the configured sources.",
    )
    srcsub = p.add_subparsers(dest="sources_command", required=True)
    p = srcsub.add_parser(
        "check",
        help="validate the sources file, probe each source and dry-run it",
        description="Validate the sources (settings) file, then for every enabled source "
        "report whether its URL or path is reachable and how many documents a dry run "
        "over the window yields (nothing is stored). Exit status 1 if any source is "
        "unreachable or reported problems.",
    )
    _add_common(p)
    p.add_argument("--since", type=_date, help="first day of the dry run (default: 6 days ago)")
    p.add_argument("--until", type=_date, help="last day of the dry run (default: today)")
    p.add_argument("--json", action="store_true", help="machine-readable JSON output")
    p.set_defaults(func=cmd_sources_check)
    p = srcsub.add_parser(
        "kinds",
        help="list every source kind with its options, types, defaults and an example",
        description="List every source kind (its canonical name, deprecated aliases, "
        "spider or connector) with its options: type, default, whether required, and "
        "what it does; and an example [sources.NAME] table.",
    )
    p.add_argument("--json", action="store_true", help="machine-readable JSON output")
    p.set_defaults(func=cmd_sources_kinds)

    p = sub.add_parser(
        "stats",
        help="print warehouse counts, themes and alerts",
        description="Summarise the warehouse: documents by channel and voices, "
        "sentiment, themes with lifecycle states, spike alerts and episodes with their "
        "explanations, categories, aspects, emotion, the last run's stages and problems, "
        "each source's state and open source-health alerts (--json for all of it).",
    )
    _add_common(p)
    p.add_argument("--json", action="store_true", help="machine-readable JSON output")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser(
        "dashboard",
        help="open the Streamlit dashboard",
        description=(
            "Start the Streamlit dashboard on the warehouse's published snapshot: 总览 "
            "Overview, 预警 Alerts, 主题 Themes, 检索 Explore, 查询 Query, 数据源 Sources, "
            "质量 Quality (Chinese, with an English switch). Set VOC_DASHBOARD_PASSWORD to "
            "require a password; see the README for single sign-on (OIDC)."
        ),
    )
    _add_common(p)
    p.add_argument("--port", type=int, help="port (default 8501)")
    p.set_defaults(func=cmd_dashboard)

    _add_sentiment_parsers(sub)
    from notify.cli import add_alerts_parser

    add_alerts_parser(sub)

    p = sub.add_parser(
        "demo-server",
        help="serve the bundled demo sources only",
        description="Serve the bundled demo sources (shop review pages, "
        "microblog search API, helpdesk exports) until Ctrl-C.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    p.set_defaults(func=cmd_demo_server)
    return parser


def _add_sentiment_parsers(sub: argparse._SubParsersAction) -> None:
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
    _add_common(p)
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
    _add_common(p)
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
    _add_common(p)
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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _quiet_defaults()
    try:
        return args.func(args)
    except (SettingsError, LabelledFileError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
