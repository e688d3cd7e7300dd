"""Benchmark OPC UA subscriptions: data changes per second the collector hands to its sink.

200 simulated substations × 50 nodes (10,000 nodes) are served by a few asyncua servers
(50 substations share each endpoint); every substation is one device and one session.
Each round changes every node once (`refresh()`) and waits until all 10,000 changes have
arrived. The baseline, in the same run against the same servers, is a bare asyncua
`Client` per substation subscribing the same nodes with a handler that only counts.
Rounds alternate between the two; the best of each is reported.

    .venv/bin/python bench/bench_opcua_subscriptions.py [--seconds 3] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from asyncua import Client, Node

from collectors.opcua import OpcUaCollector
from heatnet.config import OpcUaDevice
from heatnet.loader import load_site
from heatnet.points import PointSpec, Quality, site_points
from heatnet.samples import SampleBatch
from simulators.opcua_server import OpcUaPlcServers
from simulators.plc import HEALTHY, DeviceStatus

ROOT = Path(__file__).resolve().parent.parent
SUBSTATIONS, NODES, PER_ENDPOINT = 200, 50, 50
PUBLISH_S = 0.05
# Servers and clients share one loop here, so a refresh of 10,000 nodes stalls every
# client's liveness probe; a generous timeout keeps both sides from seeing false losses.
TIMEOUT_S = 10.0


class ChangingBackend:
    """A PlcBackend whose every value changes on each bump(): no physics, all changes."""

    def __init__(self, points: list[PointSpec]) -> None:
        self.points = points
        self._values = np.random.default_rng(1).uniform(0.0, 100.0, len(points))
        self._now_ms = 1_800_000_000_000

    def bump(self) -> None:
        self._values += 0.5
        self._now_ms += 1000

    def values(self) -> np.ndarray:
        return self._values

    def text(self, path: str) -> str:
        return "BENCH"

    def now_ms(self) -> int:
        return self._now_ms

    def write(self, path: str, value: float) -> None:
        raise NotImplementedError

    def device_status(self, device_key: str) -> DeviceStatus:
        return HEALTHY


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _site_document() -> dict[str, Any]:
    demo = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text(encoding="utf-8"))
    ports = [_free_port() for _ in range(SUBSTATIONS // PER_ENDPOINT)]
    building = {"id": "b1", "floor_area_m2": 5000, "rooms": [{"id": "r1"}]}
    substations = [
        {
            "id": f"ss{i:03d}",
            "curve": "rad-75-50",
            "devices": [
                {
                    "id": "plc",
                    "protocol": "opcua",
                    "endpoint": f"opc.tcp://127.0.0.1:{ports[i // PER_ENDPOINT]}/heatnet",
                    "profile": "bench-opcua",
                    "timestamps": "source",
                    "mode": "subscribe",
                    "poll_intervals": {"default": PUBLISH_S},
                    "timeout_s": TIMEOUT_S,
                }
            ],
            "buildings": [building],
        }
        for i in range(SUBSTATIONS)
    ]
    return {
        "site": {"id": "bench"},
        "include": [str(ROOT / "config" / p) for p in demo["include"]],
        "profiles": {
            "bench-opcua": {
                "protocol": "opcua",
                "points": [{"name": f"n{k:02d}"} for k in range(NODES)],
            }
        },
        "curves": demo.get("curves", {}),
        "heat_source": {**demo["heat_source"], "devices": []},
        "substations": substations,
    }


async def _wait_for(count: Callable[[], int], target: int) -> None:
    async with asyncio.timeout(60):
        while True:
            if count() >= target:
                return
            await asyncio.sleep(0.001)


async def _changes_per_second(
    backend: ChangingBackend, servers: OpcUaPlcServers, count: Callable[[], int], seconds: float
) -> float:
    await _wait_for(count, len(backend.points))  # the initial values
    base, start = count(), time.perf_counter()
    rounds = 0
    while time.perf_counter() - start < seconds:
        backend.bump()
        await servers.refresh()
        rounds += 1
        await _wait_for(count, base + rounds * len(backend.points))
    return (count() - base) / (time.perf_counter() - start)


async def _collectors(backend: ChangingBackend, servers: OpcUaPlcServers, seconds: float) -> float:
    by_device: dict[str, list[PointSpec]] = {}
    for spec in backend.points:
        by_device.setdefault(spec.device_key, []).append(spec)
    collectors = [OpcUaCollector(p[0].device, p, time.time) for p in by_device.values()]
    good = 0

    def sink(batch: SampleBatch) -> None:
        nonlocal good
        good += int(np.count_nonzero(batch.quality == Quality.GOOD))

    await asyncio.gather(*(c.subscribe(sink) for c in collectors))
    try:
        return await _changes_per_second(backend, servers, lambda: good, seconds)
    finally:
        await asyncio.gather(*(c.close() for c in collectors))
        errors = sum(sum(c.stats.errors.values()) for c in collectors)
        if errors:
            print(f"  warning: the collectors saw {errors} failures; rates are not comparable")


class CountingHandler:
    def __init__(self) -> None:
        self.count = 0

    def datachange_notification(self, node: Node, val: Any, data: Any) -> None:
        self.count += 1


async def _bare_clients(
    backend: ChangingBackend, servers: OpcUaPlcServers, seconds: float
) -> float:
    by_endpoint: dict[str, list[list[str]]] = {}
    by_device: dict[str, list[PointSpec]] = {}
    for spec in backend.points:
        by_device.setdefault(spec.device_key, []).append(spec)
    for specs in by_device.values():
        device = specs[0].device
        assert isinstance(device, OpcUaDevice)
        endpoint = device.endpoint
        by_endpoint.setdefault(endpoint, []).append([str(p.node_id) for p in specs])
    handler = CountingHandler()
    clients: list[Client] = []

    async def subscribe(url: str, node_ids: list[str]) -> None:
        client = Client(url, timeout=TIMEOUT_S, watchdog_intervall=TIMEOUT_S)
        await client.connect()
        clients.append(client)
        subscription = await client.create_subscription(PUBLISH_S * 1000, handler)
        await subscription.subscribe_data_change([client.get_node(n) for n in node_ids])

    await asyncio.gather(
        *(subscribe(url, ids) for url, devices in by_endpoint.items() for ids in devices)
    )
    try:
        return await _changes_per_second(backend, servers, lambda: handler.count, seconds)
    finally:
        await asyncio.gather(*(c.disconnect() for c in clients))


async def main(seconds: float, rounds: int) -> None:
    logging.getLogger("asyncua").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.yaml"
        path.write_text(yaml.safe_dump(_site_document()), encoding="utf-8")
        site = load_site(path)
    backend = ChangingBackend(site_points(site))
    servers = OpcUaPlcServers(backend)
    started = time.perf_counter()
    await servers.start()
    print(
        f"{len(servers.endpoints())} servers, {len(backend.points)} nodes, "
        f"started in {time.perf_counter() - started:.1f} s"
    )
    collector_rates, bare_rates = [], []
    try:
        for _ in range(rounds):
            collector_rates.append(await _collectors(backend, servers, seconds))
            bare_rates.append(await _bare_clients(backend, servers, seconds))
            print(
                f"  collector {collector_rates[-1]:,.0f}/s   bare asyncua {bare_rates[-1]:,.0f}/s"
            )
    finally:
        await servers.stop()
    best, baseline = max(collector_rates), max(bare_rates)
    print(
        f"data changes/s: OpcUaCollector {best:,.0f}, bare asyncua client {baseline:,.0f}, "
        f"ratio {best / baseline:.2f} (goal >= 0.8)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.rounds))
