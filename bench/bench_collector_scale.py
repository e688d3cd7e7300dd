"""How many substations one collector process polls on time, and what it costs (benches 2 and 6).

For each step N (default 100, 300, 1,000) the simulator (`collector_plant.py`: PlantRunner
at 1× real time, 200 PLCs per Modbus TCP port, loopback) runs in its own process and the
real `CollectorService` (scheduler, ModbusCollector, stale watch, deadband, fsynced disk
buffer; its historian writer process with the SQLite historian) runs in a second one and
its child, so the figures are the collector's alone. Every PLC has 100 points polled every
second (one 112-register read and one discrete read), so N substations are N × 100
points/s.

A poll is ON TIME when it starts (its task wakes from the scheduler's sleep) within 10 %
of the interval (100 ms) after its deadline; a poll that starts a whole interval late
also counts missed deadlines. Measured over `--seconds` after `--warmup`; CPU is the
user + system time (every thread) of the collector process and its writer process over
the window, in cores; memory is the sum of their VmRSS at the end and of their VmHWM
(peaks) from /proc/PID/status.

    .venv/bin/python bench/bench_collector_scale.py [--steps 100,300,1000] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from collector_plant import (
    POINTS_PER_SUBSTATION,
    Plant,
    counter_total,
    cpu_s,
    memory_mb,
    site_doc,
    write_site,
)

from collectors.service import CollectorService
from collectors.timer import WallTimer
from heatnet.loader import load_site
from heatnet.points import site_points
from heatnet.samples import SampleBatch
from historian.sqlite import PAGE_SIZE, SqliteHistorian

ON_TIME = 0.1  # of the interval
HISTORY_CACHE = Path(tempfile.gettempdir()) / "heatnet-bench-scale"


class RecordingTimer(WallTimer):
    """The wall clock, noting how late each sleeper wakes after its deadline while recording."""

    def __init__(self) -> None:
        self.recording = False
        self.lateness: list[float] = []

    async def sleep_until(self, deadline: float) -> None:
        await super().sleep_until(deadline)
        if self.recording:
            self.lateness.append(self.now() - deadline)


async def collect(site_path: Path, seconds: float, warmup: float, server_pid: int) -> dict:
    """Run the collector service; what it did in the measured window."""
    site = load_site(site_path)
    timer = RecordingTimer()
    service = CollectorService(site, clock=timer)
    stop = asyncio.Event()
    running = asyncio.create_task(service.run(stop))
    await asyncio.sleep(warmup)
    writer = service.writer.pid

    def snapshot() -> dict[str, float]:
        return {
            "t": time.perf_counter(),
            "cpu": cpu_s(),
            "writer_cpu": cpu_s(writer),
            "server_cpu": cpu_s(server_pid),
            "written": counter_total(service.metrics.historian_written),
            "polled": counter_total(service.metrics.points),
            "missed": counter_total(service.metrics.missed_deadlines),
            "errors": counter_total(service.metrics.poll_errors),
        }

    before = snapshot()
    timer.recording = True
    await asyncio.sleep(seconds)
    timer.recording = False
    after = snapshot()
    backlog = service.buffer.backlog().samples
    rss_window = memory_mb()[0] + memory_mb(writer)[0]
    writer_hwm = memory_mb(writer)[1]
    stop.set()
    await running
    rss, hwm = memory_mb()
    hwm += writer_hwm
    elapsed = after["t"] - before["t"]
    late = np.array(timer.lateness)
    interval = 1.0
    return {
        "polls": len(late),
        "on_time": float(np.mean(late <= ON_TIME * interval)) if len(late) else 0.0,
        "late_p50_ms": float(np.percentile(late, 50) * 1e3) if len(late) else 0.0,
        "late_p99_ms": float(np.percentile(late, 99) * 1e3) if len(late) else 0.0,
        "late_max_ms": float(late.max() * 1e3) if len(late) else 0.0,
        "missed": after["missed"] - before["missed"],
        "poll_errors": after["errors"] - before["errors"],
        "polled_per_s": (after["polled"] - before["polled"]) / elapsed,
        "stored_per_s": (after["written"] - before["written"]) / elapsed,
        "backlog_end": backlog,
        "cpu": (after["cpu"] - before["cpu"] + after["writer_cpu"] - before["writer_cpu"])
        / elapsed,
        "writer_cpu": (after["writer_cpu"] - before["writer_cpu"]) / elapsed,
        "server_cpu": (after["server_cpu"] - before["server_cpu"]) / elapsed,
        "rss_mb": rss_window,
        "rss_after_stop_mb": rss,
        "hwm_mb": hwm,
        "writer_hwm_mb": writer_hwm,
    }


def age_historian(site_path: Path, history_s: int) -> None:
    """Give every point `history_s` seconds of 1 s history before now, as a running plant has.

    A historian file in use for a while has a leaf page per point, and costs far more per
    write than an empty one (bench_historian_steady.py); the file is built once per size
    and copied for each run from HISTORY_CACHE.
    """
    site = load_site(site_path)
    paths = [spec.path for spec in site_points(site)]
    cached = HISTORY_CACHE / f"aged-{len(paths)}p-{history_s}s-{PAGE_SIZE}.sqlite"
    if not cached.exists():
        HISTORY_CACHE.mkdir(parents=True, exist_ok=True)
        building = cached.with_suffix(".part")
        building.unlink(missing_ok=True)
        store = SqliteHistorian(building)
        rng = np.random.default_rng(1)
        end_s = int(time.time()) - 1
        for first in range(end_s - history_s, end_s, 60):
            polls = [
                SampleBatch.of(paths, second * 1000, np.round(rng.normal(50, 10, len(paths)), 1))
                for second in range(first, min(first + 60, end_s))
            ]
            store.write(SampleBatch.concat(polls))
        store.close()
        building.rename(cached)
    shutil.copyfile(cached, site.resolve(site.historian.path))


def run_step(substations: int, seconds: float, warmup: float, history_s: int) -> dict[str, Any]:
    """One step: the simulator and the collector, each in its own process."""
    folder = Path(tempfile.mkdtemp(prefix=f"bench-scale-{substations}-"))
    site_path = write_site(site_doc(substations, folder), folder)
    if history_s:
        age_historian(site_path, history_s)
    with Plant(site_path, seconds + warmup + 120) as plant:
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--collect",
                str(site_path),
                "--seconds",
                str(seconds),
                "--warmup",
                str(warmup),
                "--server-pid",
                str(plant.pid),
            ],
            capture_output=True,
            text=True,
            timeout=seconds + warmup + 120,
        )
    if out.returncode:
        raise RuntimeError(f"collector process failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="100,300,1000")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument(
        "--history", type=int, default=0, help="seconds of history every point has at start"
    )
    parser.add_argument("--collect", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--server-pid", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.collect:
        result = asyncio.run(collect(args.collect, args.seconds, args.warmup, args.server_pid))
        print(json.dumps(result))
        return

    print(
        f"{POINTS_PER_SUBSTATION} points per substation every 1 s; on time = starts within "
        f"{ON_TIME * 1000:.0f} ms of its deadline; {args.seconds:g} s measured after "
        f"{args.warmup:g} s warm-up; historian "
        + (f"with {args.history} s of history per point" if args.history else "empty at start")
    )
    print(
        f"{'substations':>11} {'polls':>7} {'on time':>8} {'p99 late':>9} {'max late':>9} "
        f"{'missed':>6} {'polled/s':>9} {'stored/s':>9} {'backlog':>8} {'CPU':>5} {'writer':>6} "
        f"{'sim CPU':>7} {'RSS MB':>7} {'peak MB':>7} {'writer':>6}"
    )
    for n in (int(s) for s in args.steps.split(",")):
        r = run_step(n, args.seconds, args.warmup, args.history)
        print(
            f"{n:>11} {r['polls']:>7} {r['on_time']:>8.2%} {r['late_p99_ms']:>7.0f}ms "
            f"{r['late_max_ms']:>7.0f}ms {r['missed']:>6.0f} {r['polled_per_s']:>9,.0f} "
            f"{r['stored_per_s']:>9,.0f} {r['backlog_end']:>8,} {r['cpu']:>5.2f} "
            f"{r['writer_cpu']:>6.2f} "
            f"{r['server_cpu']:>7.2f} {r['rss_mb']:>7.0f} {r['hwm_mb']:>7.0f} "
            f"{r['writer_hwm_mb']:>6.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
