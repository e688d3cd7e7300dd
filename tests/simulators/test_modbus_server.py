"""The simulated PLCs' Modbus servers, read and written by a plain pymodbus client.

The `all_types` site has one substation per byte order, each mapping roles to every data
type in holding and input registers, coils, discrete inputs and bits of a register, plus a
room-sensor block; the DCBA one speaks RTU over TCP and two share a port. Three more
substations carry a device fault each.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusIOException
from pymodbus.framer import FramerType

from heatnet.codec import decode_string, decode_value, encode_value
from heatnet.config import ModbusDevice, ModbusPoint, SiteConfig
from heatnet.loader import load_site
from heatnet.points import PointSpec
from simulators.modbus_server import ModbusPlcServers, ModbusPortError
from simulators.model import SiteModel
from tests.conftest import free_ports, write_site

BYTE_ORDERS = ("ABCD", "DCBA", "BADC", "CDAB")
ROOM_BLOCKS = {  # one room-sensor encoding per byte order
    "ABCD": {"data_type": "int16", "scale": 0.01},
    "DCBA": {"data_type": "float32"},
    "BADC": {"data_type": "int32", "scale": 0.001},
    "CDAB": {"data_type": "uint16", "scale": 0.01, "offset": -20.0},
}


def _profile(byte_order: str) -> dict[str, Any]:
    def holding(role: str, address: int, data_type: str, **extra: Any) -> dict[str, Any]:
        return {"role": role, "address": address, "data_type": data_type, **extra}

    order = {"byte_order": byte_order}
    return {
        "protocol": "modbus",
        "points": [
            holding("t1_supply", 0, "int16", scale=0.1, **order),
            holding("t1_return", 1, "uint16", scale=0.1, offset=-50.0, **order),
            holding("t2_supply", 2, "int32", scale=1e-6, **order),
            holding("t2_return", 4, "uint32", scale=1e-6, **order),
            holding("e1_energy", 6, "int64", scale=0.001, **order),
            holding("makeup_total", 10, "uint64", scale=0.001, **order),
            holding("p1_supply", 14, "float32", **order),
            holding("q1_power", 16, "float64", **order),
            holding("t_outdoor", 20, "int16", scale=0.1, **order),
            holding("pump_running", 21, "bool", bit=3, writable=True),
            {"name": "heater_ok", "address": 21, "data_type": "bool", "bit": 9, "value": 1},
            {
                "name": "plc_model",
                "address": 22,
                "data_type": "string",
                "length": 5,
                "value": f"PLC-{byte_order}",
                **order,
            },
            {
                "name": "big_negative",
                "address": 36,
                "data_type": "int64",
                "value": -98765432101234,
                **order,
            },
            {
                "name": "negative_count",
                "address": 40,
                "data_type": "int32",
                "value": -1234567,
                **order,
            },
            holding("curve_slope", 30, "float32", writable=True, min=0.1, max=4.0, **order),
            holding("curve_shift", 32, "float32", writable=True, min=-20, max=20, **order),
            holding("curve_min", 34, "int16", scale=0.1, writable=True, min=20, max=70, **order),
            holding("t2_setpoint", 0, "float32", register_type="input", **order),
            holding("f1_flow", 2, "uint32", scale=0.01, register_type="input", **order),
            holding("plc_clock", 4, "uint64", register_type="input", **order),
            {
                "name": "remote_enable",
                "register_type": "coil",
                "address": 0,
                "data_type": "bool",
                "value": 1,
                "writable": True,
            },
            {
                "name": "local_mode",
                "register_type": "coil",
                "address": 3,
                "data_type": "bool",
                "value": 0,
            },
            {
                "name": "door_alarm",
                "register_type": "discrete",
                "address": 2,
                "data_type": "bool",
                "value": 1,
            },
        ],
        "indoor": {
            "register_type": "input",
            "address": 100,
            "max_rooms": 8,
            "byte_order": byte_order,
            **ROOM_BLOCKS[byte_order],
        },
    }


def _substation(ident: str, device: dict[str, Any]) -> dict[str, Any]:
    rooms = [{"id": f"r{i}", "type": "living"} for i in range(1, 4)]
    return {
        "id": ident,
        "curve": "rad",
        "devices": [{"id": "plc", "protocol": "modbus", "host": "127.0.0.1", **device}],
        "buildings": [{"id": "b1", "floor_area_m2": 8000, "rooms": rooms}],
    }


def all_types_doc(ports: list[int]) -> dict[str, Any]:
    """Substations in every byte order and data type, plus one per device fault."""
    abcd, dcba, shared, offline, slow, failing = ports
    substations = [
        _substation("abcd", {"port": abcd, "unit_id": 1, "profile": "all-ABCD"}),
        _substation("dcba", {"port": dcba, "unit_id": 7, "framer": "rtu", "profile": "all-DCBA"}),
        _substation("badc", {"port": shared, "unit_id": 2, "profile": "all-BADC"}),
        _substation("cdab", {"port": shared, "unit_id": 3, "profile": "all-CDAB"}),
        _substation("off", {"port": offline, "unit_id": 1, "profile": "all-ABCD"}),
        _substation("slow", {"port": slow, "unit_id": 1, "profile": "all-ABCD"}),
        _substation("fail", {"port": failing, "unit_id": 1, "profile": "all-ABCD"}),
    ]
    return {
        "site": {"id": "t"},
        "simulation": {"start": "2026-12-15T00:00:00", "weather": {"fixed_outdoor": -5.0}},
        "curves": {
            "src": {
                "type": "table",
                "points": [[-15, 120], [15, 75]],
                "min_supply": 70,
                "max_supply": 130,
            },
            "rad": {"type": "slope_shift", "slope": 1.2, "shift": 0.0},
        },
        "profiles": {f"all-{bo}": _profile(bo) for bo in BYTE_ORDERS},
        "heat_source": {"id": "src", "supply_curve": "src"},
        "substations": substations,
        "faults": [
            {"kind": "device_offline", "target": "off/plc"},
            {"kind": "slow_replies", "target": "slow/plc", "delay_s": 1.0},
            {"kind": "exception_replies", "target": "fail/plc", "exception_code": 6},
        ],
    }


@pytest.fixture
def all_types_site(tmp_path: Path) -> SiteConfig:
    return load_site(write_site(tmp_path, all_types_doc(free_ports(6))))


async def _serve(site: SiteConfig) -> AsyncIterator[tuple[SiteModel, ModbusPlcServers]]:
    model = SiteModel(site, seed=3)
    model.step(5)
    servers = ModbusPlcServers(model)
    await servers.start()
    try:
        yield model, servers
    finally:
        await servers.stop()


@pytest.fixture
async def plant(all_types_site: SiteConfig) -> AsyncIterator[tuple[SiteModel, ModbusPlcServers]]:
    async for served in _serve(all_types_site):
        yield served


@pytest.fixture
async def demo_plant(demo_site: SiteConfig) -> AsyncIterator[tuple[SiteModel, ModbusPlcServers]]:
    async for served in _serve(demo_site):
        yield served


class Clients:
    """One connected client per device, closed at the end."""

    def __init__(self, timeout: float = 2.0) -> None:
        self.timeout = timeout
        self._clients: dict[tuple[str, int], AsyncModbusTcpClient] = {}

    async def get(self, device: ModbusDevice) -> AsyncModbusTcpClient:
        assert device.host is not None
        key = (device.host, device.port)
        if key not in self._clients:
            framer = FramerType.RTU if device.framer == "rtu" else FramerType.SOCKET
            client = AsyncModbusTcpClient(
                device.host, port=device.port, framer=framer, timeout=self.timeout, retries=0
            )
            assert await client.connect()
            self._clients[key] = client
        return self._clients[key]

    def close(self) -> None:
        for client in self._clients.values():
            client.close()


@pytest.fixture
async def clients() -> AsyncIterator[Clients]:
    pool = Clients()
    yield pool
    pool.close()


def _modbus(spec: PointSpec) -> tuple[ModbusDevice, ModbusPoint]:
    assert isinstance(spec.device, ModbusDevice) and isinstance(spec.point, ModbusPoint)
    return spec.device, spec.point


async def read_point(clients: Clients, spec: PointSpec) -> float | str:
    """A point's value as a collector would decode it from the server's reply."""
    device, point = _modbus(spec)
    client = await clients.get(device)
    unit = device.unit_id
    if point.register_type in ("coil", "discrete"):
        read_bits = (
            client.read_coils if point.register_type == "coil" else client.read_discrete_inputs
        )
        reply = await read_bits(point.address, count=1, device_id=unit)
        assert not reply.isError(), f"{spec.path}: {reply}"
        return float(reply.bits[0])
    read = (
        client.read_holding_registers
        if point.register_type == "holding"
        else client.read_input_registers
    )
    reply = await read(point.address, count=point.register_count, device_id=unit)
    assert not reply.isError(), f"{spec.path}: {reply}"
    if point.data_type == "bool":
        return float((reply.registers[0] >> (point.bit or 0)) & 1)
    if point.data_type == "string":
        return decode_string(reply.registers, point.byte_order)
    return decode_value(
        reply.registers, point.data_type, point.byte_order, point.scale, point.offset
    )


def assert_served(model: SiteModel, spec: PointSpec, index: int, served: float | str) -> None:
    """The served value equals the model's, within what the register can resolve."""
    _, point = _modbus(spec)
    if point.data_type == "string":
        assert served == model.text(spec.path)[: 2 * (point.length or 0)], spec.path
        return
    expected = float(model.values()[index])
    assert isinstance(served, float)
    if point.data_type == "bool":
        assert served == float(expected >= 0.5), spec.path
    elif point.data_type == "float32":
        assert served == pytest.approx(expected, rel=1e-6, abs=1e-30, nan_ok=True), spec.path
    elif point.data_type == "float64":
        assert served == expected or (math.isnan(served) and math.isnan(expected)), spec.path
    else:
        assert abs(served - expected) <= abs(point.scale) / 2 * (1 + 1e-9), spec.path


async def assert_all_served(model: SiteModel, clients: Clients) -> int:
    served = 0
    for index, spec in enumerate(model.points):
        if isinstance(spec.device, ModbusDevice) and spec.asset_id not in {"off", "slow", "fail"}:
            assert_served(model, spec, index, await read_point(clients, spec))
            served += 1
    return served


def _spec(model: SiteModel, path: str) -> tuple[int, PointSpec]:
    return next((i, p) for i, p in enumerate(model.points) if p.path == path)


async def test_every_type_and_byte_order_reads_as_the_model_holds_it(plant, clients) -> None:
    model, servers = plant
    served = await assert_all_served(model, clients)
    assert served == 4 * (23 + 3)
    model.step(30)
    servers.refresh()
    await assert_all_served(model, clients)


async def test_demo_site_serves_every_modbus_point(demo_plant, clients) -> None:
    model, servers = demo_plant
    served = await assert_all_served(model, clients)
    assert served == sum(isinstance(p.device, ModbusDevice) for p in model.points)
    rtu = [entry for entry in servers.listening() if entry[2] == "rtu"]
    assert [entry[3] for entry in rtu] == [[5]]


async def test_listening_names_every_port_framer_and_unit(plant) -> None:
    _, servers = plant
    listening = {(framer, tuple(units)) for _, _, framer, units in servers.listening()}
    assert ("rtu", (7,)) in listening and ("socket", (2, 3)) in listening
    assert len(servers.listening()) == 6
    assert servers.serial_devices == []


async def _write(clients: Clients, spec: PointSpec, words: list[int]) -> Any:
    device, point = _modbus(spec)
    client = await clients.get(device)
    return await client.write_registers(point.address, words, device_id=device.unit_id)


async def test_curve_write_reaches_the_model_and_moves_the_set_point(plant, clients) -> None:
    model, servers = plant
    index, slope = _spec(model, "t/abcd/curve_slope")
    setpoint_index, _ = _spec(model, "t/abcd/t2_setpoint")
    model.step(60)
    before = float(model.values()[setpoint_index])
    reply = await _write(clients, slope, encode_value(2.0, "float32"))
    assert not reply.isError()
    assert await read_point(clients, slope) == 2.0  # visible before the next refresh
    model.step(60)
    servers.refresh()
    assert float(model.values()[index]) == 2.0
    assert float(model.values()[setpoint_index]) > before + 5.0


async def test_float_written_one_register_at_a_time_merges_with_the_other(plant, clients):
    model, _ = plant
    index, shift = _spec(model, "t/abcd/curve_shift")
    high, low = encode_value(5.0, "float32")
    assert low == 0 and float(model.values()[index]) == 0.0
    client = await clients.get(_modbus(shift)[0])
    reply = await client.write_register(_modbus(shift)[1].address, high, device_id=1)
    assert not reply.isError()
    assert float(model.values()[index]) == 5.0


async def test_one_request_writing_two_floats_sets_both(plant, clients) -> None:
    model, _ = plant
    _, slope = _spec(model, "t/badc/curve_slope")
    words = encode_value(1.5, "float32", "BADC") + encode_value(-2.0, "float32", "BADC")
    assert not (await _write(clients, slope, words)).isError()
    assert model.read("t/badc/curve_slope") == 1.5
    assert model.read("t/badc/curve_shift") == -2.0


async def test_bits_of_a_register_and_coils_are_written_bit_by_bit(plant, clients) -> None:
    model, _ = plant
    _, running = _spec(model, "t/abcd/pump_running")
    device, point = _modbus(running)
    client = await clients.get(device)
    word = (await client.read_holding_registers(point.address, count=1, device_id=1)).registers[0]
    assert word == (1 << 3) | (1 << 9)  # pump running, heater_ok
    assert not (await client.write_register(point.address, 1 << 9, device_id=1)).isError()
    assert model.read("t/abcd/pump_running") == 0.0
    reply = await client.write_register(point.address, 0, device_id=1)  # heater_ok is read-only
    assert reply.isError() and reply.exception_code == 2
    assert not (await client.write_coil(0, False, device_id=1)).isError()
    assert model.read("t/abcd/remote_enable") == 0.0
    assert (await client.read_coils(0, count=1, device_id=1)).bits[0] is False


async def test_out_of_range_and_read_only_writes_are_refused_unchanged(plant, clients) -> None:
    model, _ = plant
    for path, words, code in [
        ("t/cdab/curve_slope", encode_value(9.0, "float32", "CDAB"), 3),
        ("t/badc/curve_min", encode_value(80.0, "int16", "BADC", scale=0.1), 3),
        ("t/abcd/t1_supply", [1234], 2),
        ("t/abcd/q1_power", encode_value(1.0, "float64"), 2),
    ]:
        index, spec = _spec(model, path)
        before_value, before_served = float(model.values()[index]), await read_point(clients, spec)
        reply = await _write(clients, spec, words)
        assert reply.isError() and reply.exception_code == code, path
        assert float(model.values()[index]) == before_value
        assert await read_point(clients, spec) == before_served
    client = await clients.get(_modbus(_spec(model, "t/abcd/t1_supply")[1])[0])
    reply = await client.write_coil(3, True, device_id=1)  # local_mode is read-only
    assert reply.isError() and reply.exception_code == 2


async def test_unmapped_addresses_are_illegal(plant, clients) -> None:
    model, _ = plant
    client = await clients.get(_modbus(_spec(model, "t/abcd/t1_supply")[1])[0])
    for reply in [
        await client.read_holding_registers(45, count=1, device_id=1),
        await client.read_holding_registers(27, count=4, device_id=1),  # spans a hole
        await client.read_input_registers(0, count=125, device_id=1),
        await client.read_coils(100, count=1, device_id=1),
    ]:
        assert reply.isError() and reply.exception_code == 2


async def test_offline_unit_is_silent_and_failing_unit_answers_its_code(plant) -> None:
    model, _ = plant
    pool = Clients(timeout=0.5)
    try:
        offline = await pool.get(_modbus(_spec(model, "t/off/t1_supply")[1])[0])
        with pytest.raises(ModbusIOException):
            await offline.read_holding_registers(0, count=1, device_id=1)
        failing = await pool.get(_modbus(_spec(model, "t/fail/t1_supply")[1])[0])
        reply = await failing.read_holding_registers(0, count=1, device_id=1)
        assert reply.isError() and reply.exception_code == 6
    finally:
        pool.close()


async def test_slow_device_does_not_hold_up_another_port(plant, clients) -> None:
    model, _ = plant
    finished: list[str] = []

    async def read(path: str) -> None:
        index, spec = _spec(model, path)
        assert_served(model, spec, index, await read_point(clients, spec))
        finished.append(path)

    slow = asyncio.create_task(read("t/slow/t1_supply"))
    await asyncio.sleep(0.05)  # the slow request is in the server, sleeping
    await read("t/abcd/t1_supply")
    assert finished == ["t/abcd/t1_supply"]
    await slow
    assert finished == ["t/abcd/t1_supply", "t/slow/t1_supply"]


async def test_unknown_unit_gets_no_reply(plant) -> None:
    model, _ = plant
    pool = Clients(timeout=0.3)
    try:
        client = await pool.get(_modbus(_spec(model, "t/abcd/t1_supply")[1])[0])
        with pytest.raises(ModbusIOException):
            await client.read_holding_registers(0, count=1, device_id=99)
    finally:
        pool.close()


async def test_port_taken_fails_naming_it_and_stop_leaves_nothing(all_types_site) -> None:
    model = SiteModel(all_types_site, seed=1)
    first = ModbusPlcServers(model)
    await first.start()
    host, port, _, _ = first.listening()[0]
    try:
        with pytest.raises(ModbusPortError, match=f"{host}:{port}"):
            await ModbusPlcServers(model).start()
    finally:
        await first.stop()
    assert {t for t in asyncio.all_tasks() if t is not asyncio.current_task()} == set()
    with pytest.raises(OSError):
        await asyncio.open_connection(host, port)
