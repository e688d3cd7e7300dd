"""How a room's daily mean temperature answers the supply temperature and the weather.

Indoor lags a curve change by a day or more (DOMAIN.md), so the fit works on daily
means through a first-order lag: with S a first-order filter of time constant τ days,

    T_in − S(T_o) = a + g · S(T_s − T_o)

In steady state T_in = a + g·T_s + (1 − g)·T_o: raising supply and outdoor together by
1 K raises indoor by 1 K (the room's heat balance is linear in temperature differences),
which keeps the fit identifiable when, under a fixed curve, T_s follows T_o. τ is chosen
from a small grid by least squared error; g is the steady-state indoor gain (K per K of
supply). When the outdoor range is too narrow for g, g comes from a design prior and
only a is fitted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.signal import lfilter

from analytics.evidence import Result

Array = NDArray[np.float64]
TIME_CONSTANTS_DAYS = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0)


@dataclass(frozen=True, slots=True)
class ResponseFit(Result):
    """Fitted daily response of one indoor series (°C or K above floor)."""

    intercept: float
    gain: float
    gain_stderr: float | None
    gain_source: str  # "fit" or "design prior"
    time_constant_days: float
    r2: float
    residual_std: float
    days: int

    def steady(self, t2_supply: Array | float, t_outdoor: Array | float) -> Array:
        """Indoor predicted in steady state at the given supply and outdoor temperatures."""
        t_s, t_o = np.asarray(t2_supply, dtype=np.float64), np.asarray(t_outdoor, dtype=np.float64)
        return self.intercept + self.gain * t_s + (1.0 - self.gain) * t_o

    def supply_for(self, indoor: float, t_outdoor: Array) -> Array:
        """Supply temperature that holds `indoor` in steady state at each t_outdoor."""
        return t_outdoor + (indoor - self.intercept - t_outdoor) / self.gain


def lag(x: Array, tau_days: float) -> Array:
    """First-order filter of a daily series (started in steady state at its first value)."""
    if tau_days <= 0.0:
        return x
    alpha = float(np.exp(-1.0 / tau_days))
    y, _ = lfilter([1.0 - alpha], [1.0, -alpha], x, zi=[alpha * x[0]])
    return np.asarray(y)


def _fill(x: Array) -> Array:
    """Missing days of a driver filled linearly from their neighbours (ends held)."""
    good = np.isfinite(x)
    if good.all() or not good.any():
        return x
    idx = np.arange(len(x))
    return np.interp(idx, idx[good], x[good])


def fit_response(
    indoor: Array,
    t2_supply: Array,
    t_outdoor: Array,
    *,
    prior_gain: float | None = None,
    time_constants: tuple[float, ...] = TIME_CONSTANTS_DAYS,
    warmup_days: int = 1,
) -> ResponseFit | None:
    """Fit the daily response; `prior_gain` fixes g and fits only a. None if too few days."""
    t_s, t_o = _fill(np.asarray(t2_supply, float)), _fill(np.asarray(t_outdoor, float))
    use = np.isfinite(indoor) & np.isfinite(t_s) & np.isfinite(t_o)
    use[:warmup_days] = False
    n = int(use.sum())
    if n < 3:
        return None
    y_all = np.asarray(indoor, float)[use]
    best: tuple[float, float, Array, float] | None = None
    for tau in time_constants:
        x = lag(t_s - t_o, tau)[use]
        base = lag(t_o, tau)[use]
        y = y_all - base
        if prior_gain is None:
            design = np.column_stack([np.ones(n), x])
            coef, *_ = np.linalg.lstsq(design, y, rcond=None)
        else:
            coef = np.array([np.mean(y - prior_gain * x), prior_gain])
        sse = float(np.sum((y - coef[0] - coef[1] * x) ** 2))
        if best is None or sse < best[0]:
            best = (sse, tau, coef, float(np.var(x) * n))
    assert best is not None
    sse, tau, coef, sxx = best
    free = 2 if prior_gain is None else 1
    dof = max(n - free, 1)
    sigma2 = sse / dof
    sst = float(np.sum((y_all - y_all.mean()) ** 2))
    stderr = float(np.sqrt(sigma2 / sxx)) if prior_gain is None and sxx > 0 else None
    return ResponseFit(
        intercept=float(coef[0]),
        gain=float(coef[1]),
        gain_stderr=stderr,
        gain_source="fit" if prior_gain is None else "design prior",
        time_constant_days=tau,
        r2=1.0 - sse / sst if sst > 0 else 0.0,
        residual_std=float(np.sqrt(sigma2)),
        days=n,
    )


def design_gain(
    design_supply: float = 85.0,
    design_indoor: float = 18.0,
    design_outdoor: float = -6.7,
) -> float:
    """Prior steady-state gain g from design temperatures: (T_i,n − T_o,n) / (T_s,n − T_o,n)."""
    return (design_indoor - design_outdoor) / (design_supply - design_outdoor)
