"""The site as its PLCs report it: every point gathered from the model's arrays, with sensor
noise, resolution and sensor faults applied. The point layout is resolved once, so a call
costs one gather per quantity whatever the number of substations."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from simulators.curvebank import STANDARD_OUTDOOR

if TYPE_CHECKING:
    from simulators.model import SiteModel

Array = NDArray[np.float64]

_TEMPERATURES = {"t1_supply", "t1_return", "t2_supply", "t2_return", "t_outdoor"}
_TEMPERATURES |= {"src_t_supply", "src_t_return", "steam_temperature"}
_FLOWS = {"f1_flow", "f2_flow", "q1_power", "q2_power", "src_flow", "src_power", "steam_mass_flow"}
_PRESSURES = {"p1_supply", "p1_return", "p2_supply", "p2_return", "steam_pressure"}


def _substation_channels(m: SiteModel) -> dict[str, Callable[[], Array]]:
    subs, p = m.substations, m.physics
    to_m3h = 3600.0 / (p.rho * p.cp)  # kW/K → m³/h

    def pressures(side: int) -> Array:
        return m.network.pressures(m.network.c_total)[side]

    def p2_return() -> Array:
        return p.p2_static_mpa - p.leak_pressure_mpa_per_m3h * m.leak_m3h

    def table(i: int) -> Callable[[], Array]:
        return lambda: m.curves.table_matrix()[:, i]

    channels: dict[str, Callable[[], Array]] = {
        "t1_supply": lambda: m.t1_supply,
        "t1_return": lambda: subs.t1_return,
        "p1_supply": lambda: pressures(0),
        "p1_return": lambda: pressures(1),
        "f1_flow": lambda: subs.c1 * to_m3h,
        "q1_power": lambda: subs.q_hx,
        "e1_energy": lambda: m.e1_energy,
        "v1_valve": lambda: subs.valve,
        "t2_supply": lambda: subs.t2_supply_sensor,
        "t2_return": lambda: m.t2_return,
        "p2_supply": lambda: p2_return() + p.pump_head_mpa * subs.secondary_capacity() ** 2,
        "p2_return": p2_return,
        "f2_flow": lambda: m.f2_flow,
        "q2_power": lambda: m.f2_flow / to_m3h * (subs.t2_supply - m.t2_return),
        "t2_setpoint": lambda: m.setpoint,
        "pump_speed": lambda: np.where(subs.pump_running, subs.pump_speed, 0.0),
        "pump_running": lambda: subs.pump_running.astype(np.float64),
        "makeup_flow": lambda: m.makeup_flow,
        "makeup_total": lambda: m.makeup_total,
        "curve_slope": lambda: m.curves.slope,
        "curve_shift": lambda: m.curves.shift,
        "curve_min": lambda: m.curves.min_supply,
        "curve_max": lambda: m.curves.max_supply,
        "t_outdoor": lambda: m.t_outdoor_measured,
    }
    channels.update({f"curve_table_{i + 1}": table(i) for i in range(len(STANDARD_OUTDOOR))})
    return channels


def _source_channels(m: SiteModel) -> dict[str, Callable[[], Array]]:
    net, to_m3h = m.network, 3600.0 / (m.physics.rho * m.physics.cp)
    return {
        "t_outdoor": lambda: np.array([m.weather.outdoor + m.source_outdoor_bias]),
        "src_t_supply": lambda: np.array([net.t_supply]),
        "src_t_return": lambda: np.array([net.t_return]),
        "src_flow": lambda: np.array([net.c_total * to_m3h]),
        "src_power": lambda: np.array([net.power_kw]),
        "src_running": lambda: np.array([float(net.running)]),
        "src_setpoint": lambda: np.array([net.setpoint]),
    }


def _steam_channels(m: SiteModel) -> dict[str, Callable[[], Array]]:
    st = m.steam
    return {
        "steam_pressure": lambda: st.pressure,
        "steam_temperature": lambda: st.temperature,
        "steam_mass_flow": lambda: st.mass_flow,
        "steam_total": lambda: st.total,
    }


class PlcView:
    """Gathers the model's state into the point order of `site_points`."""

    def __init__(self, model: SiteModel) -> None:
        self.model = m = model
        p = m.physics
        channels = {
            "substation": _substation_channels(m),
            "source": _source_channels(m),
            "steam": _steam_channels(m),
            "room": {"t_indoor": lambda: m.buildings.t_indoor},
            "clock": {"plc_clock": lambda: np.array([float(m.now_ms())])},
        }
        asset_index = {
            "substation": {sid: i for i, sid in enumerate(m.substations.ids)},
            "source": {m.site.heat_source.id: 0},
            "steam": {sid: i for i, sid in enumerate(m.steam.ids)},
        }
        room_index = {ids: i for i, ids in enumerate(m.buildings.room_ids)}
        n = len(m.points)
        self.constant = np.full(n, np.nan)
        self.noise_abs = np.zeros(n)
        self.noise_rel = np.zeros(n)
        self.indoor = np.zeros(n, dtype=bool)
        groups: dict[tuple[str, str], list[tuple[int, int]]] = {}
        self.named: dict[str, int] = {}
        for i, spec in enumerate(m.points):
            key = spec.key
            if spec.role is None:
                value = spec.point.value
                if not isinstance(value, str):
                    self.constant[i] = np.nan if value is None else float(value)
                    self.named[spec.path] = i
                continue
            if key == "t_indoor":
                kind, index = "room", room_index[(spec.asset_id, spec.building, spec.room)]
                self.indoor[i] = True
            elif key == "plc_clock":
                kind, index = "clock", 0
            else:
                kind, index = spec.asset_kind, asset_index[spec.asset_kind][spec.asset_id]
            if key not in channels[kind]:
                continue  # a role this kind of asset does not have: served as NaN
            groups.setdefault((kind, key), []).append((i, index))
            self.noise_abs[i] = (
                p.temperature_noise_k
                if key in _TEMPERATURES
                else p.pressure_noise_mpa
                if key in _PRESSURES
                else p.indoor_noise_k
                if key == "t_indoor"
                else 0.0
            )
            self.noise_rel[i] = (
                p.flow_noise if key in _FLOWS else p.makeup_noise if key == "makeup_flow" else 0.0
            )
        self.gathers = [
            (
                channels[kind][key],
                np.array([g[0] for g in rows], dtype=np.intp),
                np.array([g[1] for g in rows], dtype=np.intp),
            )
            for (kind, key), rows in groups.items()
        ]

    def measured(self) -> Array:
        """Readings with noise and resolution, before sensor faults."""
        m = self.model
        out = self.constant.copy()
        for path, i in self.named.items():
            if path in m.named:
                out[i] = m.named[path]
        for channel, points, index in self.gathers:
            out[points] = channel()[index]
        rng = np.random.default_rng([m.seed, 2, m._steps])
        scale = self.noise_abs + self.noise_rel * np.abs(np.nan_to_num(out))
        out += rng.standard_normal(len(out)) * scale
        resolution = m.physics.indoor_resolution_k
        out[self.indoor] = np.round(out[self.indoor] / resolution) * resolution
        return out

    def apply_sensor_faults(self, out: Array) -> Array:
        m = self.model
        for entry in m.faults.entries("frozen_sensor"):
            if entry.held is not None:
                out[m.point_index[entry.fault.target]] = entry.held
        for entry in m.faults.entries("spike"):
            i = m.point_index[entry.fault.target]
            value = entry.fault.value
            out[i] = out[i] + m.physics.spike_jump if value is None else value
        return out

    def compute(self) -> Array:
        return self.apply_sensor_faults(self.measured())

    def hold_frozen(self) -> None:
        """Freeze sensors whose frozen_sensor fault just began at their current reading."""
        m = self.model
        measured = self.measured()
        for entry in m.faults.entries("frozen_sensor"):
            if entry.held is None:
                entry.held = float(measured[m.point_index[entry.fault.target]])
        m._values = self.apply_sensor_faults(measured)
