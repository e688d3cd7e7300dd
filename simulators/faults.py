"""Injected faults: which are in force at a moment, and what they mean for devices and points."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from heatnet.config import Fault
from simulators.plc import HEALTHY, DeviceStatus

DEVICE_KINDS = frozenset({"device_offline", "slow_replies", "exception_replies"})
SENSOR_KINDS = frozenset({"frozen_sensor", "spike"})


@dataclass(slots=True)
class ActiveFault:
    """A fault with its id; `held` keeps a frozen sensor's value or a stuck valve's position."""

    id: int
    fault: Fault
    held: float | None = None


class FaultManager:
    """Faults by id; `Fault.start` and `duration` are seconds after the model's start."""

    def __init__(self, faults: list[Fault] | None = None) -> None:
        self._faults: dict[int, ActiveFault] = {}
        self._next_id = 1
        self.elapsed_s = 0.0
        for fault in faults or []:
            self.add(fault)

    def add(self, fault: Fault) -> int:
        """Schedule a fault; returns its id for remove()."""
        fault_id = self._next_id
        self._next_id += 1
        self._faults[fault_id] = ActiveFault(fault_id, fault)
        return fault_id

    def remove(self, fault_id: int) -> None:
        """Withdraw a fault; KeyError if there is none with that id."""
        del self._faults[fault_id]

    def in_force(self, fault: Fault, elapsed_s: float | None = None) -> bool:
        t = self.elapsed_s if elapsed_s is None else elapsed_s
        if t < fault.start:
            return False
        return fault.duration is None or t < fault.start + fault.duration

    def entries(self, kind: str | None = None) -> Iterator[ActiveFault]:
        """Faults in force now, optionally of one kind."""
        for entry in self._faults.values():
            if (kind is None or entry.fault.kind == kind) and self.in_force(entry.fault):
                yield entry

    def active(self) -> list[Fault]:
        """Faults in force now."""
        return [e.fault for e in self.entries()]

    def release_ended(self) -> None:
        """Forget held values of faults no longer in force, so a later onset holds afresh."""
        for entry in self._faults.values():
            if not self.in_force(entry.fault):
                entry.held = None

    def device_status(self, device_key: str) -> DeviceStatus:
        """Communication faults in force for device `asset/device`."""
        offline, delay, code = False, 0.0, None
        for entry in self.entries():
            fault = entry.fault
            if fault.target != device_key or fault.kind not in DEVICE_KINDS:
                continue
            if fault.kind == "device_offline":
                offline = True
            elif fault.kind == "slow_replies":
                delay = max(delay, fault.delay_s)
            else:
                code = fault.exception_code
        if not offline and delay == 0.0 and code is None:
            return HEALTHY
        return DeviceStatus(offline=offline, delay_s=delay, exception_code=code)
