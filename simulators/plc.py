"""What a simulated PLC server needs from the plant model: values to serve, writes to apply.

The Modbus and OPC UA servers depend only on this protocol, so they serve the physics
model (`simulators.model.SiteModel`) and nothing in them knows about heat.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from heatnet.points import PointSpec


class WriteRefused(Exception):
    """A write the PLC rejects: not writable, out of range, or not a number."""


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    """Communication faults of one device at this instant."""

    offline: bool = False
    delay_s: float = 0.0
    exception_code: int | None = None


HEALTHY = DeviceStatus()


class PlcBackend(Protocol):
    """The plant as the PLC servers see it."""

    points: list[PointSpec]
    """Every point of the site (heatnet.points.site_points order); values() follows it."""

    def values(self) -> np.ndarray:
        """Current value of every point as the PLC reports it (sensor faults applied).

        float64, one per point; bools as 0/1; string points are NaN (see text()).
        """
        ...

    def text(self, path: str) -> str:
        """The value of a string point."""
        ...

    def now_ms(self) -> int:
        """The simulated clock, epoch milliseconds: what the PLCs report as their own time."""
        ...

    def write(self, path: str, value: float) -> None:
        """Apply a write from a client; raise WriteRefused with the reason when refused."""
        ...

    def device_status(self, device_key: str) -> DeviceStatus:
        """Communication faults in force for device `asset/device`."""
        ...
