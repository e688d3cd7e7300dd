"""The soak (bench/soak.py) at small scale: faults, a lock window and a SIGKILL lose nothing.

Fourteen substations of the demo (Modbus TCP, RTU over TCP and two OPC UA servers), a
rogue Modbus server, one flapping device, slow and exception replies, a frozen sensor,
the SQLite historian locked by another connection for a while and the collector killed
with SIGKILL just after the lock ends, while the backlog is still on disk.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from pymodbus.exceptions import ModbusIOException

from bench.soak import SoakParams, SoakResult, report, run_soak
from collectors.service import _malformed_reply_handler

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def soak(tmp_path_factory: pytest.TempPathFactory) -> SoakResult:
    params = SoakParams(
        tmp_path_factory.mktemp("soak"),
        substations=14,
        simulated_s=6 * 3600.0,
        wall_s=40.0,
        flapping=0.07,
        rogue=1,
        kills=1,
        min_outage_wall_s=8.0,
        restart_after_s=2.0,
    )
    result = run_soak(params, say=lambda line: None)
    print(report(result, "tests/test_soak.py"))
    return result


def test_every_acknowledged_sample_is_stored_once(soak: SoakResult) -> None:
    assert soak.acknowledged_checked > 0
    assert soak.lost == 0, f"{soak.lost} acknowledged samples lost"
    assert soak.duplicates == 0
    assert soak.buffer_dropped == 0


def test_no_process_crashed(soak: SoakResult) -> None:
    assert soak.exit_codes[0] == -9  # the SIGKILL
    assert soak.exit_codes[-1] == 0, "the last collector did not stop cleanly"
    assert sum(soak.tracebacks.values()) == 0, soak.tracebacks
    assert soak.crashes == 0


def test_the_historian_outage_was_buffered_and_written_after(soak: SoakResult) -> None:
    assert soak.historian_errors > 0  # the lock was felt
    assert soak.buffer_peak_samples > 0
    assert soak.stored >= soak.acknowledged_checked


def test_healthy_devices_have_their_samples_and_faults_are_marked(soak: SoakResult) -> None:
    assert soak.healthy_devices
    assert not soak.healthy_points_without_good
    assert soak.gap_windows_marked == soak.gap_windows
    assert soak.bad_by_reason  # the faulty devices' failures are stored with their reason


def test_a_reply_pymodbus_cannot_frame_is_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    loop = asyncio.new_event_loop()
    try:
        with caplog.at_level(logging.WARNING):
            _malformed_reply_handler(
                loop,
                {
                    "message": "Fatal error: protocol.data_received() call failed.",
                    "exception": ModbusIOException("Unable to decode request"),
                },
            )
    finally:
        loop.close()
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert caplog.records[0].exc_info is None


def test_the_soak_site_keeps_the_demo_mix(tmp_path: Path) -> None:
    from bench.soak_site import soak_plant

    plant = soak_plant(
        100, tmp_path, wall_s=900, speed=672, flapping=0.1, rogue=3, metrics_port=0, seed=1
    )
    kinds = [
        d["devices"][0].get("framer") or d["devices"][0]["protocol"]
        for d in plant.sim_doc["substations"]
    ]
    assert kinds.count("opcua") == 20 and kinds.count("rtu") == 10
    assert len(plant.rogue_devices) == 3
    flapping = {w.target for w in plant.windows if w.kind == "device_offline"}
    assert len(flapping) == round(0.1 * len(plant.devices()))
