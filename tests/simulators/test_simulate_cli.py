"""`heatnet simulate` as an operator runs it: servers up, clock moving, clean stop, clear errors."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from asyncua import Client
from pymodbus.client import AsyncModbusTcpClient

from heatnet.codec import decode_raw
from tests.conftest import ROOT, write_site


def _start(config: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "heatnet.cli", "simulate", "-c", str(config), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def _wait_for_banner(proc: subprocess.Popen[str], lines_wanted: int) -> list[str]:
    assert proc.stdout is not None
    lines: list[str] = []
    while len(lines) < lines_wanted:
        line = proc.stdout.readline()
        assert line, f"simulator ended early: {proc.stderr.read() if proc.stderr else ''}"
        lines.append(line.rstrip("\n"))
    return lines


async def _plc_clock_ms(port: int) -> int:
    client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=3)
    await client.connect()
    try:
        reply = await client.read_input_registers(29, count=4, device_id=1)
        assert not reply.isError(), reply
        return int(decode_raw(reply.registers, "uint64"))
    finally:
        client.close()


async def _opcua_t2_supply(endpoint: str, node_id: str) -> float:
    async with Client(endpoint, timeout=5) as client:
        return float(await client.get_node(node_id).read_value())


def test_simulate_serves_advances_and_stops_cleanly(
    tmp_path: Path, demo_doc: dict[str, Any]
) -> None:
    config = write_site(tmp_path, demo_doc)
    proc = _start(config, "--speed", "3600", "--seed", "3")
    try:
        banner = _wait_for_banner(proc, 1 + 7 + 7)  # title, 7 Modbus ports, 7 OPC UA endpoints
        assert banner[0].startswith("heatnet simulator: site demo, 12 substations, 3600× real time")
        assert sum("modbus/rtu" in line for line in banner) == 1
        ss01_port = demo_doc["substations"][0]["devices"][0]["port"]
        assert any(f"127.0.0.1:{ss01_port}" in line for line in banner)
        first = asyncio.run(_plc_clock_ms(ss01_port))
        deadline = time.monotonic() + 30
        later = first
        while later <= first + 60_000 and time.monotonic() < deadline:
            time.sleep(0.3)
            later = asyncio.run(_plc_clock_ms(ss01_port))
        assert later > first + 60_000, "the PLC clock should run ahead at 3600× real time"
        ss07 = demo_doc["substations"][6]["devices"][0]["endpoint"]
        t2 = asyncio.run(_opcua_t2_supply(ss07, "ns=2;s=demo/ss07/t2_supply"))
        assert 25.0 < t2 < 95.0
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "heatnet simulator stopped at simulated 2026-12-1" in out
    assert "Traceback" not in err


def test_taken_port_is_one_line_and_exit_2(tmp_path: Path, demo_doc: dict[str, Any]) -> None:
    blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    port = demo_doc["substations"][1]["devices"][0]["port"]
    blocker.bind(("127.0.0.1", port))
    blocker.listen()
    try:
        proc = _start(write_site(tmp_path, demo_doc), "--duration", "5")
        out, err = proc.communicate(timeout=60)
    finally:
        blocker.close()
    assert proc.returncode == 2, (out, err)
    reasons = [line for line in err.splitlines() if line.startswith("heatnet:")]
    assert len(reasons) == 1 and f"127.0.0.1:{port}" in reasons[0], err
    assert "Traceback" not in err
