"""The heating curve a controller actually holds, from its curve_* points over a period.

A PLC holds either slope/shift or the six-point table (with min/max supply limits); an
engineer may change it mid-season, so the curve is a history: `curves[k]` is in force from
`since_ms[k]`. Without curve points in the historian the site file's curve stands alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from analytics.evidence import Result, iso_ms
from analytics.proposals import curve_roles, roles_curve
from heatnet.config import Curve
from heatnet.curves import curve_setpoint
from heatnet.roles import CURVE_TABLE_OUTDOOR

Array = NDArray[np.float64]
SLOPE_SHIFT_ROLES = ("curve_slope", "curve_shift")
TABLE_ROLES = tuple(f"curve_table_{i + 1}" for i in range(len(CURVE_TABLE_OUTDOOR)))
LIMIT_ROLES = ("curve_min", "curve_max")
CURVE_ROLES = SLOPE_SHIFT_ROLES + TABLE_ROLES + LIMIT_ROLES


@dataclass(frozen=True, slots=True)
class HeldCurve(Result):
    """One curve of a history, as the controller's curve_* parameters."""

    since: str  # ISO; the first one is the start of the period
    source: str  # "plc" or "site file"
    parameters: dict[str, float]


@dataclass(frozen=True, slots=True)
class CurveHistory:
    """Curves in force over a period: `curves[k]` from `since_ms[k]` (sorted)."""

    since_ms: tuple[int, ...]
    curves: tuple[Curve, ...]
    source: str

    @classmethod
    def fixed(cls, curve: Curve, since_ms: int = 0) -> CurveHistory:
        """The site file's curve, the whole time."""
        return cls((since_ms,), (curve,), "site file")

    @property
    def current(self) -> Curve:
        """The curve in force at the end of the period."""
        return self.curves[-1]

    def setpoint(self, t_ms: NDArray[np.int64], t_outdoor: Array) -> Array:
        """The set point of the curve in force at each sample (the first one before it)."""
        which = np.clip(np.searchsorted(self.since_ms, t_ms, side="right") - 1, 0, None)
        out = np.empty(np.shape(t_outdoor))
        for k, curve in enumerate(self.curves):
            now = which == k
            out[now] = curve_setpoint(curve, np.asarray(t_outdoor)[now])
        return out

    def held(self) -> tuple[HeldCurve, ...]:
        return tuple(
            HeldCurve(iso_ms(t), self.source, curve_roles(c))
            for t, c in zip(self.since_ms, self.curves, strict=True)
        )


def _filled(values: Array) -> Array:
    """Gaps carry the previous value; before the first reading, the first one holds."""
    finite = np.isfinite(values)
    index = np.maximum.accumulate(np.where(finite, np.arange(values.size), 0))
    first = int(np.argmax(finite))
    index[:first] = first
    return values[index]


def curve_history(
    t_ms: NDArray[np.int64], held: dict[str, Array], site_curve: Curve
) -> CurveHistory:
    """The history the curve_* series describe (values per time of `t_ms`, NaN = no reading).

    Slope/shift or the full table is needed (the form of the site file's curve first when
    both are there); limits the PLC does not report come from the site file.
    """

    def complete(roles: tuple[str, ...]) -> bool:
        return all(r in held and np.isfinite(held[r]).any() for r in roles)

    forms = [SLOPE_SHIFT_ROLES, TABLE_ROLES]
    if site_curve.type == "table":
        forms.reverse()
    form = next((f for f in forms if complete(f)), None)
    start = int(t_ms[0]) if len(t_ms) else 0
    if form is None:
        return CurveHistory.fixed(site_curve, start)
    limits = {"curve_min": site_curve.min_supply, "curve_max": site_curve.max_supply}
    roles = form + LIMIT_ROLES
    matrix = np.vstack(
        [
            _filled(held[r]) if r in form or complete((r,)) else np.full(len(t_ms), limits[r])
            for r in roles
        ]
    )
    changes = np.flatnonzero(np.r_[True, (matrix[:, 1:] != matrix[:, :-1]).any(axis=0)])
    curves = tuple(
        roles_curve({r: float(v) for r, v in zip(roles, matrix[:, k], strict=True)}, site_curve)
        for k in changes.tolist()
    )
    since = (start, *(int(t_ms[k]) for k in changes[1:].tolist()))
    return CurveHistory(since, curves, "plc")
