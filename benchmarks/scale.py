"""Scale benchmark: the daily flow over 100k, 300k and 1M documents, then one new day.

For each size, a multi-channel corpus over 60 days (`benchmarks.scale_corpus`: shop
reviews as an HTML listing and social posts as an RSS feed, both served on loopback, and
helpdesk tickets as JSONL exports) is ingested into a fresh warehouse by ``voc ingest``
(the normal Prefect flow, in a child process so its peak RSS is its own). Then one day of
new documents (default 20k) is added to the largest warehouse, and the same day is ingested
into an empty warehouse: the incremental cost ratio is large / empty. Prints docs/s end to
end (wall time of the child, Prefect start-up included) and per stage (`run_stages`), peak
RSS, warehouse and snapshot size, and the ratio to plain ``jieba.lcut`` over the same texts,
measured in the same run.

    python benchmarks/scale.py [--sizes 100000,300000,1000000] [--day-docs 20000]
        [--days 60] [--json report.json] [--profile out.pstats]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.scale_corpus import (  # noqa: E402
    FIRST_DAY,
    CorpusWriter,
    config_toml,
    day_counts,
    generate,
    text_pool,
)

TARGET_DOCS_PER_S = 1000
TARGET_RSS_MB = 2048
TARGET_INCREMENTAL = 1.5


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve(root: Path) -> tuple[ThreadingHTTPServer, str]:
    """Serve `root` on a loopback port in a thread; returns the server and its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def _child_main(config: str, since: str, until: str, usage_path: str, profile: str) -> None:
    """In the child: run ``voc ingest`` for the window, then write its resource usage."""
    from cli.main import main

    args = ["ingest", "--config", config, "--since", since, "--until", until]
    if profile:
        import cProfile

        code = 1
        prof = cProfile.Profile()
        try:
            code = prof.runcall(main, args)
        finally:
            prof.dump_stats(profile)
    else:
        code = main(args)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    Path(usage_path).write_text(json.dumps({"code": code, "maxrss_kb": own, "kids_kb": kids}))
    sys.exit(code)


def ingest(config: Path, since: date, until: date, work: Path, profile: str = "") -> dict[str, Any]:
    """Run the flow in a child process; returns wall seconds, exit code and peak RSS (MB,
    the flow's own process; the crawl subprocesses' apart)."""
    usage = work / f"usage-{since}-{until}.json"
    env = dict(os.environ, PREFECT_SERVER_ANALYTICS_ENABLED="false", HF_HUB_OFFLINE="1")
    # The temporary Prefect server's 20 s start-up timeout is too short on a loaded machine
    # (issue 17, item 6); the benchmark measures the flow, not that race.
    env.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    cmd = [sys.executable, __file__, "--child", str(config), str(since), str(until), str(usage)]
    if profile:
        cmd.append(profile)
    log = work / f"ingest-{since}-{until}.log"
    started = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        peak_mb, peak_at = _watch_rss(proc)
    wall = time.perf_counter() - started
    if proc.returncode != 0 or not usage.exists():
        tail = log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"ingest {since}..{until} failed ({proc.returncode}):\n{tail}")
    got = json.loads(usage.read_text())
    return {
        "wall_s": wall,
        "peak_rss_mb": got["maxrss_kb"] / 1024,
        "crawler_peak_rss_mb": got["kids_kb"] / 1024,
        "sampled_peak_rss_mb": peak_mb,
        "peak_during": _log_line_at(log, peak_at),
    }


def _watch_rss(proc: subprocess.Popen, every: float = 1.0) -> tuple[float, str]:
    """Sample the child's resident memory until it exits: the largest (MB) and the time
    of day it was seen (HH:MM:SS, as the flow's log lines start)."""
    peak, at = 0.0, ""
    status = Path(f"/proc/{proc.pid}/status")
    while proc.poll() is None:
        try:
            text = status.read_text()
        except OSError:
            break
        for line in text.splitlines():
            if line.startswith("VmRSS:"):
                mb = int(line.split()[1]) / 1024
                if mb > peak:
                    peak, at = mb, time.strftime("%H:%M:%S")
        time.sleep(every)
    proc.wait()
    return peak, at


def _log_line_at(log: Path, at: str) -> str:
    """The last log line written at or before `at` (what the flow was doing then)."""
    last = ""
    for line in log.read_text(errors="replace").splitlines():
        stamp = line[:8]
        if len(stamp) == 8 and stamp[2] == ":" and stamp[5] == ":":
            if stamp > at:
                break
            last = line
    return last[:160]


def run_report(db: Path) -> dict[str, Any]:
    """The newest run's per-stage counts and seconds and what the warehouse holds."""
    from warehouse.db import read_only

    with read_only(db) as con:
        run_id = con.execute(
            "SELECT run_id FROM run_log ORDER BY started_at DESC LIMIT 1"
        ).fetchone()[0]
        rows = con.execute(
            "SELECT stage, sum(n_in)::BIGINT, sum(n_out)::BIGINT, sum(seconds) "
            "FROM run_stages WHERE run_id = ? GROUP BY stage ORDER BY min(rowid)",
            [run_id],
        ).fetchall()
        n_total = con.execute("SELECT count(*) FROM raw_documents").fetchone()[0]
    stages = [
        {"stage": s, "n_in": int(a), "n_out": int(b), "seconds": float(sec)}
        for s, a, b, sec in rows
    ]
    loaded = sum(s["n_out"] for s in stages if s["stage"] == "load")
    return {"run_id": run_id, "stages": stages, "loaded": loaded, "warehouse_docs": n_total}


def file_mb(db: Path) -> dict[str, float]:
    """Warehouse file (with its WAL) and published snapshot sizes, MB."""
    from warehouse.snapshot import snapshot_path

    def size(p: Path) -> float:
        return p.stat().st_size / 2**20 if p.exists() else 0.0

    wal = db.with_name(db.name + ".wal")
    return {"warehouse_mb": size(db) + size(wal), "snapshot_mb": size(snapshot_path(db))}


def jieba_rate(texts: list[str]) -> dict[str, float]:
    """Plain ``jieba.lcut`` over `texts` (dictionary loaded first): docs/s."""
    import jieba

    jieba.setLogLevel(60)
    jieba.initialize()
    started = time.perf_counter()
    for text in texts:
        jieba.lcut(text)
    seconds = time.perf_counter() - started
    return {"jieba_seconds": seconds, "jieba_docs_per_s": len(texts) / seconds}


def _summarise(ingested: dict[str, Any], report: dict[str, Any], n_docs: int) -> dict:
    staged = sum(s["seconds"] for s in report["stages"])
    for s in report["stages"]:
        s["docs_per_s"] = s["n_in"] / s["seconds"] if s["seconds"] > 0 else None
        s["share"] = s["seconds"] / staged if staged else 0.0
    return {
        "docs": n_docs,
        **ingested,
        **report,
        "staged_s": staged,
        "docs_per_s": n_docs / ingested["wall_s"],
        "staged_docs_per_s": n_docs / staged if staged else None,
    }


class _Site:
    """One corpus directory, served, with its config and warehouse."""

    def __init__(self, work: Path, name: str) -> None:
        self.root = work / name / "site"
        self.writer = CorpusWriter(self.root)
        self.server, url = serve(self.root)
        self.db = work / name / "voc.duckdb"
        self.config = work / name / "voc.toml"
        self.config.write_text(config_toml(url, self.root, self.db), encoding="utf-8")
        self.work = work / name

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _tee(docs, texts: list[str]):
    for doc in docs:
        texts.append(doc.text)
        yield doc


def run_benchmark(
    sizes: list[int],
    work: Path,
    days: int = 60,
    day_docs: int = 20_000,
    profile: str = "",
    echo=print,
) -> dict[str, Any]:
    """Ingest each size into a fresh warehouse, then add one day to the largest and ingest
    the same day into an empty warehouse; returns the report (see the module doc)."""
    pool, origin = text_pool()
    report: dict[str, Any] = {
        "corpus": {"text_origin": origin, "pool_texts": len(pool), "days": days},
        "machine": {"cpus": os.cpu_count()},
        "runs": [],
    }
    last_day = FIRST_DAY + timedelta(days=days - 1)
    largest: _Site | None = None
    for n in sorted(sizes):
        site = _Site(work, f"n{n}")
        texts: list[str] = []
        started = time.perf_counter()
        by_source = site.writer.write(_tee(generate(day_counts(n, days), pool, seed=n), texts))
        gen_s = time.perf_counter() - started
        echo(f"[{n}] corpus written in {gen_s:.0f} s: {by_source}; ingesting...")
        got = ingest(site.config, FIRST_DAY, last_day, site.work, profile)
        run = _summarise(got, run_report(site.db), n)
        run.update(file_mb(site.db), by_source=by_source, generate_s=gen_s)
        run.update(jieba_rate(texts))
        run["ratio_to_jieba"] = run["docs_per_s"] / run["jieba_docs_per_s"]
        report["runs"].append(run)
        echo(f"[{n}] {run['docs_per_s']:.0f} docs/s end to end, {run['peak_rss_mb']:.0f} MB")
        if largest is not None:
            largest.close()
        largest = site
    if largest is None or day_docs <= 0:
        return report
    new_day = last_day + timedelta(days=1)
    n_large = max(sizes)
    day = {new_day: day_docs}
    empty = _Site(work, "empty")
    try:
        empty.writer.write(generate(day, pool, seed=n_large + 1, start_index=n_large))
        on_empty = _summarise(ingest(empty.config, new_day, new_day, empty.work),
                              run_report(empty.db), day_docs)  # fmt: skip
        on_empty.update(file_mb(empty.db))
    finally:
        empty.close()
    try:
        largest.writer.write(generate(day, pool, seed=n_large + 1, start_index=n_large))
        on_large = _summarise(ingest(largest.config, new_day, new_day, largest.work),
                              run_report(largest.db), day_docs)  # fmt: skip
        on_large.update(file_mb(largest.db))
    finally:
        largest.close()
    report["incremental"] = {
        "warehouse_docs_before": n_large,
        "day_docs": day_docs,
        "day": str(new_day),
        "on_empty": on_empty,
        "on_large": on_large,
        "ratio_wall": on_large["wall_s"] / on_empty["wall_s"],
        "ratio_staged": on_large["staged_s"] / on_empty["staged_s"],
    }
    return report


def format_report(report: dict[str, Any]) -> str:
    """The report as the text the benchmark prints."""
    out = [
        "=== scale benchmark ===",
        f"texts: {report['corpus']['text_origin']}, {report['corpus']['pool_texts']} unique; "
        f"{report['corpus']['days']} days; {report['machine']['cpus']} CPUs",
    ]
    for run in report["runs"]:
        out += _format_run(f"{run['docs']:,} documents over {report['corpus']['days']} days", run)
        out.append(
            f"  plain jieba.lcut, same texts, same run: {run['jieba_docs_per_s']:.0f} docs/s; "
            f"pipeline / jieba = {run['ratio_to_jieba']:.3f}"
        )
    inc = report.get("incremental")
    if inc:
        out += _format_run(f"one new day of {inc['day_docs']:,} into an empty warehouse",
                           inc["on_empty"])  # fmt: skip
        out += _format_run(
            f"the same day into the {inc['warehouse_docs_before']:,}-document warehouse",
            inc["on_large"],
        )
        out.append(
            f"incremental ratio (large / empty): wall {inc['ratio_wall']:.2f}x, "
            f"stages {inc['ratio_staged']:.2f}x (target <= {TARGET_INCREMENTAL}x)"
        )
    return "\n".join(out)


def _format_run(title: str, run: dict[str, Any]) -> list[str]:
    lines = [
        f"\n--- {title} ---",
        f"  wall {run['wall_s']:.1f} s -> {run['docs_per_s']:.0f} docs/s end to end "
        f"(target >= {TARGET_DOCS_PER_S}); stages {run['staged_s']:.1f} s -> "
        f"{run['staged_docs_per_s']:.0f} docs/s",
        f"  peak RSS {run['peak_rss_mb']:.0f} MB (flow process; its subprocesses "
        f"{run['crawler_peak_rss_mb']:.0f} MB; target < {TARGET_RSS_MB}); warehouse "
        f"{run['warehouse_mb']:.0f} MB, snapshot {run['snapshot_mb']:.0f} MB; "
        f"{run['loaded']} loaded, {run['warehouse_docs']} in the warehouse",
        f"  sampled RSS peak {run.get('sampled_peak_rss_mb', 0):.0f} MB during: "
        f"{run.get('peak_during', '')}",
        f"  {'stage':<20} {'in':>9} {'out':>9} {'seconds':>9} {'docs/s':>9} {'share':>6}",
    ]
    for s in run["stages"]:
        rate = f"{s['docs_per_s']:.0f}" if s["docs_per_s"] is not None else "-"
        lines.append(
            f"  {s['stage']:<20} {s['n_in']:>9} {s['n_out']:>9} {s['seconds']:>9.2f} "
            f"{rate:>9} {s['share']:>6.1%}"
        )
    return lines


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run the benchmark in a scratch directory, print the report."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child":
        _child_main(*argv[1:5], argv[5] if len(argv) > 5 else "")
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,300000,1000000",
                        help="comma-separated corpus sizes (documents)")  # fmt: skip
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--day-docs", type=int, default=20_000,
                        help="documents of the added day (0: no incremental day)")  # fmt: skip
    parser.add_argument("--json", help="also write the report as JSON here")
    parser.add_argument("--profile", help="cProfile the ingests into this .pstats file")
    parser.add_argument("--work-dir", help="keep the corpora and warehouses here")
    args = parser.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work_dir) if args.work_dir else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        report = run_benchmark(
            sizes,
            work,
            args.days,
            args.day_docs,
            str(Path(args.profile).resolve()) if args.profile else "",
            echo=lambda m: print(m, flush=True),
        )
    print(format_report(report), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
