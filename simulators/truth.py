"""Ground truth of a running model for tests: parameters and noise-free state, never PLC views.

Arrays are indexed like `room_paths` (rooms), `building_ids` (buildings, "ss/b") and
`substation_ids` (substations); `room("ss01/b1/r101")` gives a room's index.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from heatnet.config import Curve

if TYPE_CHECKING:
    from simulators.model import SiteModel

Array = NDArray[np.float64]


class Truth:
    """What really happens in the model (SI-ish units in the names: W, kW, s, °C)."""

    def __init__(self, model: SiteModel) -> None:
        self._m = model
        rooms = model.buildings
        self.substation_ids: list[str] = list(model.substations.ids)
        self.building_ids: list[str] = list(rooms.building_ids)
        self.room_paths: list[str] = ["/".join(ids) for ids in rooms.room_ids]
        self._room = {path: i for i, path in enumerate(self.room_paths)}
        self.ua_w_k: Array = rooms.ua.copy()
        self.capacity_j_k: Array = rooms.capacity.copy()
        self.envelope_time_constant_s: Array = rooms.capacity / rooms.ua
        self.emitter_exponent: Array = rooms.exponent.copy()
        self.design_flow_kg_s: Array = rooms.design_flow.copy()
        self.hx_design_effectiveness: Array = model.substations.design_effectiveness.copy()
        self.hx_design_ntu: Array = model.substations.design_ntu.copy()
        self.transport_delay_s: Array = model.network.delay_s.copy()

    def room(self, path: str) -> int:
        """Index of room `substation/building/room`."""
        return self._room[path]

    def substation(self, substation_id: str) -> int:
        return self.substation_ids.index(substation_id)

    def building(self, building_id: str) -> int:
        return self.building_ids.index(building_id)

    # ---- building parameters that faults and writes may change -------------------

    @property
    def emitter_design_w(self) -> Array:
        """Emitter design output per room in force (radiator_sizing and faults applied)."""
        return self._m.buildings.qn.copy()

    @property
    def time_constant_s(self) -> Array:
        """How fast a room follows a change of supply temperature: C / (UA + dQ_emitter/dTi).

        With the supply held by the controller the emitter gives less as the room warms, so
        a room answers a curve step faster than its envelope time constant C/UA.
        """
        rooms = self._m.buildings
        return rooms.capacity / (rooms.ua + rooms.design_conductance())

    # ---- state -------------------------------------------------------------------

    @property
    def t_outdoor(self) -> float:
        return self._m.weather.outdoor

    @property
    def solar_w_m2(self) -> float:
        return self._m.weather.solar

    @property
    def t_indoor(self) -> Array:
        return self._m.buildings.t_indoor.copy()

    @property
    def room_power_w(self) -> Array:
        return self._m.buildings.q_emitter.copy()

    @property
    def building_power_kw(self) -> Array:
        return self._m.buildings.per_building(self._m.buildings.q_emitter) / 1000.0

    @property
    def t2_supply(self) -> Array:
        return self._m.substations.t2_supply.copy()

    @property
    def t2_return(self) -> Array:
        return self._m.t2_return.copy()

    @property
    def t1_supply(self) -> Array:
        return self._m.t1_supply.copy()

    @property
    def t1_return(self) -> Array:
        return self._m.substations.t1_return.copy()

    @property
    def valve(self) -> Array:
        return self._m.substations.valve.copy()

    @property
    def setpoint(self) -> Array:
        return self._m.setpoint.copy()

    @property
    def primary_power_kw(self) -> Array:
        return self._m.substations.q_hx.copy()

    @property
    def secondary_power_kw(self) -> Array:
        """Heat into the secondary: c2 · (t2_supply − t2_return)."""
        m = self._m
        return (
            m.f2_flow
            * m.physics.rho
            / 3600.0
            * m.physics.cp
            * (m.substations.t2_supply - m.t2_return)
        )

    @property
    def supply_pipe_loss_kw(self) -> Array:
        m = self._m
        return m.substations.c1 * (m.network.arriving() - m.t1_supply)

    @property
    def return_pipe_loss_kw(self) -> Array:
        m = self._m
        return m.substations.c1 * (m.substations.t1_return - m.t1_return_at_source)

    @property
    def network_loss_kw(self) -> float:
        return float(self.supply_pipe_loss_kw.sum() + self.return_pipe_loss_kw.sum())

    @property
    def source_power_kw(self) -> float:
        return self._m.network.power_kw

    @property
    def source_supply(self) -> float:
        return self._m.network.t_supply

    @property
    def makeup_flow_m3h(self) -> Array:
        return self._m.makeup_flow.copy()

    def curve(self, substation_id: str) -> Curve:
        """The heating curve in force in a substation's PLC."""
        return self._m.curves.curve(self.substation(substation_id))
