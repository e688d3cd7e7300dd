"""Writing single OPC UA points for the write-back: the node's Value with the profile's
variant type, over the device's own session (security, server trust and login)."""

from __future__ import annotations

import contextlib
from pathlib import Path

from asyncua import Client, ua

from collectors.opcua_session import OpcUaError, OpcUaServiceFault, open_session, translate
from collectors.writeback import DeviceUnreachable, PointRefused, WriteError
from heatnet.config import Device, ModbusPoint, OpcUaDevice, OpcUaPoint
from heatnet.points import PointSpec

FLOAT_STEP = {"Float": 2.0**-23, "Double": 2.0**-52}  # relative step of the mantissa


def _variant(point: OpcUaPoint, value: float) -> ua.Variant:
    kind = ua.VariantType[point.variant_type]
    if point.variant_type in FLOAT_STEP:
        return ua.Variant(float(value), kind)
    if point.variant_type == "Boolean":
        return ua.Variant(value >= 0.5, kind)
    return ua.Variant(round(value), kind)


class OpcUaPointWriter:
    """Reads and writes points of one OPC UA device (a `collectors.writeback.PointWriter`)."""

    def __init__(self, device: Device, device_key: str, base_dir: Path) -> None:
        if not isinstance(device, OpcUaDevice):
            raise TypeError(f'device "{device_key}" speaks {device.protocol}, not opcua')
        self.device = device
        self.device_key = device_key
        self._base_dir = base_dir
        self._client: Client | None = None

    @staticmethod
    def check(point: ModbusPoint | OpcUaPoint, value: float) -> str | None:
        assert isinstance(point, OpcUaPoint)
        if point.variant_type == "String":
            return "a String node cannot take a number"
        return None

    @staticmethod
    def resolution(point: ModbusPoint | OpcUaPoint, value: float) -> float:
        assert isinstance(point, OpcUaPoint)
        relative = FLOAT_STEP.get(point.variant_type)
        return abs(value) * relative * 2 if relative is not None else 1.0

    def _failure(self, err: Exception, doing: str) -> WriteError:
        failure = translate(err, self.device_key, doing, self.device.timeout_s)
        if isinstance(failure, OpcUaServiceFault):
            return WriteError(str(failure))
        return DeviceUnreachable(str(failure))

    def _session(self) -> Client:
        if self._client is None:
            raise DeviceUnreachable(f'OPC UA device "{self.device_key}": no session')
        return self._client

    async def open(self) -> None:
        try:
            self._client = await open_session(self.device, self.device_key, self._base_dir)
        except OpcUaError as err:
            raise DeviceUnreachable(str(err)) from err

    async def read(self, spec: PointSpec) -> float:
        node = ua.NodeId.from_string(spec.node_id or "")
        try:
            data = await self._session().uaclient.read_attributes([node], ua.AttributeIds.Value)
        except Exception as err:
            raise self._failure(err, f"reading {spec.key}") from err
        value = data[0].Value.Value if data[0].Value is not None else None
        if not data[0].StatusCode.is_good() or not isinstance(value, int | float):
            status = data[0].StatusCode.name
            raise WriteError(f'OPC UA device "{self.device_key}": reading {spec.key}: {status}')
        return float(value)

    async def write(self, spec: PointSpec, value: float) -> None:
        assert isinstance(spec.point, OpcUaPoint)
        node = ua.NodeId.from_string(spec.node_id or "")
        written = ua.DataValue(_variant(spec.point, value))
        try:
            results = await self._session().uaclient.write_attributes(
                [node], [written], ua.AttributeIds.Value
            )
        except Exception as err:
            raise self._failure(err, f"writing {spec.key}") from err
        if not results[0].is_good():
            raise PointRefused(results[0].name)

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            # closing a session the device may already have dropped: nothing left to report
            with contextlib.suppress(Exception):
                await client.disconnect()
            client.disconnect_socket()
