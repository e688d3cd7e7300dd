"""The heating curve in force in every substation PLC, as arrays so set points are vectorised.

A PLC holds a slope/shift curve or a six-point table at heatnet.roles.CURVE_TABLE_OUTDOOR;
writing a parameter of the other kind converts the curve to that kind, starting from the
curve in force, as a controller that keeps both parametrisations would.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from heatnet.config import Curve, SlopeShiftCurve, TableCurve
from heatnet.curves import slope_shift_setpoint
from heatnet.roles import CURVE_TABLE_OUTDOOR

Array = NDArray[np.float64]
STANDARD_OUTDOOR = np.array(CURVE_TABLE_OUTDOOR)
_PAD_STEP = 1000.0  # padding points far beyond any outdoor temperature keep the ends flat


class CurveBank:
    """Per-substation curve parameters; `is_table` selects the kind."""

    def __init__(self, curves: list[Curve]) -> None:
        n = len(curves)
        width = max(
            [len(c.points) for c in curves if isinstance(c, TableCurve)] + [len(STANDARD_OUTDOOR)]
        )
        self.is_table = np.array([isinstance(c, TableCurve) for c in curves])
        self.slope = np.zeros(n)
        self.shift = np.zeros(n)
        self.base = np.full(n, 20.0)
        self.min_supply = np.array([c.min_supply for c in curves])
        self.max_supply = np.array([c.max_supply for c in curves])
        self.table_x = np.zeros((n, width))
        self.table_y = np.zeros((n, width))
        self.table_len = np.zeros(n, dtype=np.intp)
        for i, curve in enumerate(curves):
            if isinstance(curve, SlopeShiftCurve):
                self.slope[i], self.shift[i], self.base[i] = (
                    curve.slope,
                    curve.shift,
                    curve.base_indoor,
                )
                self._set_table(i, STANDARD_OUTDOOR, self._slope_shift(i, STANDARD_OUTDOOR))
            else:
                x, y = (np.array(v, dtype=np.float64) for v in zip(*curve.points, strict=True))
                self._set_table(i, x, y)
                self._fit_slope_shift(i)

    def _set_table(self, i: int, x: Array, y: Array) -> None:
        pad = self.table_x.shape[1] - len(x)
        self.table_len[i] = len(x)
        self.table_x[i] = np.concatenate([x, x[-1] + _PAD_STEP * np.arange(1, pad + 1)])
        self.table_y[i] = np.concatenate([y, np.full(pad, y[-1])])

    def _slope_shift(self, i: int, t_outdoor: Array) -> Array:
        raw = self.base[i] + self.shift[i] + self.slope[i] * (self.base[i] - t_outdoor)
        return np.clip(raw, self.min_supply[i], self.max_supply[i])

    def _fit_slope_shift(self, i: int) -> None:
        """Slope and shift of the straight line closest to the table at the standard points."""
        y = self._table_at(np.full(len(STANDARD_OUTDOOR), i), STANDARD_OUTDOOR)
        gradient, intercept = np.polyfit(STANDARD_OUTDOOR, y, 1)
        self.slope[i] = float(np.clip(-gradient, 0.1, 4.0))
        self.shift[i] = float(np.clip(intercept - self.base[i] * (1.0 + self.slope[i]), -20, 20))

    def _table_at(self, rows: NDArray[np.intp], t_outdoor: Array) -> Array:
        x, y = self.table_x[rows], self.table_y[rows]
        j = np.clip((t_outdoor[:, None] >= x).sum(axis=1) - 1, 0, x.shape[1] - 2)
        r = np.arange(len(rows))
        x0, x1, y0, y1 = x[r, j], x[r, j + 1], y[r, j], y[r, j + 1]
        frac = np.clip((t_outdoor - x0) / (x1 - x0), 0.0, 1.0)
        return y0 + frac * (y1 - y0)

    def setpoint(self, t_outdoor: Array) -> Array:
        """Secondary supply set point of every substation at its measured outdoor temperature."""
        linear = slope_shift_setpoint(
            t_outdoor, self.slope, self.shift, self.min_supply, self.max_supply, self.base
        )
        if not self.is_table.any():
            return linear
        rows = np.arange(len(t_outdoor))
        table = np.clip(self._table_at(rows, t_outdoor), self.min_supply, self.max_supply)
        return np.where(self.is_table, table, linear)

    def table_matrix(self) -> Array:
        """Every substation's curve at the standard table outdoor temperatures (rows)."""
        n, k = len(self.slope), len(STANDARD_OUTDOOR)
        rows = np.repeat(np.arange(n), k)
        table = self._table_at(rows, np.tile(STANDARD_OUTDOOR, n)).reshape(n, k)
        lo, hi = self.min_supply[:, None], self.max_supply[:, None]
        linear = slope_shift_setpoint(
            STANDARD_OUTDOOR[None, :],
            self.slope[:, None],
            self.shift[:, None],
            lo,
            hi,
            self.base[:, None],
        )
        return np.where(self.is_table[:, None], np.clip(table, lo, hi), linear)

    def table_points(self, i: int) -> Array:
        """The curve of substation i at the standard table outdoor temperatures."""
        if self.is_table[i]:
            y = self._table_at(np.full(len(STANDARD_OUTDOOR), i), STANDARD_OUTDOOR)
            return np.clip(y, self.min_supply[i], self.max_supply[i])
        return self._slope_shift(i, STANDARD_OUTDOOR)

    def set_parameter(self, i: int, role: str, value: float) -> None:
        """Apply a write of a curve_* role to substation i."""
        if role == "curve_min":
            self.min_supply[i] = value
        elif role == "curve_max":
            self.max_supply[i] = value
        elif role in ("curve_slope", "curve_shift"):
            if self.is_table[i]:
                self._fit_slope_shift(i)
                self.is_table[i] = False
            if role == "curve_slope":
                self.slope[i] = value
            else:
                self.shift[i] = value
        elif role.startswith("curve_table_"):
            points = self.table_points(i)
            points[int(role.rsplit("_", 1)[1]) - 1] = value
            self._set_table(i, STANDARD_OUTDOOR, points)
            self.is_table[i] = True
        else:
            raise KeyError(role)

    def curve(self, i: int) -> Curve:
        """The curve in force at substation i, as a config object."""
        lo, hi = float(self.min_supply[i]), float(self.max_supply[i])
        if self.is_table[i]:
            n = self.table_len[i]
            pts = [
                (float(x), float(y))
                for x, y in zip(self.table_x[i, :n], self.table_y[i, :n], strict=True)
            ]
            return TableCurve(type="table", points=pts, min_supply=lo, max_supply=hi)
        return SlopeShiftCurve(
            type="slope_shift",
            slope=float(self.slope[i]),
            shift=float(self.shift[i]),
            min_supply=lo,
            max_supply=hi,
            base_indoor=float(self.base[i]),
        )
