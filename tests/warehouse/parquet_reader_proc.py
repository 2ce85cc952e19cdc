"""A reader process of the shared Parquet warehouse for the concurrency test: opens a fresh
connection again and again until told to stop, checks each read is one whole export, and
prints what it saw as JSON.

Usage: python parquet_reader_proc.py SHARED_DIR STOP_FILE PER_ROUND MAX_SECONDS
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from warehouse.parquet_reader import load_manifest, open_parquet_warehouse

_ROUNDS = (
    "SELECT split_part({col}, '-', 2)::INTEGER AS r, count(*) FROM {table} "
    "WHERE {col} LIKE 'round-%' GROUP BY r ORDER BY r"
)


def read_once(out: Path, per_round: int) -> tuple[str, list[int], list[str]]:
    """One read: (export id, rounds seen, problems)."""
    manifest = load_manifest(out)
    problems = []
    with open_parquet_warehouse(out, manifest) as con:
        docs = dict(con.execute(_ROUNDS.format(col="id", table="raw_documents")).fetchall())
        scores = dict(con.execute(_ROUNDS.format(col="doc_id", table="doc_sentiment")).fetchall())
        total = con.execute("SELECT count(*) FROM raw_documents").fetchone()[0]
    expected = {r: per_round for r in range(len(docs))}
    if docs != expected or scores != expected:
        problems.append(f"{manifest['export_id']}: documents {docs}, sentiment {scores}")
    listed = sum(p["rows"] for p in manifest["tables"]["raw_documents"]["partitions"].values())
    if total != listed:
        problems.append(f"{manifest['export_id']}: {total} documents, manifest says {listed}")
    return manifest["export_id"], sorted(docs), problems


def main(argv: list[str]) -> int:
    out, stop, per_round, max_seconds = Path(argv[0]), Path(argv[1]), int(argv[2]), float(argv[3])
    deadline = time.monotonic() + max_seconds
    reads, exports, rounds, errors = 0, [], [], []
    while time.monotonic() < deadline:
        finished = stop.exists()  # one more read after the writer's last export
        try:
            export_id, seen, problems = read_once(out, per_round)
        except Exception as exc:  # reported to the test, which fails on any
            errors.append(f"{type(exc).__name__}: {exc}")
        else:
            reads += 1
            errors.extend(problems)
            rounds = seen
            if export_id not in exports:
                exports.append(export_id)
        if finished:
            break
        time.sleep(0.02)
    print(json.dumps({"reads": reads, "exports": exports, "rounds": rounds, "errors": errors}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
