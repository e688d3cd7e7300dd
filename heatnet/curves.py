"""Heating-curve arithmetic shared by the simulator's PLCs and the analytics.

`design_supply_return` is the physical curve of DOMAIN.md (emitter exponent m, design
temperatures); `slope_shift_setpoint` and `table_setpoint` are how controllers hold it.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from heatnet.config import Curve, SlopeShiftCurve, TableCurve

Array = NDArray[np.float64]


def design_supply_return(
    t_outdoor: ArrayLike,
    *,
    t_indoor: float = 18.0,
    t_indoor_design: float = 18.0,
    t_outdoor_design: float = -6.7,
    supply_design: float = 85.0,
    return_design: float = 60.0,
    exponent: float = 1.3,
    relative_flow: float = 1.0,
) -> tuple[Array, Array]:
    """Supply and return temperatures that hold t_indoor at t_outdoor (DOMAIN.md formula)."""
    t_o = np.asarray(t_outdoor, dtype=np.float64)
    q = np.clip((t_indoor - t_o) / (t_indoor_design - t_outdoor_design), 0.0, None)
    mean_excess = (supply_design + return_design) / 2.0 - t_indoor_design
    spread = supply_design - return_design
    t_supply = t_indoor + mean_excess * q ** (1.0 / exponent) + spread / 2.0 * q / relative_flow
    t_return = t_supply - q * spread / relative_flow
    return t_supply, t_return


def slope_shift_setpoint(
    t_outdoor: ArrayLike,
    slope: ArrayLike,
    shift: ArrayLike,
    min_supply: ArrayLike,
    max_supply: ArrayLike,
    base_indoor: ArrayLike = 20.0,
) -> Array:
    """Supply set point = base + shift + slope · (base − outdoor), within [min, max]."""
    base = np.asarray(base_indoor, dtype=np.float64)
    raw = base + np.asarray(shift) + np.asarray(slope) * (base - np.asarray(t_outdoor))
    return np.clip(raw, min_supply, max_supply)


def table_setpoint(
    t_outdoor: ArrayLike,
    outdoor: ArrayLike,
    supply: ArrayLike,
    min_supply: float,
    max_supply: float,
) -> Array:
    """Set point interpolated linearly in the table, flat beyond its ends, within [min, max]."""
    raw = np.interp(np.asarray(t_outdoor, dtype=np.float64), outdoor, supply)
    return np.clip(raw, min_supply, max_supply)


def curve_setpoint(curve: Curve, t_outdoor: ArrayLike) -> Array:
    """The supply set point a configured curve gives at t_outdoor."""
    if isinstance(curve, SlopeShiftCurve):
        return slope_shift_setpoint(
            t_outdoor,
            curve.slope,
            curve.shift,
            curve.min_supply,
            curve.max_supply,
            curve.base_indoor,
        )
    assert isinstance(curve, TableCurve)
    outdoor, supply = zip(*curve.points, strict=True)
    return table_setpoint(t_outdoor, outdoor, supply, curve.min_supply, curve.max_supply)
