"""The plant the collector benchmarks poll: a synthetic site served by the real simulator.

Every substation is one Modbus TCP PLC of 100 points in the 1 s poll group: the 21
measurements of `plc-modbus-ss` (20 input registers and the pump's discrete input), 67
constant auxiliary registers and 12 room sensors, laid out so the collector reads input
registers 0-111 in one request and the discrete input in a second. `UNITS_PER_PORT`
PLCs share a port, as a serial-to-TCP gateway would.

Run as a script, this module is the simulator process (`PlantRunner` at 1× real time):

    .venv/bin/python bench/collector_plant.py SITE.yaml --duration S
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import Counter

from heatnet.loader import load_site
from simulators.runner import serve

ROOT = Path(__file__).resolve().parent.parent
PROFILES = ROOT / "config" / "profiles" / "modbus-substation.yaml"
UNITS_PER_PORT = 200
AUX_POINTS = 67  # input registers 33-99, between plc_clock and the room sensors
BUILDINGS, ROOMS = 3, 4
POINTS_PER_SUBSTATION = 21 + AUX_POINTS + BUILDINGS * ROOMS


def _profile() -> dict[str, Any]:
    """plc-modbus-ss's 1 s points plus auxiliary registers: 100 points in one poll group."""
    base = yaml.safe_load(PROFILES.read_text(encoding="utf-8"))["profiles"]["plc-modbus-ss"]
    points = [p for p in base["points"] if p.get("group", "default") == "default"]
    points += [
        {
            "name": f"aux_{i:02d}",
            "register_type": "input",
            "address": 33 + i,
            "data_type": "int16",
            "scale": 0.1,
            "value": float(i),
        }
        for i in range(AUX_POINTS)
    ]
    return {
        "protocol": "modbus",
        "poll_groups": {"default": "1s"},
        "points": points,
        "indoor": base["indoor"],
    }


def free_ports(count: int) -> list[int]:
    """Loopback ports nobody listens on right now."""
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [int(s.getsockname()[1]) for s in sockets]
    for s in sockets:
        s.close()
    return ports


def site_doc(
    substations: int, folder: Path, *, poll_s: float = 1.0, batch_size: int = 20_000
) -> dict[str, Any]:
    """A site of `substations` 100-point PLCs on free loopback ports, collected into `folder`."""
    ports = free_ports(-(-substations // UNITS_PER_PORT))
    return {
        "site": {"id": "bench"},
        "historian": {"backend": "sqlite", "path": str(folder / "historian.sqlite")},
        "collector": {
            "buffer_path": str(folder / "buffer.sqlite"),
            "batch_size": batch_size,
            "flush_interval": 1.0,
        },
        "simulation": {"speed": 1.0, "step_s": 1.0},
        "profiles": {"bench-ss": _profile()},
        "curves": {"rad": {"type": "slope_shift", "slope": 2.45, "shift": 1.0, "max_supply": 90}},
        "heat_source": {"supply_curve": "rad"},
        "substations": [
            {
                "id": f"ss{i:04d}",
                "curve": "rad",
                "devices": [
                    {
                        "id": "plc",
                        "protocol": "modbus",
                        "host": "127.0.0.1",
                        "port": ports[i // UNITS_PER_PORT],
                        "unit_id": i % UNITS_PER_PORT + 1,
                        "profile": "bench-ss",
                        "timeout_s": 3.0,
                        "poll_intervals": {"default": poll_s},
                    }
                ],
                "buildings": [
                    {
                        "id": f"b{b + 1}",
                        "floor_area_m2": 6000 + 1000 * ((i + b) % 7),
                        "rooms": [{"id": f"r{r + 1}"} for r in range(ROOMS)],
                    }
                    for b in range(BUILDINGS)
                ],
            }
            for i in range(substations)
        ],
    }


def write_site(doc: dict[str, Any], folder: Path) -> Path:
    path = folder / "site.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


class Plant:
    """The simulator in its own process, started and stopped around a `with` block."""

    def __init__(self, site_path: Path, duration_s: float) -> None:
        self.site_path = site_path
        self.duration_s = duration_s
        self.proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> Plant:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, str(self.site_path), "--duration", str(self.duration_s)],
            stdout=subprocess.PIPE,
            stderr=(self.site_path.parent / "plant.log").open("w"),
            text=True,
            cwd=self.site_path.parent,
        )
        assert self.proc.stdout is not None
        banner = self.proc.stdout.readline()  # printed once every server listens
        if not banner.startswith("heatnet simulator"):
            self.proc.kill()
            raise RuntimeError(f"simulator did not start: {banner!r}")
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def counter_total(counter: Counter) -> float:
    """A Prometheus counter's value summed over its labels, without collecting the registry."""
    return sum(
        s.value for family in counter.collect() for s in family.samples if s.name.endswith("_total")
    )


def memory_mb(pid: int | None = None) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process (this one by default) in MB, from /proc/PID/status."""
    fields = {}
    for line in Path(f"/proc/{pid or 'self'}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


def cpu_s(pid: int | None = None) -> float:
    """CPU seconds (user + system, every thread) of a process, from /proc/PID/stat."""
    stat = Path(f"/proc/{pid or 'self'}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description="serve a synthetic site's Modbus PLCs")
    parser.add_argument("site", type=Path)
    parser.add_argument("--duration", type=float, default=600.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(serve(load_site(args.site), speed=1.0, seed=1, duration=args.duration))


if __name__ == "__main__":
    main()
