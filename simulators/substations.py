"""Substations: weather-compensated PI control of the primary valve and the plate exchanger.

The exchanger is counterflow ε-NTU with UA sized from the design point (DOMAIN.md: 130/70
feeding 60→85 gives ε≈0.86, NTU≈2.6) and rising with both flows. The control loop is
stepped in sub-steps no longer than Physics.control_substep_s so any model step is stable.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from heatnet.config import SiteConfig
from simulators.params import Physics

Array = NDArray[np.float64]


def counterflow_effectiveness(ntu: Array, cr: Array) -> Array:
    """ε of a counterflow exchanger; the Cr → 1 limit is NTU/(1+NTU)."""
    one = np.abs(1.0 - cr) < 1e-6
    e = np.exp(-ntu * np.where(one, 0.5, 1.0 - cr))
    general = (1.0 - e) / (1.0 - cr * e)
    return np.where(one, ntu / (1.0 + ntu), general)


class Substations:
    """Primary valve, exchanger and controller of every substation (arrays over substations)."""

    def __init__(
        self, site: SiteConfig, physics: Physics, secondary_design_flow_kg_s: Array
    ) -> None:
        self.physics = physics
        self.ids = [s.id for s in site.substations]
        heat = np.array([s.design_heat_kw for s in site.substations])
        t1s = np.array([s.design.primary_supply for s in site.substations])
        t1r = np.array([s.design.primary_return for s in site.substations])
        t2s = (
            np.array(
                [
                    sum(b.design_heat_kw * b.design_supply for b in s.buildings)
                    for s in site.substations
                ]
            )
            / heat
        )
        t2r = (
            np.array(
                [
                    sum(b.design_heat_kw * b.design_return for b in s.buildings)
                    for s in site.substations
                ]
            )
            / heat
        )
        self.design_heat_kw = heat
        self.c1_design = heat / (t1s - t1r)  # kW/K
        self.c2_design = secondary_design_flow_kg_s * physics.cp
        c_min = np.minimum(self.c1_design, self.c2_design)
        cr = c_min / np.maximum(self.c1_design, self.c2_design)
        eps = np.clip(heat / (c_min * (t1s - t2r)), 0.05, 0.99)
        ntu = np.where(
            np.abs(1 - cr) < 1e-6,
            eps / (1 - eps),
            np.log((1 - eps * cr) / (1 - eps)) / (1 - cr),
        )
        self.design_effectiveness = eps
        self.design_ntu = ntu
        self.ua_design = ntu * c_min  # kW/K
        self.pump_speed_design = np.array([s.design.pump_speed_hz for s in site.substations])
        self.pump_speed = self.pump_speed_design.copy()
        self.pump_running = np.ones(len(self.ids), dtype=bool)
        self.c1_max = self.c1_design * physics.valve_oversize
        n = len(self.ids)
        self.valve = np.full(n, 50.0)
        self.command = self.valve.copy()
        self.integral = self.valve.copy()
        self.kp = np.full(n, 1.0)
        self.stuck = np.full(n, np.nan)
        self.t2_supply = t2s.copy()  # exchanger outlet
        self.t2_supply_sensor = t2s.copy()
        self.t1_return = t1r.copy()
        self.q_hx = heat.copy()
        self.c1 = self.c1_design.copy()

    def secondary_capacity(self) -> Array:
        """Relative secondary circulation (1 at design speed), 0 with the pump stopped."""
        return np.where(self.pump_running, self.pump_speed / self.pump_speed_design, 0.0)

    def primary_capacity(self, valve: Array) -> Array:
        """Primary heat capacity rate (kW/K) through an equal-percentage valve at position %."""
        r = self.physics.valve_rangeability
        return self.c1_max * (np.power(r, valve / 100.0) - 1.0) / (r - 1.0)

    def exchange(
        self, valve: Array, t1_supply: Array, t2_return: Array, c2: Array
    ) -> tuple[Array, Array, Array]:
        """Exchanger duty (kW), primary return and secondary supply for valve positions."""
        c1 = np.maximum(self.primary_capacity(valve), 1e-9)
        c2 = np.maximum(c2, 1e-9)
        n = self.physics.hx_flow_exponent
        ua = self.ua_design * 2.0 / ((self.c1_design / c1) ** n + (self.c2_design / c2) ** n)
        c_min = np.minimum(c1, c2)
        cr = c_min / np.maximum(c1, c2)
        q = (
            counterflow_effectiveness(ua / c_min, cr)
            * c_min
            * np.maximum(t1_supply - t2_return, 0.0)
        )
        t1_return = t1_supply - q / c1
        t2_supply = t2_return + q * (1.0 - self.physics.hx_loss_fraction) / c2
        self.c1 = c1
        return q, t1_return, t2_supply

    def control(
        self, dt: float, setpoint: Array, t1_supply: Array, t2_return: Array, c2: Array
    ) -> None:
        """Advance valve, exchanger and supply sensor by dt in stable sub-steps."""
        p = self.physics
        steps = max(1, math.ceil(dt / p.control_substep_s))
        h = dt / steps
        lag = 1.0 - math.exp(-h / p.sensor_lag_s)
        stuck = ~np.isnan(self.stuck)
        for _ in range(steps):
            error = setpoint - self.t2_supply_sensor
            proportional = self.kp * error
            integral = self.integral + self.kp * h / p.control_integral_s * error
            self.integral = np.clip(integral, -proportional, 100.0 - proportional)
            self.command = np.clip(proportional + self.integral, 0.0, 100.0)
            self.valve = np.where(stuck, self.stuck, self.command)
            self.q_hx, self.t1_return, self.t2_supply = self.exchange(
                self.valve, t1_supply, t2_return, c2
            )
            self.t2_supply_sensor += (self.t2_supply - self.t2_supply_sensor) * lag

    def settle(self, setpoint: Array, t1_supply: Array, t2_return: Array, c2: Array) -> None:
        """Valve at the position that meets the set point; gain scheduled from that point."""
        lo, hi = np.zeros_like(setpoint), np.full_like(setpoint, 100.0)
        for _ in range(40):
            mid = (lo + hi) / 2.0
            _, _, t2s = self.exchange(mid, t1_supply, t2_return, c2)
            low = t2s < setpoint
            lo, hi = np.where(low, mid, lo), np.where(low, hi, mid)
        valve = (lo + hi) / 2.0
        up = self.exchange(np.minimum(valve + 2.0, 100.0), t1_supply, t2_return, c2)[2]
        down = self.exchange(np.maximum(valve - 2.0, 0.0), t1_supply, t2_return, c2)[2]
        slope = np.maximum((up - down) / 4.0, 0.02)  # K per % of valve
        self.kp = self.physics.control_loop_gain / slope
        self.valve = self.command = self.integral = valve
        self.q_hx, self.t1_return, self.t2_supply = self.exchange(valve, t1_supply, t2_return, c2)
        self.t2_supply_sensor = self.t2_supply.copy()
