"""The simulated PLCs' Modbus servers: one pymodbus server per host:port, one unit per device.

Each device is a pymodbus `SimDevice` whose register blocks follow its profile (holes are
illegal addresses, read-only points refuse writes with exception 2). The device's `action`
hook runs on every request: it applies the device's communication faults, fills the reply
from the `ProcessImage` that `refresh()` keeps current, and turns writes into
`backend.write` calls. Devices on a serial line have nothing to listen on and are skipped.

Errors:
    ModbusPortError (OSError)  a server could not listen on its host:port
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import defaultdict
from collections.abc import Sequence

from pymodbus.constants import ExcCodes
from pymodbus.exceptions import NoSuchIdException
from pymodbus.framer import FramerType
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from simulators.modbus_image import (
    BIT_TYPES,
    REGISTER_TYPES,
    DeviceImage,
    ProcessImage,
    Window,
    WriteRejected,
)
from simulators.plc import PlcBackend, WriteRefused

log = logging.getLogger(__name__)

# The register type each function code reads or writes.
_FUNCTION_TYPES = {
    1: "coil", 5: "coil", 15: "coil",
    2: "discrete",
    3: "holding", 6: "holding", 16: "holding", 22: "holding", 23: "holding",
    4: "input",
}  # fmt: skip
_READS = frozenset({1, 2, 3, 4})
_FRAMERS = {"socket": FramerType.SOCKET, "rtu": FramerType.RTU}
_CATCH_ALL_UNIT = 0  # pymodbus answers unknown unit ids with the device of id 0


class ModbusPortError(OSError):
    """A Modbus server could not listen on its host:port."""


Listener = tuple[str, int, str, list[int]]


class ModbusPlcServers:
    """Every Modbus device of the site with a host, served from a `PlcBackend`."""

    def __init__(self, backend: PlcBackend) -> None:
        self._backend = backend
        self.image = ProcessImage(backend.points)
        self._ports: dict[tuple[str, int], list[DeviceImage]] = defaultdict(list)
        self.serial_devices: list[str] = []
        """Devices on a serial line (asset/device): the simulator has no line to serve them on."""
        for device in self.image.devices:
            if device.device.host is None:
                self.serial_devices.append(device.key)
            else:
                self._ports[(device.device.host, device.device.port)].append(device)
        if self.serial_devices:
            log.warning("Modbus devices on serial lines are not simulated: %s", self.serial_devices)
        self._servers: list[ModbusTcpServer] = []
        self._delayed: set[asyncio.Task[object]] = set()

    def listening(self) -> list[Listener]:
        """(host, port, framer, unit ids) of every server, for the startup printout."""
        return [
            (host, port, devices[0].device.framer, sorted(d.device.unit_id for d in devices))
            for (host, port), devices in self._ports.items()
        ]

    def refresh(self) -> None:
        """Encode the backend's current values into every device's registers."""
        self.image.refresh(self._backend.values(), self._backend.text)

    async def start(self) -> None:
        """Listen on every host:port; raise ModbusPortError naming the one that is taken."""
        self.refresh()
        for (host, port), devices in self._ports.items():
            units = [self._sim_device(device) for device in devices]
            if all(d.device.unit_id != _CATCH_ALL_UNIT for d in devices):
                units.append(_silent_unit())
            server = ModbusTcpServer(
                units,
                framer=_FRAMERS[devices[0].device.framer],
                address=(host, port),
                ignore_missing_devices=True,  # an offline or unknown unit does not answer
            )
            try:
                await server.serve_forever(background=True)
            except RuntimeError as err:
                await self.stop()
                raise ModbusPortError(
                    f"cannot serve Modbus on {host}:{port} "
                    f"({', '.join(d.key for d in devices)}): address in use or not available"
                ) from err
            self._servers.append(server)

    async def stop(self) -> None:
        """Close every listener and connection; cancel replies still waiting out a delay."""
        for server in self._servers:
            await server.shutdown()
        self._servers.clear()
        delayed = list(self._delayed)
        for task in delayed:
            task.cancel()
        await asyncio.gather(*delayed, return_exceptions=True)
        await asyncio.sleep(0)  # let the closed transports run their callbacks

    def _sim_device(self, device: DeviceImage) -> SimDevice:
        blocks = {
            register_type: _register_blocks(device.windows.get(register_type))
            for register_type in REGISTER_TYPES
        } | {
            register_type: _bit_blocks(device.windows.get(register_type))
            for register_type in BIT_TYPES
        }
        return SimDevice(
            device.device.unit_id,
            simdata=(blocks["coil"], blocks["discrete"], blocks["holding"], blocks["input"]),
            action=functools.partial(self._serve, device),
        )

    async def _serve(
        self,
        device: DeviceImage,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        written: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        """The pymodbus action: faults first, then fill the reply or apply the write."""
        if function_code in _READS or written is not None:  # not a write's own read-back
            status = self._backend.device_status(device.key)
            if status.offline:
                raise NoSuchIdException(f"{device.key} is offline")
            if status.delay_s > 0:
                await self._wait(status.delay_s)
            if status.exception_code is not None:
                return _exception(status.exception_code)
        window = device.windows.get(_FUNCTION_TYPES.get(function_code, ""))
        if window is None:
            return ExcCodes.ILLEGAL_ADDRESS
        if written is not None:
            return self._write(window, address - window.base, written)
        if window.register_type in BIT_TYPES:
            words = self.image.read_bit_words(window)
            registers[: len(words)] = words
        else:
            offset = address - start_address
            registers[offset : offset + count] = self.image.read_registers(
                window, address - window.base, count
            )
        return None

    def _write(
        self, window: Window, offset: int, written: Sequence[int] | Sequence[bool]
    ) -> ExcCodes | None:
        bits = window.register_type in BIT_TYPES
        coils = [bool(b) for b in written]
        words = [int(w) for w in written]
        try:
            if bits:
                assignments = self.image.coil_write(window, offset, coils)
            else:
                assignments = self.image.register_write(window, offset, words)
            for mapped, value in assignments:
                self._backend.write(mapped.spec.path, value)
        except WriteRejected as err:
            log.info("write refused: %s", err)
            return ExcCodes(err.exception_code)
        except WriteRefused as err:
            log.info("write refused by the plant: %s", err)
            return ExcCodes.ILLEGAL_VALUE
        if bits:
            self.image.store_bits(window, offset, coils)
        else:
            self.image.store_registers(window, offset, words)
        return None

    async def _wait(self, delay_s: float) -> None:
        """Sleep in the request's own task, so other units and connections go on."""
        task = asyncio.current_task()
        assert task is not None
        self._delayed.add(task)
        try:
            await asyncio.sleep(delay_s)
        finally:
            self._delayed.discard(task)


def _exception(code: int) -> ExcCodes:
    """The configured exception code; codes pymodbus cannot send become device failure (4)."""
    try:
        return ExcCodes(code)
    except ValueError:
        return ExcCodes.DEVICE_FAILURE


def _register_blocks(window: Window | None) -> list[SimData]:
    if window is None:
        return [SimData(0, datatype=DataType.INVALID)]
    return [
        SimData(address, values=[0] * count, datatype=DataType.REGISTERS, readonly=read_only)
        for address, count, read_only in window.runs()
    ]


def _bit_blocks(window: Window | None) -> list[SimData]:
    # pymodbus keeps bits in whole 16-bit words, so an empty type still needs one word;
    # the action answers it with exception 2.
    size = window.size if window else 16
    return [SimData(window.base if window else 0, values=[False] * size, datatype=DataType.BITS)]


async def _no_reply(*_request: object) -> ExcCodes | None:
    raise NoSuchIdException("no such unit")


def _silent_unit() -> SimDevice:
    """Unit 0, which pymodbus hands requests for unknown units: it never answers, like a
    missing slave on a serial line."""
    return SimDevice(
        _CATCH_ALL_UNIT,
        simdata=[SimData(0, count=65536, datatype=DataType.REGISTERS)],
        action=_no_reply,
    )
