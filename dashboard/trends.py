"""Trend series for the charts: raw samples for short ranges, rollups for long ones, every
trace cut to at most MAX_POINTS by MinMaxLTTB, and gaps in the data kept as gaps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from tsdownsample import MinMaxLTTBDownsampler

from heatnet.points import Quality
from historian.base import Historian

MAX_POINTS = 4000
RAW_UP_TO_MS = 6 * 3_600_000  # longer ranges read 1 min rollups
MINUTES_UP_TO_MS = 7 * 24 * 3_600_000  # longer still: 1 h rollups
GAP_FACTOR = 3.0  # a step this many times the usual one is a gap
_DOWNSAMPLER = MinMaxLTTBDownsampler()


@dataclass(frozen=True, slots=True)
class Trace:
    """A series ready to plot: times (ms) and values, None where the line must break."""

    t_ms: list[int | None]
    values: list[float | None]
    points: int  # real points, breaks not counted


def bucket_for(span_ms: int) -> int | None:
    """Rollup width (s) to read a range with, or None for raw samples."""
    if span_ms <= RAW_UP_TO_MS:
        return None
    return 60 if span_ms <= MINUTES_UP_TO_MS else 3600


def read_trace(historian: Historian, path: str, start_ms: int, end_ms: int) -> Trace:
    """One point over [start, end): raw or bucket means, decimated, broken at gaps."""
    bucket_s = bucket_for(end_ms - start_ms)
    if bucket_s is None:
        raw = historian.read_raw(path, start_ms, end_ms)
        usable = (raw.quality < Quality.BAD) & np.isfinite(raw.values)
        return decimate(raw.ts_ms, raw.values, usable)
    got = historian.read_buckets(path, start_ms, end_ms, bucket_s)
    return decimate(got.start_ms, got.mean, np.isfinite(got.mean), min_step_ms=bucket_s * 1000)


def decimate(
    t_ms: NDArray[np.int64],
    values: NDArray[np.float64],
    usable: NDArray[np.bool_],
    *,
    max_points: int = MAX_POINTS,
    min_step_ms: int = 0,
) -> Trace:
    """MinMaxLTTB down to max_points; a break (None) wherever unusable samples or a time
    jump of more than GAP_FACTOR usual steps lie between two kept points."""
    t = np.asarray(t_ms, dtype=np.int64)
    keep = np.flatnonzero(usable)
    if keep.size == 0:
        return Trace([], [], 0)
    step = np.diff(t)
    usual = float(np.median(step)) if step.size else 0.0
    jump = max(GAP_FACTOR * usual, 1.5 * min_step_ms)
    # a break before kept sample k: unusable samples skipped, or too long a step
    broken = np.r_[False, (np.diff(keep) > 1) | (np.diff(t[keep]) > jump)]
    breaks_so_far = np.cumsum(broken)
    x, y = t[keep], np.asarray(values, dtype=np.float64)[keep]
    chosen = np.arange(keep.size)
    if keep.size > max_points:
        chosen = np.sort(_DOWNSAMPLER.downsample(x, y, n_out=max_points))
    gap_before = np.r_[False, np.diff(breaks_so_far[chosen]) > 0]
    out_t: list[int | None] = []
    out_v: list[float | None] = []
    for pos, idx in enumerate(chosen.tolist()):
        if gap_before[pos]:
            out_t.append(None)
            out_v.append(None)
        out_t.append(int(x[idx]))
        out_v.append(float(y[idx]))
    return Trace(out_t, out_v, int(chosen.size))
