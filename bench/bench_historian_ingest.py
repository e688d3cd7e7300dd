"""Bench 3: SQLite ingest through SqliteHistorian.write against raw executemany, and bytes/point.

Baseline, measured in the same run: the same encoded rows, already built, inserted with
`executemany` into the same samples table (same pragmas, one transaction per batch), with
no rollups. Goals: ratio ≥ 0.8, ≤ 20 bytes per sample on disk.
Run: .venv/bin/python bench/bench_historian_ingest.py [--points N] [--seconds N] [--every S]
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from pathlib import Path

import numpy as np

from heatnet.samples import SampleBatch
from historian.sqlite import (
    EPOCH_S,
    INSERT_SAMPLE,
    PAGE_SIZE,
    SCHEMA,
    SqliteHistorian,
    encode_values,
)

BASE_MS = 1_765_756_800_000


def batches(points: int, seconds: int, every: int) -> list[SampleBatch]:
    """One poll of every point per `every` seconds; values like a 0.01-scaled register."""
    rng = np.random.default_rng(1)
    paths = [f"bench/ss{i // 40:03d}/p{i % 40:02d}" for i in range(points)]
    level = rng.uniform(20, 120, points)
    return [
        SampleBatch.of(paths, BASE_MS + k * 1000, np.round(level + rng.normal(0, 0.3, points), 2))
        for k in range(0, seconds, every)
    ]


def historian_run(folder: Path, polls: list[SampleBatch]) -> tuple[float, int]:
    store = SqliteHistorian(folder / "historian.sqlite")
    began = time.perf_counter()
    for batch in polls:
        store.write(batch)
    store.flush()
    elapsed = time.perf_counter() - began
    store.close()
    return elapsed, (folder / "historian.sqlite").stat().st_size


def raw_run(folder: Path, polls: list[SampleBatch]) -> float:
    db = sqlite3.connect(folder / "raw.sqlite", isolation_level=None)
    db.execute(f"PRAGMA page_size = {PAGE_SIZE}")
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")  # as the historian: a commit is on disk
    db.executescript(SCHEMA)
    ids = {p: i + 1 for i, p in enumerate(polls[0].paths)}
    prepared = []
    for b in polls:
        t, ms = np.divmod(b.ts_ms, 1000)
        prepared.append(
            list(
                zip(
                    [ids[p] for p in b.paths],
                    (t - EPOCH_S).tolist(),
                    ms.tolist(),
                    encode_values(b),
                    b.quality.tolist(),
                    b.reason.tolist(),
                    strict=True,
                )
            )
        )
    began = time.perf_counter()
    for rows in prepared:
        db.execute("BEGIN IMMEDIATE")
        db.executemany(INSERT_SAMPLE, rows)
        db.execute("COMMIT")
    elapsed = time.perf_counter() - began
    db.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=600)
    parser.add_argument("--every", type=int, default=1, help="poll interval, s")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    polls = batches(args.points, args.seconds, args.every)
    samples = sum(len(b) for b in polls)
    ours, raw, size = [], [], 0
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as folder:
            elapsed, size = historian_run(Path(folder), polls)
            ours.append(elapsed)
        with tempfile.TemporaryDirectory() as folder:
            raw.append(raw_run(Path(folder), polls))
    best, base = min(ours), min(raw)
    print(f"{samples:,} samples: {args.points} points every {args.every} s for {args.seconds} s")
    print(f"SqliteHistorian.write: {samples / best:,.0f} samples/s ({best:.2f} s)")
    print(f"raw executemany:       {samples / base:,.0f} samples/s ({base:.2f} s)")
    print(f"ratio: {base / best:.2f} (goal >= 0.8)")
    print(f"on disk: {size / samples:.1f} bytes per sample, rollups included (goal <= 20)")


if __name__ == "__main__":
    main()
