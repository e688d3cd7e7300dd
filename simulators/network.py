"""The heat source and the primary network: transport delay, pipe losses and pressures.

Source supply water reaches a substation distance/velocity seconds later (a ring buffer
of the source supply temperature); each pipe loses heat to the ground with a conductance
sized so it loses Physics.pipe_loss_fraction of the substation's design heat at design
temperatures, so a pipe cools the water more when the flow is low.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from heatnet.config import SiteConfig
from simulators.params import Physics

Array = NDArray[np.float64]


class PrimaryNetwork:
    """Source temperatures and the pipes from the source to every substation and back."""

    def __init__(
        self,
        site: SiteConfig,
        physics: Physics,
        step_s: float,
        design_heat_kw: Array,
        c1_design: Array,
    ) -> None:
        self.physics = physics
        self.step_s = step_s
        self.t_ground = float(np.mean(list(site.climate.monthly_mean.values())))
        distance = np.array([s.design.distance_m for s in site.substations])
        t1s = np.array([s.design.primary_supply for s in site.substations])
        t1r = np.array([s.design.primary_return for s in site.substations])
        loss = physics.pipe_loss_fraction * design_heat_kw
        self.ua_supply = loss / np.maximum(t1s - self.t_ground, 1.0)  # kW/K
        self.ua_return = loss / np.maximum(t1r - self.t_ground, 1.0)
        self.delay_s = distance / physics.pipe_velocity_m_s
        self.head_loss_mpa = physics.head_loss_pa_m * distance / 1e6
        self.c_total_design = float(c1_design.sum())
        self.history = np.zeros(math.ceil(self.delay_s.max() / step_s) + 2)
        self.head = 0
        self.t_supply = site.heat_source.design_supply
        self.t_return = site.heat_source.design_return
        self.running = True
        self.setpoint = self.t_supply
        self.c_total = self.c_total_design

    def fill(self, t_supply: float) -> None:
        """Source and all water in the supply pipes at one temperature (a settled start)."""
        self.t_supply = self.setpoint = t_supply
        self.history[:] = t_supply

    def advance_source(self, dt: float, setpoint: float, running: bool) -> None:
        """Source supply follows its set point with a lag; a tripped source drifts to its return."""
        self.setpoint = setpoint
        self.running = running
        target = setpoint if running else self.t_return
        self.t_supply = target + (self.t_supply - target) * math.exp(
            -dt / self.physics.source_lag_s
        )
        self.head = (self.head + 1) % len(self.history)
        self.history[self.head] = self.t_supply

    def arriving(self) -> Array:
        """Source supply temperature that left the source one transport delay ago."""
        back = self.delay_s / self.step_s
        whole = np.floor(back).astype(np.intp)
        frac = back - whole
        newer = self.history[(self.head - whole) % len(self.history)]
        older = self.history[(self.head - whole - 1) % len(self.history)]
        return newer + (older - newer) * frac

    def through_pipe(self, t_in: Array, ua: Array, c1: Array) -> Array:
        """Water temperature after a pipe with conductance ua to the ground, capacity rate c1."""
        c = np.maximum(c1, 1e-9)
        return self.t_ground + (t_in - self.t_ground) * np.exp(-ua / c)

    def pressures(self, c_total: float) -> tuple[Array, Array]:
        """Supply and return pressure (MPa) at every substation for the total circulation."""
        drop = self.head_loss_mpa * (c_total / self.c_total_design) ** 2
        return self.physics.source_supply_mpa - drop, self.physics.source_return_mpa + drop

    def collect(self, c1: Array, t1_return_at_source: Array) -> None:
        """Mix substation returns arriving at the source."""
        self.c_total = float(c1.sum())
        if self.c_total > 1e-9:
            self.t_return = float((c1 * t1_return_at_source).sum() / self.c_total)

    @property
    def power_kw(self) -> float:
        return self.c_total * (self.t_supply - self.t_return)
