"""Physics against DOMAIN.md: the heating-curve table, energy balance, building time constant."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from simulators.model import SiteModel
from simulators.params import Physics
from simulators.substations import counterflow_effectiveness
from simulators.weather import OrnsteinUhlenbeck
from tests.simulators.physics_sites import formula_curve, load, one_building_doc

QUIET = Physics(internal_gains_w_m2=0.0, outdoor_bias_std_k=0.0)
OUTDOOR = [-5.0, 0.0, 5.0, 10.0]

# DOMAIN.md, "Derived example, Tai'an, 18 °C indoor, constant flow"
DOMAIN_TABLE = {
    (85, 60, None): [(81, 58), (70, 52), (58, 45), (45, 37)],
    (75, 50, None): [(72, 49), (62, 44), (52, 39), (41, 33)],
    (45, 35, 1.1): [(43, 34), (38, 31), (33, 28), (28, 24)],
}


@pytest.mark.parametrize(
    ("design", "expected"), DOMAIN_TABLE.items(), ids=["85-60", "75-50", "45-35"]
)
def test_settled_supply_and_return_follow_the_curve_table(
    tmp_path: Path, design: tuple[float, float, float | None], expected: list[tuple[float, float]]
) -> None:
    supply, ret, exponent = design
    emitter = "floor" if exponent else "radiator"
    curve = formula_curve(supply, ret, exponent or 1.3, [-30.0, *OUTDOOR, 30.0])
    for t_out, (want_supply, want_return) in zip(OUTDOOR, expected, strict=True):
        doc = one_building_doc(
            supply=supply, ret=ret, exponent=exponent, emitter=emitter, outdoor=t_out, curve=curve
        )
        model = SiteModel(load(tmp_path, doc), step_s=600.0, physics=QUIET)
        model.run_for(2 * 86400)
        truth = model.truth
        assert truth.t2_supply[0] == pytest.approx(want_supply, abs=1.0), t_out
        assert truth.t2_return[0] == pytest.approx(want_return, abs=1.0), t_out
        assert truth.t_indoor[0] == pytest.approx(18.0, abs=0.3), t_out
        assert model.read("t/ss1/t2_supply") == pytest.approx(want_supply, abs=1.0)


def test_energy_balance_in_steady_state(tmp_path: Path, demo_doc: dict[str, Any]) -> None:
    demo_doc["simulation"]["weather"] = {"fixed_outdoor": 0.0, "solar": False}
    model = SiteModel(load(tmp_path, demo_doc), step_s=300.0, physics=QUIET)
    model.run_for(86400)
    truth = model.truth
    delivered = truth.primary_power_kw.sum() + truth.network_loss_kw
    assert truth.source_power_kw == pytest.approx(delivered, rel=0.01)
    assert 0.01 < truth.network_loss_kw / truth.source_power_kw < 0.08
    q1, q2 = truth.primary_power_kw, truth.secondary_power_kw
    assert np.all(q2 < q1)
    np.testing.assert_allclose(q2, q1, rtol=0.01)
    np.testing.assert_allclose(truth.building_power_kw.sum(), q2.sum(), rtol=0.01)
    for ss in ("ss01", "ss07", "ss11"):  # the heat meters agree with flow and temperatures
        v = {
            role: model.read(f"demo/{ss}/{role}")
            for role in ("f1_flow", "t1_supply", "t1_return", "q1_power")
        }
        metered = v["f1_flow"] * (v["t1_supply"] - v["t1_return"]) * 1.163
        assert v["q1_power"] == pytest.approx(metered, rel=0.03)


def test_exchanger_design_point_matches_domain() -> None:
    eps = counterflow_effectiveness(np.array([2.58]), np.array([25.0 / 60.0]))
    assert eps[0] == pytest.approx(0.86, abs=0.01)


def test_indoor_follows_a_curve_step_with_the_building_time_constant(tmp_path: Path) -> None:
    doc = one_building_doc(outdoor=0.0, construction="medium")
    model = SiteModel(load(tmp_path, doc), step_s=300.0, physics=QUIET)
    model.run_for(86400)
    before = model.truth.t_indoor[0]
    model.write("t/ss1/curve_shift", 6.0)
    times, temps = [], []
    for k in range(1, 6 * 24 * 6 + 1):  # six days, every 10 minutes
        model.run_for(600)
        times.append(k * 600.0)
        temps.append(model.truth.t_indoor[0])
    t, y = np.array(times), np.array(temps)
    final = y[-1]  # six days are more than five time constants
    rise = final - before
    assert rise > 1.0
    mask = (y - before) < 0.9 * rise
    slope, _ = np.polyfit(t[mask], np.log(final - y[mask]), 1)
    assert -1.0 / slope == pytest.approx(model.truth.time_constant_s[0], rel=0.15)
    assert model.truth.envelope_time_constant_s[0] / 3600 == pytest.approx(
        165e3 / (40 / 24.7) / 3600, rel=0.01
    )


def test_weather_spells_have_the_same_statistics_at_any_step() -> None:
    for step in (60.0, 3600.0):
        spell = OrnsteinUhlenbeck(3.5, 3 * 86400.0, np.random.default_rng(5))
        lag = round(3 * 86400.0 / step)
        x = np.array([spell.advance(step) for _ in range(400 * lag)])
        assert x.std() == pytest.approx(3.5, rel=0.15)
        correlation = np.corrcoef(x[:-lag], x[lag:])[0, 1]
        assert correlation == pytest.approx(np.exp(-1.0), abs=0.12)


def test_outdoor_has_a_daily_cycle_cold_at_dawn(tmp_path: Path) -> None:
    model = SiteModel(load(tmp_path, one_building_doc(outdoor=None)), step_s=900.0)
    by_hour = np.zeros(24)
    for _ in range(10 * 96):
        model.step()
        by_hour[model.weather.hour.__floor__()] += model.truth.t_outdoor
    assert 4 <= int(np.argmin(by_hour)) <= 7
    assert 13 <= int(np.argmax(by_hour)) <= 16
