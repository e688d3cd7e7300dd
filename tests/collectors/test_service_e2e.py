"""End to end: the simulator's real Modbus and OPC UA servers, the real collectors, SQLite.

One `heatnet simulate` of the demo site at 120x serves every test of this module (its OPC
UA servers take seconds to start). Every device is polled every half second.
"""

from __future__ import annotations

import asyncio
import copy
import gc
import json
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from collectors.buffer import DiskBuffer
from collectors.service import CollectorService
from heatnet import cli
from heatnet.config import SiteConfig
from heatnet.loader import load_site
from heatnet.points import site_points
from historian.sqlite import SqliteHistorian
from tests.conftest import DEMO, ROOT, free_ports, relocate, wait_for, write_site

SPEED = 120.0
WALL_S = 5.0  # ten simulated minutes at SPEED
POLL_S = 0.5

pytestmark = pytest.mark.slow


def collecting_doc(doc: dict[str, Any], folder: Path) -> dict[str, Any]:
    """The site polled every POLL_S into folder's historian and buffer, metrics on a free port."""
    doc = copy.deepcopy(doc)
    doc["historian"] = {"backend": "sqlite", "path": str(folder / "historian.sqlite")}
    doc["collector"] = {
        "buffer_path": str(folder / "buffer.sqlite"),
        "metrics_port": free_ports(1)[0],
        "flush_interval": 0.5,
    }
    for asset in [doc["heat_source"], *doc["substations"], *doc["steam_customers"]]:
        for device in asset["devices"]:
            device["poll_intervals"] = {"default": POLL_S}
    return doc


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A running simulator; yields its site document for collectors to use."""
    folder = tmp_path_factory.mktemp("plant")
    doc = relocate(yaml.safe_load(DEMO.read_text(encoding="utf-8")), DEMO)
    doc["simulation"]["speed"] = SPEED
    proc = subprocess.Popen(
        [sys.executable, "-m", "heatnet.cli", "simulate", "-c", str(write_site(folder, doc))],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=folder,
    )
    assert proc.stdout is not None
    banner = proc.stdout.readline()
    assert banner.startswith("heatnet simulator"), banner
    try:
        yield doc
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        return reply.read().decode()


async def test_ten_simulated_minutes_reach_the_historian_for_every_point(
    tmp_path: Path,
    plant: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = write_site(tmp_path, collecting_doc(plant, tmp_path))
    site = load_site(config)
    historian = SqliteHistorian(tmp_path / "historian.sqlite")
    service = CollectorService(site, historian)
    gc.unfreeze()  # whatever an earlier test froze
    try:
        collecting = asyncio.create_task(service.run(asyncio.Event(), WALL_S))
        await asyncio.sleep(WALL_S / 2)
        metrics = await asyncio.to_thread(scrape, site.collector.metrics_port or 0)
        # start-up's objects are out of the collector's way: no full collection walks them
        assert gc.get_freeze_count() > 0
        await collecting
    finally:
        historian.close()

    for name in (
        "heatnet_poll_latency_seconds_bucket",
        "heatnet_points_total",
        "heatnet_buffer_backlog_samples",
        "heatnet_buffer_backlog_bytes",
        "heatnet_buffer_fill_ratio",
        "heatnet_buffer_dropped_samples_total",
        "heatnet_last_success_timestamp_seconds",
        "heatnet_missed_deadlines_total",
        "heatnet_poll_errors_total",
    ):
        assert f"# TYPE {name.removesuffix('_bucket')}" in metrics or name in metrics, name
    assert 'heatnet_points_total{device="ss06/plc"}' in metrics  # OPC UA
    assert 'heatnet_points_total{device="ss05/dtu"}' in metrics  # RTU over TCP

    # 470 exports: load the site file once rather than 470 times (loading is tested elsewhere)
    monkeypatch.setattr(cli, "_load", lambda path: site)
    missing = []
    for spec in site_points(site):
        capsys.readouterr()
        code = cli.main(["export", "-c", str(config), "--point", spec.path, "--format", "json"])
        rows = json.loads(capsys.readouterr().out)
        if code != 0 or not any(row["quality"] == "good" for row in rows):
            missing.append(spec.path)
    assert not missing, f"no good data for {len(missing)} points: {missing[:8]}"


def stored(site: SiteConfig, folder: Path) -> dict[str, list[int]]:
    """Every point's stored timestamps, read while a collector may be writing."""
    historian = SqliteHistorian(folder / "historian.sqlite")
    try:
        return {
            p.path: historian.read_raw(p.path, 0, 2**53).ts_ms.tolist() for p in site_points(site)
        }
    finally:
        historian.close()


def buffered(folder: Path) -> set[tuple[str, int]]:
    buffer = DiskBuffer(folder / "buffer.sqlite", max_bytes=10**12, max_age_s=1e9, clock=time.time)
    try:
        waiting = buffer.peek(10**9)
        return (
            set()
            if waiting is None
            else set(zip(waiting[1].paths, waiting[1].ts_ms.tolist(), strict=True))
        )
    finally:
        buffer.close()


def collect(config: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "heatnet.cli", "collect", "-c", str(config), *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def test_collect_killed_with_sigkill_and_restarted_loses_and_doubles_nothing(
    tmp_path: Path, plant: dict[str, Any]
) -> None:
    config = write_site(tmp_path, collecting_doc(plant, tmp_path))
    site = load_site(config)
    proc = collect(config)
    try:
        wait_for(
            lambda: (
                (tmp_path / "historian.sqlite").exists()
                and sum(map(len, stored(site, tmp_path).values())) > 2000
            ),
            "the first samples in the historian",
            step_s=0.1,
        )
        time.sleep(0.7)
        # what was acknowledged by now: in the buffer or already in the historian
        acknowledged = buffered(tmp_path)
        acknowledged |= {(p, t) for p, ts in stored(site, tmp_path).items() for t in ts}
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    again = collect(config)
    time.sleep(3.0)
    again.send_signal(signal.SIGTERM)  # a clean stop exits 0
    assert again.wait(timeout=30) == 0, again.stderr.read() if again.stderr else ""

    final = stored(site, tmp_path)
    doubled = {p: len(ts) - len(set(ts)) for p, ts in final.items() if len(ts) != len(set(ts))}
    assert not doubled
    have = {(p, t) for p, ts in final.items() for t in ts}
    lost = acknowledged - have
    assert not lost, f"{len(lost)} acknowledged samples lost, e.g. {sorted(lost)[:5]}"
    assert len(have) > len(acknowledged)  # and the restart collected more


def test_collect_with_a_bad_config_exits_2_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("site: {id: x}\ncollector: {batch_size: 0}\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "heatnet.cli", "collect", "-c", str(bad)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") >= 1 and "Traceback" not in result.stderr
    assert str(bad) in result.stderr.splitlines()[0]
