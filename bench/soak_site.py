"""The soak's plant: config/demo.yaml scaled to many substations, and the faults it suffers.

Substation i copies demo substation i mod 12 (its buildings, rooms and curve) and gets a
PLC by the mix below, all on free loopback ports:

- OPC UA on every fifth substation, `OPCUA_PER_ENDPOINT` of them per server (an asyncua
  server takes about a second to start and a thread's worth of CPU to refresh);
- RTU frames over TCP (the demo's 4G DTU) on every tenth, four units per port;
- Modbus TCP on the rest, ten units per port as behind a gateway;
- `rogue` substations point the collector at a hand-written server that answers with
  malformed frames some of the time (bench/soak_rogue.py); the simulator still serves
  their PLCs, on ports nobody polls.

The fault schedule is drawn in wall seconds (so a flap lasts several polls at any speed)
and written to the site in simulated seconds, which is what `Fault.start` counts.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import DEMO, free_ports, relocate

OPCUA_PER_ENDPOINT = 5
MODBUS_PER_PORT = 10
RTU_PER_PORT = 4
ROGUE_PROFILE = "plc-modbus-rogue"


@dataclass(frozen=True, slots=True)
class Window:
    """A fault in force on a device or point from `start_s` for `duration_s`, in wall seconds."""

    kind: str
    target: str
    start_s: float
    duration_s: float
    delay_s: float = 0.0
    exception_code: int = 4

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s

    def fault(self, speed: float) -> dict[str, Any]:
        """The site file's fault: start and duration in simulated seconds."""
        doc: dict[str, Any] = {
            "kind": self.kind,
            "target": self.target,
            "start": round(self.start_s * speed, 1),
            "duration": round(self.duration_s * speed, 1),
        }
        if self.kind == "slow_replies":
            doc["delay_s"] = self.delay_s
        if self.kind == "exception_replies":
            doc["exception_code"] = self.exception_code
        return doc


@dataclass(slots=True)
class SoakPlant:
    """The site documents of the simulator and of the collector, and what was done to them."""

    sim_doc: dict[str, Any]
    collect_doc: dict[str, Any]
    windows: list[Window]
    rogue_devices: list[str]
    rogue_port: int
    shared: dict[str, list[str]] = field(default_factory=dict)
    """Devices whose OPC UA server a slow device slows too, by the slow device."""

    def devices(self) -> list[str]:
        """Every device of the collector's site, as asset/device."""
        doc = self.collect_doc
        assets = [doc["heat_source"], *doc["substations"], *doc.get("steam_customers", [])]
        return [f"{a['id']}/{d['id']}" for a in assets for d in a["devices"]]

    def troubled(self) -> set[str]:
        """Devices a fault, a rogue server or a slowed shared endpoint touches."""
        hit = {w.target for w in self.windows if w.kind != "frozen_sensor"}
        hit |= set(self.rogue_devices)
        for slow, peers in self.shared.items():
            if slow in hit:
                hit |= set(peers)
        return hit

    def healthy(self) -> list[str]:
        troubled = self.troubled()
        return [d for d in self.devices() if d not in troubled]


def _rogue_profile(base: dict[str, Any]) -> dict[str, Any]:
    """plc-modbus-ss without bits or the PLC clock: what the rogue server can answer."""
    points = [
        p
        for p in base["points"]
        if p.get("register_type", "holding") in ("input", "holding")
        and p.get("role") != "plc_clock"
    ]
    return {**copy.deepcopy(base), "points": copy.deepcopy(points)}


def _device(kind: str, port: int, unit: int, path: str) -> dict[str, Any]:
    if kind == "opcua":
        return {
            "id": "plc",
            "protocol": "opcua",
            "endpoint": f"opc.tcp://127.0.0.1:{port}/heatnet/{path}",
            "profile": "plc-opcua-ss",
            "timestamps": "source",
        }
    if kind == "rtu":
        return {
            "id": "dtu",
            "protocol": "modbus",
            "host": "127.0.0.1",
            "port": port,
            "framer": "rtu",
            "unit_id": unit,
            "timeout_s": 4,
            "max_registers": 60,
            "profile": "dtu-rtu-ss",
            "timestamps": "source",
        }
    return {
        "id": "plc",
        "protocol": "modbus",
        "host": "127.0.0.1",
        "port": port,
        "unit_id": unit,
        "profile": "plc-modbus-ss",
        "timestamps": "source",
    }


def protocol_of(index: int) -> str:
    """The PLC kind of substation `index`: the demo's mix with OPC UA kept to a fifth."""
    if index % 5 == 0:
        return "opcua"
    if index % 10 == 3:
        return "rtu"
    return "modbus"


def scaled_site(
    substations: int, folder: Path, *, rogue: int, metrics_port: int
) -> tuple[dict[str, Any], list[str], int, dict[int, list[str]]]:
    """The demo scaled to `substations`: (collector document, rogue devices, rogue port, OPC UA
    devices by server port)."""
    demo = relocate(yaml.safe_load(DEMO.read_text(encoding="utf-8")), DEMO)
    templates = demo["substations"]
    kinds = [protocol_of(i) for i in range(substations)]
    ports = {
        kind: free_ports(max(1, -(-kinds.count(kind) // per)))
        for kind, per in (
            ("opcua", OPCUA_PER_ENDPOINT),
            ("rtu", RTU_PER_PORT),
            ("modbus", MODBUS_PER_PORT),
        )
    }
    per_port = {"opcua": OPCUA_PER_ENDPOINT, "rtu": RTU_PER_PORT, "modbus": MODBUS_PER_PORT}
    seen = dict.fromkeys(per_port, 0)
    by_endpoint: dict[int, list[str]] = {}
    subs = []
    for i, kind in enumerate(kinds):
        sub = copy.deepcopy(templates[i % len(templates)])
        sub["id"] = f"ss{i + 1:03d}"
        sub["name"] = f"{sub['name']} #{i + 1}"
        n = seen[kind]
        seen[kind] += 1
        port = ports[kind][n // per_port[kind]]
        sub["devices"] = [_device(kind, port, n % per_port[kind] + 1, sub["id"])]
        if kind == "opcua":
            by_endpoint.setdefault(port, []).append(f"{sub['id']}/plc")
        subs.append(sub)
    demo["substations"] = subs
    demo["historian"] = {"backend": "sqlite", "path": str(folder / "historian.sqlite")}
    demo["collector"] = {
        "buffer_path": str(folder / "buffer.sqlite"),
        "metrics_port": metrics_port,
        "flush_interval": 1.0,
    }
    # rogue devices: Modbus TCP substations spread over the site
    modbus_subs = [s for s in subs if protocol_of(int(s["id"][2:]) - 1) == "modbus"]
    step = max(1, len(modbus_subs) // max(1, rogue))
    rogues = modbus_subs[step // 2 :: step][:rogue]
    rogue_port = free_ports(1)[0]
    return demo, [f"{s['id']}/plc" for s in rogues], rogue_port, by_endpoint


def fault_windows(
    devices: list[str],
    opcua_endpoints: dict[int, list[str]],
    rtu_devices: list[str],
    frozen_point: str,
    wall_s: float,
    *,
    flapping: float,
    seed: int,
) -> list[Window]:
    """Flapping, slow, exception and frozen-sensor windows over a run of `wall_s` seconds."""
    rng = random.Random(seed)
    candidates = [d for d in devices if d.startswith("ss")]
    rng.shuffle(candidates)
    n_flap = max(1, round(flapping * len(devices)))
    flappers, others = candidates[:n_flap], candidates[n_flap:]
    windows: list[Window] = []
    for device in flappers:
        t = rng.uniform(2.0, 10.0)
        while True:
            down = rng.uniform(3.0, 12.0)
            if t + down > wall_s - 3.0:
                break
            windows.append(Window("device_offline", device, t, down))
            t += down + rng.uniform(8.0, 30.0)
    # timeouts (replies later than the timeout), slow but in time, exception replies
    opcua = [d for peers in opcua_endpoints.values() for d in peers if d in others]
    rtu = [d for d in rtu_devices if d in others]
    modbus = [d for d in others if d not in opcua and d not in rtu]

    def pick(pool: list[str]) -> str | None:
        free = [d for d in pool if d not in {w.target for w in windows}]
        return rng.choice(free) if free else None

    plans: list[tuple[list[str], str, float, int]] = [
        (modbus, "slow_replies", 3.0, 4),  # beyond timeout_s 2 s and one retry
        (rtu, "slow_replies", 5.0, 4),  # beyond the DTU's 4 s
        (modbus, "slow_replies", 0.7, 4),  # in time, but the poll runs late
        (opcua, "slow_replies", 3.0, 4),
        (modbus, "exception_replies", 0.0, 4),
        (rtu, "exception_replies", 0.0, 6),
        (opcua, "exception_replies", 0.0, 6),
    ]
    for pool, kind, delay, code in plans:
        device = pick(pool)
        if device is None:
            continue
        for start in (0.15, 0.55):
            windows.append(
                Window(
                    kind,
                    device,
                    wall_s * rng.uniform(start, start + 0.1),
                    rng.uniform(0.04, 0.08) * wall_s,
                    delay_s=delay,
                    exception_code=code,
                )
            )
    windows.append(Window("frozen_sensor", frozen_point, 0.2 * wall_s, 0.4 * wall_s))
    return sorted(windows, key=lambda w: w.start_s)


def soak_plant(
    substations: int,
    folder: Path,
    *,
    wall_s: float,
    speed: float,
    flapping: float,
    rogue: int,
    metrics_port: int,
    seed: int,
) -> SoakPlant:
    """The site documents of a soak of `wall_s` wall seconds at `speed`, with its faults."""
    collect_doc, rogue_devices, rogue_port, endpoints = scaled_site(
        substations, folder, rogue=rogue, metrics_port=metrics_port
    )
    assets = [collect_doc["heat_source"], *collect_doc["substations"]]
    assets += collect_doc.get("steam_customers", [])
    devices = [f"{a['id']}/{d['id']}" for a in assets for d in a["devices"]]
    rtu = [d for d in devices if d.endswith("/dtu")]
    healthy_modbus = [
        d
        for d in devices
        if d.startswith("ss") and d.endswith("/plc") and d not in rogue_devices
        if not any(d in peers for peers in endpoints.values())
    ]
    frozen = f"{collect_doc['site']['id']}/{healthy_modbus[-1].split('/')[0]}/t2_supply"
    windows = fault_windows(
        [d for d in devices if d not in rogue_devices],
        endpoints,
        rtu,
        frozen,
        wall_s,
        flapping=flapping,
        seed=seed,
    )
    collect_doc["simulation"]["speed"] = speed
    collect_doc["faults"] = [w.fault(speed) for w in windows]
    sim_doc = copy.deepcopy(collect_doc)
    # the collector polls the rogue server instead of the simulated PLCs of these substations
    base = collect_doc["profiles"] = dict(collect_doc.get("profiles") or {})
    profiles = yaml.safe_load(
        (DEMO.parent / "profiles" / "modbus-substation.yaml").read_text(encoding="utf-8")
    )["profiles"]
    base[ROGUE_PROFILE] = _rogue_profile(profiles["plc-modbus-ss"])
    for sub in collect_doc["substations"]:
        device = sub["devices"][0]
        if f"{sub['id']}/{device['id']}" in rogue_devices:
            device.update(port=rogue_port, profile=ROGUE_PROFILE, timestamps="collector")
    shared = {}
    for peers in endpoints.values():
        for device in peers:
            shared[device] = [p for p in peers if p != device]
    return SoakPlant(sim_doc, collect_doc, windows, rogue_devices, rogue_port, shared)
