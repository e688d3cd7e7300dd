"""Analytics kernels on a season of synthetic data against a plain pandas groupby.

120 days; 2,000 room sensors every 10 minutes (compliance: daily and hourly means, per
room/building/substation figures) and 200 substations every 5 minutes (balance: heat on
both sides, daily means, energy, loss ratio). Both paths see the same arrays, chunked by
rooms or substations so that peak memory stays bounded. Prints times and ratios.
"""

from __future__ import annotations

import resource
import time
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from analytics.balance import heat_balance
from analytics.calendar import align, bucket_mean
from analytics.compliance import RoomIndex, compliance
from analytics.water import heat_kw

TZ = ZoneInfo("Asia/Shanghai")
DAYS = 120
START_MS = int(np.datetime64("2026-11-14T16:00", "ms").astype(np.int64))  # 15 Nov, local
ROOMS, ROOM_STEP_S, ROOM_CHUNK = 2000, 600, 250
SUBS, SUB_STEP_S, SUB_CHUNK = 200, 300, 25


def rooms_index() -> RoomIndex:
    paths = [f"ss{r // 10:03d}/b{r // 5 % 2}/r{r % 5}" for r in range(ROOMS)]
    floors = np.where(np.arange(ROOMS) % 5 == 4, 15.0, 18.0)  # one kitchen in five
    return RoomIndex(
        tuple(paths),
        tuple(p.rsplit("/", 1)[0] for p in paths),
        tuple(p.split("/", 1)[0] for p in paths),
        floors,
    )


def room_chunk(rng: np.random.Generator, t_ms: np.ndarray, n: int) -> np.ndarray:
    hours = (t_ms - START_MS) / 3.6e6
    level = rng.normal(19.5, 1.5, (n, 1))
    values = level + 1.5 * np.sin(2 * np.pi * hours / 24.0) + rng.normal(0, 0.3, (n, t_ms.size))
    values[rng.random(values.shape) < 0.01] = np.nan
    return values


def pandas_room_means(values: np.ndarray, t_ms: np.ndarray, first: int) -> tuple:
    n, m = values.shape
    local = pd.to_datetime(np.tile(t_ms, n), unit="ms", utc=True).tz_convert(TZ)
    frame = pd.DataFrame(
        {"room": np.repeat(np.arange(first, first + n), m), "value": values.ravel()}
    )
    frame["day"] = local.floor("D", ambiguous=False, nonexistent="shift_forward")
    frame["hour"] = local.floor("h", ambiguous=False, nonexistent="shift_forward")
    daily = frame.groupby(["room", "day"])["value"].mean().unstack()
    hourly = frame.groupby(["room", "hour"])["value"].mean().unstack()
    return daily, hourly


def pandas_compliance(daily: pd.DataFrame, hourly: pd.DataFrame, index: RoomIndex) -> pd.DataFrame:
    floors = pd.Series(index.floors, index=daily.index)
    below = daily.lt(floors, axis=0)
    room = pd.DataFrame(
        {
            "days_below": below.sum(axis=1),
            "hours_below": hourly.lt(floors, axis=0).sum(axis=1),
            "deficit": hourly.rsub(floors, axis=0).clip(lower=0).sum(axis=1),
            "mean": daily.mean(axis=1),
            "overheat": daily.sub(floors + 1.0, axis=0).clip(lower=0).mean(axis=1),
            "building": list(index.buildings),
            "substation": list(index.substations),
        }
    )
    numeric = ["days_below", "hours_below", "deficit", "mean", "overheat"]
    room.groupby("building")[numeric].agg(["sum", "mean"])
    return room.groupby("substation")[numeric].agg(["sum", "mean"])


def bench_compliance() -> tuple[float, float]:
    rng = np.random.default_rng(1)
    index = rooms_index()
    t_ms = START_MS + np.arange(DAYS * 86400 // ROOM_STEP_S, dtype=np.int64) * ROOM_STEP_S * 1000
    days = np.arange(np.datetime64("2026-11-15"), np.datetime64("2026-11-15") + DAYS)
    hours = np.arange(days[0].astype("datetime64[h]"), (days[-1] + 1).astype("datetime64[h]"))
    daily, hourly = np.empty((ROOMS, DAYS)), np.empty((ROOMS, hours.size))
    numpy_s = pandas_s = 0.0
    pandas_daily, pandas_hourly = [], []
    for first in range(0, ROOMS, ROOM_CHUNK):
        values = room_chunk(rng, t_ms, ROOM_CHUNK)
        start = time.perf_counter()
        labels, means, _ = bucket_mean(values, t_ms, TZ)
        daily[first : first + ROOM_CHUNK] = align(labels, means, days)
        labels, means, _ = bucket_mean(values, t_ms, TZ, unit="h")
        hourly[first : first + ROOM_CHUNK] = align(labels, means, hours)
        numpy_s += time.perf_counter() - start
        start = time.perf_counter()
        d, h = pandas_room_means(values, t_ms, first)
        pandas_daily.append(d)
        pandas_hourly.append(h)
        pandas_s += time.perf_counter() - start
        del values
    start = time.perf_counter()
    report = compliance(daily, days, index, hourly_indoor=hourly, hours=hours)
    numpy_s += time.perf_counter() - start
    start = time.perf_counter()
    by_sub = pandas_compliance(pd.concat(pandas_daily), pd.concat(pandas_hourly), index)
    pandas_s += time.perf_counter() - start
    assert report.site.room_days_below == int(by_sub[("days_below", "sum")].sum())
    return numpy_s, pandas_s


def sub_chunk(rng: np.random.Generator, n: int, size: int) -> dict[str, np.ndarray]:
    def series(level: float, spread: float, noise: float) -> np.ndarray:
        return rng.normal(level, spread, (n, 1)) + rng.normal(0, noise, (n, size))

    return {
        "f1_flow": series(30, 5, 0.3),
        "t1_supply": series(110, 5, 0.5),
        "t1_return": series(55, 4, 0.5),
        "f2_flow": series(80, 10, 0.5),
        "t2_supply": series(60, 5, 0.3),
        "t2_return": series(42, 3, 0.3),
    }


def pandas_balance(data: dict[str, np.ndarray], t_ms: np.ndarray, first: int) -> pd.DataFrame:
    n, m = data["f1_flow"].shape
    frame = pd.DataFrame({k: v.ravel() for k, v in data.items()})
    frame["sub"] = np.repeat(np.arange(first, first + n), m)
    local = pd.to_datetime(np.tile(t_ms, n), unit="ms", utc=True).tz_convert(TZ)
    frame["day"] = local.floor("D", ambiguous=False, nonexistent="shift_forward")
    frame["q1"] = heat_kw(frame["f1_flow"], frame["t1_supply"], frame["t1_return"])
    frame["q2"] = heat_kw(frame["f2_flow"], frame["t2_supply"], frame["t2_return"])
    frame["dt2"] = frame["t2_supply"] - frame["t2_return"]
    daily = frame.groupby(["sub", "day"])[["q1", "q2"]].mean()
    totals = frame.groupby("sub")[["q1", "q2", "dt2", "t2_return"]].mean()
    totals["loss_ratio"] = 1 - totals["q2"] / totals["q1"]
    return daily.join(totals, on="sub", suffixes=("", "_period"))


def bench_balance() -> tuple[float, float]:
    rng = np.random.default_rng(2)
    t_ms = START_MS + np.arange(DAYS * 86400 // SUB_STEP_S, dtype=np.int64) * SUB_STEP_S * 1000
    numpy_s = pandas_s = 0.0
    for first in range(0, SUBS, SUB_CHUNK):
        data = sub_chunk(rng, SUB_CHUNK, t_ms.size)
        ids = tuple(f"ss{i:03d}" for i in range(first, first + SUB_CHUNK))
        start = time.perf_counter()
        report = heat_balance(ids, t_ms, TZ, **data)
        numpy_s += time.perf_counter() - start
        start = time.perf_counter()
        frame = pandas_balance(data, t_ms, first)
        pandas_s += time.perf_counter() - start
        assert len(report.days) * SUB_CHUNK == len(frame)
        del data
    return numpy_s, pandas_s


def main() -> None:
    for name, bench in (("compliance", bench_compliance), ("balance", bench_balance)):
        numpy_s, pandas_s = bench()
        print(
            f"{name}: numpy {numpy_s:.2f} s, pandas groupby {pandas_s:.2f} s, "
            f"ratio {pandas_s / numpy_s:.1f}x"
        )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory (both paths): {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
