"""SiteModel as a PLC backend: clock, writes, determinism and every fault kind."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from heatnet.config import Fault, SiteConfig
from simulators.model import SiteModel
from simulators.params import Physics
from simulators.plc import WriteRefused
from tests.simulators.physics_sites import load

QUIET = Physics(internal_gains_w_m2=0.0, outdoor_bias_std_k=0.0)


@pytest.fixture
def fixed_site(tmp_path: Path, demo_doc: dict[str, Any]) -> SiteConfig:
    demo_doc["simulation"]["weather"] = {"fixed_outdoor": -2.0, "solar": False}
    return load(tmp_path, demo_doc)


def test_clock_points_and_values(demo_site: SiteConfig) -> None:
    model = SiteModel(demo_site, step_s=10.0)
    assert model.now == datetime(2026, 12, 14, 16, 0, tzinfo=UTC)  # midnight in Shanghai
    assert len(model.values()) == len(model.points)
    model.run_for(60)
    assert model.now_ms() == int(datetime(2026, 12, 14, 16, 1, tzinfo=UTC).timestamp() * 1000)
    assert model.read("demo/ss01/plc_clock") == model.now_ms()
    assert model.text("demo/ss01/plc_model") == "S7-1214C"
    assert np.isnan(model.read("demo/ss01/plc_model"))
    assert model.read("demo/src/src_running") == 1.0
    assert model.read("demo/ss01/pump_running") == 1.0
    assert 10.0 < model.read("demo/ss01/b1/r101/t_indoor") < 30.0
    indoor = model.read("demo/ss01/b1/r101/t_indoor")
    assert round(indoor * 100) == pytest.approx(indoor * 100, abs=1e-6)  # 0.01 K resolution
    assert 0.5 < model.read("demo/st01/steam_pressure") < 1.5


def test_default_start_is_mid_december_in_site_time(
    demo_doc: dict[str, Any], tmp_path: Path
) -> None:
    del demo_doc["simulation"]["start"]
    model = SiteModel(load(tmp_path, demo_doc))
    local = model.now.astimezone(model.site.tz)
    assert (local.month, local.day, local.hour) == (12, 15, 0)


def test_same_seed_same_values(demo_site: SiteConfig) -> None:
    runs = []
    for seed in (4, 4, 5):
        model = SiteModel(demo_site, seed=seed, step_s=60.0)
        model.run_for(3600)
        runs.append(model.values())
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(np.nan_to_num(runs[0]), np.nan_to_num(runs[2]))


def test_curve_writes_change_the_setpoint(fixed_site: SiteConfig) -> None:
    model = SiteModel(fixed_site, step_s=60.0, physics=QUIET)
    before = model.read("demo/ss06/t2_setpoint")
    model.write("demo/ss06/curve_slope", 2.56)  # +0.5 at 22 K below base
    model.step()
    assert model.read("demo/ss06/t2_setpoint") == pytest.approx(before + 0.5 * 22.0, abs=0.01)
    assert model.read("demo/ss06/curve_slope") == pytest.approx(2.56)
    assert model.truth.curve("ss06").slope == pytest.approx(2.56)
    model.write("demo/ss05/curve_table_4", 75.0)  # the table point at 0 °C
    assert model.truth.curve("ss05").points[3] == (0.0, 75.0)
    model.run_for(3600)
    assert model.truth.t2_supply[model.truth.substation("ss06")] == pytest.approx(
        before + 11.0, abs=0.5
    )


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        ("demo/ss01/curve_slope", 4.5, "outside"),
        ("demo/ss01/curve_slope", float("nan"), "finite"),
        ("demo/ss01/curve_shift", float("inf"), "finite"),
        ("demo/ss01/t2_supply", 70.0, "read-only"),
        ("demo/ss01/curve_min", 95.0, "outside"),
        ("demo/ss01/curve_min", 69.0, ""),
        ("demo/ss99/curve_slope", 1.0, "no such point"),
    ],
)
def test_refused_writes(fixed_site: SiteConfig, path: str, value: float, reason: str) -> None:
    model = SiteModel(fixed_site)
    if not reason:
        model.write(path, value)
        return
    with pytest.raises(WriteRefused, match=reason):
        model.write(path, value)


def test_leak_raises_makeup_flow(fixed_site: SiteConfig) -> None:
    model = SiteModel(fixed_site, step_s=60.0, physics=QUIET)
    baseline = model.truth.makeup_flow_m3h[0]
    assert 0.002 < baseline / model.read("demo/ss01/f2_flow") < 0.006
    model.faults.add(Fault(kind="leak", target="ss01", start=600, duration=3600, flow_m3h=2.5))
    total = model.read("demo/ss01/makeup_total")
    model.run_for(1800)
    assert model.truth.makeup_flow_m3h[0] == pytest.approx(baseline + 2.5, rel=0.01)
    assert model.read("demo/ss01/makeup_total") - total == pytest.approx(
        2.5 * 1200 / 3600 + baseline * 0.5, rel=0.05
    )
    readings = []
    for _ in range(30):
        model.step()
        readings.append(model.read("demo/ss01/makeup_flow"))
    assert np.mean(readings) == pytest.approx(baseline + 2.5, rel=0.05)
    model.run_for(3600)
    assert model.truth.makeup_flow_m3h[0] == pytest.approx(baseline, rel=0.01)


def test_stuck_valve_holds_its_position(tmp_path: Path, demo_doc: dict[str, Any]) -> None:
    demo_doc["simulation"]["weather"] = {"solar": False}
    demo_doc["faults"] = [{"kind": "stuck_valve", "target": "ss02", "start": 0, "position": 30}]
    model = SiteModel(load(tmp_path, demo_doc), step_s=300.0)
    i = model.truth.substation("ss02")
    positions, errors = [], []
    for _ in range(24):
        model.run_for(3600)
        positions.append(model.read("demo/ss02/v1_valve"))
        errors.append(model.truth.setpoint[i] - model.truth.t2_supply[i])
    assert positions == [30.0] * 24
    assert max(np.abs(errors)) > 3.0  # the controller can no longer hold its set point


def test_undersized_radiators_make_rooms_colder(fixed_site: SiteConfig) -> None:
    healthy = SiteModel(fixed_site, step_s=600.0)
    faulty = SiteModel(fixed_site, step_s=600.0)
    faulty.faults.add(Fault(kind="undersized_radiators", target="ss01/b1", factor=0.6))
    for model in (healthy, faulty):
        model.run_for(4 * 86400)
    rooms = [faulty.truth.room(f"ss01/b1/{r}") for r in ("r101", "r302", "r401")]
    assert np.all(faulty.truth.t_indoor[rooms] < healthy.truth.t_indoor[rooms] - 2.0)
    other = faulty.truth.room("ss02/b1/r101")
    assert faulty.truth.t_indoor[other] == pytest.approx(healthy.truth.t_indoor[other], abs=0.3)


def test_source_trip_reaches_substations_after_their_delay(fixed_site: SiteConfig) -> None:
    model = SiteModel(fixed_site, step_s=30.0)
    model.faults.add(Fault(kind="source_trip", target="src", start=600, duration=12 * 3600))
    far = model.truth.substation("ss08")  # 5.7 km: 95 minutes at 1 m/s
    delay = model.truth.transport_delay_s[far]
    t1_before = model.truth.t1_supply[far]
    indoor_before = model.truth.t_indoor.mean()
    model.run_for(600 + 0.8 * delay)
    assert model.read("demo/src/src_running") == 0.0
    assert model.truth.source_supply < t1_before - 10.0
    assert model.truth.t1_supply[far] == pytest.approx(t1_before, abs=1.0)
    model.run_for(0.2 * delay + 1800)
    assert model.truth.t1_supply[far] < t1_before - 10.0
    model.run_for(6 * 3600)
    assert model.truth.t_indoor.mean() < indoor_before - 1.0
    model.run_for(6 * 3600)
    assert model.read("demo/src/src_running") == 1.0


def test_frozen_sensor_and_spike(demo_site: SiteConfig) -> None:
    model = SiteModel(demo_site, step_s=300.0)
    model.faults.add(Fault(kind="frozen_sensor", target="demo/ss03/t_outdoor", start=3600))
    model.faults.add(
        Fault(kind="spike", target="demo/ss04/t2_return", start=3600, duration=600, value=150.0)
    )
    model.run_for(3600)
    frozen = model.read("demo/ss03/t_outdoor")
    assert model.read("demo/ss04/t2_return") == 150.0
    outdoor = []
    for _ in range(24):
        model.run_for(1800)
        assert model.read("demo/ss03/t_outdoor") == frozen
        outdoor.append(model.truth.t_outdoor)
    assert np.ptp(outdoor) > 2.0
    assert model.read("demo/ss04/t2_return") < 80.0


def test_device_faults_are_reported_in_their_window(demo_site: SiteConfig) -> None:
    model = SiteModel(demo_site, step_s=60.0)
    model.faults.add(Fault(kind="device_offline", target="ss01/plc", start=120, duration=120))
    model.faults.add(Fault(kind="slow_replies", target="ss06/plc", start=0, delay_s=3.0))
    fault_id = model.faults.add(Fault(kind="exception_replies", target="src/dcs", exception_code=6))
    assert model.device_status("ss01/plc").offline is False
    assert model.device_status("ss06/plc").delay_s == 3.0
    assert model.device_status("src/dcs").exception_code == 6
    model.run_for(180)
    assert model.device_status("ss01/plc").offline is True
    model.run_for(120)
    assert model.device_status("ss01/plc").offline is False
    model.faults.remove(fault_id)
    assert model.device_status("src/dcs").exception_code is None
    assert model.device_status("ss02/plc").offline is False
