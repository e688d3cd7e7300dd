"""Writing single Modbus points for the write-back: holding registers (function 6 for one
register, 16 for more, encoded by heatnet.codec) and coils (function 5)."""

from __future__ import annotations

from pathlib import Path

from pymodbus.constants import ExcCodes
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

from collectors.modbus import modbus_client
from collectors.writeback import DeviceUnreachable, PointRefused, WriteError
from heatnet.codec import CodecError, decode_value, encode_value
from heatnet.config import Device, ModbusDevice, ModbusPoint, OpcUaPoint
from heatnet.points import PointSpec

FLOAT_STEP = {"float32": 2.0**-23, "float64": 2.0**-52}  # relative step of the mantissa


def _exception_name(code: int) -> str:
    try:
        return f"exception {code} ({ExcCodes(code).name.lower()})"
    except ValueError:
        return f"exception {code}"


class ModbusPointWriter:
    """Reads and writes points of one Modbus device (a `collectors.writeback.PointWriter`)."""

    def __init__(self, device: Device, device_key: str, base_dir: Path) -> None:
        if not isinstance(device, ModbusDevice):
            raise TypeError(f'device "{device_key}" speaks {device.protocol}, not modbus')
        self.device = device
        self.device_key = device_key
        self._client = modbus_client(device, f"{device_key} write-back")

    @staticmethod
    def check(point: ModbusPoint | OpcUaPoint, value: float) -> str | None:
        assert isinstance(point, ModbusPoint)
        if point.register_type not in ("holding", "coil"):
            return f"{point.register_type} points cannot be written (holding and coil can)"
        if point.data_type == "string":
            return "a string point cannot take a number"
        if point.register_type == "holding" and point.data_type == "bool":
            return "a bit inside a holding register cannot be written on its own"
        if point.register_type == "holding":
            try:
                encode_value(value, point.data_type, point.byte_order, point.scale, point.offset)
            except CodecError as err:
                return str(err)
        return None

    @staticmethod
    def resolution(point: ModbusPoint | OpcUaPoint, value: float) -> float:
        assert isinstance(point, ModbusPoint)
        if point.register_type == "coil":
            return 1.0
        relative = FLOAT_STEP.get(point.data_type)
        if relative is not None:
            return abs(value - point.offset) * relative * 2
        return abs(point.scale)

    def _translate(self, err: Exception, doing: str) -> WriteError:
        if isinstance(err, ModbusIOException) and self._client.connected:
            return DeviceUnreachable(
                f'device "{self.device_key}": {doing}: no answer within {self.device.timeout_s:g} s'
            )
        if isinstance(err, ConnectionException | ModbusIOException | OSError):
            return DeviceUnreachable(f'device "{self.device_key}": {doing}: connection lost')
        return WriteError(f'device "{self.device_key}": {doing}: {err}')

    async def open(self) -> None:
        try:
            connected = await self._client.connect()
        except (ModbusException, OSError) as err:
            raise self._translate(err, "connecting") from err
        if not connected:
            where = f"{self.device.host}:{self.device.port}" if self.device.host else "its line"
            raise DeviceUnreachable(f'device "{self.device_key}": cannot connect to {where}')

    async def read(self, spec: PointSpec) -> float:
        point = spec.point
        assert isinstance(point, ModbusPoint)
        unit = self.device.unit_id
        try:
            if point.register_type == "coil":
                reply = await self._client.read_coils(point.address, count=1, device_id=unit)
            else:
                reply = await self._client.read_holding_registers(
                    point.address, count=point.register_count, device_id=unit
                )
        except ModbusException as err:
            raise self._translate(err, f"reading {spec.key}") from err
        if reply.isError():
            raise WriteError(
                f'device "{self.device_key}": reading {spec.key}: '
                f"{_exception_name(reply.exception_code)}"
            )
        if point.register_type == "coil":
            return float(bool(reply.bits[0]))
        try:
            return decode_value(
                list(reply.registers), point.data_type, point.byte_order, point.scale, point.offset
            )
        except CodecError as err:
            raise WriteError(f'device "{self.device_key}": reading {spec.key}: {err}') from err

    async def write(self, spec: PointSpec, value: float) -> None:
        point = spec.point
        assert isinstance(point, ModbusPoint)
        unit, client = self.device.unit_id, self._client
        try:
            if point.register_type == "coil":
                reply = await client.write_coil(point.address, value >= 0.5, device_id=unit)
            else:
                registers = encode_value(
                    value, point.data_type, point.byte_order, point.scale, point.offset
                )
                if len(registers) == 1:
                    reply = await client.write_register(point.address, registers[0], device_id=unit)
                else:
                    reply = await client.write_registers(point.address, registers, device_id=unit)
        except ModbusException as err:
            raise self._translate(err, f"writing {spec.key}") from err
        if reply.isError():
            raise PointRefused(_exception_name(reply.exception_code))

    async def close(self) -> None:
        self._client.close()
