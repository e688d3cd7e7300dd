"""A season of a 200-substation site in a SqliteHistorian file, written in bulk for benches.

Going through SqliteHistorian.write would take hours at this size (it recomputes rollups
minute by minute), so rows are written straight into its schema: raw samples as exact
thousandths, their minute rollups, and hour rollups computed in numpy. `check()` writes a
small slice both ways and compares what the historian reads back.

What is stored (a subset of the full 145 M raw samples: 24.6 M raw, 2.8 GB, ~2 min to write):
- hour rollups for the whole season of every point: 21 substation roles every 5 min,
  6 heat-source roles every 5 min, every room sensor every 10 min;
- raw samples and minute rollups for the whole season where the dashboard reads raw over
  a season (t2_supply and q2_power of every substation and src_running, for the outage
  page) and for every role of the first substation (the trend measured);
- raw samples and minute rollups of every other point for the last RAW_DAYS days, as a
  historian with raw retention would hold them.
Plus an alarm journal: EPISODES raise/ack/clear episodes per substation over the season,
some still active at its end.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from analytics.compliance import RoomIndex
from heatnet.config import SiteConfig
from heatnet.samples import SampleBatch
from historian.base import AlarmEvent
from historian.sqlite import EPOCH_S, PAGE_SIZE, SCHEMA, SqliteHistorian

START = datetime.fromisoformat("2026-11-15T00:00:00+08:00")
SUB_STEP_S = 300
ROOM_STEP_S = 600
RAW_DAYS = 7
EPISODES = 20
# role -> (level, daily swing, noise); the non-settings points of the plc-modbus-ss profile
SUB_ROLES: dict[str, tuple[float, float, float]] = {
    "t1_supply": (105.0, 8.0, 0.5),
    "t1_return": (50.0, 4.0, 0.5),
    "t2_supply": (55.0, 5.0, 0.3),
    "t2_return": (42.0, 3.0, 0.3),
    "t_outdoor": (-5.0, 4.0, 0.2),
    "t2_setpoint": (55.0, 5.0, 0.0),
    "p1_supply": (0.9, 0.02, 0.005),
    "p1_return": (0.4, 0.02, 0.005),
    "p2_supply": (0.45, 0.01, 0.005),
    "p2_return": (0.3, 0.01, 0.005),
    "f1_flow": (12.0, 2.0, 0.3),
    "f2_flow": (40.0, 3.0, 0.5),
    "q1_power": (760.0, 120.0, 20.0),
    "q2_power": (700.0, 110.0, 20.0),
    "e1_energy": (1000.0, 0.0, 0.0),
    "makeup_total": (50.0, 0.0, 0.0),
    "makeup_flow": (0.05, 0.01, 0.005),
    "v1_valve": (60.0, 15.0, 2.0),
    "pump_speed": (40.0, 5.0, 0.5),
    "plc_clock": (0.0, 0.0, 0.0),
    "pump_running": (1.0, 0.0, 0.0),
}
SOURCE_ROLES: dict[str, tuple[float, float, float]] = {
    "t_outdoor": (-5.0, 4.0, 0.2),
    "src_t_supply": (110.0, 8.0, 0.5),
    "src_t_return": (52.0, 4.0, 0.5),
    "src_flow": (2400.0, 200.0, 20.0),
    "src_power": (160000.0, 20000.0, 2000.0),
    "src_running": (1.0, 0.0, 0.0),
}
FULL_RAW_ROLES = ("t2_supply", "q2_power")


def start_ms() -> int:
    return round(START.timestamp() * 1000)


def _series(rng: np.random.Generator, t_ms: NDArray[np.int64], spec: tuple) -> NDArray:
    """Exact thousandths (int64) of level + a daily swing + noise."""
    level, swing, noise = spec
    phase = 2 * np.pi * (t_ms % 86_400_000) / 86_400_000
    values = level + swing * np.sin(phase) + noise * rng.standard_normal(t_ms.size)
    return np.round(values * 1000).astype(np.int64)


def _plan(site: SiteConfig) -> Iterator[tuple[str, int, tuple, bool]]:
    """(path, step s, value spec, raw for the whole season) of every point."""
    sid = site.site.id
    first = site.substations[0].id
    for sub in site.substations:
        for role, spec in SUB_ROLES.items():
            full = role in FULL_RAW_ROLES or sub.id == first
            yield f"{sid}/{sub.id}/{role}", SUB_STEP_S, spec, full
    for role, spec in SOURCE_ROLES.items():
        yield f"{sid}/{site.heat_source.id}/{role}", SUB_STEP_S, spec, role == "src_running"
    for room in RoomIndex.from_site(site).paths:
        yield f"{sid}/{room}/t_indoor", ROOM_STEP_S, (20.5, 0.8, 0.3), False


def _rows(pid: int, t_s: NDArray[np.int64], milli: NDArray[np.int64], raw_from: int) -> tuple:
    """Raw, minute and hour rollup rows of one point (raw and minutes from index raw_from)."""
    t_rel = t_s - EPOCH_S
    v = milli / 1000.0
    raw_t, raw_m, raw_v = t_rel[raw_from:], milli[raw_from:], v[raw_from:]
    n = raw_t.size
    pids, zeros, ones = [pid] * n, [0] * n, [1] * n
    raw = zip(pids, raw_t.tolist(), zeros, raw_m.tolist(), zeros, zeros, strict=True)
    vs = raw_v.tolist()
    minutes = zip(pids, (raw_t // 60).tolist(), vs, vs, vs, ones, vs, strict=True)
    hour = t_rel // 3600
    edges = np.flatnonzero(np.r_[True, np.diff(hour) > 0])
    last = np.r_[edges[1:], hour.size] - 1
    hours = zip(
        [pid] * edges.size,
        hour[edges].tolist(),
        np.minimum.reduceat(v, edges).tolist(),
        np.maximum.reduceat(v, edges).tolist(),
        np.add.reduceat(v, edges).tolist(),
        np.diff(np.r_[edges, hour.size]).tolist(),
        v[last].tolist(),
        strict=True,
    )
    return raw, minutes, hours


def write_season(path: Path, site: SiteConfig, days: int, *, raw_days: int = RAW_DAYS) -> None:
    """Write the season (see the module docstring) into a new SQLite file at path."""
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute(f"PRAGMA page_size = {PAGE_SIZE}")
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    db.execute("PRAGMA cache_size = -200000")
    db.executescript(SCHEMA)
    rng = np.random.default_rng(7)
    t0 = start_ms()
    end = t0 + days * 86_400_000
    db.execute("BEGIN")
    for pid, (point, step_s, spec, full) in enumerate(_plan(site), start=1):
        t_ms = np.arange(t0, end, step_s * 1000, dtype=np.int64)
        milli = _series(rng, t_ms, spec)
        raw_from = 0 if full else max(0, t_ms.size - raw_days * 86_400 // step_s)
        raw, minutes, hours = _rows(pid, t_ms // 1000, milli, raw_from)
        db.execute("INSERT INTO points VALUES (?, ?)", (pid, point))
        db.executemany("INSERT INTO samples VALUES (?, ?, ?, ?, ?, ?)", raw)
        db.executemany("INSERT INTO rollup_1m VALUES (?, ?, ?, ?, ?, ?, ?)", minutes)
        db.executemany("INSERT INTO rollup_1h VALUES (?, ?, ?, ?, ?, ?, ?)", hours)
    db.execute("COMMIT")
    db.execute("PRAGMA journal_mode = WAL")
    db.close()
    store = SqliteHistorian(path)
    store.write_events(alarm_journal(site, t0, end))
    store.close()


def alarm_journal(site: SiteConfig, t0: int, end: int) -> list[AlarmEvent]:
    """EPISODES limit alarms per substation over the season; one in ten still active."""
    rng = np.random.default_rng(11)
    events = []
    for i, sub in enumerate(site.substations):
        point = f"{site.site.id}/{sub.id}/t2_supply"
        alarm_id = f"limit:{point}:high"
        raised = np.sort(rng.integers(t0, end - 3_600_000, EPISODES))
        for k, at in enumerate(raised.tolist()):
            message = f"{sub.id} t2_supply 96.{k} > 95"
            events.append(AlarmEvent(alarm_id, at, "raise", "limit", point, "high", message, 96.0))
            events.append(AlarmEvent(alarm_id, at + 60_000, "ack", "limit", point, "high",
                                     message, None, "operator"))  # fmt: skip
            still_active = k == EPISODES - 1 and i % 10 == 0
            if not still_active:
                events.append(AlarmEvent(alarm_id, at + 1_800_000, "clear", "limit", point,
                                         "high", message, 90.0))  # fmt: skip
    return events


def check(folder: Path, site: SiteConfig) -> None:
    """The bulk writer and SqliteHistorian.write give the same reads (2 days, one point)."""
    bulk, written = folder / "check-bulk.sqlite", folder / "check-write.sqlite"
    written.unlink(missing_ok=True)
    write_season(bulk, site, 2, raw_days=1)
    a = SqliteHistorian(bulk)
    point = f"{site.site.id}/{site.substations[1].id}/t1_return"
    t0 = start_ms()
    raw = a.read_raw(point, t0, t0 + 2 * 86_400_000)
    b = SqliteHistorian(written)
    b.write(SampleBatch(raw.paths, raw.ts_ms, raw.values, raw.quality, raw.reason))
    b.flush()
    hi = t0 + 2 * 86_400_000
    lo = hi - 86_400_000  # where both hold raw: the bulk file pruned the first day
    for bucket_s in (60, 3600, 7200):
        x, y = a.read_buckets(point, lo, hi, bucket_s), b.read_buckets(point, lo, hi, bucket_s)
        assert np.array_equal(x.start_ms, y.start_ms) and np.array_equal(x.count, y.count)
        assert np.allclose(x.mean, y.mean, rtol=0, atol=1e-9), bucket_s
        assert np.array_equal(x.min, y.min) and np.array_equal(x.last, y.last), bucket_s
    assert np.array_equal(a.read_raw(point, lo, hi).values, b.read_raw(point, lo, hi).values)
    assert a.latest([point]).values.tolist() == b.latest([point]).values.tolist()
    a.close()
    b.close()
    for f in (bulk, written):
        f.unlink()
