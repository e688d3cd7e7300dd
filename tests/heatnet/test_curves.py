"""Heating-curve arithmetic against the DOMAIN.md table and the controllers' parametrisations."""

from __future__ import annotations

import numpy as np
import pytest

from heatnet.config import SlopeShiftCurve, TableCurve
from heatnet.curves import curve_setpoint, design_supply_return, slope_shift_setpoint

# DOMAIN.md: Tai'an (-6.7 °C), 18 °C indoor, constant flow.
TABLE = {
    (85, 60, 1.3): {-5: (81, 58), 0: (70, 52), 5: (58, 45), 10: (45, 37)},
    (75, 50, 1.3): {-5: (72, 49), 0: (62, 44), 5: (52, 39), 10: (41, 33)},
    (45, 35, 1.1): {-5: (43, 34), 0: (38, 31), 5: (33, 28), 10: (28, 24)},
}


@pytest.mark.parametrize("design", sorted(TABLE))
def test_design_curve_reproduces_the_domain_table_within_1k(design: tuple[int, int, float]) -> None:
    supply_n, return_n, m = design
    outdoor = np.array(sorted(TABLE[design]), dtype=float)
    t_s, t_r = design_supply_return(
        outdoor, supply_design=supply_n, return_design=return_n, exponent=m
    )
    expected = np.array([TABLE[design][int(o)] for o in outdoor], dtype=float)
    assert np.abs(t_s - expected[:, 0]).max() <= 1.0
    assert np.abs(t_r - expected[:, 1]).max() <= 1.0


def test_design_curve_meets_design_point_and_indoor_at_zero_load() -> None:
    t_s, t_r = design_supply_return(np.array([-6.7, 18.0, 25.0]))
    assert t_s[0] == pytest.approx(85.0) and t_r[0] == pytest.approx(60.0)
    assert t_s[1] == pytest.approx(18.0) and t_r[1] == pytest.approx(18.0)
    assert t_s[2] == pytest.approx(18.0)  # no negative load in summer


def test_slope_shift_is_linear_and_clamped() -> None:
    curve = SlopeShiftCurve(type="slope_shift", slope=2.0, shift=3.0, min_supply=35, max_supply=80)
    out = curve_setpoint(curve, np.array([-30.0, -5.0, 0.0, 10.0, 20.0]))
    assert out.tolist() == [80.0, 73.0, 63.0, 43.0, 35.0]
    raised = slope_shift_setpoint(0.0, 2.5, 3.0, 35, 80)
    assert raised > out[2]  # raising the slope warms cold and mild days, more on cold ones


def test_table_interpolates_and_holds_its_ends() -> None:
    curve = TableCurve(
        type="table", points=[(-15, 90), (0, 60), (15, 30)], min_supply=35, max_supply=85
    )
    out = curve_setpoint(curve, np.array([-20.0, -7.5, 0.0, 7.5, 20.0]))
    assert out.tolist() == [85.0, 75.0, 60.0, 45.0, 35.0]
