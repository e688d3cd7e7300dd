"""Energy delivered to industrial steam customers from metered pressure, temperature and
mass flow, with IAPWS-IF97 enthalpy tabulated once and interpolated for every sample.

Pressure is taken as absolute MPa (the role table's unit) unless the meter is configured
as gauge, when atmospheric pressure is added. Superheated states are interpolated on a
log-pressure × temperature grid of IF97 region 2; states within `saturation_band_k` of
the saturation temperature count as dry saturated steam; colder states are wet (quality
unknown from p and T alone) and, like invalid readings, are flagged and not billed.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from enum import IntEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
from iapws.iapws97 import _Region1, _Region2, _TSat_P
from numpy.typing import NDArray

from analytics.calendar import bucket_mean, sample_hours
from analytics.evidence import Evidence, Result

Array = NDArray[np.float64]
ATMOSPHERE_MPA = 0.101325
P_GRID = np.geomspace(0.1, 10.0, 61)  # MPa absolute
T_GRID = np.arange(100.0, 600.01, 2.0)  # °C
LOG_P = np.log(P_GRID)


class SteamState(IntEnum):
    SUPERHEATED = 0
    SATURATED = 1
    WET = 2
    INVALID = 3


@lru_cache(maxsize=1)
def _tables() -> tuple[Array, Array, Array]:
    """Region-2 enthalpy on the grid (kJ/kg), and saturation T (°C) and h_g along P_GRID."""
    with warnings.catch_warnings():  # metastable grid corners have no speed of sound; h is fine
        warnings.simplefilter("ignore", RuntimeWarning)
        return _compute_tables()


def _compute_tables() -> tuple[Array, Array, Array]:
    h = np.array([[_Region2(t + 273.15, p)["h"] for t in T_GRID.tolist()] for p in P_GRID.tolist()])
    t_sat = np.array([_TSat_P(p) - 273.15 for p in P_GRID.tolist()])
    h_g = np.array([_Region2(ts + 273.15, p)["h"] for ts, p in zip(t_sat, P_GRID, strict=True)])
    return h, t_sat, h_g


def steam_enthalpy(
    pressure_mpa: Array, t_c: Array, *, saturation_band_k: float = 1.0
) -> tuple[Array, NDArray[np.int8]]:
    """Specific enthalpy (kJ/kg) and SteamState of each (absolute pressure, temperature)."""
    h_grid, t_sat_grid, h_g_grid = _tables()
    p = np.asarray(pressure_mpa, dtype=np.float64)
    t = np.asarray(t_c, dtype=np.float64)
    valid = np.isfinite(p) & np.isfinite(t) & (p >= P_GRID[0]) & (p <= P_GRID[-1])
    valid &= t <= T_GRID[-1]
    log_p = np.log(np.where(valid, p, 1.0))
    t_sat = np.interp(log_p, LOG_P, t_sat_grid)
    h_g = np.interp(log_p, LOG_P, h_g_grid)
    i = np.clip(np.searchsorted(LOG_P, log_p) - 1, 0, len(P_GRID) - 2)
    j = np.clip(np.searchsorted(T_GRID, t) - 1, 0, len(T_GRID) - 2)
    u = np.clip((log_p - LOG_P[i]) / (LOG_P[i + 1] - LOG_P[i]), 0.0, 1.0)
    w = np.clip((t - T_GRID[j]) / (T_GRID[j + 1] - T_GRID[j]), 0.0, 1.0)
    h_super = (
        (1 - u) * (1 - w) * h_grid[i, j]
        + (1 - u) * w * h_grid[i, j + 1]
        + u * (1 - w) * h_grid[i + 1, j]
        + u * w * h_grid[i + 1, j + 1]
    )
    state = np.full(p.shape, SteamState.INVALID, dtype=np.int8)
    state[valid & (t > t_sat + saturation_band_k)] = SteamState.SUPERHEATED
    state[valid & (np.abs(t - t_sat) <= saturation_band_k)] = SteamState.SATURATED
    state[valid & (t < t_sat - saturation_band_k)] = SteamState.WET
    h = np.where(state == SteamState.SUPERHEATED, h_super, np.nan)
    return np.where(state == SteamState.SATURATED, h_g, h), state


def feedwater_enthalpy(t_c: float = 20.0, pressure_mpa: float = ATMOSPHERE_MPA) -> float:
    """Enthalpy (kJ/kg) of the feed-water reference: liquid water at t_c."""
    return float(_Region1(t_c + 273.15, pressure_mpa)["h"])


@dataclass(frozen=True, slots=True)
class SteamEnergy(Result):
    customer: str
    evidence: Evidence
    pressure_basis: str  # "absolute" or "gauge"
    feedwater_c: float
    feedwater_enthalpy_kj_kg: float
    total_gj: float
    mass_t: float
    mean_enthalpy_kj_kg: float | None
    days: tuple[str, ...]
    daily_gj: tuple[float, ...]
    samples_by_state: dict[str, int]
    hours_not_billed: float  # wet or invalid samples with flow


def steam_energy(
    customer: str,
    t_ms: NDArray[np.int64],
    pressure_mpa: Array,
    temperature_c: Array,
    mass_flow_t_h: Array,
    tz: ZoneInfo,
    *,
    gauge: bool = False,
    feedwater_c: float = 20.0,
    saturation_band_k: float = 1.0,
) -> SteamEnergy:
    """Energy (GJ) = Σ ṁ · (h(p, T) − h_feedwater) · Δt per local day and in total."""
    p = np.asarray(pressure_mpa, dtype=np.float64) + (ATMOSPHERE_MPA if gauge else 0.0)
    h, state = steam_enthalpy(p, temperature_c, saturation_band_k=saturation_band_k)
    h_feed = feedwater_enthalpy(feedwater_c)
    flow = np.asarray(mass_flow_t_h, dtype=np.float64)
    hours = sample_hours(t_ms)
    mass_t = np.where(np.isfinite(flow), flow, 0.0) * hours
    billed = state <= SteamState.SATURATED
    energy_gj = np.where(billed, mass_t * 1000.0 * (h - h_feed) / 1e6, 0.0)
    labels, means, counts = bucket_mean(energy_gj, t_ms, tz)
    daily = means * counts
    total_mass = float(mass_t[billed].sum())
    counted = np.bincount(state, minlength=len(SteamState))
    cover = float(billed.mean()) if billed.size else 0.0
    reason = None if billed.any() else "no valid steam state"
    return SteamEnergy(
        customer=customer,
        evidence=Evidence.from_ms(
            t_ms,
            ("steam_pressure", "steam_temperature", "steam_mass_flow"),
            round(cover, 3),
            reason,
        ),
        pressure_basis="gauge" if gauge else "absolute",
        feedwater_c=feedwater_c,
        feedwater_enthalpy_kj_kg=round(h_feed, 3),
        total_gj=round(float(energy_gj.sum()), 4),
        mass_t=round(total_mass, 4),
        mean_enthalpy_kj_kg=(
            round(float((mass_t[billed] @ h[billed]) / total_mass), 2) if total_mass > 0 else None
        ),
        days=tuple(str(d) for d in labels),
        daily_gj=tuple(round(float(v), 4) for v in daily),
        samples_by_state={s.name.lower(): int(counted[s]) for s in SteamState},
        hours_not_billed=round(float(hours[~billed & (flow > 0)].sum()), 3),
    )
