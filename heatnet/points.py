"""The point model: every measured value of a site, its path, its device and its quality.

A path is `site/asset/role` (asset: a substation, the heat source or a steam
customer) or `site/substation/building/room/t_indoor` for a room sensor.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum, StrEnum

from heatnet.config import (
    REGISTER_COUNT,
    Device,
    ModbusDevice,
    ModbusPoint,
    ModbusProfile,
    OpcUaPoint,
    OpcUaProfile,
    SiteConfig,
    Substation,
)
from heatnet.roles import ROLES

DEFAULT_NODE_ID = "ns=2;s={site}/{asset}/{key}"


class Quality(IntEnum):
    """How far a value can be trusted, ordered so that max() is the worst."""

    GOOD = 0
    UNCERTAIN = 1
    BAD = 2


class QualityReason(StrEnum):
    """Why a value is not good."""

    NONE = ""
    COMMS_LOST = "comms_lost"
    TIMEOUT = "timeout"
    DEVICE_EXCEPTION = "device_exception"
    OUT_OF_RANGE = "out_of_range"
    STALE = "stale"
    DECODE_ERROR = "decode_error"
    SENSOR_FAULT = "sensor_fault"


@dataclass(frozen=True, slots=True)
class PointSpec:
    """One point of a site as a collector polls it and a simulated PLC serves it."""

    path: str
    asset_kind: str
    asset_id: str
    key: str
    device: Device
    point: ModbusPoint | OpcUaPoint
    unit: str
    building: str | None = None
    room: str | None = None
    room_type: str | None = None
    node_id: str | None = None

    @property
    def role(self) -> str | None:
        return self.key if self.key in ROLES else None

    @property
    def protocol(self) -> str:
        return self.device.protocol

    @property
    def device_key(self) -> str:
        """`asset/device`: unique within a site."""
        return f"{self.asset_id}/{self.device.id}"

    def describe(self) -> dict[str, object]:
        """The `heatnet points` row: a contract other tools read, so keep it stable."""
        row: dict[str, object] = {"path": self.path, "protocol": self.protocol}
        if isinstance(self.device, ModbusDevice) and isinstance(self.point, ModbusPoint):
            row.update(
                host=self.device.host,
                port=self.device.port if self.device.host else None,
                serial_port=self.device.serial.port if self.device.serial else None,
                framer=self.device.framer,
                unit_id=self.device.unit_id,
                register_type=self.point.register_type,
                address=self.point.address,
                data_type=self.point.data_type,
                byte_order=self.point.byte_order,
                scale=self.point.scale,
                offset=self.point.offset,
            )
        else:
            row.update(endpoint=getattr(self.device, "endpoint", None), node_id=self.node_id)
        row["unit"] = self.unit
        return row


def _unit(point: ModbusPoint | OpcUaPoint) -> str:
    if point.unit is not None:
        return point.unit
    role = ROLES.get(point.key)
    return role.unit if role else ""


def _node_id(template: str, **names: str) -> str:
    return template.format(**names)


def _indoor_points(
    site: SiteConfig, sub: Substation, device: Device, profile: ModbusProfile | OpcUaProfile
) -> Iterator[PointSpec]:
    indoor = profile.indoor
    if indoor is None:
        return
    index = 0
    for building in sub.buildings:
        for room in building.rooms:
            path = f"{site.site.id}/{sub.id}/{building.id}/{room.id}/t_indoor"
            node_id = None
            point: ModbusPoint | OpcUaPoint
            if isinstance(profile, ModbusProfile):
                block = profile.indoor
                assert block is not None
                point = ModbusPoint(
                    role="t_indoor",
                    register_type=block.register_type,
                    address=block.address + index * REGISTER_COUNT[block.data_type],
                    data_type=block.data_type,
                    byte_order=block.byte_order,
                    scale=block.scale,
                    offset=block.offset,
                    unit="degC",
                    group=block.group,
                )
            else:
                assert profile.indoor is not None
                node_id = _node_id(
                    profile.indoor.node_id,
                    site=site.site.id,
                    asset=sub.id,
                    building=building.id,
                    room=room.id,
                )
                point = OpcUaPoint(
                    role="t_indoor",
                    variant_type=profile.indoor.variant_type,
                    unit="degC",
                    group=profile.indoor.group,
                )
            yield PointSpec(
                path=path,
                asset_kind="substation",
                asset_id=sub.id,
                key="t_indoor",
                device=device,
                point=point,
                unit="degC",
                building=building.id,
                room=room.id,
                room_type=room.type,
                node_id=node_id,
            )
            index += 1


def site_points(site: SiteConfig) -> list[PointSpec]:
    """Every point of the site in config order; profiles must exist (see check_site)."""
    points: list[PointSpec] = []
    for kind, asset in site.assets():
        for device in asset.devices:
            profile = site.profiles[device.profile]
            for point in profile.points:
                node_id = None
                if isinstance(point, OpcUaPoint):
                    node_id = _node_id(
                        point.node_id or DEFAULT_NODE_ID,
                        site=site.site.id,
                        asset=asset.id,
                        key=point.key,
                        device=device.id,
                    )
                points.append(
                    PointSpec(
                        path=f"{site.site.id}/{asset.id}/{point.key}",
                        asset_kind=kind,
                        asset_id=asset.id,
                        key=point.key,
                        device=device,
                        point=point,
                        unit=_unit(point),
                        node_id=node_id,
                    )
                )
            if isinstance(asset, Substation):
                points.extend(_indoor_points(site, asset, device, profile))
    return points
