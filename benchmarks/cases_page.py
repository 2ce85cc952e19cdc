"""工单 page speed with 100,000 open cases: fill a case store through `CaseStore.open_cases`,
then time the page's data calls the way the page makes them, and whole page runs.

    python -m benchmarks.cases_page [--cases 100000] [--url URL] [--runs 30]
        [--page-runs 10] [--regenerate]

The store is a SQLite file (``benchmarks/.cache/cases-page-<N>.sqlite``, ignored by git,
reused unless ``--regenerate``) or the database at ``--url`` (PostgreSQL:
``postgresql+psycopg://…``; filled when it holds fewer cases than asked). Cases: one to
three voices each, P1–P4 (10/20/40/30 %), the four channels, twelve teams, sixty owners,
four segments, opened over the 90 days before 2026-03-02; 2 % moved on to 已受理/处理中
with a reply, so the queue has every state it shows.

Timed per view (``--runs`` runs cycling through the filter sets: the default open queue,
P1 only, one team, one owner, one channel, page 40 of the open queue): the queue's count
and page (`dashboard.views.cases.read_queue`), the SLA clocks of the page's cases (their
histories and `voc.sla.case_sla` under a two-policy config, when `voc.sla` is there), and
one case's detail (`read_detail`: the case, its voices, its history). Then ``--page-runs``
whole runs of the page in Streamlit's AppTest (app.py with the 工单 page, the store by
URL), which adds the framework's own time. Target (issue 16): p95 ≤ 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from voc.cases import OPEN_STATUSES, PRIORITIES, CaseOpening, CaseVoice
from voc.records import CHANNELS
from warehouse.case_db import connect_store, create_schema
from warehouse.case_store import CaseFilters, CaseStore

ROOT = Path(__file__).resolve().parent
TEAMS = tuple(f"团队{i:02d}" for i in range(12))
OWNERS = tuple(f"客服{i:02d}" for i in range(60))
SEGMENTS = ("高价值", "一般", "新客", "休眠")
THEMES = ("物流慢", "退款难", "客服态度", "质量问题", "发票", "价格")
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BATCH = 10_000


def _quiet_streamlit() -> None:
    import logging

    # AppTest outside a server warns once per widget call ("missing ScriptRunContext").
    for name in [n for n in logging.root.manager.loggerDict if n.startswith("streamlit")]:
        logging.getLogger(name).setLevel(logging.ERROR)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def openings(n: int, seed: int = 16) -> list[CaseOpening]:
    """`n` openings, one case each (distinct merge keys), the distribution above."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        priority = rng.choices(PRIORITIES, weights=(10, 20, 40, 30))[0]
        channel = rng.choice(CHANNELS)
        theme = rng.choice(THEMES)
        segment = rng.choice(SEGMENTS)
        customer = f"c-{rng.randrange(n // 2):08x}"
        opened = NOW - timedelta(minutes=rng.randrange(90 * 24 * 60))
        voices = tuple(
            CaseVoice(
                doc_id=f"bench-{i}-{k}",
                source=f"{channel}_src",
                channel=channel,
                created_at=opened + timedelta(minutes=7 * k),
                excerpt=f"{theme}：第 {i} 位客户的第 {k + 1} 条反馈，等了好几天还没有处理结果",
                sentiment="negative",
                negative_score=round(rng.uniform(0.6, 1.0), 3),
                reach=rng.randrange(500) if channel == "social" else 0,
                theme_label=theme,
                customer_id=customer,
                segment=segment,
            )
            for k in range(rng.choice((1, 1, 2, 3)))
        )
        out.append(
            CaseOpening(
                merge_key=f"doc:bench-{i}",
                rule="benchmark",
                title=f"{theme} · {segment}客户 #{i}",
                voices=voices,
                priority=priority,
                severity={"negative_score": voices[0].negative_score, "reach": voices[0].reach},
                team=rng.choice(TEAMS),
                owner=rng.choice(OWNERS),
                customer_id=customer,
                segment=segment,
                source=f"{channel}_src",
                channel=channel,
                theme_label=theme,
            )
        )
    return out


def fill(store: CaseStore, n: int) -> dict:
    """Open `n` cases (in batches, as daily runs would) and move 2 % on; timings."""
    have = store.count_cases(CaseFilters())
    if have >= n:
        log(f"store holds {have:,} cases: reused")
        return {"reused": True, "cases": have}
    started = time.perf_counter()
    wanted = openings(n)[have:]
    for start in range(0, len(wanted), BATCH):
        store.open_cases(wanted[start : start + BATCH], NOW)
        log(f"  opened {have + start + len(wanted[start : start + BATCH]):,}")
    opened_s = time.perf_counter() - started
    rng = random.Random(7)
    moved = store.list_cases(CaseFilters(statuses=("new",)), limit=n // 50, offset=0)
    for case in rng.sample(moved, len(moved)):
        step = store.move(case.case_id, "acknowledged", "基准", case.version, at=NOW)
        if rng.random() < 0.5:
            step = store.move(case.case_id, "in_progress", "基准", step.version, at=NOW)
        store.record_reply(case.case_id, "基准", step.version, note="已联系", at=NOW)
    return {"reused": False, "cases": n, "open_s": round(opened_s, 1), "moved": len(moved)}


def filter_sets() -> list[tuple[str, CaseFilters, int]]:
    """(name, filters, page number) of the runs: what a reader clicks on the page."""
    open_ = OPEN_STATUSES
    return [
        ("open queue", CaseFilters(statuses=open_), 1),
        ("P1 only", CaseFilters(statuses=open_, priorities=("P1",)), 1),
        ("one team", CaseFilters(statuses=open_, teams=(TEAMS[3],)), 1),
        ("one owner", CaseFilters(statuses=open_, owners=(OWNERS[17],)), 1),
        ("one channel", CaseFilters(statuses=open_, channels=("social",)), 1),
        ("open queue, page 40", CaseFilters(statuses=open_), 40),
    ]


def _sla_config():
    """Two policies (P1/P2 tickets fast, everything else slower) on the working calendar;
    None without `voc.sla`."""
    try:
        from voc.sla import parse_sla_config
    except ImportError:
        return None
    return parse_sla_config(
        {
            "policies": [
                {"priority": ["P1", "P2"], "first_response": "2h", "resolution": "1d"},
                {"first_response": "8h", "resolution": "3d", "time": "calendar"},
            ]
        },
        "benchmark",
        now=NOW,
    )


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(store: CaseStore, runs: int) -> list[dict]:
    """p50/p95 of the page's data calls per run, over `runs` runs cycling the filters."""
    from dashboard.views.cases import PAGE_SIZE, read_detail, read_queue

    sla = _sla_config()
    sets = filter_sets()
    times: dict[str, list[float]] = {"queue": [], "sla": [], "detail": [], "page data": []}
    for k in range(runs):
        name, filters, page_no = sets[k % len(sets)]
        t0 = time.perf_counter()
        queue = read_queue(store, filters, page_no, PAGE_SIZE)
        t1 = time.perf_counter()
        if sla is not None:
            from dashboard.case_sla import sla_of

            sla_of(store, queue.cases, sla, NOW)
        t2 = time.perf_counter()
        if queue.cases:
            read_detail(store, queue.cases[k % len(queue.cases)].case_id)
        t3 = time.perf_counter()
        times["queue"].append(t1 - t0)
        times["sla"].append(t2 - t1)
        times["detail"].append(t3 - t2)
        times["page data"].append(t3 - t0)
        log(f"  run {k + 1:>3} {name:<20} {queue.total:>7,} cases  {t3 - t0:.3f}s")
    return [
        {
            "part": part,
            "p50_s": round(statistics.median(v), 4),
            "p95_s": round(_pct(v, 0.95), 4),
            "max_s": round(max(v), 4),
        }
        for part, v in times.items()
        if part != "sla" or sla is not None
    ]


def measure_page(url: str, runs: int) -> dict:
    """Whole runs of the 工单 page (app.py) in AppTest, the store by URL."""
    import tempfile

    from streamlit.testing.v1 import AppTest

    os.environ["VOC_CASES_DATABASE_URL"] = url
    os.environ["VOC_DB"] = str(Path(tempfile.mkdtemp()) / "voc.duckdb")  # no warehouse
    os.environ.pop("VOC_DASHBOARD_PASSWORD", None)
    app = str(ROOT.parent / "dashboard" / "app.py")
    at = AppTest.from_file(app, default_timeout=120)
    at.query_params["page"] = "cases"
    at.run()  # imports and the engine: once per server, not per view
    _quiet_streamlit()
    if at.exception:
        raise RuntimeError(at.exception)
    times = []
    for k in range(runs):
        priorities = [["P1"], [], ["P2", "P3"]][k % 3]
        at.multiselect(key="cs_priorities").set_value(priorities)
        t0 = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - t0)
        if at.exception:
            raise RuntimeError(at.exception)
        shown = [d.value for d in at.dataframe if "工单号" in d.value.columns]
        if not shown or len(shown[0]) == 0:  # the page must have drawn its queue
            raise RuntimeError(f"the page showed no queue: {[e.value for e in at.error]}")
        log(f"  page run {k + 1:>3} {','.join(priorities) or 'all':<8} {times[-1]:.3f}s")
    return {
        "part": "whole page (AppTest)",
        "p50_s": round(statistics.median(times), 4),
        "p95_s": round(_pct(times, 0.95), 4),
        "max_s": round(max(times), 4),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--url", help="case store URL (default: a cached SQLite file)")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--page-runs", type=int, default=10)
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    url = args.url
    if url is None:
        path = ROOT / ".cache" / f"cases-page-{args.cases}.sqlite"
        path.parent.mkdir(parents=True, exist_ok=True)
        if args.regenerate:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    engine = connect_store(url)
    create_schema(engine)
    store = CaseStore(engine)
    log(f"filling {args.cases:,} cases …")
    filled = fill(store, args.cases)
    n_open = store.count_cases(CaseFilters(statuses=OPEN_STATUSES))
    log(f"{n_open:,} open cases; timing the page's data calls ({args.runs} runs) …")
    results = measure(store, args.runs)
    if args.page_runs:
        log(f"timing whole page runs ({args.page_runs}) …")
        results.append(measure_page(url, args.page_runs))
    worst = max(r["p95_s"] for r in results if r["part"] in ("page data", "whole page (AppTest)"))
    summary = {
        "store": engine.dialect.name,
        "open_cases": n_open,
        "fill": filled,
        "results": results,
        "target_p95_s": 1.0,
        "meets_target": worst <= 1.0,
    }
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        print(f"工单 page, {n_open:,} open cases ({engine.dialect.name}): fill {filled}")
        for r in results:
            print(
                f"  {r['part']:<22} p50 {r['p50_s']:.3f}s  p95 {r['p95_s']:.3f}s  "
                f"max {r['max_s']:.3f}s"
            )
        verdict = "met" if summary["meets_target"] else "NOT met"
        print(f"target p95 ≤ 1 s: {verdict} (worst {worst:.3f}s)")
    return 0 if summary["meets_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
