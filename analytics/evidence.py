"""What every analytics result carries: its period, the points behind it, coverage, and why
it was withheld; plus the conversion to plain JSON that other tools read."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, is_dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

import numpy as np
from numpy.typing import NDArray


def jsonable(value: Any) -> Any:
    """Plain JSON types from dataclasses, numpy scalars and arrays; NaN becomes None."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class Result:
    """Mixin for result dataclasses: `to_dict()` with stable keys (the field names)."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        return jsonable(self)  # type: ignore[no-any-return]


def iso_ms(t_ms: float, tz: tzinfo = UTC) -> str:
    """An epoch-millisecond timestamp as ISO 8601 (UTC unless a zone is given), to the second."""
    return datetime.fromtimestamp(t_ms / 1000.0, tz).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class Evidence(Result):
    """The data a result stands on: period (ISO), points or rooms used, coverage 0–1."""

    period_start: str
    period_end: str
    points: tuple[str, ...]
    coverage: float
    withheld_reason: str | None = None

    @classmethod
    def from_ms(
        cls,
        t_ms: NDArray[np.int64],
        points: tuple[str, ...],
        coverage: float,
        withheld_reason: str | None = None,
    ) -> Evidence:
        if len(t_ms) == 0:
            return cls("", "", points, 0.0, withheld_reason or "no data")
        return cls(iso_ms(t_ms[0]), iso_ms(t_ms[-1]), points, coverage, withheld_reason)

    @classmethod
    def from_days(
        cls,
        days: NDArray[np.datetime64],
        points: tuple[str, ...],
        coverage: float,
        withheld_reason: str | None = None,
    ) -> Evidence:
        if len(days) == 0:
            return cls("", "", points, 0.0, withheld_reason or "no data")
        return cls(str(days[0]), str(days[-1]), points, coverage, withheld_reason)

    @property
    def withheld(self) -> bool:
        return self.withheld_reason is not None
