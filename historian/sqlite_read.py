"""Bucket reads of many points at once from the SQLite historian's rollups and raw rows.

A read splits [lo, hi) into the whole hours (or minutes) a rollup table serves, in one query
for every point id, and the ragged ends and pending minutes, served from the next finer
level down to raw. Rollup rows come back as numpy arrays (`np.fromiter`, only the columns
the asked aggregates need), so a season of 2,000 points hourly is a few arrays, not
millions of tuples.
"""

from __future__ import annotations

import json
import sqlite3

import numpy as np

from heatnet.points import Quality
from historian.buckets import KEY_SHIFT, Parts

EPOCH_S = 946_684_800  # 2000-01-01T00:00:00Z, a whole number of hours after 1970
MINUTE_MS = 60_000
HOUR_MS = 3_600_000

TS = f"((t + {EPOCH_S}) * 1000 + ms)"
NUMBER = "CASE typeof(value) WHEN 'integer' THEN value / 1000.0 WHEN 'real' THEN value END"
GOOD = f"quality < {int(Quality.BAD)} AND typeof(value) IN ('integer', 'real')"
IDS = "point_id IN (SELECT value FROM json_each(:ids))"

# Parts of the requested buckets (b = ts // bucket_ms) from raw: the last value comes from
# SQLite's documented bare column of a lone max() aggregate.
RAW_PARTS = f"""
WITH r AS (
    SELECT point_id, {TS} AS ts, {NUMBER} AS v FROM samples
    WHERE {IDS} AND t >= :t0 AND t <= :t1 AND {TS} >= :lo AND {TS} < :hi AND {GOOD})
SELECT point_id, b, vmin, vmax, vsum, n, lt, vlast
FROM (SELECT point_id, ts / :bms AS b, min(v) vmin, max(v) vmax, sum(v) vsum, count(*) n
      FROM r GROUP BY point_id, b)
JOIN (SELECT point_id, ts / :bms AS b, max(ts) lt, v AS vlast FROM r GROUP BY point_id, b)
USING (point_id, b)
"""
ROLLUP_ROWS = """
SELECT (point_id << {shift}) | bucket, {columns} FROM {table}
WHERE {ids} AND bucket >= :b0 AND bucket < :b1
  AND bucket NOT IN (SELECT bucket / :per FROM pending)
"""


def bucket_parts(
    db: sqlite3.Connection,
    ids: list[int],
    lo: int,
    hi: int,
    bucket_ms: int,
    level: int | None,
    columns: tuple[str, ...],
) -> list[Parts]:
    """Partial aggregates of [lo, hi) for every point id, from `level` (hour, minute, None: raw)."""
    if lo >= hi:
        return []
    if level is None:
        return [_raw_parts(db, ids, lo, hi, bucket_ms, columns)]
    finer = MINUTE_MS if level == HOUR_MS else None
    a, z = -(-lo // level) * level, hi // level * level
    if a >= z:
        return bucket_parts(db, ids, lo, hi, bucket_ms, finer, columns)
    parts = [_rollup_parts(db, ids, a, z, bucket_ms, level, columns)]
    parts += bucket_parts(db, ids, lo, a, bucket_ms, finer, columns)
    parts += bucket_parts(db, ids, z, hi, bucket_ms, finer, columns)
    per = level // MINUTE_MS
    pending = db.execute(
        "SELECT DISTINCT bucket / ? FROM pending WHERE bucket >= ? AND bucket < ?",
        (per, a // MINUTE_MS - EPOCH_S // 60, z // MINUTE_MS - EPOCH_S // 60),
    ).fetchall()
    epoch_b = EPOCH_S * 1000 // level
    for (b,) in pending:
        start = (b + epoch_b) * level
        parts += bucket_parts(db, ids, start, start + level, bucket_ms, finer, columns)
    return parts


def _rollup_parts(
    db: sqlite3.Connection,
    ids: list[int],
    a: int,
    z: int,
    bucket_ms: int,
    level: int,
    columns: tuple[str, ...],
) -> Parts:
    """Rollup rows of whole levels in [a, z) of every point id, in one query."""
    epoch_b = EPOCH_S * 1000 // level
    query = ROLLUP_ROWS.format(
        shift=KEY_SHIFT,
        columns=", ".join(columns),
        table="rollup_1h" if level == HOUR_MS else "rollup_1m",
        ids=IDS,
    )
    params = {"ids": json.dumps(ids), "b0": a // level - epoch_b, "b1": z // level - epoch_b}
    dtype = [("key", np.int64)] + [(c, np.float64) for c in columns]
    rows = np.fromiter(db.execute(query, {**params, "per": level // MINUTE_MS}), dtype=dtype)
    key = rows["key"]
    ts = ((key & ((1 << KEY_SHIFT) - 1)) + epoch_b) * level
    return Parts(key >> KEY_SHIFT, ts // bucket_ms, ts, {c: rows[c] for c in columns})


def _raw_parts(
    db: sqlite3.Connection, ids: list[int], lo: int, hi: int, bucket_ms: int, columns: tuple
) -> Parts:
    params = {
        "ids": json.dumps(ids),
        "t0": lo // 1000 - EPOCH_S,
        "t1": (hi - 1) // 1000 - EPOCH_S,
        "lo": lo,
        "hi": hi,
        "bms": bucket_ms,
    }
    return Parts.of_rows(db.execute(RAW_PARTS, params).fetchall(), columns)
