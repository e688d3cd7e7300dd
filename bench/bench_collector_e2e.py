"""Collector end to end against a bare pymodbus read loop, both as fast as they can go.

The simulator (`collector_plant.py`, its own process) serves a few 100-point substation
PLCs. Each round polls them for `--seconds` after a warm-up:

- collector: the real `CollectorService` (scheduler → ModbusCollector → decode → stale
  watch, deadband → `DiskBuffer.append`, fsynced → `HistorianWriter` in its own process →
  `SqliteHistorian` commit) with a poll interval of 0.1 ms, so every device polls back to
  back; the rate counts samples the historian committed in the window. CPU counts the
  collector and its writer process.
- baseline: one `AsyncModbusTcpClient` per PLC sending the collector's own read plan
  (same requests, same client library) back to back; no decoding, buffering or storing.

Rounds alternate and the best of each is reported. Then the storing side alone (a buffer
filled with the same points, drained by `HistorianWriter` into a fresh `SqliteHistorian`,
nothing polling) gives the most any collector could commit on this machine.

    .venv/bin/python bench/bench_collector_e2e.py [--substations 4] [--seconds 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import numpy as np
from collector_plant import POINTS_PER_SUBSTATION, Plant, counter_total, cpu_s, site_doc, write_site
from pymodbus.client import AsyncModbusTcpClient

from collectors.buffer import DiskBuffer
from collectors.metrics import CollectorMetrics
from collectors.modbus import ModbusCollector
from collectors.modbus_plan import ReadRequest
from collectors.service import CollectorService
from collectors.writer import HistorianWriter
from heatnet.config import ModbusDevice, SiteConfig
from heatnet.loader import load_site
from heatnet.points import site_points
from heatnet.samples import SampleBatch
from historian.sqlite import SqliteHistorian

BACK_TO_BACK_S = 0.0001  # the poll interval that makes every device poll as fast as it can
WARMUP_S = 2.0


async def _devices(site: SiteConfig) -> list[tuple[ModbusDevice, list[ReadRequest]]]:
    """Every PLC and the reads the collector's plan makes for its 1 s group."""
    by_device: dict[str, list] = {}
    for spec in site_points(site):
        by_device.setdefault(spec.device_key, []).append(spec)
    found = []
    for specs in by_device.values():
        device = specs[0].device
        assert isinstance(device, ModbusDevice)
        found.append((device, ModbusCollector(device, specs, time.time).plan("default")))
    return found


async def baseline_round(site: SiteConfig, seconds: float) -> tuple[float, float]:
    """(points/s, CPU cores) of bare pymodbus clients reading the same requests back to back."""
    devices = await _devices(site)
    points = 0
    counting = False

    async def loop(device: ModbusDevice, plan: list[ReadRequest], stop: asyncio.Event) -> None:
        nonlocal points
        client = AsyncModbusTcpClient(
            device.host or "", port=device.port, timeout=device.timeout_s, retries=device.retries
        )
        await client.connect()
        read = {"input": client.read_input_registers, "discrete": client.read_discrete_inputs}
        try:
            while not stop.is_set():
                for request in plan:
                    reply = await read[request.register_type](
                        request.address, count=request.count, device_id=device.unit_id
                    )
                    assert not reply.isError(), reply
                if counting:
                    points += POINTS_PER_SUBSTATION
        finally:
            client.close()

    stop = asyncio.Event()
    tasks = [asyncio.create_task(loop(d, plan, stop)) for d, plan in devices]
    await asyncio.sleep(WARMUP_S)
    counting, cpu0, started = True, cpu_s(), time.perf_counter()
    await asyncio.sleep(seconds)
    counted, cpu1, elapsed = points, cpu_s(), time.perf_counter() - started
    stop.set()
    await asyncio.gather(*tasks)
    return counted / elapsed, (cpu1 - cpu0) / elapsed


async def collector_round(site: SiteConfig, seconds: float) -> tuple[float, float, float]:
    """(points/s committed to the historian, points/s polled, CPU cores) of CollectorService."""
    folder = Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    site = site.model_copy(
        update={
            "historian": site.historian.model_copy(update={"path": folder / "historian.sqlite"})
        }
    )
    service = CollectorService(site, buffer_path=folder / "buffer.sqlite")
    stop = asyncio.Event()
    running = asyncio.create_task(service.run(stop))
    await asyncio.sleep(WARMUP_S)
    writer = service.writer.pid
    written0, polled0 = (
        counter_total(service.metrics.historian_written),
        counter_total(service.metrics.points),
    )
    cpu0, started = cpu_s() + cpu_s(writer), time.perf_counter()
    await asyncio.sleep(seconds)
    written1, polled1 = (
        counter_total(service.metrics.historian_written),
        counter_total(service.metrics.points),
    )
    cpu1, elapsed = cpu_s() + cpu_s(writer), time.perf_counter() - started
    stop.set()
    await running
    return (written1 - written0) / elapsed, (polled1 - polled0) / elapsed, (cpu1 - cpu0) / elapsed


def storage_alone(site: SiteConfig, polls_per_device: int) -> tuple[float, float]:
    """(samples/s, CPU cores) of the writer alone: buffer → `HistorianWriter` → SQLite.

    The buffer holds what the collector would have appended: every device's 100 points,
    `polls_per_device` polls each, 1 ms apart, in 20,000-sample rows. Nothing else runs
    (the simulator idles at 1× real time), so this is the most the storing side can take.
    """
    folder = Path(tempfile.mkdtemp(prefix="bench-e2e-store-"))
    buffer = DiskBuffer(folder / "buffer.sqlite", max_bytes=10**12, max_age_s=1e9, clock=time.time)
    by_device: dict[str, list[str]] = {}
    for spec in site_points(site):
        by_device.setdefault(spec.device_key, []).append(spec.path)
    rng = np.random.default_rng(1)
    start_ms = int(time.time() * 1000)
    pending: list[SampleBatch] = []
    for k in range(polls_per_device):
        for paths in by_device.values():
            values = np.round(rng.normal(50.0, 10.0, len(paths)), 1)
            pending.append(SampleBatch.of(paths, start_ms + k, values))
        if sum(map(len, pending)) >= site.collector.batch_size:
            buffer.append(SampleBatch.concat(pending))
            pending = []
    buffer.append(SampleBatch.concat(pending))
    samples = buffer.backlog().samples
    historian = SqliteHistorian(folder / "historian.sqlite")
    writer = HistorianWriter(
        buffer, historian, batch_size=site.collector.batch_size, metrics=CollectorMetrics()
    )
    cpu0, started = cpu_s(), time.perf_counter()
    written = writer.drain()
    historian.flush()  # the rollups the collector's historian keeps current as it goes
    cpu1, elapsed = cpu_s(), time.perf_counter() - started
    assert written == samples, (written, samples)
    historian.close()
    buffer.close()
    return written / elapsed, (cpu1 - cpu0) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--substations", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--store-polls", type=int, default=2_000, help="per PLC, storing alone")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bench-e2e-plant-"))
    site_path = write_site(site_doc(args.substations, folder, poll_s=BACK_TO_BACK_S), folder)
    site = load_site(site_path)
    plan = asyncio.run(_devices(site))[0][1]
    print(
        f"{args.substations} PLCs × {POINTS_PER_SUBSTATION} points, "
        f"{len(plan)} reads per poll ({', '.join(f'{r.register_type} {r.count}' for r in plan)}),"
        f" simulator in its own process; {args.rounds} alternating rounds of {args.seconds:g} s"
    )
    bare: list[tuple[float, float]] = []
    ours: list[tuple[float, float, float]] = []
    budget_s = args.rounds * 2 * (args.seconds + WARMUP_S + 15) + 60
    with Plant(site_path, budget_s):
        for i in range(args.rounds):
            bare.append(asyncio.run(baseline_round(site, args.seconds)))
            ours.append(asyncio.run(collector_round(site, args.seconds)))
            print(
                f"  round {i + 1}: baseline {bare[-1][0]:9,.0f} points/s ({bare[-1][1]:.2f} CPU) "
                f"| collector {ours[-1][0]:9,.0f} stored/s, {ours[-1][1]:9,.0f} polled/s "
                f"({ours[-1][2]:.2f} CPU)"
            )
        store = storage_alone(site, args.store_polls)
    best_bare = max(b[0] for b in bare)
    best = max(ours, key=lambda o: o[0])
    print(f"bare pymodbus read loop      {best_bare:10,.0f} points/s (best)")
    print(f"collector, committed to SQLite {best[0]:8,.0f} points/s (best; polled {best[1]:,.0f})")
    print(f"ratio                        {best[0] / best_bare:10.2f}  (goal >= 0.8)")
    print(
        f"storing alone (no polling)   {store[0]:10,.0f} samples/s ({store[1]:.2f} CPU): "
        f"{store[0] / best_bare:.2f} of the bare loop, the ceiling of the ratio on this machine"
    )


if __name__ == "__main__":
    main()
