"""Soak: a simulated week of config/demo.yaml scaled to 100 substations, with faults throughout.

The simulator (`heatnet simulate`, its own process, accelerated so the week takes
`--wall` seconds), a rogue Modbus server (bench/soak_rogue.py) and `heatnet collect`
subprocesses run against each other on 127.0.0.1 while the harness injects:

- 10 % of the devices flapping (device_offline on and off), replies later than the
  timeout, replies slow but in time, exception replies, a frozen sensor (bench/soak_site.py);
- a few devices polling the rogue server, which answers malformed frames a fifth of the time;
- the historian unavailable: SQLite held by another connection's exclusive lock, or with
  `--historian influxdb` the InfluxDB server stopped and started again, for ten simulated
  minutes but no less than `--min-outage` wall seconds (ten simulated minutes at 670× are
  under a second, shorter than one poll);
- the collector killed with SIGKILL and restarted, once before the outage and once just
  after it, while the outage's backlog is still on disk.

Before each kill the harness records what is acknowledged (in the disk buffer or in the
historian); at the end every acknowledged (point, ts) must be stored, once.

    .venv/bin/python bench/soak.py [--wall 900] [--substations 100] [--historian sqlite]
                                   [--record]   # write the figures into RELIABILITY.md
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import numpy as np
import yaml
from pymodbus.client import ModbusTcpClient
from pymodbus.exceptions import ModbusException

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: bench/ is on the path, the packages are not
    sys.path.insert(0, str(ROOT))

from bench.soak_check import (  # noqa: E402
    SCRAPE_S,
    Run,
    SoakParams,
    SoakResult,
    Store,
    account,
    record,
    report,
    scrape,
    total,
)
from bench.soak_site import SoakPlant, soak_plant  # noqa: E402
from collectors.buffer import DiskBuffer  # noqa: E402
from tests.conftest import free_ports  # noqa: E402
from tests.influx_server import InfluxServer, influxd_binary  # noqa: E402

CLOCK_REGISTER = 29  # plc-modbus-ss: plc_clock, uint64 ms, input registers 29-32

# ---- processes ----------------------------------------------------------------------


def _python(*args: str) -> list[str]:
    return [sys.executable, *args]


def start_simulator(params: SoakParams, site: Path) -> subprocess.Popen[str]:
    duration = params.wall_s + 120.0  # ends by itself even if the harness dies
    command = ["simulate", "-c", str(site), "--speed", f"{params.speed:g}"]
    proc = subprocess.Popen(
        _python("-m", "heatnet.cli", *command, "--duration", f"{duration:g}"),
        stdout=subprocess.PIPE,
        stderr=(params.folder / "simulator.log").open("w"),
        text=True,
        cwd=params.folder,
    )
    assert proc.stdout is not None
    banner = proc.stdout.readline()
    if not banner.startswith("heatnet simulator"):
        proc.kill()
        raise RuntimeError(f"the simulator did not start: {banner!r}")
    return proc


def start_rogue(params: SoakParams, port: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        _python(
            "-m",
            "bench.soak_rogue",
            "--port",
            str(port),
            "--seed",
            str(params.seed),
            "--duration",
            f"{params.wall_s + 120:g}",
        ),
        stdout=subprocess.PIPE,
        stderr=(params.folder / "rogue.log").open("w"),
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    banner = proc.stdout.readline()
    if not banner.startswith("rogue modbus"):
        proc.kill()
        raise RuntimeError(f"the rogue server did not start: {banner!r}")
    return proc


def start_collector(params: SoakParams, site: Path, n: int) -> Run:
    log = params.folder / f"collect-{n}.log"
    proc = subprocess.Popen(
        _python("-m", "heatnet.cli", "collect", "-c", str(site)),
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
        text=True,
        cwd=ROOT,
    )
    return Run(proc, log, time.monotonic())


def stop(proc: subprocess.Popen[str], timeout: float = 60.0) -> str:
    """SIGTERM, wait (SIGKILL after `timeout`); what it printed after its banner."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out or ""


class HistorianOutage:
    """Makes the historian unavailable and available again."""

    def __init__(self, historian_path: Path, influx: InfluxServer | None) -> None:
        self.path = historian_path
        self.influx = influx
        self._lock: sqlite3.Connection | None = None

    def begin(self) -> None:
        if self.influx is not None:
            self.influx.stop()
            return
        self._lock = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self._lock.execute("BEGIN EXCLUSIVE")  # no other connection may write until the end

    def end(self) -> None:
        if self.influx is not None:
            self.influx.start()
            return
        assert self._lock is not None
        self._lock.execute("ROLLBACK")
        self._lock.close()
        self._lock = None


class SimClock:
    """Reads a healthy PLC's plc_clock: where the simulator's time is at each wall moment."""

    def __init__(self, plant: SoakPlant) -> None:
        healthy = set(plant.healthy())
        device = next(
            d
            for s in plant.collect_doc["substations"]
            for d in s["devices"]
            if f"{s['id']}/{d['id']}" in healthy and d.get("profile") == "plc-modbus-ss"
        )
        self.unit = int(device["unit_id"])
        self.client = ModbusTcpClient("127.0.0.1", port=int(device["port"]), timeout=1, retries=0)
        self.readings: list[tuple[float, int]] = []  # (wall offset, simulated ms)

    def read(self, wall_offset: float) -> None:
        try:
            reply = self.client.read_input_registers(CLOCK_REGISTER, count=4, device_id=self.unit)
        except ModbusException:
            return
        if not reply.isError():
            ms = int.from_bytes(b"".join(r.to_bytes(2, "big") for r in reply.registers), "big")
            self.readings.append((wall_offset, ms))

    def close(self) -> None:
        self.client.close()


def other_benchmarks() -> list[str]:
    """Command lines of other bench/ processes on the machine, for the load note."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue
        if "bench/" in cmd and "soak" not in cmd and int(proc.name) != os.getpid():
            found.append(cmd.split("bench/", 1)[1].split()[0])
    return sorted(set(found))


# ---- the soak -----------------------------------------------------------------------


def _say(line: str) -> None:
    print(line, flush=True)


def run_soak(params: SoakParams, say: Callable[[str], None] = _say) -> SoakResult:
    """Run the plant, the faults and the collectors for params.wall_s; check and count."""
    started_wall = time.monotonic()
    folder = params.folder
    folder.mkdir(parents=True, exist_ok=True)
    load_start = os.getloadavg()
    others = set(other_benchmarks())
    metrics_port = free_ports(1)[0]
    plant = soak_plant(
        params.substations,
        folder,
        wall_s=params.wall_s,
        speed=params.speed,
        flapping=params.flapping,
        rogue=params.rogue,
        metrics_port=metrics_port,
        seed=params.seed,
    )
    influx: InfluxServer | None = None
    if params.historian == "influxdb":
        binary = influxd_binary()
        if binary is None:
            raise RuntimeError("influxd not found: apt-get install influxdb")
        (folder / "influxdb").mkdir(exist_ok=True)
        influx = InfluxServer(folder / "influxdb", binary)
        influx.start()
        plant.collect_doc["historian"] = {
            "backend": "influxdb",
            "url": influx.url,
            "database": "soak",
        }
    sim_site = folder / "simulator.yaml"
    collect_site = folder / "collect.yaml"
    for path, doc in ((sim_site, plant.sim_doc), (collect_site, plant.collect_doc)):
        path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), "utf-8")
    store = Store(collect_site, plant, influx.url if influx else None)
    outage = HistorianOutage(store.historian_path, influx)
    say(
        f"soak: {params.substations} substations, {len(store.paths)} points, "
        f"{len(plant.devices())} devices; {params.simulated_s / 86400:g} simulated days in "
        f"{params.wall_s:g} s at {params.speed:.0f}x; historian {params.historian}; in {folder}"
    )

    outage_start = 0.45 * params.wall_s
    outage_end = outage_start + params.outage_wall_s
    kills = [outage_end + 1.0]  # the outage's backlog is still on disk
    if params.kills >= 2:
        kills = [0.25 * params.wall_s, *[outage_end + 1.0]]
        kills += [
            outage_end + (params.wall_s - outage_end) * (k + 1) / (params.kills - 1)
            for k in range(params.kills - 2)
        ]
    events: list[tuple[float, str]] = [(outage_start, "outage"), (outage_end, "back")]
    events += [(t, "kill") for t in kills]
    events += [(t + params.restart_after_s, "restart") for t in kills]
    events.sort()

    rogue = start_rogue(params, plant.rogue_port) if plant.rogue_devices else None
    sim = start_simulator(params, sim_site)
    t0 = time.monotonic()
    t0_unix = time.time()
    clock = SimClock(plant)
    runs = [start_collector(params, collect_site, 0)]
    acknowledged: list[np.ndarray] = []
    peaks = {"samples": 0.0, "bytes": 0.0}
    loads: list[float] = []
    next_scrape = t0
    try:
        while True:
            now = time.monotonic() - t0
            if now >= params.wall_s:
                break
            if events and events[0][0] <= now:
                _, action = events.pop(0)
                run = runs[-1]
                if action == "outage":
                    say(f"{now:6.1f} s  historian unavailable for {params.outage_wall_s:g} s")
                    outage.begin()
                elif action == "back":
                    outage.end()
                    say(f"{now:6.1f} s  historian back")
                elif action == "kill":
                    acknowledged.append(store.acknowledged())
                    run.metrics = scrape(metrics_port) or run.metrics
                    run.proc.send_signal(signal.SIGKILL)
                    run.exit_code = run.proc.wait()
                    run.ended = time.monotonic()
                    say(
                        f"{now:6.1f} s  SIGKILL the collector "
                        f"({len(acknowledged[-1])} samples acknowledged so far)"
                    )
                else:
                    runs.append(start_collector(params, collect_site, len(runs)))
                    say(f"{now:6.1f} s  collector restarted")
                continue
            if time.monotonic() >= next_scrape:
                next_scrape += SCRAPE_S
                if runs[-1].ended is None:
                    seen = scrape(metrics_port)
                    if seen:
                        runs[-1].metrics = seen
                        runs[-1].polling = runs[-1].polling or time.monotonic()
                        peaks["samples"] = max(
                            peaks["samples"], total(seen, "heatnet_buffer_backlog_samples")
                        )
                        peaks["bytes"] = max(
                            peaks["bytes"], total(seen, "heatnet_buffer_backlog_bytes")
                        )
                loads.append(os.getloadavg()[0])
                clock.read(time.monotonic() - t0)
                if len(loads) % 30 == 0:  # other engineers' benchmarks come and go
                    others.update(other_benchmarks())
            due = [next_scrape, t0 + params.wall_s, *(t0 + at for at, _ in events[:1])]
            time.sleep(max(0.0, min(due) - time.monotonic()))
        last = runs[-1]
        last.metrics = scrape(metrics_port) or last.metrics
        stop(last.proc, timeout=90)
        last.exit_code = last.proc.returncode
        last.ended = time.monotonic()
    finally:
        for run in runs:
            if run.proc.poll() is None:
                run.proc.kill()
                run.proc.wait()
        if outage._lock is not None:
            outage.end()
        clock.close()
        sim_out = stop(sim)
        rogue_out = stop(rogue) if rogue is not None else ""
        load_end = os.getloadavg()
    say("checking the historian")
    backlog = DiskBuffer(store.buffer_path, max_bytes=10**13, max_age_s=1e12, clock=time.time)
    left = backlog.backlog().samples
    backlog.close()
    drained = store.drain() if left else 0
    keys, quality, reason = store.stored()
    if influx is not None:
        influx.stop()
    return account(
        params,
        plant,
        store,
        runs,
        acknowledged,
        (keys, quality, reason),
        left=max(left, drained),
        peaks=peaks,
        sim_out=sim_out,
        rogue_out=rogue_out,
        timing=(t0, t0_unix, clock.readings),
        load={
            "start": load_start,
            "end": load_end,
            "mean_1m": float(np.mean(loads)) if loads else float("nan"),
            "cores": os.cpu_count(),
            "others": sorted(others),
        },
        wall_total_s=time.monotonic() - started_wall,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wall", type=float, default=900.0, help="wall seconds for the run")
    parser.add_argument("--days", type=float, default=7.0, help="simulated days")
    parser.add_argument("--substations", type=int, default=100)
    parser.add_argument("--historian", choices=["sqlite", "influxdb"], default="sqlite")
    parser.add_argument("--kills", type=int, default=2)
    parser.add_argument("--min-outage", type=float, default=30.0, help="wall seconds")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--folder", type=Path, default=Path("/tmp/heatnet-soak"))
    parser.add_argument("--record", action="store_true", help="write into RELIABILITY.md")
    args = parser.parse_args()
    folder = args.folder / f"{args.historian}-{datetime.now():%Y%m%d-%H%M%S}"
    params = SoakParams(
        folder,
        substations=args.substations,
        simulated_s=args.days * 86400,
        wall_s=args.wall,
        historian=args.historian,
        kills=args.kills,
        min_outage_wall_s=args.min_outage,
        seed=args.seed,
    )
    result = run_soak(params)
    command = " ".join(["bench/soak.py", *sys.argv[1:]])
    section = report(result, command)
    print(section)
    print(json.dumps({"late_polls": result.late_polls}, sort_keys=True), file=sys.stderr)
    if args.record:
        record(section, args.historian)
    return 0 if result.lost == 0 and result.duplicates == 0 and result.crashes == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
