"""Make-up water watch: the leak and heat-theft signal (DOMAIN.md). A jump above the
substation's own baseline — the median of the previous days' hourly means (local hours of
the site), scaled by their MAD into a robust z-score — that lasts is an alert; a single
spike is not. While an alert is active its baseline is frozen at the value it had when the
alert began and its hours are kept out of later baselines, so a lasting leak is not taken
in as the new normal: the alert lasts as long as the leak."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import UTC, tzinfo

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

from analytics.calendar import HOUR_MS, coverage, local_buckets
from analytics.evidence import Evidence, Result, iso_ms
from analytics.runs import true_runs

Array = NDArray[np.float64]
MAD_TO_STD = 1.4826


@dataclass(frozen=True, slots=True)
class LeakAlert(Result):
    substation: str
    start: str  # ISO, site local time
    end: str | None  # None while ongoing
    start_ms: int
    end_ms: int | None
    duration_h: float
    baseline_m3h: float
    excess_m3h: float  # median above baseline over the alert
    peak_excess_m3h: float
    excess_pct_of_circulation: float | None
    robust_z: float


@dataclass(frozen=True, slots=True)
class MakeupReport(Result):
    substation: str
    evidence: Evidence
    mean_m3h: float | None
    mean_pct_of_circulation: float | None
    alerts: tuple[LeakAlert, ...]


@dataclass(frozen=True, slots=True)
class LeakOptions:
    baseline_days: float = 7.0
    min_baseline_hours: int = 24
    z_threshold: float = 5.0
    min_excess_m3h: float = 0.2
    min_duration_s: float = 1800.0
    bridge_s: float = 900.0  # short dips inside a jump do not split it
    mad_floor_m3h: float = 0.02


def _baseline(
    hour: NDArray[np.int64], flow: Array, frozen: NDArray[np.bool_], opts: LeakOptions
) -> tuple[Array, Array]:
    """Median and MAD per hour of the hourly means over the previous baseline_days, the
    frozen hours (inside alerts) left out."""
    n = int(hour[-1]) + 1
    good = np.isfinite(flow)
    sums = np.bincount(hour[good], weights=flow[good], minlength=n)
    counts = np.bincount(hour[good], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        hourly = np.where((counts > 0) & ~frozen, sums / counts, np.nan)
    width = int(opts.baseline_days * 24)
    padded = np.r_[np.full(width, np.nan), hourly[:-1]]  # window h holds hours h−width … h−1
    windows = sliding_window_view(padded, width)
    enough = np.isfinite(windows).sum(axis=1) >= opts.min_baseline_hours
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows before any data
        median = np.nanmedian(windows, axis=1)
        mad = np.nanmedian(np.abs(windows - median[:, None]), axis=1)
    return np.where(enough, median, np.nan), mad


def _alarmed(
    flow: Array, median: Array | float, mad: Array | float, opts: LeakOptions
) -> NDArray[np.bool_]:
    scale = MAD_TO_STD * np.maximum(mad, opts.mad_floor_m3h)
    with np.errstate(invalid="ignore"):
        excess = flow - median
        return (excess / scale > opts.z_threshold) & (excess > opts.min_excess_m3h)


def _episodes(
    t: NDArray[np.int64], hour: NDArray[np.int64], flow: Array, opts: LeakOptions
) -> list[tuple[int, int, float, float]]:
    """(first, last sample, baseline median, MAD) of each lasting jump, oldest first.

    From its first sample an episode is judged against the baseline frozen there; once it
    ends, its hours are left out and the baseline is recomputed for what follows.
    """
    frozen = np.zeros(int(hour[-1]) + 1, dtype=bool)
    bridge_ms = opts.bridge_s * 1000.0
    step = float(np.median(np.diff(t)))
    found: list[tuple[int, int, float, float]] = []
    after = 0
    while after < t.size:
        median, mad = _baseline(hour, flow, frozen, opts)
        alarm = _alarmed(flow, median[hour], mad[hour], opts)
        alarm[:after] = False
        starts, _ = true_runs(alarm, t, bridge_ms)
        if not starts.size:
            break
        s = int(starts[0])
        base, spread = float(median[hour[s]]), float(mad[hour[s]])
        held = _alarmed(flow[s:], base, spread, opts)
        e = s + int(true_runs(held, t[s:], bridge_ms)[1][0])
        if e > s and float(t[e] - t[s]) + step >= opts.min_duration_s * 1000.0:
            found.append((s, e, base, spread))
            frozen[hour[s] : hour[e] + 1] = True
        after = e + 1
    return found


def watch_makeup(
    substation: str,
    t_ms: NDArray[np.int64],
    makeup_flow: Array,
    f2_flow: Array | None = None,
    *,
    options: LeakOptions | None = None,
    tz: tzinfo = UTC,
) -> MakeupReport:
    """Make-up flow (m³/h) level, share of circulation, and alerts on lasting jumps; hours
    and alert times are the site's local ones (`tz`)."""
    opts = options or LeakOptions()
    t = np.asarray(t_ms, dtype=np.int64)
    flow = np.asarray(makeup_flow, dtype=np.float64)
    good = np.isfinite(flow)
    evidence = Evidence.from_ms(
        t,
        ("makeup_flow",) + (("f2_flow",) if f2_flow is not None else ()),
        coverage(t, int(good.sum())),
        None if good.sum() > 1 else "no make-up samples",
    )
    if good.sum() <= 1:
        return MakeupReport(substation, evidence, None, None, ())
    circulation = None
    if f2_flow is not None:
        f2 = np.asarray(f2_flow, dtype=np.float64)
        circulation = float(np.nanmean(f2)) if np.isfinite(f2).any() else None
    mean = float(flow[good].mean())
    hours = local_buckets(t, tz, "h").astype(np.int64)
    step = float(np.median(np.diff(t)))
    alerts = []
    for s, e, base, spread in _episodes(t, hours - hours[0], flow, opts):
        inside = slice(s, e + 1)
        excess = flow[inside] - base
        z = excess / (MAD_TO_STD * max(spread, opts.mad_floor_m3h))
        alarmed = _alarmed(flow[inside], base, spread, opts)
        run = excess[alarmed]
        ongoing = e == len(t) - 1
        size = float(np.median(run))
        alerts.append(
            LeakAlert(
                substation=substation,
                start=iso_ms(t[s], tz),
                end=None if ongoing else iso_ms(t[e], tz),
                start_ms=int(t[s]),
                end_ms=None if ongoing else int(t[e]),
                duration_h=round((float(t[e] - t[s]) + step) / HOUR_MS, 2),
                baseline_m3h=round(base, 4),
                excess_m3h=round(size, 4),
                peak_excess_m3h=round(float(run.max()), 4),
                excess_pct_of_circulation=round(100 * size / circulation, 3)
                if circulation
                else None,
                robust_z=round(float(np.median(z[alarmed])), 1),
            )
        )
    return MakeupReport(
        substation=substation,
        evidence=evidence,
        mean_m3h=round(mean, 4),
        mean_pct_of_circulation=round(100 * mean / circulation, 3) if circulation else None,
        alerts=tuple(alerts),
    )
