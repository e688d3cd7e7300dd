"""End to end: a season in SQLite, then compliance and balance through analytics.fetch.

A synthetic site of 200 substations (2 buildings × 5 rooms each: 2,000 room sensors) is
written through SqliteHistorian: the six balance roles every 5 min and every room every
10 min for 120 days (76 M samples), rollups flushed. The file is cached under /tmp keyed
by the parameters (generated in a child process, so its memory is not counted). Then, in
this process: compliance (hourly rollups → daily/hourly matrices) and heat balance
(hourly buckets), timed, with peak resident memory; the baseline is pandas reading the
same hourly rollup rows with read_sql and grouping them by point and local day.

    .venv/bin/python bench/bench_analytics_e2e.py [--days 120] [--substations 200]
"""

from __future__ import annotations

import argparse
import resource
import sqlite3
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analytics import report  # noqa: E402
from analytics.fetch import SiteData  # noqa: E402
from heatnet.loader import load_site  # noqa: E402
from heatnet.samples import SampleBatch  # noqa: E402
from historian.sqlite import SqliteHistorian  # noqa: E402

START = datetime.fromisoformat("2026-11-15T00:00:00+08:00")
SUB_ROLES = ("f1_flow", "t1_supply", "t1_return", "f2_flow", "t2_supply", "t2_return")
ROOMS_PER_BUILDING = 5


def site_file(folder: Path, substations: int, db: Path) -> Path:
    profile = ROOT / "config" / "profiles" / "modbus-substation.yaml"
    building = [
        {"id": f"b{b}", "floor_area_m2": 8000,
         "rooms": [{"id": f"r{r}", "type": "kitchen" if r == 0 else "living"}
                   for r in range(ROOMS_PER_BUILDING)]}
        for b in (1, 2)
    ]  # fmt: skip
    doc = {
        "site": {"id": "bench"},
        "historian": {"backend": "sqlite", "path": str(db)},
        "include": [str(profile)],
        "curves": {
            "src": {"type": "table", "points": [[-30, 130], [30, 110]]},
            "c": {"type": "slope_shift", "slope": 2.0},
        },
        "heat_source": {"supply_curve": "src"},
        "substations": [
            {"id": f"ss{i:03d}", "curve": "c", "buildings": building,
             "devices": [{"id": "plc", "protocol": "modbus", "host": "127.0.0.1",
                          "port": 20000 + i, "unit_id": 1, "profile": "plc-modbus-ss"}]}
            for i in range(substations)
        ],
    }  # fmt: skip
    path = folder / f"bench-site-{substations}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def generate(db: Path, site_path: Path, days: int) -> None:
    """Write the season a day at a time, then flush the rollups."""
    site = load_site(site_path)
    rng = np.random.default_rng(1)
    sub_paths = [f"bench/{s.id}/{r}" for r in SUB_ROLES for s in site.substations]
    room_paths = [
        f"bench/{s.id}/{b.id}/{r.id}/t_indoor"
        for s in site.substations
        for b in s.buildings
        for r in b.rooms
    ]
    level = {"f1_flow": 30.0, "t1_supply": 110.0, "t1_return": 55.0, "f2_flow": 60.0,
             "t2_supply": 60.0, "t2_return": 45.0}  # fmt: skip
    base = np.repeat([level[r] for r in SUB_ROLES], len(site.substations))
    room_base = rng.normal(20.0, 1.5, len(room_paths))
    t0 = round(START.timestamp() * 1000)
    store = SqliteHistorian(db)
    for day in range(days):
        parts = []
        for minute in range(0, 1440, 5):
            ts = t0 + (day * 1440 + minute) * 60_000
            sub_values = np.round(base * (1 + 0.02 * rng.standard_normal(base.size)), 2)
            parts.append(SampleBatch.of(sub_paths, ts, sub_values))
            if minute % 10 == 0:
                rooms = np.round(room_base + 0.3 * rng.standard_normal(room_base.size), 2)
                parts.append(SampleBatch.of(room_paths, ts, rooms))
        store.write(SampleBatch.concat(parts))
        print(f"\rgenerating: day {day + 1}/{days}", end="", file=sys.stderr, flush=True)
    store.close()
    print(file=sys.stderr)


def pandas_baseline(db: Path, tz: str) -> float:
    """read_sql of the same hourly rollup rows, grouped by point and local day."""
    import pandas as pd

    began = time.perf_counter()
    with sqlite3.connect(db) as con:
        frame = pd.read_sql(
            "SELECT p.path, r.bucket, r.vsum, r.n "
            "FROM rollup_1h r JOIN points p ON p.id = r.point_id",
            con,
        )
    stamp = pd.to_datetime((frame["bucket"] + 946_684_800 // 3600) * 3600, unit="s", utc=True)
    frame["day"] = stamp.dt.tz_convert(tz).dt.date
    daily = frame.groupby(["path", "day"])[["vsum", "n"]].sum()
    (daily["vsum"] / daily["n"]).unstack()
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--substations", type=int, default=200)
    parser.add_argument("--generate", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    folder = Path("/tmp/heatnet-bench-e2e")
    folder.mkdir(exist_ok=True)
    db = folder / f"season-{args.days}d-{args.substations}ss.sqlite"
    site_path = site_file(folder, args.substations, db)
    if args.generate:
        generate(args.generate, site_path, args.days)
        return
    if not db.exists():
        partial = db.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        subprocess.run([sys.executable, __file__, "--days", str(args.days),
                        "--substations", str(args.substations), "--generate", str(partial)],
                       check=True)  # fmt: skip
        partial.rename(db)
    site = load_site(site_path)
    store = SqliteHistorian(db)
    data = SiteData(site, store)
    lo = round(START.timestamp() * 1000)
    hi = lo + args.days * 86_400_000
    began = time.perf_counter()
    comp = report.compliance(data, lo, hi)
    t_comp = time.perf_counter() - began
    began = time.perf_counter()
    bal = report.balance(data, lo, hi)
    t_bal = time.perf_counter() - began
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    store.close()
    t_pandas = pandas_baseline(db, site.site.timezone)
    rows = store_rows(db)
    print(f"file {db} ({db.stat().st_size / 1e9:.2f} GB, {rows:,} raw samples)")
    print(
        f"compliance: {t_comp:.2f} s ({len(comp.rooms)} rooms, {len(comp.evidence.points)} points)"
    )
    print(f"balance:    {t_bal:.2f} s ({len(bal.substations)} substations, {len(bal.days)} days)")
    print(
        f"total:      {t_comp + t_bal:.2f} s (goal <= 10 s); "
        f"peak RSS {peak_mb:.0f} MB (goal <= 2048)"
    )
    print(f"pandas read_sql + groupby of the same hourly rows: {t_pandas:.2f} s")
    print(f"ratio pandas / heatnet: {t_pandas / (t_comp + t_bal):.2f}")


def store_rows(db: Path) -> int:
    with sqlite3.connect(db) as con:
        return con.execute("SELECT count(*) FROM samples").fetchone()[0]


if __name__ == "__main__":
    main()
