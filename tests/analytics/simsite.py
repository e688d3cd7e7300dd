"""A two-substation simulated site for proposal tests: one curve too cold, one too warm."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from analytics.calendar import bucket_mean
from simulators.model import SiteModel
from tests.simulators.physics_sites import load, one_building_doc

Array = NDArray[np.float64]
ROOMS = [
    {"id": "r1", "type": "living"},
    {"id": "r2", "type": "bedroom", "exposure": 1.4},
    {"id": "k1", "type": "kitchen"},
]


def two_substation_site(tmp_path: Path, cold: dict, warm: dict) -> SiteModel:
    """ss1 on curve `cold`, ss2 on curve `warm`; real Tai'an December weather, 900 s steps."""
    doc = one_building_doc(outdoor=None, rooms=ROOMS)
    doc["simulation"]["weather"] = {"solar": True}
    second = copy.deepcopy(doc["substations"][0])
    second.update(id="ss2", curve="warm")
    second["devices"][0]["unit_id"] = 2
    doc["substations"].append(second)
    doc["curves"].update(c=cold, warm=warm)
    return SiteModel(load(tmp_path, doc), step_s=900.0)


@dataclass
class Daily:
    """Daily means per substation: t2_supply, t_outdoor (subs, days); t_indoor (rooms, days)."""

    days: NDArray[np.datetime64]
    t2_supply: Array
    t_outdoor: Array
    q2_power: Array
    t_indoor: Array
    room_paths: list[str]


def run_days(model: SiteModel, days: int) -> Daily:
    """Step the model, reading the PLC values every hour, and reduce to local daily means."""
    subs = model.truth.substation_ids
    site = model.site.site.id

    def column(role: str) -> list[int]:
        return [model.point_index[f"{site}/{s}/{role}"] for s in subs]

    rooms = [f"{site}/{p}/t_indoor" for p in model.truth.room_paths]
    cols = {r: column(r) for r in ("t2_supply", "t_outdoor", "q2_power")}
    room_cols = [model.point_index[p] for p in rooms]
    stamps, rows = [], []
    for _ in range(days * 24):
        model.run_for(3600)
        stamps.append(model.now_ms())
        rows.append(model.values().copy())
    values = np.array(rows).T
    t_ms = np.array(stamps, dtype=np.int64) - 1  # an hour's reading closes that hour
    tz = model.site.tz
    labels, means = bucket_mean(values, t_ms, tz)[:2]
    return Daily(
        labels,
        means[cols["t2_supply"]],
        means[cols["t_outdoor"]],
        means[cols["q2_power"]],
        means[room_cols],
        list(model.truth.room_paths),
    )
