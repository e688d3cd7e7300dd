"""End to end: a season in SQLite, then compliance and balance through analytics.fetch.

Synthetic site: 200 substations (2 buildings × 5 rooms each: 2,000 room sensors); the six
balance roles every 5 min and every room every 10 min for 120 days.

Default (`--source rollups`): the season's HOURLY ROLLUPS are generated straight into the
historian's schema (points + rollup_1h: vmin, vmax, vsum, n, vlast per point and hour, n =
12 or 6 samples) with executemany from numpy; RAW ROWS ARE OMITTED (writing 76 M samples
through SqliteHistorian takes about an hour) because compliance and balance are served
from the hourly rollups alone: a period of whole hours never touches raw rows or rollup_1m.
Values follow plausible physics: a daily outdoor cycle with weather spells, per-substation
curve offsets, flows and heat that follow the outdoor temperature, rooms with their own
level and a lagged daily swing. `--source raw` keeps the small mode that writes raw samples
through SqliteHistorian (rollups computed by the historian), e.g. `--days 3`.

The file is cached under /tmp/heatnet-bench-e2e keyed by source, days and substations, and
generated in a child process. The analytics run in a fresh child process too, so its peak
RSS (ru_maxrss) is theirs alone; then pandas, in another fresh process, reads the same hourly
rollup rows with read_sql and groups them into the same compliance and balance numbers.

    .venv/bin/python bench/bench_analytics_e2e.py [--days 120] [--substations 200]
        [--source rollups|raw]
"""

from __future__ import annotations

import argparse
import json
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
from analytics.water import heat_kw  # noqa: E402
from heatnet.loader import load_site  # noqa: E402
from heatnet.samples import SampleBatch  # noqa: E402
from historian.sqlite import EPOCH_S, SqliteHistorian  # noqa: E402

START = datetime.fromisoformat("2026-11-15T00:00:00+08:00")
SUB_ROLES = ("f1_flow", "t1_supply", "t1_return", "f2_flow", "t2_supply", "t2_return")
ROOMS_PER_BUILDING = 5
FOLDER = Path("/tmp/heatnet-bench-e2e")
HOUR_MS = 3_600_000


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
    path = folder / f"{db.stem}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def paths_of(site_path: Path) -> tuple[list[str], list[str]]:
    """Substation role paths (role-major) and room sensor paths, in site order."""
    site = load_site(site_path)
    subs = [f"bench/{s.id}/{r}" for r in SUB_ROLES for s in site.substations]
    rooms = [
        f"bench/{s.id}/{b.id}/{r.id}/t_indoor"
        for s in site.substations
        for b in s.buildings
        for r in b.rooms
    ]
    return subs, rooms


def outdoor(hours: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Outdoor °C per hour: Tai'an winter, a daily cycle (coldest at 6:00 local), 5-day spells."""
    local_h = (hours + 8) % 24
    spells = np.repeat(rng.normal(0.0, 3.0, hours.size // 120 + 1), 120)[: hours.size]
    season = -3.0 * np.sin(np.pi * hours / hours.size)  # coldest mid-season
    return 1.0 + season + spells - 4.0 * np.cos(2 * np.pi * (local_h - 6) / 24)


def sub_hourly(t_out: np.ndarray, subs: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Hourly means of the balance roles (substations × hours) from the curve and the load."""
    offset = rng.normal(0.0, 2.0, (subs, 1))  # curve shift per substation
    load = np.clip((18.0 - t_out) / (18.0 + 6.7), 0.05, None)  # DOMAIN.md q at Tai'an design
    t2_supply = 20.0 + offset + 2.0 * (20.0 - t_out)
    design_f2 = rng.uniform(40.0, 80.0, (subs, 1))
    f2 = design_f2 * (1 + 0.02 * rng.standard_normal((subs, t_out.size)))
    q2 = load * design_f2 * 1.163 * 25.0  # kW at 25 K design spread
    t2_return = t2_supply - q2 / (1.163 * f2)
    t1_supply = 95.0 + 1.2 * (5.0 - t_out) + np.zeros((subs, 1))
    loss = rng.uniform(0.01, 0.05, (subs, 1))
    t1_return = t2_return + rng.uniform(3.0, 8.0, (subs, 1))
    f1 = q2 / (1 - loss) / (1.163 * (t1_supply - t1_return))
    return {"f1_flow": f1, "t1_supply": t1_supply, "t1_return": t1_return, "f2_flow": f2,
            "t2_supply": t2_supply, "t2_return": t2_return}  # fmt: skip


def room_hourly(t_out: np.ndarray, rooms: int, rng: np.random.Generator) -> np.ndarray:
    """Hourly room means: own level (some rooms below 18 °C), weather lagged a day, daily swing."""
    level = rng.normal(20.0, 1.5, (rooms, 1))
    lagged = np.r_[np.full(24, t_out[0]), t_out[:-24]]
    local_h = (np.arange(t_out.size) + 8) % 24
    swing = 0.6 * np.sin(2 * np.pi * (local_h - 9) / 24)
    return level + 0.1 * (lagged - lagged.mean()) + swing + rng.normal(0, 0.15, (rooms, t_out.size))


def insert_rollups(
    db: sqlite3.Connection, first_id: int, hourly: np.ndarray, hour0: int, per_hour: int, rng
) -> None:
    """rollup_1h rows of consecutive point ids: n samples per hour around each hourly mean."""
    points, hours = hourly.shape
    spread = np.abs(rng.normal(0.0, 0.01, hourly.shape)) * np.abs(hourly) + 0.01
    vlast = hourly + rng.uniform(-1, 1, hourly.shape) * spread
    rows = zip(
        np.repeat(np.arange(first_id, first_id + points), hours).tolist(),
        np.tile(np.arange(hour0, hour0 + hours), points).tolist(),
        (hourly - spread).ravel().tolist(),
        (hourly + spread).ravel().tolist(),
        (hourly * per_hour).ravel().tolist(),
        [per_hour] * (points * hours),
        vlast.ravel().tolist(),
        strict=True,
    )
    db.executemany("INSERT INTO rollup_1h VALUES (?, ?, ?, ?, ?, ?, ?)", rows)


def generate_rollups(db_path: Path, site_path: Path, days: int) -> None:
    """points + rollup_1h of the season, straight into the historian's schema."""
    SqliteHistorian(db_path).close()  # the schema
    sub_paths, room_paths = paths_of(site_path)
    rng = np.random.default_rng(1)
    t0 = round(START.timestamp() * 1000)
    hours = np.arange(days * 24)
    hour0 = t0 // HOUR_MS - EPOCH_S // 3600
    t_out = outdoor(hours, rng)
    db = sqlite3.connect(db_path, isolation_level=None)
    db.execute("PRAGMA synchronous = OFF")
    db.execute("BEGIN")
    db.executemany("INSERT INTO points (id, path) VALUES (?, ?)",
                   enumerate(sub_paths + room_paths, 1))  # fmt: skip
    subs = len(sub_paths) // len(SUB_ROLES)
    series = sub_hourly(t_out, subs, rng)
    for k, role in enumerate(SUB_ROLES):
        insert_rollups(db, 1 + k * subs, series[role], hour0, 12, rng)
    first_room = 1 + len(sub_paths)
    for first in range(0, len(room_paths), 250):
        count = min(250, len(room_paths) - first)
        insert_rollups(db, first_room + first, room_hourly(t_out, count, rng), hour0, 6, rng)
        print(f"\rgenerating rollups: rooms {first + count}/{len(room_paths)}", end="",
              file=sys.stderr, flush=True)  # fmt: skip
    db.execute("COMMIT")
    db.close()
    print(file=sys.stderr)


def generate_raw(db: Path, site_path: Path, days: int) -> None:
    """Write raw samples a day at a time through SqliteHistorian, then flush the rollups."""
    sub_paths, room_paths = paths_of(site_path)
    rng = np.random.default_rng(1)
    level = {"f1_flow": 30.0, "t1_supply": 110.0, "t1_return": 55.0, "f2_flow": 60.0,
             "t2_supply": 60.0, "t2_return": 45.0}  # fmt: skip
    base = np.repeat([level[r] for r in SUB_ROLES], len(sub_paths) // len(SUB_ROLES))
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
        print(f"\rgenerating raw: day {day + 1}/{days}", end="", file=sys.stderr, flush=True)
    store.close()
    print(file=sys.stderr)


def run_heatnet(db: Path, site_path: Path, days: int) -> dict[str, float]:
    """Compliance and balance through SiteData + report, timed; peak RSS of this process."""
    site = load_site(site_path)
    store = SqliteHistorian(db)
    data = SiteData(site, store)
    lo = round(START.timestamp() * 1000)
    hi = lo + days * 86_400_000
    began = time.perf_counter()
    comp = report.compliance(data, lo, hi)
    t_comp = time.perf_counter() - began
    began = time.perf_counter()
    bal = report.balance(data, lo, hi)
    t_bal = time.perf_counter() - began
    store.close()
    return {
        "compliance_s": t_comp,
        "balance_s": t_bal,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "room_days_below": comp.site.room_days_below,
        "hours_below": comp.site.hours_below,
        "loss_ratio_mean": float(np.mean([s.loss_ratio for s in bal.substations])),
    }


def run_pandas(db: Path, site_path: Path) -> dict[str, float]:
    """read_sql of the same hourly rollup rows; groupby into the same compliance and balance
    figures: room days and hours below the floor, heat on both sides, loss ratio."""
    import pandas as pd

    site = load_site(site_path)
    tz = site.site.timezone
    began = time.perf_counter()
    with sqlite3.connect(db) as con:
        frame = pd.read_sql(
            "SELECT p.path, r.bucket, r.vsum, r.n "
            "FROM rollup_1h r JOIN points p ON p.id = r.point_id",
            con,
        )
    frame["mean"] = frame["vsum"] / frame["n"]
    stamp = pd.to_datetime((frame["bucket"] + EPOCH_S // 3600) * 3600, unit="s", utc=True)
    frame["day"] = stamp.dt.tz_convert(tz).dt.date
    rooms = frame[frame["path"].str.endswith("/t_indoor")]
    floors = np.where(rooms["path"].str.contains("/r0/"), 15.0, 18.0)
    daily = rooms.groupby(["path", "day"])[["vsum", "n"]].sum()
    daily_mean = daily["vsum"] / daily["n"]
    room_floor = pd.Series(floors, index=rooms.index).groupby(rooms["path"]).first()
    room_days_below = int((daily_mean < room_floor.reindex(daily_mean.index, level=0)).sum())
    hours_below = int((rooms["mean"] < floors).sum())
    subs = frame[~frame["path"].str.endswith("/t_indoor")]
    parts = subs["path"].str.split("/", expand=True)
    wide = subs.assign(sub=parts[1], role=parts[2]).pivot_table(
        index=["sub", "bucket"], columns="role", values="mean"
    )
    wide["q1"] = heat_kw(wide["f1_flow"], wide["t1_supply"], wide["t1_return"])
    wide["q2"] = heat_kw(wide["f2_flow"], wide["t2_supply"], wide["t2_return"])
    totals = wide.groupby(level="sub")[["q1", "q2"]].mean()
    loss = 1 - totals["q2"] / totals["q1"]
    return {
        "pandas_s": time.perf_counter() - began,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "room_days_below": room_days_below,
        "hours_below": hours_below,
        "loss_ratio_mean": float(loss.mean()),
    }


def child(mode: str, args: argparse.Namespace, db: Path) -> dict[str, float]:
    """Run one mode in a fresh interpreter; its JSON answer."""
    argv = [sys.executable, __file__, "--days", str(args.days), "--substations",
            str(args.substations), "--source", args.source, "--child", mode]  # fmt: skip
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--substations", type=int, default=200)
    parser.add_argument("--source", choices=("rollups", "raw"), default="rollups")
    parser.add_argument(
        "--child", choices=("generate", "heatnet", "pandas"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    FOLDER.mkdir(exist_ok=True)
    db = FOLDER / f"season-{args.source}-{args.days}d-{args.substations}ss.sqlite"
    site_path = site_file(FOLDER, args.substations, db)
    if args.child == "generate":
        partial = db.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        (generate_rollups if args.source == "rollups" else generate_raw)(
            partial, site_path, args.days
        )
        partial.rename(db)
        return
    if args.child == "heatnet":
        print(json.dumps(run_heatnet(db, site_path, args.days)))
        return
    if args.child == "pandas":
        print(json.dumps(run_pandas(db, site_path)))
        return
    if not db.exists():
        subprocess.run([sys.executable, __file__, "--days", str(args.days), "--substations",
                        str(args.substations), "--source", args.source, "--child", "generate"],
                       check=True)  # fmt: skip
    ours = child("heatnet", args, db)
    theirs = child("pandas", args, db)
    with sqlite3.connect(db) as con:
        rollup_rows = con.execute("SELECT count(*) FROM rollup_1h").fetchone()[0]
        raw_rows = con.execute("SELECT count(*) FROM samples").fetchone()[0]
    total = ours["compliance_s"] + ours["balance_s"]
    print(f"file {db} ({db.stat().st_size / 1e9:.2f} GB, {rollup_rows:,} hourly rollup rows, "
          f"{raw_rows:,} raw samples)")  # fmt: skip
    print(f"compliance: {ours['compliance_s']:.2f} s; balance: {ours['balance_s']:.2f} s")
    print(f"total:      {total:.2f} s (goal <= 10 s); peak RSS {ours['rss_mb']:.0f} MB "
          f"(goal <= 2048; fresh process)")  # fmt: skip
    print(f"pandas read_sql + groupby, same rows and figures: {theirs['pandas_s']:.2f} s, "
          f"peak RSS {theirs['rss_mb']:.0f} MB")  # fmt: skip
    print(f"ratio pandas / heatnet: {theirs['pandas_s'] / total:.2f}")
    for key in ("room_days_below", "hours_below", "loss_ratio_mean"):
        print(f"  {key}: heatnet {ours[key]:.6g}, pandas {theirs[key]:.6g}")


if __name__ == "__main__":
    main()
