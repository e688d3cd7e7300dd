"""Merging partial aggregates (from rollups, raw ends and pending minutes) into Buckets."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from historian.base import AGGREGATES, Buckets, HistorianError

# the stored columns each aggregate needs (count is always read: it says a bucket exists)
COLUMNS = {"min": "vmin", "max": "vmax", "mean": "vsum", "last": "vlast", "count": "n"}
KEY_SHIFT = 40  # (point id << 40) | bucket index sorts by point, then bucket


def columns_for(aggregates: Collection[str]) -> tuple[str, ...]:
    """The stored columns, in schema order, that the aggregates asked for need."""
    unknown = set(aggregates) - set(AGGREGATES)
    if unknown:
        raise HistorianError(f"unknown aggregate(s) {sorted(unknown)}: choose from {AGGREGATES}")
    wanted = {COLUMNS[a] for a in aggregates} | {"n"}
    return tuple(c for c in ("vmin", "vmax", "vsum", "n", "vlast") if c in wanted)


@dataclass(slots=True)
class Parts:
    """Partial aggregates of many points: one row per (point id, bucket index, source part).

    `last_ts` orders the parts of one bucket so that the newest part's `vlast` wins; `columns`
    holds the stored columns that were read (vmin, vmax, vsum, n, vlast).
    """

    point_id: NDArray[np.int64]
    index: NDArray[np.int64]
    last_ts: NDArray[np.int64]
    columns: dict[str, NDArray[np.float64]]

    @classmethod
    def of_rows(cls, rows: list[tuple], columns: tuple[str, ...]) -> Parts:
        """Rows of (point id, bucket index, vmin, vmax, vsum, n, last ts, vlast)."""
        if not rows:
            return cls.empty(columns)
        pid, index, vmin, vmax, vsum, n, last_ts, vlast = (
            np.array(c) for c in zip(*rows, strict=True)
        )
        every = {"vmin": vmin, "vmax": vmax, "vsum": vsum, "n": n, "vlast": vlast}
        return cls(
            pid.astype(np.int64),
            index.astype(np.int64),
            last_ts.astype(np.int64),
            {c: every[c].astype(np.float64) for c in columns},
        )

    @classmethod
    def empty(cls, columns: tuple[str, ...]) -> Parts:
        none = np.empty(0, np.int64)
        return cls(none, none, none, {c: np.empty(0) for c in columns})

    @classmethod
    def concat(cls, parts: list[Parts], columns: tuple[str, ...]) -> Parts:
        if len(parts) <= 1:
            return parts[0] if parts else cls.empty(columns)
        return cls(
            np.concatenate([p.point_id for p in parts]),
            np.concatenate([p.index for p in parts]),
            np.concatenate([p.last_ts for p in parts]),
            {c: np.concatenate([p.columns[c] for p in parts]) for c in columns},
        )


def empty_buckets(path: str, bucket_s: int) -> Buckets:
    nothing = np.empty(0)
    return Buckets(
        path, bucket_s, np.empty(0, np.int64), nothing, nothing, nothing, nothing,
        np.empty(0, np.int64),
    )  # fmt: skip


def merge_parts(paths: Mapping[int, str], bucket_s: int, parts: Parts) -> dict[str, Buckets]:
    """Buckets of every path (by point id): min of mins, sum of sums, the newest part's last.

    Aggregates whose columns were not read come back NaN. Parts already in (point, bucket)
    order with one part per bucket, as a rollup read gives them, are taken without sorting.
    """
    result = {path: empty_buckets(path, bucket_s) for path in paths.values()}
    if parts.point_id.size == 0:
        return result
    key = (parts.point_id << KEY_SHIFT) | parts.index
    cols = parts.columns
    last_ts = parts.last_ts
    if np.any(key[1:] <= key[:-1]):
        order = np.lexsort((last_ts, key))
        key = key[order]
        cols = {c: v[order] for c, v in cols.items()}
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    whole = starts.size == key.size  # one part per bucket: nothing to reduce

    def reduce(ufunc: np.ufunc, column: str) -> NDArray[np.float64]:
        if column not in cols:
            return np.full(starts.size, np.nan)
        return cols[column] if whole else ufunc.reduceat(cols[column], starts)

    count = reduce(np.add, "n").astype(np.int64)
    vmin, vmax = reduce(np.minimum, "vmin"), reduce(np.maximum, "vmax")
    mean = reduce(np.add, "vsum") / count
    ends = np.r_[starts[1:], key.size] - 1
    last = cols["vlast"][ends] if "vlast" in cols else np.full(starts.size, np.nan)
    bucket_key = key[starts]
    pid = bucket_key >> KEY_SHIFT
    start_ms = (bucket_key & ((1 << KEY_SHIFT) - 1)) * (bucket_s * 1000)
    cuts = np.flatnonzero(np.r_[True, pid[1:] != pid[:-1], True])
    for lo, hi in zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True):
        path = paths[int(pid[lo])]
        result[path] = Buckets(
            path, bucket_s, start_ms[lo:hi], vmin[lo:hi], vmax[lo:hi], mean[lo:hi],
            last[lo:hi], count[lo:hi],
        )  # fmt: skip
    return result
