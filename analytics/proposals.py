"""Heating-curve proposals: the supply that holds the reference room at floor + margin,
expressed in the controller's own terms (slope/shift or the six-point table).

The reference is a percentile across rooms (0 = the coldest) of each day's mean
temperature above the room's own floor, so kitchens (15 °C) and living rooms (18 °C)
compare fairly. Its response is fitted by `analytics.response`; the proposal inverts it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from analytics.evidence import Evidence, Result
from analytics.response import ResponseFit, design_gain, fit_response
from heatnet.config import Curve, SlopeShiftCurve, TableCurve
from heatnet.curves import curve_setpoint
from heatnet.roles import CURVE_TABLE_OUTDOOR

Array = NDArray[np.float64]
SLOPE_LIMITS = (0.1, 4.0)  # Danfoss ECL
SHIFT_LIMITS = (-20.0, 20.0)
TABLE_OUTDOOR = np.array(CURVE_TABLE_OUTDOOR)

# DOMAIN.md: which knob answers which symptom
KNOBS = {
    "too cold on cold days": "raise slope",
    "too cold in mild weather": "raise level (shift), lower slope",
    "too warm in mild weather": "lower level (shift), raise slope",
    "too warm on cold days": "lower slope",
}


@dataclass(frozen=True, slots=True)
class ProposalOptions:
    """Tuning of a proposal; defaults follow DOMAIN.md and common practice."""

    margin_k: float = 0.5  # target: floor + margin for the reference room
    percentile: float = 0.0  # across rooms; 0 = the coldest room
    min_days: int = 7
    min_outdoor_range_k: float = 5.0  # below it g is not identified: shift only
    max_gain_rel_stderr: float = 0.35  # above it g is not identified: shift only
    max_residual_std_k: float = 0.8  # above it the fit is poor: withheld
    min_room_share: float = 0.5  # a day counts when this share of rooms reported
    outdoor_range: tuple[float, float] = (-15.0, 15.0)
    typical_outdoor: tuple[float, ...] = (-5.0, 0.0, 5.0)
    cold_outdoor: float = -5.0
    mild_outdoor: float = 8.0
    symptom_band_k: float = 0.5
    prior_gain: float = design_gain()


@dataclass(frozen=True, slots=True)
class IndoorChange(Result):
    """Predicted steady-state effect of the proposal at one outdoor temperature."""

    t_outdoor: float
    supply_now: float
    supply_proposed: float
    reference_margin_now: float  # K above floor
    reference_margin_proposed: float
    mean_room_now: float  # °C
    mean_room_proposed: float


@dataclass(frozen=True, slots=True)
class CurveProposal(Result):
    """A proposed heating curve for one substation, with its evidence and its reasons."""

    substation: str
    evidence: Evidence
    mode: str  # "slope_and_shift", "shift_only" or "withheld"
    curve_type: str  # "slope_shift" or "table"
    current: dict[str, float]  # controller parameters by role (curve_slope, curve_table_1…)
    proposed: dict[str, float] | None
    reference: str
    reference_room: str | None  # the room most often the reference
    target_margin_k: float
    reference_fit: ResponseFit | None
    mean_room_fit: ResponseFit | None
    changes: tuple[IndoorChange, ...]
    heat_change_pct: float | None
    confidence: str  # "high", "medium", "low" or "none"
    symptoms: tuple[str, ...]
    advice: tuple[str, ...]
    curve_source: str = "site file"  # of `current`: "plc" (held at the period's end) or "site file"


def curve_roles(curve: Curve) -> dict[str, float]:
    """A curve as the controller holds it, keyed by curve_* role."""
    roles = {"curve_min": curve.min_supply, "curve_max": curve.max_supply}
    if isinstance(curve, SlopeShiftCurve):
        return {"curve_slope": curve.slope, "curve_shift": curve.shift, **roles}
    table = curve_setpoint(curve, TABLE_OUTDOOR)
    return {f"curve_table_{i + 1}": float(v) for i, v in enumerate(table)} | roles


def roles_curve(roles: dict[str, float], like: Curve) -> Curve:
    """The config curve a set of curve_* roles describes (base_indoor kept from `like`)."""
    lo, hi = roles["curve_min"], roles["curve_max"]
    if "curve_slope" in roles:
        base = like.base_indoor if isinstance(like, SlopeShiftCurve) else 20.0
        return SlopeShiftCurve(
            type="slope_shift",
            slope=roles["curve_slope"],
            shift=roles["curve_shift"],
            min_supply=lo,
            max_supply=hi,
            base_indoor=base,
        )
    points = [(float(x), roles[f"curve_table_{i + 1}"]) for i, x in enumerate(TABLE_OUTDOOR)]
    return TableCurve(type="table", points=points, min_supply=lo, max_supply=hi)


def _fit_slope_shift(curve: SlopeShiftCurve, t_o: Array, wanted: Array, keep_slope: bool) -> dict:
    base = curve.base_indoor
    if keep_slope:
        slope = curve.slope
    else:
        gradient = np.polyfit(t_o, wanted, 1)[0]
        slope = float(np.clip(-gradient, *SLOPE_LIMITS))
    # supply = base·(1 + slope) + shift − slope·t_o, least squares for shift given slope
    shift = float(np.mean(wanted + slope * t_o) - base * (1.0 + slope))
    shift = float(np.clip(shift, *SHIFT_LIMITS))
    return {"curve_slope": round(slope, 3), "curve_shift": round(shift, 2)}


def _propose_roles(
    curve: Curve, fit: ResponseFit, target: float, t_o: Array, keep_shape: bool
) -> dict[str, float]:
    """Controller parameters whose set point best meets `fit.supply_for(target)` over t_o."""
    wanted = fit.supply_for(target, t_o)
    limits = {"curve_min": curve.min_supply, "curve_max": curve.max_supply}
    if isinstance(curve, SlopeShiftCurve):
        return _fit_slope_shift(curve, t_o, wanted, keep_shape) | limits
    if keep_shape:
        offset = float(np.mean(wanted - curve_setpoint(curve, t_o)))
        table = curve_setpoint(curve, TABLE_OUTDOOR) + offset
    else:
        table = fit.supply_for(target, TABLE_OUTDOOR)
    table = np.clip(table, curve.min_supply, curve.max_supply)
    return {f"curve_table_{i + 1}": round(float(v), 1) for i, v in enumerate(table)} | limits


def _symptoms(fit: ResponseFit, curve: Curve, opts: ProposalOptions) -> tuple[str, ...]:
    found = []
    for t_o, where in ((opts.cold_outdoor, "on cold days"), (opts.mild_outdoor, "in mild weather")):
        margin = float(fit.steady(curve_setpoint(curve, t_o), t_o))
        if margin < opts.margin_k - opts.symptom_band_k:
            found.append(f"too cold {where}")
        elif margin > opts.margin_k + opts.symptom_band_k:
            found.append(f"too warm {where}")
    return tuple(found)


def _confidence(mode: str, ref: ResponseFit, outdoor_span: float, opts: ProposalOptions) -> str:
    rel = (ref.gain_stderr or np.inf) / ref.gain if ref.gain > 0 else np.inf
    if mode == "slope_and_shift" and ref.days >= 14 and rel <= 0.15 and outdoor_span >= 8.0:
        return "high"
    if ref.days >= 2 * opts.min_days or (mode == "slope_and_shift" and rel <= 0.25):
        return "medium"
    return "low"


def _reference(excess: Array, percentile: float) -> Array:
    if percentile <= 0.0:
        return np.nanmin(excess, axis=0)
    return np.nanpercentile(excess, percentile, axis=0)


def propose_curve(
    substation: str,
    days: NDArray[np.datetime64],
    t2_supply: Array,
    t_outdoor: Array,
    t_indoor: Array,
    floors: Array,
    curve: Curve,
    *,
    rooms: tuple[str, ...] = (),
    options: ProposalOptions | None = None,
    curve_source: str = "site file",
) -> CurveProposal:
    """Propose a curve from daily means: t2_supply, t_outdoor (days,), t_indoor (rooms, days)."""
    opts = options or ProposalOptions()
    t_in = np.atleast_2d(np.asarray(t_indoor, dtype=np.float64))
    floors = np.asarray(floors, dtype=np.float64)
    t_s, t_o = np.asarray(t2_supply, float), np.asarray(t_outdoor, float)
    reported = np.isfinite(t_in)
    day_ok = (reported.mean(axis=0) >= opts.min_room_share) & np.isfinite(t_s) & np.isfinite(t_o)
    excess = np.where(day_ok, t_in - floors[:, None], np.nan)
    with np.errstate(all="ignore"):
        ref_series = np.where(day_ok, _reference(excess, opts.percentile), np.nan)
        mean_series = np.where(day_ok, np.nanmean(t_in, axis=0), np.nan)
    coldest = np.nanargmin(np.where(np.isnan(excess), np.inf, excess), axis=0)[day_ok]
    reference_room = rooms[int(np.bincount(coldest).argmax())] if rooms and coldest.size else None
    n_days = int(day_ok.sum())
    span = float(np.ptp(t_o[day_ok])) if n_days else 0.0
    reason = None
    if n_days < opts.min_days:
        reason = f"too few days: {n_days} with data, {opts.min_days} needed"
    ref_fit = mean_fit = None
    mode = "withheld"
    if reason is None:
        ref_fit = fit_response(ref_series, t_s, t_o)
        narrow = span < opts.min_outdoor_range_k
        weak = (
            ref_fit is None
            or ref_fit.gain <= 0.0
            or ref_fit.gain_stderr is None
            or ref_fit.gain_stderr / ref_fit.gain > opts.max_gain_rel_stderr
        )
        mode = "shift_only" if narrow or weak else "slope_and_shift"
        prior = opts.prior_gain if mode == "shift_only" else None
        if prior is not None:
            ref_fit = fit_response(ref_series, t_s, t_o, prior_gain=prior)
        mean_fit = fit_response(mean_series, t_s, t_o, prior_gain=prior)
        if ref_fit is None or mean_fit is None:
            reason = "too few days with indoor, supply and outdoor data"
        elif ref_fit.residual_std > opts.max_residual_std_k:
            reason = (
                f"poor fit: residual std {ref_fit.residual_std:.2f} K > {opts.max_residual_std_k} K"
            )
    coverage = float(reported[:, day_ok].mean()) * n_days / max(len(days), 1) if n_days else 0.0
    evidence = Evidence.from_days(days, tuple(rooms), round(coverage, 3), reason)
    reference = "coldest room" if opts.percentile <= 0 else f"p{opts.percentile:g} of rooms"
    current = curve_roles(curve)
    if reason is not None or ref_fit is None or mean_fit is None:
        return CurveProposal(
            substation,
            evidence,
            "withheld",
            curve.type,
            current,
            None,
            reference,
            reference_room,
            opts.margin_k,
            ref_fit,
            mean_fit,
            (),
            None,
            "none",
            (),
            (),
            curve_source,
        )
    grid = np.linspace(*opts.outdoor_range, 31) if mode == "slope_and_shift" else t_o[day_ok]
    proposed = _propose_roles(curve, ref_fit, opts.margin_k, grid, mode == "shift_only")
    new_curve = roles_curve(proposed, curve)
    changes = []
    for t in opts.typical_outdoor:
        now, new = float(curve_setpoint(curve, t)), float(curve_setpoint(new_curve, t))
        changes.append(
            IndoorChange(
                t,
                round(now, 2),
                round(new, 2),
                round(float(ref_fit.steady(now, t)), 2),
                round(float(ref_fit.steady(new, t)), 2),
                round(float(mean_fit.steady(now, t)), 2),
                round(float(mean_fit.steady(new, t)), 2),
            )
        )
    heat = _heat_change_pct(mean_fit, curve, new_curve, t_o[day_ok])
    symptoms = _symptoms(ref_fit, curve, opts)
    return CurveProposal(
        substation=substation,
        evidence=evidence,
        mode=mode,
        curve_type=curve.type,
        current=current,
        proposed=proposed,
        reference=reference,
        reference_room=reference_room,
        target_margin_k=opts.margin_k,
        reference_fit=ref_fit,
        mean_room_fit=mean_fit,
        changes=tuple(changes),
        heat_change_pct=heat,
        confidence=_confidence(mode, ref_fit, span, opts),
        symptoms=symptoms,
        advice=tuple(f"{s} → {KNOBS[s]}" for s in symptoms),
        curve_source=curve_source,
    )


def _heat_change_pct(
    mean_fit: ResponseFit, curve: Curve, new_curve: Curve, t_o: Array
) -> float | None:
    """Heat ∝ (T_in − T_out) of the mean room, summed over the observed days' weather."""
    now = mean_fit.steady(curve_setpoint(curve, t_o), t_o)
    new = mean_fit.steady(curve_setpoint(new_curve, t_o), t_o)
    load_now = np.clip(now - t_o, 0.0, None).sum()
    if load_now <= 0:
        return None
    return round(float(100.0 * (np.clip(new - t_o, 0.0, None).sum() / load_now - 1.0)), 1)
