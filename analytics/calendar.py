"""Heating-season membership, local-day and local-hour buckets, degree-days.

Timestamps are epoch milliseconds (UTC, int64), sorted within each series; buckets are
local calendar days (or hours) in the site time zone. The UTC offset is looked up once
per UTC hour of the span, which is exact for zones that change offset on a whole hour.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import ArrayLike, NDArray

from heatnet.config import Season

Array = NDArray[np.float64]
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
Unit = Literal["D", "h"]


def _month_day(season_md: str) -> int:
    month, day = season_md.split("-")
    return int(month) * 100 + int(day)


def in_season(days: ArrayLike, season: Season) -> NDArray[np.bool_]:
    """Whether each local date (datetime64[D]) lies in the season; it may span the new year."""
    d = np.asarray(days, dtype="datetime64[D]")
    month = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (d - d.astype("datetime64[M]")).astype(np.int64) + 1
    md = month * 100 + day
    start, end = _month_day(season.start), _month_day(season.end)
    if start <= end:
        return (md >= start) & (md <= end)
    return (md >= start) | (md <= end)


def season_bounds(day: date, season: Season) -> tuple[date, date]:
    """First and last day of the season holding `day`, or of the next one if it is outside."""
    sm, sd = (int(v) for v in season.start.split("-"))
    em, ed = (int(v) for v in season.end.split("-"))
    spans = (sm, sd) > (em, ed)
    for first_year in (day.year - 1, day.year, day.year + 1):
        first = date(first_year, sm, sd)
        last = date(first_year + 1 if spans else first_year, em, ed)
        if day <= last:
            return first, last
    raise AssertionError("unreachable: a season always ends within two years")


def utc_offset_ms(t_ms: ArrayLike, tz: ZoneInfo) -> NDArray[np.int64]:
    """The zone's UTC offset at each timestamp, in milliseconds."""
    t = np.asarray(t_ms, dtype=np.int64)
    if t.size == 0:
        return np.zeros(0, dtype=np.int64)
    hours = t // HOUR_MS
    first = int(hours.min())
    span = np.arange(first, int(hours.max()) + 1)
    offsets = np.array(
        [
            datetime.fromtimestamp(h * 3600, UTC).astimezone(tz).utcoffset().total_seconds()  # type: ignore[union-attr]
            for h in span.tolist()
        ],
        dtype=np.int64,
    )
    return offsets[hours - first] * 1000


def local_buckets(t_ms: ArrayLike, tz: ZoneInfo, unit: Unit = "D") -> NDArray[np.datetime64]:
    """The local day (or hour) of each timestamp, as datetime64[D] (or [h])."""
    t = np.asarray(t_ms, dtype=np.int64)
    local = t + utc_offset_ms(t, tz)
    width = DAY_MS if unit == "D" else HOUR_MS
    return (local // width).astype(f"datetime64[{unit}]")


def bucket_mean(
    values: ArrayLike, t_ms: ArrayLike, tz: ZoneInfo, unit: Unit = "D"
) -> tuple[NDArray[np.datetime64], Array, NDArray[np.int64]]:
    """Mean and count of good (finite) samples per local bucket along the last axis.

    `values` is (n,) or (series, n) sharing the sorted timestamps `t_ms`; the result
    holds only buckets that have samples: (labels, means (…, k), counts (…, k)).
    """
    v = np.asarray(values, dtype=np.float64)
    labels = local_buckets(t_ms, tz, unit)
    if labels.size == 0:
        shape = (*v.shape[:-1], 0)
        return labels, np.zeros(shape), np.zeros(shape, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])
    good = np.isfinite(v)
    sums = np.add.reduceat(np.where(good, v, 0.0), starts, axis=-1)
    counts = np.add.reduceat(good, starts, axis=-1, dtype=np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / counts, np.nan)
    return labels[starts], means, counts


def day_range(first: date, last: date) -> NDArray[np.datetime64]:
    """Every date from first to last inclusive, as datetime64[D]."""
    return np.arange(np.datetime64(first), np.datetime64(last) + 1, dtype="datetime64[D]")


def align(labels: NDArray[np.datetime64], means: Array, full: NDArray[np.datetime64]) -> Array:
    """Bucket means placed on a full label axis (NaN where a bucket had no samples)."""
    out = np.full((*means.shape[:-1], len(full)), np.nan)
    pos = np.searchsorted(full, labels)
    keep = (pos < len(full)) & (full[np.minimum(pos, len(full) - 1)] == labels)
    out[..., pos[keep]] = means[..., keep]
    return out


def degree_days(daily_outdoor: ArrayLike, base: float = 18.0) -> Array:
    """Heating degree-days per day: max(base − daily mean outdoor, 0); NaN stays NaN."""
    t = np.asarray(daily_outdoor, dtype=np.float64)
    return np.where(np.isnan(t), np.nan, np.clip(base - t, 0.0, None))


def sample_hours(t_ms: ArrayLike, max_gap_factor: float = 2.0) -> Array:
    """Hours each sample stands for: time to the next one, capped at a few typical spacings.

    The last sample takes the typical (median) spacing; gaps longer than the cap count
    only the cap, so missing data is not integrated.
    """
    t = np.asarray(t_ms, dtype=np.int64)
    if t.size < 2:
        return np.zeros(t.size)
    step = np.diff(t).astype(np.float64)
    typical = float(np.median(step))
    return np.minimum(np.r_[step, typical], max_gap_factor * typical) / HOUR_MS


def coverage(t_ms: ArrayLike, good: int, interval_s: float | None = None) -> float:
    """Share of the expected samples that are good: the span at interval_s (default: median)."""
    t = np.asarray(t_ms, dtype=np.int64)
    if t.size < 2:
        return float(good > 0)
    interval_ms = interval_s * 1000.0 if interval_s else float(np.median(np.diff(t)))
    expected = (int(t[-1]) - int(t[0])) / interval_ms + 1.0
    return round(min(good / expected, 1.0), 3)
