"""`heatnet demo` as a newcomer runs it: everything comes up, data flows, Ctrl-C stops it all."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from heatnet.loader import load_site
from historian.sqlite import SqliteHistorian
from tests.conftest import free_ports, write_site


def _read_until(proc: subprocess.Popen[str], marker: str, limit: int = 60) -> list[str]:
    assert proc.stdout is not None
    lines: list[str] = []
    while not any(marker in line for line in lines):
        line = proc.stdout.readline()
        assert line, f"demo ended early: {lines} {proc.stderr.read() if proc.stderr else ''}"
        lines.append(line.rstrip("\n"))
        assert len(lines) < limit, lines
    return lines


def test_demo_runs_the_whole_system_and_stops_on_sigint(
    tmp_path: Path, demo_doc: dict[str, Any]
) -> None:
    demo_doc["historian"] = {"backend": "sqlite", "path": str(tmp_path / "demo.sqlite")}
    config = write_site(tmp_path, demo_doc)
    (board_port,) = free_ports(1)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "heatnet.cli",
            "demo",
            "-c",
            str(config),
            "--speed",
            "1200",
            "--port",
            str(board_port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        banner = _read_until(proc, "heatnet board:")
        assert banner[0].startswith("heatnet simulator: site demo, 12 substations")
        assert any(line.startswith("heatnet collector: historian") for line in banner)
        url = f"http://127.0.0.1:{board_port}/"
        assert any(url in line for line in banner)
        with urllib.request.urlopen(url, timeout=10) as reply:
            assert reply.status == 200 and "Demo Heat Co." in reply.read().decode()
        historian = SqliteHistorian(tmp_path / "demo.sqlite")
        try:
            deadline = time.monotonic() + 60
            while historian.count("demo/ss01/t2_supply") < 3 and time.monotonic() < deadline:
                time.sleep(0.5)
            assert historian.count("demo/ss01/t2_supply") >= 3
            assert historian.count("demo/ss07/t2_supply") >= 1  # OPC UA too
        finally:
            historian.close()
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.rstrip().endswith("heatnet demo stopped")
    assert "Traceback" not in err


def test_a_second_run_continues_where_the_stored_data_ends(
    tmp_path: Path, demo_doc: dict[str, Any]
) -> None:
    from heatnet.demo import resume_after
    from heatnet.samples import SampleBatch

    site = load_site(write_site(tmp_path, demo_doc))
    assert resume_after(site, SampleBatch.empty()) is site
    latest = SampleBatch.of(["demo/ss01/t2_supply", "demo/ss02/t2_supply"], [5_000, 9_000], [1, 2])
    resumed = resume_after(site, latest)
    assert resumed.simulation.start is not None
    assert resumed.simulation.start.timestamp() == 10.0
