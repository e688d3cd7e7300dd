"""Heat balance and health of substations: heat on each side and its loss, exchanger
effectiveness and UA (fouling), hydraulic imbalance, ΔT and return ranking, network loss.

Sample arrays are (substations, samples) on shared, sorted timestamps (the caller aligns).
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from analytics.calendar import bucket_mean, sample_hours
from analytics.evidence import Evidence, Result
from analytics.water import capacity_rate_kw_k, heat_kw
from heatnet.config import Substation

Array = NDArray[np.float64]
KWH_PER_GJ = 1e6 / 3600.0


@dataclass(frozen=True, slots=True)
class SubstationBalance(Result):
    id: str
    q1_mean_kw: float | None
    q2_mean_kw: float | None
    e1_gj: float
    e2_gj: float
    loss_ratio: float | None  # (Q1 − Q2) / Q1 over the period
    dt1_mean_k: float | None
    dt2_mean_k: float | None
    t2_return_mean: float | None
    coverage: float


@dataclass(frozen=True, slots=True)
class BalanceReport(Result):
    evidence: Evidence
    substations: tuple[SubstationBalance, ...]
    days: tuple[str, ...]
    q1_daily_kw: list[list[float]]  # substations × days
    q2_daily_kw: list[list[float]]
    low_dt_ranking: tuple[str, ...]  # smallest secondary ΔT first: poor cooling
    high_return_ranking: tuple[str, ...]  # highest secondary return first


def _finite_mean(x: Array) -> float | None:
    good = np.isfinite(x)
    return round(float(x[good].mean()), 3) if good.any() else None


def heat_balance(
    ids: tuple[str, ...],
    t_ms: NDArray[np.int64],
    tz: ZoneInfo,
    *,
    f1_flow: Array,
    t1_supply: Array,
    t1_return: Array,
    f2_flow: Array,
    t2_supply: Array,
    t2_return: Array,
) -> BalanceReport:
    """Heat Q = ρ·V̇·Δh on both sides per sample, daily means, energy and loss per substation."""
    q1 = heat_kw(f1_flow, t1_supply, t1_return)
    q2 = heat_kw(f2_flow, t2_supply, t2_return)
    hours = sample_hours(t_ms)
    labels, q_daily, _ = bucket_mean(np.concatenate([q1, q2]), t_ms, tz)
    n = len(ids)
    good = np.isfinite(q1) & np.isfinite(q2)
    e1 = np.where(good, q1, 0.0) @ hours / KWH_PER_GJ
    e2 = np.where(good, q2, 0.0) @ hours / KWH_PER_GJ
    dt2 = np.asarray(t2_supply) - np.asarray(t2_return)
    dt1 = np.asarray(t1_supply) - np.asarray(t1_return)
    cover = good.mean(axis=1)
    rows = []
    for i, sid in enumerate(ids):
        rows.append(
            SubstationBalance(
                id=sid,
                q1_mean_kw=_finite_mean(q1[i]),
                q2_mean_kw=_finite_mean(q2[i]),
                e1_gj=round(float(e1[i]), 3),
                e2_gj=round(float(e2[i]), 3),
                loss_ratio=round(float((e1[i] - e2[i]) / e1[i]), 4) if e1[i] > 0 else None,
                dt1_mean_k=_finite_mean(dt1[i]),
                dt2_mean_k=_finite_mean(dt2[i]),
                t2_return_mean=_finite_mean(np.asarray(t2_return[i])),
                coverage=round(float(cover[i]), 3),
            )
        )
    dt2_mean = np.array([np.nan if r.dt2_mean_k is None else r.dt2_mean_k for r in rows])
    ret = np.array([np.nan if r.t2_return_mean is None else r.t2_return_mean for r in rows])
    names = np.array(ids)
    low_dt = names[np.argsort(np.where(np.isnan(dt2_mean), np.inf, dt2_mean))]
    high_ret = names[np.argsort(np.where(np.isnan(ret), np.inf, -ret))]
    points = ("f1_flow", "t1_supply", "t1_return", "f2_flow", "t2_supply", "t2_return")
    return BalanceReport(
        evidence=Evidence.from_ms(t_ms, points, round(float(cover.mean()), 3)),
        substations=tuple(rows),
        days=tuple(str(d) for d in labels),
        q1_daily_kw=np.round(q_daily[:n], 2).tolist(),
        q2_daily_kw=np.round(q_daily[n:], 2).tolist(),
        low_dt_ranking=tuple(low_dt.tolist()),
        high_return_ranking=tuple(high_ret.tolist()),
    )


def exchanger_performance(
    t1_supply: Array,
    t1_return: Array,
    t2_supply: Array,
    t2_return: Array,
    f1_flow: Array,
    f2_flow: Array,
) -> tuple[Array, Array]:
    """Plate exchanger effectiveness ε = Q/(C_min·(T1,in − T2,in)) and UA (kW/K) by LMTD.

    Q is the secondary gain; counterflow LMTD from the terminal differences
    (t1_supply − t2_supply) and (t1_return − t2_return). NaN where undefined.
    """
    t1s, t1r = np.asarray(t1_supply, float), np.asarray(t1_return, float)
    t2s, t2r = np.asarray(t2_supply, float), np.asarray(t2_return, float)
    c1 = capacity_rate_kw_k(f1_flow, (t1s + t1r) / 2.0)
    c2 = capacity_rate_kw_k(f2_flow, (t2s + t2r) / 2.0)
    q = heat_kw(f2_flow, t2s, t2r)
    with np.errstate(invalid="ignore", divide="ignore"):
        eps = q / (np.minimum(c1, c2) * (t1s - t2r))
        hot_end, cold_end = t1s - t2s, t1r - t2r
        ratio = hot_end / cold_end
        lmtd = np.where(np.abs(ratio - 1.0) < 1e-6, hot_end, (hot_end - cold_end) / np.log(ratio))
        ua = q / lmtd
    valid = (hot_end > 0) & (cold_end > 0) & (q > 0)
    return np.where(valid, eps, np.nan), np.where(valid, ua, np.nan)


@dataclass(frozen=True, slots=True)
class FoulingTrend(Result):
    id: str
    evidence: Evidence
    ua_mean_kw_k: float | None
    slope_pct_per_week: float | None  # negative: UA falling, fouling
    stderr_pct_per_week: float | None
    confidence: str  # "high", "medium", "low" or "none"


def fouling_trend(
    asset: str, days: NDArray[np.datetime64], ua_daily: Array, *, min_days: int = 14
) -> FoulingTrend:
    """Linear trend of daily UA in % of its mean per week, with its standard error."""
    ua = np.asarray(ua_daily, dtype=np.float64)
    good = np.isfinite(ua)
    n = int(good.sum())
    cover = round(n / max(len(ua), 1), 3)
    if n < min_days:
        evidence = Evidence.from_days(days, ("ua",), cover, f"too few days: {n}, {min_days} needed")
        return FoulingTrend(asset, evidence, _finite_mean(ua), None, None, "none")
    weeks = (days[good] - days[good][0]).astype(np.float64) / 7.0
    y = ua[good]
    slope, intercept = np.polyfit(weeks, y, 1)
    resid = y - (intercept + slope * weeks)
    sxx = float(np.sum((weeks - weeks.mean()) ** 2))
    stderr = float(np.sqrt(resid @ resid / (n - 2) / sxx)) if sxx > 0 else np.inf
    mean = float(y.mean())
    t_stat = abs(slope) / stderr if stderr > 0 else np.inf
    confidence = "high" if t_stat >= 4 else "medium" if t_stat >= 2 else "low"
    return FoulingTrend(
        id=asset,
        evidence=Evidence.from_days(days, ("ua",), cover),
        ua_mean_kw_k=round(mean, 3),
        slope_pct_per_week=round(100.0 * slope / mean, 3),
        stderr_pct_per_week=round(100.0 * stderr / mean, 3),
        confidence=confidence,
    )


def design_flow_m3h(substation: Substation, side: int = 2) -> float:
    """Design flow (m³/h) from design heat: G [t/h] = Q [kW] / (1.163 · ΔT) (DOMAIN.md)."""
    if side == 1:
        d = substation.design
        return substation.design_heat_kw / (1.163 * (d.primary_supply - d.primary_return))
    return sum(
        b.design_heat_kw * b.flow_share / (1.163 * (b.design_supply - b.design_return))
        for b in substation.buildings
    )


@dataclass(frozen=True, slots=True)
class HydraulicImbalance(Result):
    """Actual/design flow per substation (水力失调度) and its spread (平衡离散度)."""

    ratios: dict[str, float | None]
    mean_ratio: float | None
    spread_cv: float | None  # coefficient of variation of the ratios
    most_over: str | None
    most_under: str | None


def hydraulic_imbalance(
    ids: tuple[str, ...], mean_flow_m3h: Array, design_flow: Array
) -> HydraulicImbalance:
    """Imbalance from each substation's mean flow over its design flow."""
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.asarray(mean_flow_m3h, float) / np.asarray(design_flow, float)
    good = np.isfinite(ratio)
    ratios = {
        s: (round(float(r), 4) if np.isfinite(r) else None) for s, r in zip(ids, ratio, strict=True)
    }
    if not good.any():
        return HydraulicImbalance(ratios, None, None, None, None)
    r = ratio[good]
    names = np.array(ids)[good]
    mean = float(r.mean())
    return HydraulicImbalance(
        ratios=ratios,
        mean_ratio=round(mean, 4),
        spread_cv=round(float(r.std() / mean), 4) if mean > 0 else None,
        most_over=str(names[r.argmax()]),
        most_under=str(names[r.argmin()]),
    )


@dataclass(frozen=True, slots=True)
class NetworkLoss(Result):
    evidence: Evidence
    source_mean_kw: float | None
    substations_mean_kw: float | None
    loss_kw: float | None
    loss_ratio: float | None  # (source − Σ substations) / source


def network_loss(t_ms: NDArray[np.int64], src_power: Array, q1_power: Array) -> NetworkLoss:
    """Source output against the sum of substation primary heat (subs × samples)."""
    q1_sum = np.asarray(q1_power, float).sum(axis=0)  # NaN in any substation drops the sample
    src = np.asarray(src_power, float)
    good = np.isfinite(src) & np.isfinite(q1_sum)
    evidence = Evidence.from_ms(
        t_ms,
        ("src_power", "q1_power"),
        round(float(good.mean()), 3) if good.size else 0.0,
        None if good.any() else "no sample with the source and every substation",
    )
    if not good.any():
        return NetworkLoss(evidence, None, None, None, None)
    s, q = float(src[good].mean()), float(q1_sum[good].mean())
    return NetworkLoss(
        evidence,
        round(s, 2),
        round(q, 2),
        round(s - q, 2),
        round((s - q) / s, 4) if s > 0 else None,
    )
