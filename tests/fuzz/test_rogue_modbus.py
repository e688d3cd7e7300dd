"""ModbusCollector against a device that sends broken frames: BAD samples, then recovery.

Each misbehaviour gets the reason the collector can honestly give: what pymodbus drops
as not ours (another transaction or unit, half a frame, noise) can only end in the
timeout; a frame pymodbus cannot decode makes it close the connection (comms_lost); a
well-framed wrong answer is decode_error; any exception reply is device_exception.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from collectors.modbus import ModbusCollector
from heatnet.config import ModbusDevice, ModbusPoint
from heatnet.points import PointSpec, Quality, QualityReason
from heatnet.samples import SampleBatch
from tests.fuzz.rogue_modbus import HEALTHY, MODES, RTU_MODES, RogueDevice

R = QualityReason
REGISTERS = [0x41A0, 0x0000, 7, 9]  # float32 20.0, then uint16 7
EXPECTED_REASON = {
    "byte_count": R.COMMS_LOST,
    "short_data": R.DECODE_ERROR,
    "mbap_long": R.TIMEOUT,
    "mbap_short": R.COMMS_LOST,
    "transaction_id": R.TIMEOUT,
    "unit_id": R.TIMEOUT,
    "function_code": R.DECODE_ERROR,
    "truncated": R.TIMEOUT,
    "garbage": R.TIMEOUT,
    "undefined_exception": R.DEVICE_EXCEPTION,
    "oversized": R.TIMEOUT,
    "reset": R.COMMS_LOST,
    "silent": R.TIMEOUT,
    "bad_crc": R.TIMEOUT,
}


def collector(device: RogueDevice, name: str = "plc") -> ModbusCollector:
    """A collector for a flow (float32 at 0) and a level (uint16 at 2), one read a poll."""
    settings = ModbusDevice(
        id=name,
        protocol="modbus",
        host="127.0.0.1",
        port=device.port,
        framer=device.framer,  # type: ignore[arg-type]
        profile="p",
        timeout_s=0.3,
        retries=0,
    )
    points = [
        ModbusPoint(name="flow", address=0, data_type="float32"),
        ModbusPoint(name="level", address=2, data_type="uint16"),
    ]
    specs = [
        PointSpec(f"t/ss01/{p.name}", "substation", "ss01", p.name or "", settings, p, "")
        for p in points
    ]
    return ModbusCollector(settings, specs, lambda: 1_800_000_000.0)


def assert_good(batch: SampleBatch) -> None:
    assert [(s.quality, s.value) for s in batch.samples()] == [
        (Quality.GOOD, 20.0),
        (Quality.GOOD, 7.0),
    ]


@pytest.fixture
async def healthy() -> AsyncIterator[RogueDevice]:
    device = RogueDevice(REGISTERS)
    await device.start()
    yield device
    await device.stop()


async def _misbehave_then_recover(framer: str, modes: list[str], healthy: RogueDevice) -> None:
    rogue = RogueDevice(REGISTERS, framer)
    await rogue.start()
    bad, good = collector(rogue), collector(healthy, "neighbour")
    try:
        assert_good(await bad.poll("default"))
        for mode in modes:
            rogue.mode = mode
            batch, beside = await asyncio.gather(bad.poll("default"), good.poll("default"))
            assert [(s.quality, s.value, s.reason) for s in batch.samples()] == [
                (Quality.BAD, None, EXPECTED_REASON[mode])
            ] * 2, mode
            assert_good(beside)  # polled at the same time, untouched
            rogue.mode = HEALTHY
            assert_good(await bad.poll("default"))
    finally:
        await bad.close()
        await good.close()
        await rogue.stop()


async def test_broken_mbap_replies_are_bad_and_the_next_poll_recovers(
    healthy: RogueDevice,
) -> None:
    await _misbehave_then_recover("socket", MODES, healthy)


async def test_broken_rtu_over_tcp_replies_are_bad_and_the_next_poll_recovers(
    healthy: RogueDevice,
) -> None:
    await _misbehave_then_recover("rtu", RTU_MODES, healthy)


async def test_a_device_that_accepts_and_never_answers_costs_one_timeout_per_poll(
    healthy: RogueDevice,
) -> None:
    rogue = RogueDevice(REGISTERS)
    rogue.mode = "silent"
    await rogue.start()
    bad = collector(rogue)
    try:
        for _ in range(3):
            batch = await bad.poll("default")
            assert {s.reason for s in batch.samples()} == {R.TIMEOUT}
        assert bad.stats.errors[R.TIMEOUT] == 3
        assert rogue.requests == 3  # retries: 0, and no read after the first silent one
    finally:
        await bad.close()
        await rogue.stop()


async def test_a_closed_port_is_comms_lost(healthy: RogueDevice) -> None:
    gone = RogueDevice(REGISTERS)
    await gone.start()
    bad = collector(gone)
    await gone.stop()
    batch = await bad.poll("default")
    assert {s.reason for s in batch.samples()} == {R.COMMS_LOST}
    await bad.close()
