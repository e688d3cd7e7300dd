"""How fast the physics model steps a 1,000-substation site at 1 s resolution.

Baseline: real time (1 simulated second per wall second); the goal is ≥ 100× on one core.
Run: .venv/bin/python bench/bench_simulator.py [--substations N] [--steps N]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import yaml

from heatnet.config import SiteConfig
from simulators.model import SiteModel

ROOT = Path(__file__).resolve().parent.parent
PROFILES = ROOT / "config" / "profiles" / "modbus-substation.yaml"
UNITS_PER_PORT = 200


def synthetic_site(substations: int, buildings: int = 3, rooms: int = 4) -> SiteConfig:
    """A site of many substations on dummy Modbus ports (nothing is served)."""
    profiles = yaml.safe_load(PROFILES.read_text(encoding="utf-8"))["profiles"]
    room_types = ["living", "bedroom", "kitchen", "living"]
    doc: dict[str, Any] = {
        "site": {"id": "bench"},
        "profiles": profiles,
        "curves": {
            "src": {"type": "table", "points": [[-15, 130], [0, 108], [15, 75]]},
            "rad": {"type": "slope_shift", "slope": 2.45, "shift": 1.0, "max_supply": 90},
            "floor": {
                "type": "table",
                "points": [[-30, 55], [-15, 53.3], [-5, 43.3], [0, 38.1], [5, 32.9], [15, 25]],
            },
        },
        "heat_source": {"supply_curve": "src"},
        "substations": [
            {
                "id": f"ss{i:04d}",
                "curve": "floor" if i % 4 == 3 else "rad",
                "design": {"distance_m": 500 + (i * 37) % 8000},
                "devices": [
                    {
                        "id": "plc",
                        "protocol": "modbus",
                        "host": "127.0.0.1",
                        "port": 20000 + i // UNITS_PER_PORT,
                        "unit_id": i % UNITS_PER_PORT + 1,
                        "profile": "plc-modbus-ss",
                    }
                ],
                "buildings": [
                    {
                        "id": f"b{b + 1}",
                        "floor_area_m2": 6000 + 1000 * ((i + b) % 7),
                        "construction": ("light", "medium", "heavy")[(i + b) % 3],
                        **(
                            {"emitter": "floor", "design_supply": 45, "design_return": 35}
                            if i % 4 == 3
                            else {}
                        ),
                        "rooms": [
                            {"id": f"r{r + 1}", "type": room_types[r % 4], "exposure": 1 + 0.1 * r}
                            for r in range(rooms)
                        ],
                    }
                    for b in range(buildings)
                ],
            }
            for i in range(substations)
        ],
    }
    return SiteConfig.model_validate(doc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--substations", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=3600)
    parser.add_argument("--reads", type=int, default=200)
    args = parser.parse_args()

    site = synthetic_site(args.substations)
    started = time.perf_counter()
    model = SiteModel(site, seed=1, step_s=1.0)
    build_s = time.perf_counter() - started
    model.step(60)  # warm caches

    started = time.perf_counter()
    model.step(args.steps)
    step_s = time.perf_counter() - started
    speed = args.steps * model.step_s / step_s

    started = time.perf_counter()
    for _ in range(args.reads):
        model.step()
        model.values()
    read_s = time.perf_counter() - started - args.reads * step_s / args.steps

    rooms = len(model.truth.room_paths)
    print(f"site: {args.substations} substations, {rooms} rooms, {len(model.points)} points")
    print(f"build: {build_s:.2f} s")
    print(f"step (1 s): {step_s / args.steps * 1e3:.2f} ms wall per step over {args.steps} steps")
    print(f"speed: {speed:.0f}x real time (baseline 1x = real time; goal >= 100x)")
    print(f"values(): {read_s / args.reads * 1e3:.2f} ms per call ({len(model.points)} points)")


if __name__ == "__main__":
    main()
