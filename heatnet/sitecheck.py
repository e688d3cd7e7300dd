"""Checks that span fields of a site: references, duplicate ids, register layout, fault targets.

Each check yields `(path inside the file, what is wrong)`; the loader adds the file name.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from heatnet.config import (
    REGISTER_COUNT,
    ModbusDevice,
    ModbusProfile,
    OpcUaDevice,
    SiteConfig,
)
from heatnet.points import site_points
from heatnet.roles import ROLES, Asset

Problem = tuple[str, str]

_ASSET_OF_KIND = {"substation": Asset.SUBSTATION, "source": Asset.SOURCE, "steam": Asset.STEAM}
_DEVICE_FAULTS = {"device_offline", "slow_replies", "exception_replies"}
_POINT_FAULTS = {"frozen_sensor", "spike"}
_SUBSTATION_FAULTS = {"leak", "stuck_valve"}


def _duplicates(ids: list[str]) -> list[str]:
    return [i for i, n in Counter(ids).items() if n > 1]


def _check_ids(site: SiteConfig) -> Iterator[Problem]:
    asset_ids = [a.id for _, a in site.assets()]
    for dup in _duplicates(asset_ids):
        yield "substations", f"id {dup!r} is used by more than one substation, source or customer"
    for s, sub in enumerate(site.substations):
        for dup in _duplicates([b.id for b in sub.buildings]):
            yield f"substations[{s}].buildings", f"building id {dup!r} is given twice"
        for b, building in enumerate(sub.buildings):
            for dup in _duplicates([r.id for r in building.rooms]):
                yield f"substations[{s}].buildings[{b}].rooms", f"room id {dup!r} is given twice"
        designs = {(b.design_supply, b.design_return) for b in sub.buildings}
        if len(designs) > 1:
            yield (
                f"substations[{s}].buildings",
                "buildings on one secondary network must share design supply/return "
                f"temperatures, got {sorted(designs)}",
            )


def _asset_path(kind: str, index: int) -> str:
    return {"source": "heat_source", "substation": f"substations[{index}]"}.get(
        kind, f"steam_customers[{index}]"
    )


def _check_references(site: SiteConfig) -> Iterator[Problem]:
    counters: Counter[str] = Counter()
    for kind, asset in site.assets():
        index = counters[kind]
        counters[kind] += 1
        base = _asset_path(kind, index)
        for dup in _duplicates([d.id for d in asset.devices]):
            yield f"{base}.devices", f"device id {dup!r} is given twice"
        for d, device in enumerate(asset.devices):
            profile = site.profiles.get(device.profile)
            if profile is None:
                known = ", ".join(sorted(site.profiles)) or "none defined"
                yield (
                    f"{base}.devices[{d}].profile",
                    f"unknown profile {device.profile!r} ({known})",
                )
                continue
            if profile.protocol != device.protocol:
                yield (
                    f"{base}.devices[{d}].profile",
                    f"profile {device.profile!r} is for {profile.protocol}, "
                    f"the device speaks {device.protocol}",
                )
            wanted = _ASSET_OF_KIND[kind]
            for p, point in enumerate(profile.points):
                role = ROLES.get(point.role or "")
                if role is not None and wanted not in role.assets:
                    yield (
                        f"profiles.{device.profile}.points[{p}].role",
                        f"role {point.role!r} belongs to a {role.assets[0]}, "
                        f"but {asset.id} is a {kind}",
                    )
    for s, sub in enumerate(site.substations):
        if sub.curve not in site.curves:
            yield f"substations[{s}].curve", f"unknown curve {sub.curve!r}"
    if site.heat_source.supply_curve not in site.curves:
        yield "heat_source.supply_curve", f"unknown curve {site.heat_source.supply_curve!r}"
    for a, limit in enumerate(site.alarms):
        if limit.role not in ROLES:
            yield f"alarms[{a}].role", f"unknown role {limit.role!r}"


def _check_modbus_profile(name: str, profile: ModbusProfile) -> Iterator[Problem]:
    base = f"profiles.{name}"
    used: dict[tuple[str, int], tuple[int, int | None]] = {}
    for p, point in enumerate(profile.points):
        where = f"{base}.points[{p}]"
        bits = point.register_type in ("coil", "discrete")
        if bits and point.data_type != "bool":
            yield f"{where}.data_type", f"a {point.register_type} holds one bit: use bool"
        if point.data_type == "bool" and not bits and point.bit is None:
            yield f"{where}.bit", "a bool in a register needs bit: 0-15"
        if point.bit is not None and point.data_type != "bool":
            yield f"{where}.bit", "bit goes with data_type bool"
        if point.data_type == "string" and point.length is None:
            yield f"{where}.length", "a string needs its length in registers"
        if point.writable and point.register_type in ("input", "discrete"):
            yield f"{where}.writable", f"{point.register_type} registers are read-only in Modbus"
        if point.scale == 0:
            yield f"{where}.scale", "scale must not be 0"
        count = point.register_count
        if point.address + count > 65536:
            yield f"{where}.address", f"{count} registers from {point.address} pass 65535"
        for offset in range(count):
            slot = (point.register_type, point.address + offset)
            previous = used.get(slot)
            if previous is not None and (
                previous[1] is None or point.bit is None or previous[1] == point.bit
            ):
                other = profile.points[previous[0]]
                yield (
                    f"{where}.address",
                    f"{point.register_type} register {slot[1]} overlaps points[{previous[0]}] "
                    f"({other.key})",
                )
                break
            used[slot] = (p, point.bit)
    for dup in _duplicates([pt.key for pt in profile.points]):
        yield f"{base}.points", f"point {dup!r} is given twice"
    if profile.indoor is not None:
        block = profile.indoor
        if block.data_type in ("bool", "string"):
            yield f"{base}.indoor.data_type", "room temperatures need a numeric data type"
            return
        width = REGISTER_COUNT[block.data_type]
        end = block.address + width * block.max_rooms
        for p, point in enumerate(profile.points):
            if point.register_type == block.register_type and (
                point.address < end and point.address + point.register_count > block.address
            ):
                yield (
                    f"{base}.indoor.address",
                    f"room block {block.address}-{end - 1} overlaps points[{p}] ({point.key})",
                )


def _check_profiles(site: SiteConfig) -> Iterator[Problem]:
    for name, profile in site.profiles.items():
        for p, point in enumerate(profile.points):
            if point.group not in profile.poll_groups:
                yield (
                    f"profiles.{name}.points[{p}].group",
                    f"unknown poll group {point.group!r} ({', '.join(profile.poll_groups)})",
                )
        if profile.indoor is not None and profile.indoor.group not in profile.poll_groups:
            yield f"profiles.{name}.indoor.group", f"unknown poll group {profile.indoor.group!r}"
        if isinstance(profile, ModbusProfile):
            yield from _check_modbus_profile(name, profile)
        else:
            for dup in _duplicates([pt.key for pt in profile.points]):
                yield f"profiles.{name}.points", f"point {dup!r} is given twice"
        for p, point in enumerate(profile.points):
            if point.role is not None and point.role not in ROLES:
                yield f"profiles.{name}.points[{p}].role", f"unknown role {point.role!r}"


def _check_rooms_fit(site: SiteConfig) -> Iterator[Problem]:
    for s, sub in enumerate(site.substations):
        rooms = sum(len(b.rooms) for b in sub.buildings)
        for d, device in enumerate(sub.devices):
            profile = site.profiles.get(device.profile)
            block = profile.indoor if isinstance(profile, ModbusProfile) else None
            if block is not None and rooms > block.max_rooms:
                yield (
                    f"substations[{s}].devices[{d}]",
                    f"{rooms} rooms do not fit the profile's room block of {block.max_rooms}",
                )


def _check_endpoints(site: SiteConfig) -> Iterator[Problem]:
    """Two devices must not claim the same Modbus unit on one port, or one port twice."""
    modbus: dict[tuple[str, int, int], str] = {}
    framers: dict[tuple[str, int], str] = {}
    opcua_ports: dict[tuple[str, int], str] = {}
    counters: Counter[str] = Counter()
    for kind, asset in site.assets():
        index = counters[kind]
        counters[kind] += 1
        for d, device in enumerate(asset.devices):
            where = f"{_asset_path(kind, index)}.devices[{d}]"
            if isinstance(device, ModbusDevice) and device.host is not None:
                key = (device.host, device.port, device.unit_id)
                if key in modbus:
                    yield (
                        f"{where}.unit_id",
                        f"unit {device.unit_id} at {device.host}:{device.port} "
                        f"is already {modbus[key]}",
                    )
                modbus[key] = f"{asset.id}/{device.id}"
                framer = framers.setdefault((device.host, device.port), device.framer)
                if framer != device.framer:
                    yield f"{where}.framer", f"port {device.port} already speaks {framer}"
            elif isinstance(device, OpcUaDevice):
                hostport = device.endpoint.split("//", 1)[1].split("/", 1)[0]
                host, _, port = hostport.partition(":")
                opcua_ports.setdefault((host, int(port or 4840)), device.endpoint)


def _check_faults(site: SiteConfig) -> Iterator[Problem]:
    device_keys = {f"{a.id}/{d.id}" for _, a in site.assets() for d in a.devices}
    paths = {p.path for p in site_points(site)}
    substations = {s.id for s in site.substations}
    buildings = {f"{s.id}/{b.id}" for s in site.substations for b in s.buildings}
    for f, fault in enumerate(site.faults):
        where = f"faults[{f}].target"
        if fault.kind in _DEVICE_FAULTS and fault.target not in device_keys:
            yield where, f"{fault.kind} needs a device as asset/device, got {fault.target!r}"
        elif fault.kind in _POINT_FAULTS and fault.target not in paths:
            yield where, f"{fault.kind} needs a point path such as {site.site.id}/ss01/t2_supply"
        elif fault.kind in _SUBSTATION_FAULTS and fault.target not in substations:
            yield where, f"{fault.kind} needs a substation id, got {fault.target!r}"
        elif fault.kind == "undersized_radiators" and fault.target not in buildings:
            yield where, f"undersized_radiators needs substation/building, got {fault.target!r}"
        elif fault.kind == "source_trip" and fault.target != site.heat_source.id:
            yield where, f"source_trip needs the heat source id {site.heat_source.id!r}"


def check_site(site: SiteConfig) -> list[Problem]:
    """Every cross-field problem of a site; points and faults are checked once references hold."""
    problems = [
        *_check_ids(site),
        *_check_references(site),
        *_check_profiles(site),
        *_check_rooms_fit(site),
        *_check_endpoints(site),
    ]
    if problems:
        return problems
    for dup in _duplicates([p.path for p in site_points(site)]):
        problems.append(("substations", f"point {dup!r} is served by more than one device"))
    problems.extend(_check_faults(site))
    return problems
