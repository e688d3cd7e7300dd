"""The device-collector interface: one small protocol, picked by the site file's `protocol:`.

A collector owns one device connection. `poll` never raises for a device's own trouble
(timeouts, exceptions, garbage): it returns the group's samples with their quality marked,
so one bad device or request never costs the others their data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from heatnet.config import Device
from heatnet.points import PointSpec
from heatnet.samples import SampleBatch

Clock = Callable[[], float]
"""Seconds since the epoch; injectable so tests move time instead of sleeping."""


class DeviceCollector(Protocol):
    """Reads one device's points, group by group."""

    device: Device
    device_key: str  # "asset/device"

    async def connect(self) -> None:
        """Open the connection; failures are reported through the quality of the next poll."""
        ...

    async def poll(self, group: str) -> SampleBatch:
        """Read every point of a poll group now; bad replies mark quality, never raise."""
        ...

    async def close(self) -> None: ...


@runtime_checkable
class Subscribing(Protocol):
    """Optional: a collector whose device pushes changes (OPC UA subscriptions)."""

    async def subscribe(self, sink: Callable[[SampleBatch], None]) -> None:
        """Deliver every data change to sink until close(); rebuild after reconnects."""
        ...


CollectorFactory = Callable[[Device, list[PointSpec], Clock], DeviceCollector]
