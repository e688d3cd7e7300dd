"""SQLite ingest in steady state: many points that already have history, polled every second.

A fresh file takes samples fast because every point's rows share a few leaf pages. Once
each point has more history than a leaf holds (about 800 samples at 16 KiB pages), every
point has a leaf of its own, and a write costs about one leaf read and one WAL page per
point touched. This bench builds that state (`--points` points with `--history` s of
1 s samples), copies it for every run, then ingests `--seconds` s more:

- historian: `SqliteHistorian.write` (rows sorted by point, rollups kept) in transactions of
  `--writes` samples: the collector's writer takes more buffer rows per write when behind;
- baseline, same run and file: the pre-encoded rows in arrival order (poll after poll),
  `executemany` in transactions of 20,000 samples, no rollups: what the historian did
  before, and what any per-poll insert does.

    .venv/bin/python bench/bench_historian_steady.py [--points 10000] [--history 1200]
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

import numpy as np

from heatnet.samples import SampleBatch
from historian.sqlite import CACHE_KIB, EPOCH_S, INSERT_SAMPLE, SqliteHistorian, encode_values

BASE_MS = 1_765_756_800_000
BASELINE_WRITE = 20_000


def poll(paths: list[str], second: int, rng: np.random.Generator) -> SampleBatch:
    """One poll of every point: values like 0.01-scaled registers."""
    values = np.round(50.0 + rng.normal(0.0, 10.0, len(paths)), 2)
    return SampleBatch.of(paths, BASE_MS + second * 1000, values)


def aged_file(folder: Path, paths: list[str], history_s: int) -> Path:
    """A historian holding `history_s` seconds of every point, written in bulk."""
    path = folder / "aged.sqlite"
    rng = np.random.default_rng(1)
    store = SqliteHistorian(path)
    for second in range(0, history_s, 60):
        store.write(SampleBatch.concat([poll(paths, second + k, rng) for k in range(60)]))
    store.close()
    return path


def fresh_copy(aged: Path, folder: Path, name: str) -> Path:
    target = folder / name
    shutil.copyfile(aged, target)
    return target


def historian_run(path: Path, polls: list[SampleBatch], write: int) -> float:
    """Samples/s through SqliteHistorian.write in transactions of `write` samples."""
    store = SqliteHistorian(path)
    everything = SampleBatch.concat(polls)
    began = time.perf_counter()
    for start in range(0, len(everything), write):
        stop = min(start + write, len(everything))
        store.write(
            SampleBatch(
                everything.paths[start:stop],
                everything.ts_ms[start:stop],
                everything.values[start:stop],
                everything.quality[start:stop],
                everything.reason[start:stop],
            )
        )
    store.flush()
    elapsed = time.perf_counter() - began
    store.close()
    return len(everything) / elapsed


def raw_run(path: Path, polls: list[SampleBatch]) -> float:
    """Samples/s of pre-encoded rows by executemany, in arrival order, 20,000 a transaction."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    ids = dict(db.execute("SELECT path, id FROM points"))
    rows = []
    for batch in polls:
        t, ms = divmod(int(batch.ts_ms[0]), 1000)
        rows.extend(
            (ids[p], t - EPOCH_S, ms, v, 0, 0)
            for p, v in zip(batch.paths, encode_values(batch), strict=True)
        )
    began = time.perf_counter()
    for start in range(0, len(rows), BASELINE_WRITE):
        db.execute("BEGIN")
        db.executemany(INSERT_SAMPLE, rows[start : start + BASELINE_WRITE])
        db.execute("COMMIT")
    elapsed = time.perf_counter() - began
    db.close()
    return len(rows) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--history", type=int, default=1200, help="seconds of 1 s samples")
    parser.add_argument("--seconds", type=int, default=60, help="seconds ingested per run")
    parser.add_argument("--writes", default="20000,100000,600000")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-steady-"))
    paths = [f"bench/ss{i // 100:04d}/p{i % 100:02d}" for i in range(args.points)]
    began = time.perf_counter()
    aged = aged_file(folder, paths, args.history)
    print(
        f"{args.points:,} points with {args.history} s of history "
        f"({aged.stat().st_size / 1e6:.0f} MB, built in {time.perf_counter() - began:.0f} s); "
        f"{args.seconds} s more ingested per run, 1 s polls"
    )
    rng = np.random.default_rng(2)
    polls = [poll(paths, args.history + k, rng) for k in range(args.seconds)]
    baseline = raw_run(fresh_copy(aged, folder, "raw.sqlite"), polls)
    print(
        f"baseline: executemany, arrival order, {BASELINE_WRITE:,} a transaction  "
        f"{baseline:9,.0f} samples/s"
    )
    for write in (int(w) for w in args.writes.split(",")):
        rate = historian_run(fresh_copy(aged, folder, f"h{write}.sqlite"), polls, write)
        print(
            f"SqliteHistorian.write, {write:>9,} samples a write           "
            f"{rate:9,.0f} samples/s  ({rate / baseline:.2f}x)"
        )
    fresh = historian_run(folder / "fresh.sqlite", polls, BASELINE_WRITE)
    print(
        f"for scale: the same into an empty file, {BASELINE_WRITE:,} a write        "
        f"{fresh:9,.0f} samples/s"
    )
    shutil.rmtree(folder)


if __name__ == "__main__":
    main()
