"""Rooms as 1R1C nodes heated by radiators or floor heating, vectorised over every room.

Each room stands for an equal share of its building's floor area; its envelope
conductance is the building's design heat loss split by exposure, and its emitter is
sized to hold the design indoor temperature at the design outdoor temperature (a
kitchen's for its own lower floor). Emitter output follows Q = Qn·(ΔT/ΔTn)^m with ΔT the
arithmetic mean water-to-room difference; the return is solved by Newton iterations.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from heatnet.config import SiteConfig
from simulators.params import Physics

Array = NDArray[np.float64]

NEWTON_STEPS = 4


def internal_gain_profile(hour: float) -> float:
    """Relative internal gains (mean 1 over a day): low at night, peaks morning and evening."""
    if 6.0 <= hour < 9.0:
        return 1.3
    if 17.0 <= hour < 23.0:
        return 1.6
    if 9.0 <= hour < 17.0:
        return 0.8
    return 0.6625  # the remaining 8 night hours bring the daily mean to 1


class Buildings:
    """Every room of the site; arrays indexed by room, buildings and substations by index."""

    def __init__(self, site: SiteConfig, physics: Physics) -> None:
        self.physics = physics
        t_on = site.climate.design_outdoor
        t_in = site.indoor.floor
        rows: list[tuple[float, ...]] = []
        self.room_ids: list[tuple[str, str, str]] = []
        self.building_ids: list[str] = []
        building_sub: list[int] = []
        for s, sub in enumerate(site.substations):
            for building in sub.buildings:
                b = len(self.building_ids)
                self.building_ids.append(f"{sub.id}/{building.id}")
                building_sub.append(s)
                n = len(building.rooms)
                ua_building = building.design_heat_kw * 1000.0 / (t_in - t_on)
                mean_exposure = sum(r.exposure for r in building.rooms) / n
                area = building.floor_area_m2 / n
                capacity = physics.capacity_kj_m2k[building.construction] * 1000.0 * area
                ts_n, tr_n, m = (
                    building.design_supply,
                    building.design_return,
                    building.emitter_exponent,
                )
                dt_n = (ts_n + tr_n) / 2.0 - t_in
                for room in building.rooms:
                    ua = ua_building / n * room.exposure / mean_exposure
                    target = site.indoor.floor_for(room.type)
                    q_design = ua * (t_in - t_on)
                    # emitter sized so the room settles at its own floor in design weather
                    qn = ua * (target - t_on) / (((ts_n + tr_n) / 2.0 - target) / dt_n) ** m
                    flow = q_design / (physics.cp * 1000.0 * (ts_n - tr_n)) * building.flow_share
                    rows.append(
                        (
                            s,
                            b,
                            ua,
                            capacity,
                            qn * building.radiator_sizing,
                            dt_n,
                            m,
                            flow,
                            area,
                            room.exposure,
                            target,
                        )
                    )
                    self.room_ids.append((sub.id, building.id, room.id))
        table = np.array(rows, dtype=np.float64)
        self.sub = table[:, 0].astype(np.intp)
        self.building = table[:, 1].astype(np.intp)
        self.building_sub = np.array(building_sub, dtype=np.intp)
        self.n_substations = len(site.substations)
        self.ua, self.capacity, self.qn_sized = table[:, 2], table[:, 3], table[:, 4]
        self.dt_n, self.exponent, self.design_flow = table[:, 5], table[:, 6], table[:, 7]
        self.area, self.exposure, self.target = table[:, 8], table[:, 9], table[:, 10]
        self.radiator_factor = np.ones(len(rows))
        self.t_indoor = self.target.copy()
        self.t_return = self.target.copy()
        self.q_emitter = np.zeros(len(rows))
        self.flow = self.design_flow.copy()
        self.sub_design_flow = np.bincount(self.sub, self.design_flow, self.n_substations)

    @property
    def qn(self) -> Array:
        """Emitter design output in force (W): sizing times any undersized_radiators fault."""
        return self.qn_sized * self.radiator_factor

    def emit(self, t_supply: Array, flow: Array, iterations: int = NEWTON_STEPS) -> Array:
        """Emitter output (W) and return temperature for supply per room; returns dQ/dTi."""
        qn, dt_n, m, ti = self.qn, self.dt_n, self.exponent, self.t_indoor
        c_water = np.maximum(flow * self.physics.cp * 1000.0, 1e-9)
        tr = np.clip(self.t_return, ti, t_supply)
        hot = t_supply > ti
        for _ in range(iterations):
            x = np.maximum((t_supply + tr) / 2.0 - ti, 1e-9) / dt_n
            q = qn * x**m
            f = c_water * (t_supply - tr) - q
            df = -c_water - q * m / (x * dt_n) / 2.0
            tr = np.clip(tr - f / df, ti, t_supply)
        x = np.maximum((t_supply + tr) / 2.0 - ti, 1e-9) / dt_n
        k = qn * m * x ** (m - 1.0) / dt_n
        self.t_return = np.where(hot, tr, t_supply)
        self.q_emitter = np.where(hot, c_water * (t_supply - self.t_return), 0.0)
        return np.where(hot, k / (1.0 + k / (2.0 * c_water)), 0.0)

    def gains(self, hour: float, solar_w_m2: float) -> Array:
        """Internal and solar gains per room (W)."""
        internal = self.physics.internal_gains_w_m2 * internal_gain_profile(hour)
        solar = self.physics.solar_aperture * self.exposure * solar_w_m2
        return (internal + solar) * self.area

    def advance(self, dt: float, t_outdoor: Array, gains: Array, conductance: Array) -> None:
        """Room temperatures after dt, emitter output linearised in Ti (exact exponential)."""
        b = self.ua + conductance
        a = self.q_emitter + conductance * self.t_indoor + gains + self.ua * t_outdoor
        t_eq = a / b
        self.t_indoor = t_eq + (self.t_indoor - t_eq) * np.exp(-dt * b / self.capacity)

    def settle(self, t_supply: Array, t_outdoor: Array, gains: Array) -> None:
        """Put rooms in steady state for a constant supply and outdoor temperature."""
        for _ in range(60):
            self.emit(t_supply, self.flow)
            self.t_indoor = t_outdoor + (self.q_emitter + gains) / self.ua
        self.emit(t_supply, self.flow, iterations=20)

    def design_conductance(self) -> Array:
        """dQ/dTi of each emitter at design temperatures and flow (W/K)."""
        c_water = self.design_flow * self.physics.cp * 1000.0
        k = self.qn * self.exponent / self.dt_n
        return k / (1.0 + k / (2.0 * c_water))

    def per_substation(self, values: Array) -> Array:
        return np.bincount(self.sub, values, self.n_substations)

    def per_building(self, values: Array) -> Array:
        return np.bincount(self.building, values, len(self.building_ids))

    def return_mix(self, flow: Array, t_fallback: Array) -> Array:
        """Flow-weighted secondary return per substation; fallback where nothing flows."""
        total = self.per_substation(flow)
        mixed = self.per_substation(flow * self.t_return)
        return np.where(total > 1e-12, mixed / np.maximum(total, 1e-12), t_fallback)
