"""Curve write-back: an engineer applies a heating curve to a substation's PLC, audited.

Each step can stop the ones after it:

1. permission: only an engineer writes (`User.may_write`), checked here, not only in a UI;
2. the device must allow writes (`write_enabled: true` in the site file);
3. every value is checked against its profile point (writable, min/max, encodable) before
   anything is sent: one bad value refuses the whole curve;
4. the current values are read through the protocol (the audit's old values), so a device
   that does not answer fails here, before any write;
5. the values are written one at a time; the first refusal or lost answer stops the rest;
6. what was written is read back and compared within the point's resolution.

Every outcome, refusals included, is audited in the historian's journal as one "write"
entry per point (who, when, device, old and new value, outcome).

Errors the protocol writers raise, translated from their libraries:

    WriteError              the device cannot take or give a value now
     ├── DeviceUnreachable   no connection or no answer: nothing more can be sent
     └── PointRefused        the device refused this one point (an exception, a Bad status)
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from importlib import import_module
from pathlib import Path
from typing import Protocol

from heatnet.config import Device, ModbusPoint, OpcUaPoint, SiteConfig
from heatnet.points import PointSpec, site_points
from heatnet.roles import CURVE_TABLE_OUTDOOR
from heatnet.users import User
from historian.base import AlarmEvent, Historian, HistorianError

log = logging.getLogger(__name__)

CURVE_ROLES = (
    "curve_slope",
    "curve_shift",
    *(f"curve_table_{i + 1}" for i in range(len(CURVE_TABLE_OUTDOOR))),
    "curve_min",
    "curve_max",
)
WRITTEN = ("ok", "mismatch", "unverified")  # outcomes of points the device took
_WRITERS = {
    "modbus": "collectors.modbus_write:ModbusPointWriter",
    "opcua": "collectors.opcua_write:OpcUaPointWriter",
}


class WriteError(Exception):
    """A device cannot take or give a value now."""


class DeviceUnreachable(WriteError):
    """No connection to the device, or no answer: nothing more can be sent."""


class PointRefused(WriteError):
    """The device refused one point's write."""


class PointWriter(Protocol):
    """Reads and writes single points of one device through its protocol."""

    def __init__(self, device: Device, device_key: str, base_dir: Path) -> None: ...

    @staticmethod
    def check(point: ModbusPoint | OpcUaPoint, value: float) -> str | None:
        """Why the protocol cannot carry `value` to this point, or None when it can."""
        ...

    @staticmethod
    def resolution(point: ModbusPoint | OpcUaPoint, value: float) -> float:
        """The smallest step the point can hold near `value`, in engineering units."""
        ...

    async def open(self) -> None: ...

    async def read(self, spec: PointSpec) -> float: ...

    async def write(self, spec: PointSpec, value: float) -> None: ...

    async def close(self) -> None: ...


def writer_class(protocol: str) -> type[PointWriter]:
    """The writer of a protocol, imported on first use like the collectors."""
    module, name = _WRITERS[protocol].split(":")
    writer: type[PointWriter] = getattr(import_module(module), name)
    return writer


@dataclass(frozen=True, slots=True)
class PointWrite:
    """One point of a write-back: what was asked, what it held before, what came of it.

    outcome: ok (read back as written), mismatch (read back otherwise), unverified (written
    but not read back), refused, failed (no answer: it may or may not have taken effect),
    not_written.
    """

    role: str
    path: str
    value: float
    previous: float | None = None
    read_back: float | None = None
    outcome: str = "not_written"
    reason: str = ""


@dataclass(frozen=True, slots=True)
class WriteReport:
    """A whole write-back; result is ok, refused, failed, mismatch or partial."""

    substation: str
    device: str
    user: str
    ts_ms: int
    result: str
    message: str
    points: tuple[PointWrite, ...]
    audited: bool = True

    @property
    def written(self) -> list[str]:
        """Roles the device took (verified or not)."""
        return [p.role for p in self.points if p.outcome in WRITTEN]


def _write_order(values: Mapping[str, float], previous: Mapping[str, float]) -> list[str]:
    """Roles in writing order: curve_max before curve_min when the new minimum would
    otherwise meet the old maximum (a PLC refuses min >= max on the way)."""
    roles = [r for r in CURVE_ROLES if r in values]
    old_max = previous.get("curve_max", math.inf)
    if "curve_min" in values and "curve_max" in values and values["curve_min"] >= old_max:
        roles.remove("curve_max")
        roles.insert(roles.index("curve_min"), "curve_max")
    return roles


def _result(points: list[PointWrite]) -> str:
    outcomes = {p.outcome for p in points}
    if outcomes == {"ok"}:
        return "ok"
    if not any(p.outcome in WRITTEN for p in points):
        return "failed" if "failed" in outcomes else "refused"
    if outcomes <= {"ok", "mismatch"}:
        return "mismatch"
    return "partial"


class CurveWriteBack:
    """Writes heating-curve parameters to substation PLCs for engineers, and audits it."""

    def __init__(
        self,
        site: SiteConfig,
        historian: Historian,
        *,
        clock: Callable[[], float] = time.time,
        base_dir: Path | None = None,
    ) -> None:
        self.site = site
        self.historian = historian
        self._clock = clock
        self._base_dir = base_dir or (site.source.parent if site.source else Path.cwd())
        self._points = {
            (p.asset_id, p.key): p for p in site_points(site) if p.asset_kind == "substation"
        }
        self._substations = {s.id for s in site.substations}

    async def apply(self, user: User, substation: str, values: Mapping[str, float]) -> WriteReport:
        """Write `values` (keyed by curve_* role) to the substation's PLC; see the module doc.

        Refusals and device trouble come back in the report, never raised; ValueError for a
        substation the site does not have.
        """
        if substation not in self._substations:
            raise ValueError(f"no substation {substation!r} in site {self.site.site.id!r}")
        ts_ms = round(self._clock() * 1000.0)
        specs = {role: self._points.get((substation, role)) for role in values}
        devices = {s.device_key: s.device for s in specs.values() if s is not None}
        device_key = next(iter(devices), f"{substation}/?")
        points = [
            PointWrite(role, s.path if s else f"{self.site.site.id}/{substation}/{role}", v)
            for role, v, s in ((r, float(values[r]), specs[r]) for r in values)
        ]
        refusal = self._refusal(user, specs, values, devices)
        if refusal is not None:
            reason, per_point = refusal
            points = [
                replace(p, outcome="refused", reason=per_point.get(p.role, reason)) for p in points
            ]
            message = f'refused, nothing sent to "{device_key}": {reason}'
        else:
            device = devices[device_key]
            points, message = await self._write(device, device_key, specs, points)
        report = WriteReport(
            substation, device_key, user.name, ts_ms, _result(points), message, tuple(points)
        )
        log.info(
            'curve write-back by %s to "%s": %s: %s', user.name, device_key, report.result, message
        )
        return self._audit(report)

    def _refusal(
        self,
        user: User,
        specs: Mapping[str, PointSpec | None],
        values: Mapping[str, float],
        devices: Mapping[str, Device],
    ) -> tuple[str, dict[str, str]] | None:
        """Why nothing may be sent (and why per point), or None when all may be."""
        if not user.may_write:
            return f"user {user.name!r} ({user.role}) may not write set points", {}
        if not values:
            return "no values to write", {}
        if len(devices) > 1:
            return f"the curve points lie on several devices: {', '.join(sorted(devices))}", {}
        for device_key, device in devices.items():
            if not device.write_enabled:
                return f'writes are off for device "{device_key}" (write_enabled: false)', {}
        problems: dict[str, str] = {}
        for role, spec in specs.items():
            value = float(values[role])
            problem = self._point_problem(role, spec, value)
            if problem is not None:
                problems[role] = problem
        low, high = values.get("curve_min"), values.get("curve_max")
        if low is not None and high is not None and low >= high:
            problems["curve_min"] = f"curve_min {low:g} must stay below curve_max {high:g}"
        if problems:
            return "; ".join(f"{r}: {why}" for r, why in problems.items()), problems
        return None

    @staticmethod
    def _point_problem(role: str, spec: PointSpec | None, value: float) -> str | None:
        if role not in CURVE_ROLES:
            return "not a heating-curve parameter"
        if spec is None:
            return "the substation's PLC has no such point"
        point = spec.point
        if not point.writable:
            return "read-only in its device profile"
        if not math.isfinite(value):
            return f"{value} is not a finite number"
        if (point.min is not None and value < point.min) or (
            point.max is not None and value > point.max
        ):
            return f"{value:g} is outside the profile's range [{point.min}, {point.max}]"
        return writer_class(spec.protocol).check(point, value)

    async def _write(
        self,
        device: Device,
        device_key: str,
        specs: Mapping[str, PointSpec | None],
        points: list[PointWrite],
    ) -> tuple[list[PointWrite], str]:
        """Read the old values, write in order, read back; the points and a one-line summary."""
        by_role = {p.role: p for p in points}
        writer = writer_class(device.protocol)(device, device_key, self._base_dir)
        try:
            try:
                await writer.open()
                previous = {r: await writer.read(s) for r, s in specs.items() if s is not None}
            except WriteError as err:
                failed = [replace(p, outcome="failed", reason=str(err)) for p in points]
                return failed, f"nothing written: {err}"
            values = {r: p.value for r, p in by_role.items()}
            stopped: str | None = None
            for role in _write_order(values, previous):
                spec, point = specs[role], by_role[role]
                assert spec is not None
                point = by_role[role] = replace(point, previous=previous[role])
                if stopped is not None:
                    continue
                try:
                    await writer.write(spec, point.value)
                except PointRefused as err:
                    by_role[role] = replace(point, outcome="refused", reason=str(err))
                    stopped = f"{role} refused by the device: {err}"
                except WriteError as err:
                    why = f"{err}; it may or may not have taken effect"
                    by_role[role] = replace(point, outcome="failed", reason=why)
                    stopped = f"{role} failed: {err}"
                else:
                    by_role[role] = replace(point, outcome="unverified")
            for role, point in by_role.items():
                if point.outcome == "unverified":
                    by_role[role] = await self._verify(writer, specs[role], point)
        finally:
            await writer.close()
        done = list(by_role.values())
        written = [p.role for p in done if p.outcome in WRITTEN]
        if stopped is None:
            bad = [f"{p.role}: {p.reason}" for p in done if p.outcome != "ok"]
            return done, "; ".join(bad) or f"{len(done)} points written and read back"
        before = ", ".join(written) or "nothing"
        return done, f"{stopped}; written before it: {before}"

    async def _verify(
        self, writer: PointWriter, spec: PointSpec | None, point: PointWrite
    ) -> PointWrite:
        assert spec is not None
        try:
            got = await writer.read(spec)
        except WriteError as err:
            return replace(point, reason=f"not read back: {err}")
        step = writer.resolution(spec.point, point.value)
        if abs(got - point.value) <= step / 2 + 1e-9 * max(1.0, abs(point.value)):
            return replace(point, read_back=got, outcome="ok")
        reason = f"read back {got:g}, not {point.value:g}"
        return replace(point, read_back=got, outcome="mismatch", reason=reason)

    def _audit(self, report: WriteReport) -> WriteReport:
        """Journal one "write" entry per point; a historian failure is logged and reported."""
        events = [
            AlarmEvent(
                alarm_id=f"write:{p.path}",
                ts_ms=report.ts_ms,
                kind="write",
                source="writeback",
                path=p.path,
                priority="low" if p.outcome == "ok" else "high",
                message=_audit_message(p),
                value=p.value,
                operator=report.user,
                device=report.device,
                previous=p.previous,
                outcome=p.outcome,
            )
            for p in report.points
        ]
        try:
            self.historian.write_events(events)
        except HistorianError as err:
            log.error('curve write-back to "%s" not audited: %s', report.device, err)
            return replace(report, audited=False, message=f"{report.message} (NOT AUDITED: {err})")
        return report


def _audit_message(p: PointWrite) -> str:
    before = "?" if p.previous is None else f"{p.previous:g}"
    text = f"{p.role} {before} → {p.value:g}: {p.outcome}"
    return f"{text} ({p.reason})" if p.reason else text
