"""A simulated season slice with known faults, written into a real SQLite historian.

Three substations on 85/60 radiators: ss1 on a curve too cold, ss2 on one too warm, ss3
on a fair curve with building b2's radiators undersized. Faults: ss1's PLC offline for
6 h (day 6), a 2 m³/h leak at ss2 (day 10), a 10 h heat-source trip (day 15, 18:00).
The model steps without a wall clock; its PLC values go to the historian each step,
BAD/comms_lost for the points of an offline device.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from heatnet.config import Fault, SiteConfig
from heatnet.points import Quality, QualityReason
from heatnet.samples import REASON_CODE, SampleBatch
from historian import SqliteHistorian
from simulators.model import SiteModel
from tests.conftest import DEMO
from tests.simulators.physics_sites import load, one_building_doc

DAY_S = 86_400
STEP_S = 900.0
STEPS_PER_DAY = round(DAY_S / STEP_S)
ROOMS = [
    {"id": "r1", "type": "living"},
    {"id": "r2", "type": "bedroom", "exposure": 1.4},
    {"id": "k1", "type": "kitchen"},
]
CURVES = {
    "cold": {"type": "slope_shift", "slope": 1.7, "shift": -3.0, "max_supply": 100},
    "warm": {"type": "slope_shift", "slope": 2.8, "shift": 6.0, "max_supply": 100},
    "fair": {"type": "slope_shift", "slope": 2.3, "shift": 2.5, "max_supply": 100},
}
OFFLINE = Fault(kind="device_offline", target="ss1/plc", start=6 * DAY_S + 3600, duration=6 * 3600)
LEAK = Fault(kind="leak", target="ss2", start=10 * DAY_S + 3 * 3600, flow_m3h=2.0)
TRIP = Fault(kind="source_trip", target="src", start=15 * DAY_S + 18 * 3600, duration=10 * 3600)
UNDERSIZED = Fault(kind="undersized_radiators", target="ss3/b2", factor=0.7)


def truth_site(folder: Path, historian_path: Path) -> SiteConfig:
    """The site file: three substations, a source gateway, one make-up water limit."""
    doc = one_building_doc(outdoor=None, rooms=ROOMS)
    doc["simulation"]["weather"] = {"solar": True}
    doc["include"].append(str(DEMO.parent / "profiles" / "source-and-steam.yaml"))
    doc["historian"] = {"backend": "sqlite", "path": str(historian_path)}
    doc["heat_source"]["devices"] = [
        {"id": "dcs", "protocol": "modbus", "host": "127.0.0.1", "port": 1502, "unit_id": 9,
         "profile": "source-gateway"}
    ]  # fmt: skip
    doc["alarms"] = [{"role": "makeup_flow", "high": 1.0, "delay": "15m", "priority": "high"}]
    template = doc["substations"][0]
    doc["substations"] = []
    for unit, (sid, curve) in enumerate((("ss1", "cold"), ("ss2", "warm"), ("ss3", "fair")), 1):
        sub = copy.deepcopy(template)
        sub.update(id=sid, curve=curve)
        sub["devices"][0]["unit_id"] = unit
        if sid == "ss3":
            sub["buildings"].append({**copy.deepcopy(sub["buildings"][0]), "id": "b2"})
        doc["substations"].append(sub)
    doc["curves"].update(CURVES)
    return load(folder, doc)


@dataclass
class Recorder:
    """Steps a model and writes what its PLCs report into the historian, a day per write."""

    model: SiteModel
    historian: SqliteHistorian

    def __post_init__(self) -> None:
        numeric = [
            i
            for i, spec in enumerate(self.model.points)
            if not isinstance(spec.point.value, str) and spec.key != "plc_clock"
        ]
        self.columns = np.array(numeric)
        self.paths = [self.model.points[i].path for i in numeric]
        self.devices = np.array([self.model.points[i].device_key for i in numeric])
        self.indoor_truth: list[np.ndarray] = []  # noise-free room temperatures, each step

    def run(self, days: int) -> None:
        for _ in range(days):
            self._day()

    def _day(self) -> None:
        batches = []
        for _ in range(STEPS_PER_DAY):
            self.model.step()
            values = self.model.values()[self.columns].copy()
            quality = np.full(values.size, Quality.GOOD, dtype=np.uint8)
            reason = np.zeros(values.size, dtype=np.uint8)
            for device in np.unique(self.devices):
                if self.model.device_status(str(device)).offline:
                    lost = self.devices == device
                    values[lost] = np.nan
                    quality[lost] = Quality.BAD
                    reason[lost] = REASON_CODE[QualityReason.COMMS_LOST]
            batches.append(SampleBatch.of(self.paths, self.model.now_ms(), values, quality, reason))
            self.indoor_truth.append(self.model.truth.t_indoor)
        self.historian.write(SampleBatch.concat(batches))


def build(folder: Path) -> tuple[SiteConfig, SiteModel, Recorder]:
    """The site, its model with the faults scheduled, and a recorder into its historian."""
    site = truth_site(folder, folder / "historian.sqlite")
    model = SiteModel(site, step_s=STEP_S)
    for fault in (OFFLINE, LEAK, TRIP, UNDERSIZED):
        model.faults.add(fault)
    return site, model, Recorder(model, SqliteHistorian(folder / "historian.sqlite"))
