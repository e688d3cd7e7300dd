"""Benchmark the simulated PLCs' Modbus servers against baselines measured in the same run.

1. Read rate: one pymodbus client loop reads the demo ss01 PLC's measurement block
   (input registers 0-32) from `ModbusPlcServers`, then the same loop reads the same
   registers from a bare pymodbus server whose static datastore holds that block.
2. refresh(): encoding every value of 1,000 devices × 100 points into their registers,
   against encoding the same points one by one with `heatnet.codec`.

    .venv/bin/python bench/bench_modbus_server.py [--seconds 2] [--clients 4]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import yaml
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from heatnet.codec import encode_string, encode_value
from heatnet.config import ModbusPoint, SiteConfig
from heatnet.loader import load_site
from heatnet.points import PointSpec, site_points
from simulators.modbus_server import ModbusPlcServers
from simulators.plc import HEALTHY, DeviceStatus

ROOT = Path(__file__).resolve().parent.parent
BLOCK_ADDRESS, BLOCK_COUNT = 0, 33  # ss01's input registers t1_supply .. plc_clock
DATA_TYPES = ("int16", "uint16", "int32", "uint32", "float32", "float64", "int64", "uint64")
BYTE_ORDERS = ("ABCD", "DCBA", "BADC", "CDAB")


class StaticBackend:
    """A PlcBackend over fixed values: what the servers cost without any physics."""

    def __init__(self, points: list[PointSpec], seed: int = 1) -> None:
        self.points = points
        self._values = np.random.default_rng(seed).uniform(0.0, 100.0, len(points))

    def values(self) -> np.ndarray:
        return self._values

    def text(self, path: str) -> str:
        return "BENCH"

    def now_ms(self) -> int:
        return 0

    def write(self, path: str, value: float) -> None:
        self._values[[p.path for p in self.points].index(path)] = value

    def device_status(self, device_key: str) -> DeviceStatus:
        return HEALTHY


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _demo_site(port: int) -> SiteConfig:
    doc = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text(encoding="utf-8"))
    doc["include"] = [str(ROOT / "config" / p) for p in doc["include"]]
    doc["substations"] = doc["substations"][:1]
    doc["substations"][0]["devices"][0]["port"] = port
    doc["heat_source"]["devices"] = []
    doc["steam_customers"] = []
    path = Path(tempfile.mkdtemp()) / "bench.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return load_site(path)


async def _read_rate(port: int, seconds: float, clients: int) -> float:
    """Reads per second of `clients` connections each reading the block back to back."""
    count = 0
    deadline = time.perf_counter() + seconds

    async def loop() -> None:
        nonlocal count
        client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=5, retries=0)
        await client.connect()
        try:
            while time.perf_counter() < deadline:
                reply = await client.read_input_registers(
                    BLOCK_ADDRESS, count=BLOCK_COUNT, device_id=1
                )
                assert not reply.isError(), reply
                count += 1
        finally:
            client.close()

    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(clients)))
    return count / (time.perf_counter() - started)


async def bench_reads(seconds: float, clients: int, rounds: int = 3) -> tuple[float, float]:
    """Best read rate of each server over `rounds` alternating rounds."""
    site = _demo_site(_free_port())
    servers = ModbusPlcServers(StaticBackend(site_points(site)))
    await servers.start()
    block = servers.image.read_registers(
        servers.image.devices[0].windows["input"], BLOCK_ADDRESS, BLOCK_COUNT
    )
    unit = SimDevice(
        1,
        simdata=(
            [SimData(0, values=[False] * 16, datatype=DataType.BITS)],
            [SimData(0, values=[False] * 16, datatype=DataType.BITS)],
            [SimData(0, datatype=DataType.INVALID)],
            [SimData(BLOCK_ADDRESS, values=block, datatype=DataType.REGISTERS)],
        ),
    )
    bare_port = _free_port()
    bare = ModbusTcpServer([unit], address=("127.0.0.1", bare_port))
    await bare.serve_forever(background=True)
    ours = baseline = 0.0
    try:
        for _ in range(rounds):
            ours = max(ours, await _read_rate(servers.listening()[0][1], seconds, clients))
            baseline = max(baseline, await _read_rate(bare_port, seconds, clients))
    finally:
        await bare.shutdown()
        await servers.stop()
    return ours, baseline


def _large_site(devices: int, points: int) -> SiteConfig:
    """`devices` substations, each a PLC of `points` points in every type and byte order."""
    profile_points = []
    for i in range(points - 2):
        data_type = DATA_TYPES[i % len(DATA_TYPES)]
        profile_points.append(
            {
                "name": f"p{i:03d}",
                "address": 4 * i,
                "data_type": data_type,
                "byte_order": BYTE_ORDERS[i // len(DATA_TYPES) % 4],
                "scale": 0.01 if not data_type.startswith("float") else 1.0,
            }
        )
    profile_points += [
        {"name": "running", "address": 4 * points, "data_type": "bool", "bit": 2},
        {"name": "alarm", "register_type": "discrete", "address": 5, "data_type": "bool"},
    ]
    substations = [
        {
            "id": f"ss{i:04d}",
            "curve": "rad",
            "devices": [
                {
                    "id": "plc",
                    "protocol": "modbus",
                    "host": "127.0.0.1",
                    "port": 20000 + i // 200,
                    "unit_id": 1 + i % 200,
                    "profile": "big",
                }
            ],
            "buildings": [{"id": "b1", "floor_area_m2": 5000, "rooms": [{"id": "r1"}]}],
        }
        for i in range(devices)
    ]
    return SiteConfig.model_validate(
        {
            "site": {"id": "bench"},
            "curves": {"rad": {"type": "slope_shift", "slope": 1.5}},
            "profiles": {"big": {"protocol": "modbus", "points": profile_points}},
            "heat_source": {"id": "src", "supply_curve": "rad"},
            "substations": substations,
        }
    )


def _best_of(runs: int, action: Callable[[], None]) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - started)
    return best


def bench_refresh(devices: int, points: int) -> tuple[int, float, float]:
    backend = StaticBackend(site_points(_large_site(devices, points)))
    servers = ModbusPlcServers(backend)
    values = backend.values()
    specs = [(i, s, s.point) for i, s in enumerate(backend.points)]

    def one_by_one() -> None:
        for i, spec, point in specs:
            assert isinstance(point, ModbusPoint)
            if point.data_type == "string":
                encode_string(backend.text(spec.path), point.length or 0, point.byte_order)
            elif point.data_type != "bool":
                encode_value(
                    float(values[i]), point.data_type, point.byte_order, point.scale, point.offset
                )

    return len(specs), _best_of(5, servers.refresh), _best_of(2, one_by_one)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--points", type=int, default=100)
    args = parser.parse_args()
    ours, bare = asyncio.run(bench_reads(args.seconds, args.clients))
    print(
        f"reads of {BLOCK_COUNT} input registers, {args.clients} clients, "
        f"best of 3 alternating rounds of {args.seconds:g} s:"
    )
    print(f"  ModbusPlcServers      {ours:8.0f} reads/s")
    print(f"  bare pymodbus server  {bare:8.0f} reads/s")
    print(f"  ratio                 {ours / bare:8.2f}")
    count, refresh_s, codec_s = bench_refresh(args.devices, args.points)
    print(f"refresh() of {args.devices} devices, {count} points:")
    print(f"  refresh()             {refresh_s * 1e3:8.2f} ms")
    print(f"  codec point by point  {codec_s * 1e3:8.2f} ms")
    print(f"  speed-up              {codec_s / refresh_s:8.1f}×")


if __name__ == "__main__":
    main()
