"""Customer import and linking at scale: a 1,000,000-row CRM export and 1,000,000 documents.

1. Generates a 1M-row customer CSV (UTF-8; three keys per row, tiers, regions, owners,
   dates, spend) and a second export of the same customers a month later in which 5% moved
   tier.
2. Baseline, measured in the same run: a plain ``csv.reader`` pass over the first file.
3. ``voc customers import`` work for each file: reading (decoding, header mapping, hashing
   3M keys) and storing (customers, keys, segment history) into a fresh warehouse; then a
   re-import of the second file, which must change nothing.
4. A warehouse with 1M documents carrying customer keys (70% of them a known customer's):
   a full link, then an incremental link after 1,000 new documents.

Targets (issue 15): import and linking each under 60 s on 2 cores.

    python -m benchmarks.customers [--rows 1000000] [--docs 1000000]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd

from scrapers.customer_file import read_customer_file
from voc.customers import CustomerConfig
from voc.records import content_hash, hash_customer_key
from warehouse.customers import link_documents, store_customers
from warehouse.db import open_warehouse, register_frame

SALT = "bench-salt"
HEADER = ["会员号", "姓名", "手机", "邮箱", "客户等级", "省份", "城市", "客户来源", "客户经理",
          "首次下单", "最近下单", "订单数", "累计消费"]  # fmt: skip
TIERS = ["高价值", "高贡献", "一般", "休眠"]
PLACES = [("广东", "深圳"), ("广东", "广州"), ("浙江", "杭州"), ("北京", "北京"), ("上海", "上海"),
          ("四川", "成都"), ("湖北", "武汉"), ("江苏", "南京")]  # fmt: skip
SOURCES = ["CALL IN", "自主开发", "广告", "老客户推荐"]
OWNERS = [f"经理{i:02d}" for i in range(40)]


def write_customers(path: Path, n: int, moved_share: float, seed: int) -> None:
    """One CRM export of customers 0..n-1; `moved_share` of them in another tier."""
    rng = random.Random(seed)
    start = date(2020, 1, 1)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        for i in range(n):
            tier = TIERS[(i * 7) % 4]
            if moved_share and rng.random() < moved_share:
                tier = TIERS[((i * 7) % 4 + 1) % 4]
            province, city = PLACES[i % len(PLACES)]
            first = start + timedelta(days=i % 1500)
            writer.writerow(
                [f"M{i:08d}", f"客户{i}", f"13{i % 10}{i:08d}", f"user{i}@example.com", tier,
                 province, city, SOURCES[i % 4], OWNERS[i % 40], first.isoformat(),
                 (first + timedelta(days=200)).isoformat(), str(i % 50), f"{i % 9973}.50"]
            )  # fmt: skip


def baseline_csv(path: Path) -> float:
    """Seconds of a plain csv.reader pass over the file (decode, split, count)."""
    started = time.perf_counter()
    with path.open(encoding="utf-8", newline="") as fh:
        n = sum(1 for _ in csv.reader(fh))
    assert n > 1
    return time.perf_counter() - started


def import_file(con, path: Path, as_of: date) -> dict:
    """Read and store one customer file; the seconds of each step (wall clock, and CPU
    seconds of this process: the machine is shared) and the counts."""
    started, cpu = time.perf_counter(), time.process_time()
    read = read_customer_file(path, CustomerConfig(), SALT)
    read_s = time.perf_counter() - started
    result = store_customers(
        con, read.name, read.sha256, read.customers, as_of, present=read.columns.keys(),
        n_rows=read.n_rows, n_skipped=read.n_skipped,
    )  # fmt: skip
    total = time.perf_counter() - started
    return {
        "read_s": round(read_s, 2),
        "store_s": round(total - read_s, 2),
        "total_s": round(total, 2),
        "cpu_s": round(time.process_time() - cpu, 2),
        "new": result.n_new,
        "changed": result.n_changed,
        "segment_changes": result.n_segment_changes,
        "unchanged": result.n_unchanged,
        "recorded": result.import_id is not None,
    }


def add_documents(con, n: int, n_customers: int, offset: int = 0) -> None:
    """`n` ticket documents, 70% with a known customer's key (member id, phone or e-mail),
    10% with an unknown key, the rest without one, spread over 90 days."""
    rng = random.Random(offset + 1)
    keys, days = [], []
    start = date(2025, 3, 1)
    for i in range(n):
        r = rng.random()
        c = rng.randrange(n_customers)
        if r < 0.7:
            raw = (f"M{c:08d}", f"13{c % 10}{c:08d}", f"USER{c}@example.com")[i % 3]
            keys.append(hash_customer_key(raw, SALT))
        elif r < 0.8:
            keys.append(hash_customer_key(f"X{i}", SALT))
        else:
            keys.append(None)
        days.append(start + timedelta(days=i % 90))
    ids = [f"d{offset + i:09d}" for i in range(n)]
    frame = pd.DataFrame({"id": ids, "customer_key": keys, "local_day": days})
    frame["created_at"] = pd.to_datetime(frame["local_day"]).dt.tz_localize("Asia/Shanghai")
    register_frame(con, "bench_docs", frame)
    con.execute(
        "INSERT INTO raw_documents (id, source, channel, external_id, text, created_at, "
        "local_day, content_hash, first_run_id, last_run_id, customer_key) "
        "SELECT id, 'helpdesk', 'ticket', id, '物流太慢', created_at, local_day, ?, 'b', 'b', "
        "customer_key FROM bench_docs",
        [content_hash("物流太慢")],
    )
    con.unregister("bench_docs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--docs", type=int, default=1_000_000)
    args = parser.parse_args()
    out: dict = {"rows": args.rows, "docs": args.docs, "cores": os.cpu_count()}
    out["load_average_at_start"] = [round(x, 1) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        first, second = work / "customers_may.csv", work / "customers_june.csv"
        started = time.perf_counter()
        write_customers(first, args.rows, 0.0, 1)
        write_customers(second, args.rows, 0.05, 2)
        out["generate_s"] = round(time.perf_counter() - started, 2)
        out["file_mb"] = round(first.stat().st_size / 1e6, 1)
        out["baseline_csv_reader_s"] = round(baseline_csv(first), 2)
        con = open_warehouse(work / "bench.duckdb")
        out["import_first"] = import_file(con, first, date(2025, 5, 1))
        out["import_second"] = import_file(con, second, date(2025, 6, 1))
        out["reimport_second"] = import_file(con, second, date(2025, 6, 2))
        base = out["baseline_csv_reader_s"]
        out["import_vs_baseline"] = round(out["import_first"]["total_s"] / base, 1)
        started = time.perf_counter()
        add_documents(con, args.docs, args.rows)
        out["documents_insert_s"] = round(time.perf_counter() - started, 2)
        full = link_documents(con)
        out["link_full"] = {"seconds": round(full.seconds, 2), "linked": full.n_linked_total}
        add_documents(con, 1000, args.rows, offset=args.docs)
        step = link_documents(con)
        out["link_incremental_1000"] = {
            "seconds": round(step.seconds, 2),
            "full": step.full,
            "linked": step.n_linked,
        }
        out["link_vs_baseline"] = round(full.seconds / base, 1)
        con.close()
    out["load_average_at_end"] = [round(x, 1) for x in os.getloadavg()]
    out["finished_at"] = datetime.now().isoformat(timespec="seconds")
    print(json.dumps(out, ensure_ascii=False, indent=2))
    for name, seconds in (
        ("import (first file)", out["import_first"]["total_s"]),
        ("import (5% moved)", out["import_second"]["total_s"]),
        ("link (full)", out["link_full"]["seconds"]),
    ):
        verdict = "OK" if seconds < 60 else "OVER TARGET"
        print(f"{name}: {seconds:.1f}s (target < 60s) {verdict}")


if __name__ == "__main__":
    main()
