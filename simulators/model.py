"""The plant model a simulated site serves: weather, source, network, substations, rooms, steam.

`SiteModel` implements `simulators.plc.PlcBackend`: it advances in fixed steps of
simulated time, and `values()` gives every point of the site as its PLC reports it.
`truth` exposes the noise-free state and the parameters behind it, for tests.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from heatnet.config import SiteConfig
from heatnet.curves import curve_setpoint
from heatnet.points import PointSpec, site_points
from simulators.buildings import Buildings
from simulators.curvebank import CurveBank
from simulators.faults import FaultManager
from simulators.network import PrimaryNetwork
from simulators.params import Physics
from simulators.plc import DeviceStatus, WriteRefused
from simulators.plcview import PlcView
from simulators.steam import SteamCustomers
from simulators.substations import Substations
from simulators.truth import Truth
from simulators.weather import WeatherModel

Array = NDArray[np.float64]


def default_start(site: SiteConfig, today: datetime | None = None) -> datetime:
    """Midnight of 15 December of the current heating season, site time."""
    today = today or datetime.now(site.tz)
    year = today.year if today.month >= 7 else today.year - 1
    return datetime(year, 12, 15, tzinfo=site.tz)


class SiteModel:
    """The physics of one site, stepped in simulated time; a `PlcBackend`."""

    def __init__(
        self,
        site: SiteConfig,
        *,
        seed: int | None = None,
        start: datetime | None = None,
        step_s: float | None = None,
        physics: Physics | None = None,
    ) -> None:
        self.site = site
        self.physics = p = physics or Physics()
        self.seed = site.simulation.seed if seed is None else seed
        self.step_s = float(step_s if step_s is not None else site.simulation.step_s)
        start = start or site.simulation.start or default_start(site)
        if start.tzinfo is None:
            start = start.replace(tzinfo=site.tz)
        self.start = start.astimezone(UTC)
        self._start_s = self.start.timestamp()
        self._steps = 0
        self.points: list[PointSpec] = site_points(site)
        self.point_index = {spec.path: i for i, spec in enumerate(self.points)}
        self.faults = FaultManager(list(site.faults))
        rng = np.random.default_rng([self.seed, 1])
        self.weather = WeatherModel(
            site.climate,
            site.simulation.weather,
            site.tz,
            self.seed,
            noise_std=p.weather_noise_k,
            noise_tau_s=p.weather_noise_tau_s,
        )
        self.buildings = Buildings(site, p)
        self.substations = Substations(site, p, self.buildings.sub_design_flow)
        self.curves = CurveBank([site.curves[s.curve] for s in site.substations])
        self.network = PrimaryNetwork(
            site, p, self.step_s, self.substations.design_heat_kw, self.substations.c1_design
        )
        self.steam = SteamCustomers(site.steam_customers, rng)
        self.outdoor_bias = p.outdoor_bias_std_k * rng.standard_normal(len(site.substations))
        self.source_outdoor_bias = p.outdoor_bias_std_k * float(rng.standard_normal())
        self._source_curve = site.curves[site.heat_source.supply_curve]
        n = len(site.substations)
        self.e1_energy = np.zeros(n)  # GJ
        self.makeup_total = np.zeros(n)  # m³
        self.leak_m3h = np.zeros(n)
        self.named: dict[str, float] = {}
        self._fault_key: tuple[int, ...] | None = None
        self._values: Array | None = None
        self._view = PlcView(self)
        self.truth = Truth(self)
        self._settle()

    # ---- clock ---------------------------------------------------------------------

    @property
    def elapsed_s(self) -> float:
        return self._steps * self.step_s

    @property
    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.elapsed_s)

    def now_ms(self) -> int:
        return round((self._start_s + self.elapsed_s) * 1000.0)

    def step(self, n: int = 1) -> None:
        """Advance n steps of step_s."""
        for _ in range(n):
            self._steps += 1
            self._advance(self.step_s)

    def run_for(self, seconds: float) -> None:
        """Advance by whole steps covering `seconds` of simulated time."""
        self.step(max(0, round(seconds / self.step_s)))

    # ---- physics -------------------------------------------------------------------

    @property
    def t_outdoor_measured(self) -> Array:
        return self.weather.outdoor + self.outdoor_bias

    def _source_setpoint(self) -> float:
        t = self.weather.outdoor + self.source_outdoor_bias
        return float(curve_setpoint(self._source_curve, t))

    def _secondary_capacity(self) -> tuple[Array, Array]:
        """Room flows (kg/s) and substation secondary capacity rates (kW/K)."""
        relative = self.substations.secondary_capacity()
        room_flow = self.buildings.design_flow * relative[self.buildings.sub]
        c2 = self.buildings.sub_design_flow * relative * self.physics.cp
        return room_flow, c2

    def _settle(self) -> None:
        """Start in steady state for the initial outdoor temperature and set points."""
        self.weather.advance(self._start_s, 0.0)
        self._apply_faults()
        self.network.fill(self._source_setpoint())
        self.setpoint = self.curves.setpoint(self.t_outdoor_measured)
        room_flow, c2 = self._secondary_capacity()
        self.buildings.flow = room_flow
        gains = self.buildings.gains(self.weather.hour, self.weather.solar)
        t_out = np.full(len(self.buildings.ua), self.weather.outdoor)
        self.buildings.settle(self.setpoint[self.buildings.sub], t_out, gains)
        self.t2_return = self.buildings.return_mix(room_flow, self.setpoint)
        for _ in range(4):
            self.t1_supply = self.network.through_pipe(
                self.network.arriving(), self.network.ua_supply, self.substations.c1
            )
            self.substations.settle(self.setpoint, self.t1_supply, self.t2_return, c2)
        self._finish_step(0.0, room_flow)

    def _advance(self, dt: float) -> None:
        self._apply_faults()
        self.weather.advance(self._start_s + self.elapsed_s, dt)
        subs, rooms, net = self.substations, self.buildings, self.network
        net.advance_source(dt, self._source_setpoint(), self.source_running)
        self.t1_supply = net.through_pipe(net.arriving(), net.ua_supply, subs.c1)
        self.setpoint = self.curves.setpoint(self.t_outdoor_measured)
        room_flow, c2 = self._secondary_capacity()
        subs.control(dt, self.setpoint, self.t1_supply, self.t2_return, c2)
        conductance = rooms.emit(subs.t2_supply[rooms.sub], room_flow)
        gains = rooms.gains(self.weather.hour, self.weather.solar)
        rooms.advance(dt, self.weather.outdoor, gains, conductance)
        self.t2_return = rooms.return_mix(room_flow, subs.t2_supply)
        self.steam.advance(dt, self.weather.hour, self.weather.weekday)
        self._finish_step(dt, room_flow)
        if any(e.held is None for e in self.faults.entries("frozen_sensor")):
            self._view.hold_frozen()

    def _finish_step(self, dt: float, room_flow: Array) -> None:
        subs, net = self.substations, self.network
        self.buildings.flow = room_flow
        self.t1_return_at_source = net.through_pipe(subs.t1_return, net.ua_return, subs.c1)
        net.collect(subs.c1, self.t1_return_at_source)
        self.e1_energy += subs.q_hx * dt / 1e6
        self.makeup_total += self.makeup_flow * dt / 3600.0
        self._values = None

    @property
    def f2_flow(self) -> Array:
        """Secondary circulation (m³/h)."""
        return self.buildings.per_substation(self.buildings.flow) * 3600.0 / self.physics.rho

    @property
    def makeup_flow(self) -> Array:
        """True make-up water flow (m³/h): a small share of circulation plus any leak."""
        return self.physics.makeup_fraction * self.f2_flow + self.leak_m3h

    def _apply_faults(self) -> None:
        """Bring process faults into force; recomputed only when the set in force changes."""
        self.faults.elapsed_s = self.elapsed_s
        self.faults.release_ended()
        key = tuple(e.id for e in self.faults.entries())
        if key == self._fault_key:
            return
        self._fault_key = key
        sub_index = {sid: i for i, sid in enumerate(self.substations.ids)}
        self.leak_m3h[:] = 0.0
        self.substations.stuck[:] = np.nan
        self.buildings.radiator_factor[:] = 1.0
        self.source_running = True
        for entry in self.faults.entries():
            fault = entry.fault
            if fault.kind == "leak":
                self.leak_m3h[sub_index[fault.target]] += fault.flow_m3h
            elif fault.kind == "stuck_valve":
                i = sub_index[fault.target]
                if entry.held is None:
                    position = fault.position
                    entry.held = float(self.substations.valve[i]) if position is None else position
                self.substations.stuck[i] = entry.held
            elif fault.kind == "undersized_radiators":
                b = self.buildings.building_ids.index(fault.target)
                self.buildings.radiator_factor[self.buildings.building == b] *= fault.factor
            elif fault.kind == "source_trip":
                self.source_running = False

    # ---- the PLC view --------------------------------------------------------------

    def values(self) -> Array:
        """Every point as the PLCs report it; computed once per step."""
        if self._values is None:
            self._values = self._view.compute()
        return self._values

    def read(self, path: str) -> float:
        return float(self.values()[self._index(path)])

    def text(self, path: str) -> str:
        """A string point's value from its profile."""
        spec = self.points[self._index(path)]
        if not isinstance(spec.point.value, str):
            raise ValueError(f"{path} is not a string point")
        return spec.point.value

    def _index(self, path: str) -> int:
        try:
            return self.point_index[path]
        except KeyError:
            raise KeyError(f"no point {path!r} in site {self.site.site.id!r}") from None

    def write(self, path: str, value: float) -> None:
        """Apply a client's write to a writable point, or raise WriteRefused with the reason."""
        spec = self.points[self.point_index[path]] if path in self.point_index else None
        if spec is None:
            raise WriteRefused(f"{path}: no such point")
        point = spec.point
        if not point.writable:
            raise WriteRefused(f"{path}: point is read-only")
        if isinstance(point.value, str):
            raise WriteRefused(f"{path}: a string point cannot take a number")
        value = float(value)
        if not math.isfinite(value):
            raise WriteRefused(f"{path}: {value} is not a finite number")
        if (point.min is not None and value < point.min) or (
            point.max is not None and value > point.max
        ):
            raise WriteRefused(f"{path}: {value:g} is outside [{point.min}, {point.max}]")
        self._apply_write(spec, value)
        self._values = None

    def _apply_write(self, spec: PointSpec, value: float) -> None:
        key = spec.key
        if spec.role is None:
            self.named[spec.path] = value
            return
        if spec.asset_kind != "substation":
            raise WriteRefused(f"{spec.path}: {key} is not a set point of this PLC")
        i = self.substations.ids.index(spec.asset_id)
        if key.startswith("curve_"):
            lo, hi = float(self.curves.min_supply[i]), float(self.curves.max_supply[i])
            if (key == "curve_min" and value >= hi) or (key == "curve_max" and value <= lo):
                raise WriteRefused(f"{spec.path}: curve_min must stay below curve_max")
            self.curves.set_parameter(i, key, value)
        elif key == "pump_speed":
            self.substations.pump_speed[i] = value
        elif key == "pump_running":
            self.substations.pump_running[i] = value >= 0.5
        else:
            raise WriteRefused(f"{spec.path}: {key} is a measurement, not a set point")

    def device_status(self, device_key: str) -> DeviceStatus:
        self.faults.elapsed_s = self.elapsed_s
        return self.faults.device_status(device_key)
