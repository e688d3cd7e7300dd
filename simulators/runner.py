"""Run the plant: step the physics on an accelerated clock and serve it over Modbus and OPC UA."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

from heatnet.config import SiteConfig
from simulators.modbus_server import ModbusPlcServers, ModbusPortError
from simulators.model import SiteModel
from simulators.opcua_server import OpcUaPlcServers, OpcUaServerError

log = logging.getLogger(__name__)

TICK_S = 0.25  # how often the servers are refreshed, in wall seconds


class PlantRunner:
    """The model, its PLC servers and the clock that advances them together."""

    def __init__(
        self,
        site: SiteConfig,
        *,
        speed: float | None = None,
        seed: int | None = None,
        cert_dir: Path | None = None,
    ) -> None:
        self.site = site
        self.speed = speed if speed is not None else site.simulation.speed
        self.model = SiteModel(site, seed=seed)
        self.modbus = ModbusPlcServers(self.model)
        self.opcua = OpcUaPlcServers(self.model, cert_dir=cert_dir)
        self._due_s = 0.0
        self._behind_warned = False

    async def start(self) -> None:
        try:
            await self.modbus.start()
            await self.opcua.start()
        except Exception:
            await self.stop()
            raise
        await self.publish()

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.opcua.stop()
        with contextlib.suppress(Exception):
            await self.modbus.stop()

    async def publish(self) -> None:
        """Put the model's current values into every server."""
        self.modbus.refresh()
        await self.opcua.refresh()

    def advance(self, wall_s: float) -> int:
        """Step the model by the simulated time `wall_s` of wall clock stands for; steps taken."""
        self._due_s += wall_s * self.speed
        steps = int(self._due_s // self.model.step_s)
        limit = max(1, int(4 * TICK_S * self.speed / self.model.step_s))
        if steps > limit:  # the machine cannot keep up: slow down rather than pile up
            if not self._behind_warned:
                log.warning("simulation is behind its clock; running slower than %.0f×", self.speed)
                self._behind_warned = True
            steps = limit
            self._due_s = 0.0
        else:
            self._due_s -= steps * self.model.step_s
        if steps:
            self.model.step(steps)
        return steps

    def describe(self) -> list[str]:
        lines = [
            f"heatnet simulator: site {self.site.site.id}, "
            f"{len(self.site.substations)} substations, {self.speed:g}× real time, "
            f"simulated clock {self.model.now.astimezone(self.site.tz).isoformat()}",
        ]
        for host, port, framer, units in self.modbus.listening():
            lines.append(f"  modbus/{framer:<6} {host}:{port} units {', '.join(map(str, units))}")
        for endpoint in self.opcua.endpoints():
            lines.append(f"  opcua         {endpoint}")
        return lines

    async def run(self, stop: asyncio.Event, duration: float | None = None) -> None:
        """Advance and publish every tick until `stop` is set or `duration` wall seconds pass."""
        started = last = time.monotonic()
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), TICK_S)
            now = time.monotonic()
            self.advance(now - last)
            last = now
            await self.publish()
            if duration is not None and now - started >= duration:
                break


async def serve(
    site: SiteConfig,
    *,
    speed: float | None,
    seed: int | None,
    duration: float | None,
    announce: Callable[[str], None] = lambda line: print(line, flush=True),
) -> None:
    """Run the simulator until SIGINT/SIGTERM or `duration` wall seconds."""
    runner = PlantRunner(site, speed=speed, seed=seed, cert_dir=Path("var") / "pki")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await runner.start()
    try:
        for line in runner.describe():
            announce(line)
        await runner.run(stop, duration)
    finally:
        await runner.stop()
        announce(
            "heatnet simulator stopped at simulated "
            f"{runner.model.now.astimezone(site.tz).isoformat()}"
        )


def run_simulation(
    site: SiteConfig, *, speed: float | None, seed: int | None, duration: float | None
) -> int:
    """`heatnet simulate`: exit 0 on a clean stop, 2 when the servers cannot start."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for chatty in ("asyncua", "pymodbus"):  # they log every session and listener at INFO
        logging.getLogger(chatty).setLevel(logging.WARNING)
    try:
        asyncio.run(serve(site, speed=speed, seed=seed, duration=duration))
    except (ModbusPortError, OpcUaServerError, OSError) as err:
        print(f"heatnet: cannot start the simulator: {err}", file=sys.stderr)
        return 2
    return 0
