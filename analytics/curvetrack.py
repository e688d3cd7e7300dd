"""How well a supply temperature follows its curve: t2_supply against the substation's
heating curve, or the source's supply against its schedule, at the measured outdoor.

Each sample is judged against the curve in force at its time: a `CurveHistory` of what the
PLC held, or the site file's curve alone."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from analytics.calendar import coverage, sample_hours
from analytics.evidence import Evidence, Result
from analytics.heldcurve import CurveHistory, HeldCurve
from heatnet.config import Curve

Array = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class CurveTracking(Result):
    """Deviation of measured supply from the curve's set point (measured − set point, K)."""

    asset: str
    role: str
    evidence: Evidence
    samples: int
    mean_deviation_k: float | None
    mean_abs_deviation_k: float | None
    p95_abs_deviation_k: float | None
    max_abs_deviation_k: float | None
    tolerance_k: float
    hours_above: float  # supply above set point + tolerance
    hours_below: float
    share_outside: float | None  # of the hours with data
    curves: tuple[HeldCurve, ...] = ()  # the curves judged against, each from its time


def track_curve(
    asset: str,
    t_ms: NDArray[np.int64],
    t_supply: Array,
    t_outdoor: Array,
    curve: Curve | CurveHistory,
    *,
    role: str = "t2_supply",
    tolerance_k: float = 3.0,
    expected_interval_s: float | None = None,
) -> CurveTracking:
    """Compare a supply series with the curve in force at the outdoor series sampled with it."""
    history = curve
    if not isinstance(history, CurveHistory):
        history = CurveHistory.fixed(history, int(t_ms[0]) if len(t_ms) else 0)
    t_s = np.asarray(t_supply, dtype=np.float64)
    t_o = np.asarray(t_outdoor, dtype=np.float64)
    weight = sample_hours(t_ms)
    good = np.isfinite(t_s) & np.isfinite(t_o)
    deviation = t_s[good] - history.setpoint(t_ms[good], t_o[good])
    hours = weight[good]
    cover = coverage(t_ms, int(good.sum()), expected_interval_s)
    reason = None if deviation.size else "no samples with both supply and outdoor"
    evidence = Evidence.from_ms(t_ms, (role, "t_outdoor"), cover, reason)
    if deviation.size == 0:
        return CurveTracking(
            asset, role, evidence, 0, None, None, None, None, tolerance_k, 0.0, 0.0, None,
            history.held(),
        )  # fmt: skip
    absolute = np.abs(deviation)
    above = float(hours[deviation > tolerance_k].sum())
    below = float(hours[deviation < -tolerance_k].sum())
    return CurveTracking(
        asset=asset,
        role=role,
        evidence=evidence,
        samples=int(deviation.size),
        mean_deviation_k=round(float(deviation.mean()), 3),
        mean_abs_deviation_k=round(float(absolute.mean()), 3),
        p95_abs_deviation_k=round(float(np.percentile(absolute, 95)), 3),
        max_abs_deviation_k=round(float(absolute.max()), 3),
        tolerance_k=tolerance_k,
        hours_above=round(above, 2),
        hours_below=round(below, 2),
        share_outside=round((above + below) / hours.sum(), 4) if hours.sum() > 0 else None,
        curves=history.held(),
    )
