"""Merging partial aggregates (from rollups, raw ends and pending minutes) into Buckets."""

from __future__ import annotations

import numpy as np

from historian.base import Buckets

# (bucket index, min, max, sum, count, ts of the last value, last value)
Part = tuple[int, float, float, float, int, int, float]


def empty_buckets(path: str, bucket_s: int) -> Buckets:
    nothing = np.empty(0)
    return Buckets(
        path, bucket_s, np.empty(0, np.int64), nothing, nothing, nothing, nothing,
        np.empty(0, np.int64),
    )  # fmt: skip


def merge_parts(path: str, bucket_s: int, parts: list[Part]) -> Buckets:
    """One bucket per distinct index: min of mins, sum of sums, the last with the newest ts."""
    if not parts:
        return empty_buckets(path, bucket_s)
    index, vmin, vmax, vsum, n, last_ts, last = (np.array(c) for c in zip(*parts, strict=True))
    order = np.lexsort((last_ts, index))
    index, vmin, vmax, vsum, n, last = (a[order] for a in (index, vmin, vmax, vsum, n, last))
    starts = np.flatnonzero(np.r_[True, index[1:] != index[:-1]])
    ends = np.r_[starts[1:], len(index)] - 1
    count = np.add.reduceat(n.astype(np.int64), starts)
    return Buckets(
        path,
        bucket_s,
        index[starts].astype(np.int64) * bucket_s * 1000,
        np.minimum.reduceat(vmin.astype(np.float64), starts),
        np.maximum.reduceat(vmax.astype(np.float64), starts),
        np.add.reduceat(vsum.astype(np.float64), starts) / count,
        last[ends].astype(np.float64),
        count,
    )
