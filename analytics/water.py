"""Liquid water properties for heat metering: IAPWS-IF97 region 1, tabulated once per pressure.

An IF97 call costs about 0.2 ms, too slow per sample; a 0.5 K table over 0–150 °C at
the network pressure, interpolated linearly with numpy, stays within 0.01 % of IF97.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from iapws.iapws97 import _Region1
from numpy.typing import ArrayLike, NDArray

Array = NDArray[np.float64]
NETWORK_PRESSURE_MPA = 1.0  # absolute; liquid up to 179 °C, far above any network temperature
TABLE_STEP = 0.5
TABLE_T = np.arange(0.0, 150.0 + TABLE_STEP / 2, TABLE_STEP)


@lru_cache(maxsize=8)
def water_table(pressure_mpa: float = NETWORK_PRESSURE_MPA) -> tuple[Array, Array, Array]:
    """Density (kg/m³), specific enthalpy (kJ/kg) and cp (kJ/kg·K) at TABLE_T."""
    rows = [_Region1(273.15 + max(t, 0.01), pressure_mpa) for t in TABLE_T.tolist()]
    density = np.array([1.0 / r["v"] for r in rows])
    enthalpy = np.array([r["h"] for r in rows])
    cp = np.array([r["cp"] for r in rows])
    for a in (density, enthalpy, cp):
        a.flags.writeable = False
    return density, enthalpy, cp


def lookup(t_c: ArrayLike, column: Array) -> Array:
    """Linear interpolation on the uniform TABLE_T grid (flat beyond its ends; NaN stays NaN).

    Index arithmetic instead of np.interp's binary search: about three times faster.
    """
    x = np.clip(np.asarray(t_c, dtype=np.float64), TABLE_T[0], TABLE_T[-1]) / TABLE_STEP
    i = np.minimum(np.nan_to_num(x).astype(np.intp), len(TABLE_T) - 2)
    return column[i] + (x - i) * (column[i + 1] - column[i])


def density(t_c: ArrayLike, pressure_mpa: float = NETWORK_PRESSURE_MPA) -> Array:
    """Water density (kg/m³) at temperature t_c (°C)."""
    return lookup(t_c, water_table(pressure_mpa)[0])


def enthalpy(t_c: ArrayLike, pressure_mpa: float = NETWORK_PRESSURE_MPA) -> Array:
    """Specific enthalpy of liquid water (kJ/kg) at t_c (°C)."""
    return lookup(t_c, water_table(pressure_mpa)[1])


def heat_capacity(t_c: ArrayLike, pressure_mpa: float = NETWORK_PRESSURE_MPA) -> Array:
    """Isobaric heat capacity cp (kJ/kg·K) at t_c (°C)."""
    return lookup(t_c, water_table(pressure_mpa)[2])


def heat_kw(
    flow_m3h: ArrayLike,
    t_supply: ArrayLike,
    t_return: ArrayLike,
    *,
    meter_at_supply: bool = False,
    pressure_mpa: float = NETWORK_PRESSURE_MPA,
) -> Array:
    """Heat Q = ρ·V̇·(h_supply − h_return) in kW from a volume flow in m³/h.

    The enthalpy difference is the exact form of ρ·cp·V̇·ΔT (cp averaged over ΔT);
    ρ is taken where the flow meter sits, the return pipe unless told otherwise.
    """
    rho, h, _ = water_table(pressure_mpa)
    t_s = np.asarray(t_supply, dtype=np.float64)
    t_r = np.asarray(t_return, dtype=np.float64)
    rho_meter = lookup(t_s if meter_at_supply else t_r, rho)
    dh = lookup(t_s, h) - lookup(t_r, h)
    return np.asarray(flow_m3h, dtype=np.float64) / 3600.0 * rho_meter * dh


def capacity_rate_kw_k(
    flow_m3h: ArrayLike, t_c: ArrayLike, pressure_mpa: float = NETWORK_PRESSURE_MPA
) -> Array:
    """Heat capacity rate C = ρ·V̇·cp (kW/K) of a stream at t_c."""
    rho, _, cp = water_table(pressure_mpa)
    return np.asarray(flow_m3h, dtype=np.float64) / 3600.0 * lookup(t_c, rho) * lookup(t_c, cp)
