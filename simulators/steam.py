"""Industrial steam customers: pressure and temperature near design, flow on a shift schedule."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from heatnet.config import SteamCustomer

Array = NDArray[np.float64]

# Relative steam demand by local hour: two day shifts, a light night shift.
SHIFT_LOAD = (0.35,) * 6 + (0.7,) + (1.0,) * 15 + (0.7,) + (0.35,)
WEEKEND_FACTOR = 0.6
DEMAND_STD = 0.08  # relative, OU with DEMAND_TAU_S
DEMAND_TAU_S = 1800.0


class SteamCustomers:
    """Mass flow (t/h), pressure (MPa), temperature (°C) and the mass counter (t)."""

    def __init__(self, customers: list[SteamCustomer], rng: np.random.Generator) -> None:
        self.ids = [c.id for c in customers]
        self.design_flow = np.array([c.design_mass_flow_t_h for c in customers])
        self.design_pressure = np.array([c.pressure_mpa for c in customers])
        self.design_temperature = np.array([c.temperature_c for c in customers])
        self.rng = rng
        self.demand_noise = DEMAND_STD * rng.standard_normal(len(customers))
        self.mass_flow = self.design_flow.copy()
        self.pressure = self.design_pressure.copy()
        self.temperature = self.design_temperature.copy()
        self.total = np.zeros(len(customers))

    def advance(self, dt: float, hour: float, weekday: int) -> None:
        if not self.ids:
            return
        decay = math.exp(-dt / DEMAND_TAU_S)
        self.demand_noise = self.demand_noise * decay + DEMAND_STD * math.sqrt(
            1 - decay * decay
        ) * self.rng.standard_normal(len(self.ids))
        load = SHIFT_LOAD[int(hour) % 24] * (WEEKEND_FACTOR if weekday >= 5 else 1.0)
        self.mass_flow = self.design_flow * np.maximum(load + self.demand_noise, 0.0)
        # a heavier draw pulls the header pressure and temperature down a little
        self.pressure = self.design_pressure * (
            1.0 - 0.04 * (self.mass_flow / self.design_flow - 0.7)
        )
        self.temperature = self.design_temperature - 3.0 * (self.mass_flow / self.design_flow - 0.7)
        self.total += self.mass_flow * dt / 3600.0
