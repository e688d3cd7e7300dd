"""A Modbus TCP server that answers garbage some of the time, for the soak's rogue devices.

tests/fuzz/rogue_modbus.py's RogueDevice with a mode drawn per request: healthy with
probability 1 - `--bad`, else one of its malformed replies (wrong byte counts, a stranger's
transaction or unit id, half frames, resets, silence, random bytes, oversized frames).

    .venv/bin/python -m bench.soak_rogue --port P [--bad 0.2] [--seed 1] [--duration S]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import signal
import struct

from tests.fuzz.rogue_modbus import HEALTHY, MODES, RogueDevice

REGISTERS = 200  # plc-modbus-ss reads up to input register 100 + its rooms


class FlakyRogueDevice(RogueDevice):
    """A RogueDevice on a fixed port whose every reply is healthy or malformed at random."""

    def __init__(self, port: int, bad: float, seed: int) -> None:
        super().__init__([(37 * i) % 900 for i in range(REGISTERS)])
        self.bad = bad
        self.wanted_port = port
        self.replies: dict[str, int] = {}
        self._draw = random.Random(seed)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.wanted_port)

    async def _answer(
        self, writer: asyncio.StreamWriter, tid: int, unit: int, request: bytes
    ) -> bool:
        self.mode = self._draw.choice(MODES) if self._draw.random() < self.bad else HEALTHY
        self.replies[self.mode] = self.replies.get(self.mode, 0) + 1
        function, address, count = struct.unpack(">BHH", request[:5])
        if function not in (3, 4) or address + count > len(self.registers):
            self.mode = "undefined_exception"
        return await super()._answer(writer, tid, unit, request)


async def serve(port: int, bad: float, seed: int, duration: float | None) -> None:
    device = FlakyRogueDevice(port, bad, seed)
    await device.start()
    print(f"rogue modbus 127.0.0.1:{device.port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), duration)
    await device.stop()
    summary = ", ".join(f"{mode} {n}" for mode, n in sorted(device.replies.items()))
    print(f"rogue modbus replies: {device.requests} requests; {summary}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--bad", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--duration", type=float, default=None)
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.bad, args.seed, args.duration))


if __name__ == "__main__":
    main()
