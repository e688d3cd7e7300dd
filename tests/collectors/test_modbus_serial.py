"""RTU on a serial line, for real: socat links two pseudo-terminals, a pymodbus serial server
answers on one end and the collector's AsyncModbusSerialClient speaks on the other."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pymodbus.framer import FramerType
from pymodbus.server import ModbusSerialServer
from pymodbus.simulator import DataType, SimData, SimDevice

from collectors.modbus import ModbusCollector
from heatnet.codec import encode_raw, encode_string, encode_value
from heatnet.config import ModbusDevice, ModbusPoint, SerialLine
from heatnet.points import PointSpec, Quality

BAUDRATE = 38400
UNIT = 5
PLC_CLOCK_MS = 1_797_264_005_000
POINTS = [  # (point, value, registers), laid out from holding register 0
    (ModbusPoint(role="t1_supply", address=0, data_type="float32", byte_order="CDAB"), 85.25),
    (ModbusPoint(role="t1_return", address=2, data_type="int16", scale=0.1), 45.6),
    (
        ModbusPoint(role="e1_energy", address=3, data_type="uint32", byte_order="BADC", scale=0.01),
        12345.67,
    ),
    (ModbusPoint(name="plc_model", address=5, data_type="string", length=3), "RTU-7"),
    (ModbusPoint(role="pump_running", address=8, data_type="bool", bit=2), 1.0),
    (ModbusPoint(role="plc_clock", address=9, data_type="uint64", byte_order="DCBA"), None),
]


def registers() -> list[int]:
    words: list[int] = []
    for point, value in POINTS:
        if point.data_type == "string":
            words += encode_string(str(value), point.length or 0)
        elif point.data_type == "bool":
            words.append(1 << (point.bit or 0))
        elif value is None:
            words += encode_raw(PLC_CLOCK_MS, "uint64", point.byte_order)
        else:
            words += encode_value(float(value), point.data_type, point.byte_order, point.scale)
    return words


@pytest.fixture
def pty_pair(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two linked pseudo-terminals: (the server's end, the collector's end)."""
    socat = shutil.which("socat")
    if socat is None:
        pytest.fail("socat is needed for the serial line test: apt-get install socat")
    ends = (str(tmp_path / "plc-tty"), str(tmp_path / "collector-tty"))
    process = subprocess.Popen(
        [socat, *(f"pty,raw,echo=0,link={end}" for end in ends)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10.0
        while not all(Path(end).exists() for end in ends):
            assert process.poll() is None, "socat exited"
            assert time.monotonic() < deadline, "socat made no ptys"
            time.sleep(0.02)
        yield ends
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
async def serial_plc(pty_pair: tuple[str, str]) -> AsyncIterator[str]:
    """A pymodbus RTU server on one end of the line; yields the collector's end."""
    server_end, collector_end = pty_pair
    device = SimDevice(UNIT, simdata=[SimData(0, values=registers(), datatype=DataType.REGISTERS)])
    server = ModbusSerialServer(
        device, framer=FramerType.RTU, port=server_end, baudrate=BAUDRATE, timeout=1.0
    )
    await server.serve_forever(background=True)
    try:
        yield collector_end
    finally:
        await server.shutdown()


async def test_rtu_on_a_serial_line_reads_every_point(serial_plc: str) -> None:
    device = ModbusDevice(
        id="plc",
        protocol="modbus",
        profile="serial-plc",
        serial=SerialLine(port=serial_plc, baudrate=BAUDRATE),
        framer="rtu",
        unit_id=UNIT,
        timeout_s=2.0,
        timestamps="source",
    )
    specs = [
        PointSpec(f"t/ss09/{p.key}", "substation", "ss09", p.key, device, p, "") for p, _ in POINTS
    ]
    collector = ModbusCollector(device, specs, lambda: 0.0)
    try:
        for _ in range(2):
            batch = await collector.poll("default")
            assert batch.quality.tolist() == [Quality.GOOD] * len(POINTS)
            assert set(batch.ts_ms.tolist()) == {PLC_CLOCK_MS}
            for i, (point, value) in enumerate(POINTS[:-1]):
                if isinstance(value, str):
                    assert batch.value(i) == value
                else:
                    assert batch.value(i) == pytest.approx(value, abs=point.scale / 2)
            await collector.close()
            assert not collector.connected
        assert collector.stats.requests == 2 and collector.stats.connects == 2
    finally:
        await collector.close()
