"""Bench 4: one point's 30-day trend at 1-minute resolution, from rollups against raw rows.

Baseline, measured in the same run: the same buckets aggregated in SQL from the raw rows
(the path read_buckets takes for sizes that are not whole minutes).
Run: .venv/bin/python bench/bench_historian_trend.py [--days N] [--every S]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from pathlib import Path

import numpy as np

from heatnet.samples import SampleBatch
from historian.base import AGGREGATES
from historian.buckets import Parts, columns_for, merge_parts
from historian.sqlite import EPOCH_S, MINUTE_MS, SqliteHistorian
from historian.sqlite_read import RAW_PARTS

BASE_MS = 1_765_756_800_000
PATH = "bench/ss001/t2_supply"
DAY_MS = 86_400_000


def best_of(rounds: int, read: object) -> tuple[float, object]:
    times, result = [], None
    for _ in range(rounds):
        began = time.perf_counter()
        result = read()  # type: ignore[operator]
        times.append(time.perf_counter() - began)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--every", type=int, default=5, help="poll interval, s")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as folder:
        store = SqliteHistorian(Path(folder) / "historian.sqlite")
        per_day = np.arange(0, DAY_MS, args.every * 1000)
        for day in range(args.days):
            ts = BASE_MS + day * DAY_MS + per_day
            values = np.round(55 + rng.normal(0, 2, len(ts)), 2)
            store.write(SampleBatch.of([PATH] * len(ts), ts, values))
        store.flush()
        end = BASE_MS + args.days * DAY_MS
        rollup_s, buckets = best_of(args.rounds, lambda: store.read_buckets(PATH, BASE_MS, end, 60))

        raw_db = sqlite3.connect(store.path)
        pid = raw_db.execute("SELECT id FROM points WHERE path = ?", (PATH,)).fetchone()[0]
        range_ = {
            "ids": json.dumps([pid]),
            "t0": BASE_MS // 1000 - EPOCH_S,
            "t1": (end - 1) // 1000 - EPOCH_S,
            "lo": BASE_MS,
            "hi": end,
            "bms": MINUTE_MS,
        }

        def from_raw() -> object:
            rows = raw_db.execute(RAW_PARTS, range_).fetchall()
            return merge_parts({pid: PATH}, 60, Parts.of_rows(rows, columns_for(AGGREGATES)))[PATH]

        raw_s, raw = best_of(args.rounds, from_raw)
        raw_db.close()
        store.close()
    assert np.array_equal(buckets.count, raw.count) and np.allclose(buckets.mean, raw.mean)  # type: ignore[attr-defined]
    samples = args.days * len(per_day)
    print(f"{samples:,} raw samples of one point ({args.every} s for {args.days} days)")
    print(f"{len(buckets.count):,} one-minute buckets")
    print(f"from the 1-minute rollup: {rollup_s * 1000:.1f} ms")
    print(f"from raw rows (baseline): {raw_s * 1000:.1f} ms")
    print(f"ratio: {raw_s / rollup_s:.1f}x faster from rollups")


if __name__ == "__main__":
    main()
