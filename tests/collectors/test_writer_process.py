"""The historian writer process: drains the shared buffer, reports back, outlives nothing."""

from __future__ import annotations

import functools
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from collectors.buffer import DiskBuffer
from collectors.metrics import CollectorMetrics
from collectors.writer_process import WriterProcess
from heatnet.samples import SampleBatch
from historian.sqlite import SqliteHistorian
from tests.conftest import ROOT, wait_for

PATHS = [f"demo/ss01/p{i}" for i in range(20)]


def alive(pid: int) -> bool:
    """A process that exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def opener(path: Path) -> Callable[[], SqliteHistorian]:
    return functools.partial(SqliteHistorian, path, busy_timeout_s=0.05)


def test_the_child_drains_a_locked_historian_once_free_and_reports_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db_path = tmp_path / "historian.sqlite"
    SqliteHistorian(db_path).close()
    buffer = DiskBuffer(tmp_path / "buffer.sqlite", max_bytes=10**9, max_age_s=1e9, clock=time.time)
    metrics = CollectorMetrics()
    caplog.set_level(logging.INFO)  # the child logs at the level the collector had at start
    writer = WriterProcess(buffer, opener(db_path), batch_size=45, metrics=metrics, idle_s=0.05)
    blocker = sqlite3.connect(db_path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # this process holds the database the child writes to
    writer.start()
    try:
        assert writer.pid is not None and writer.pid != os.getpid()
        for k in range(1, 12):
            buffer.append(SampleBatch.of(PATHS, k * 1_000, np.arange(20.0) + k))
            writer.notify()
        wait_for(lambda: writer.failures >= 2, "the child to retry")
        assert buffer.backlog().samples == 220  # kept, and the parent sees the child's view
        blocker.execute("COMMIT")
        wait_for(lambda: buffer.backlog().samples == 0, "the backlog to drain")
    finally:
        blocker.close()
        writer.stop(5.0)
    assert writer.pid is not None and not alive(writer.pid)
    historian = SqliteHistorian(db_path)
    assert historian.count() == 220
    for path in PATHS:
        ts = historian.read_raw(path, 0, 10**9).ts_ms
        assert len(ts) == len(np.unique(ts)) == 11
    historian.close()
    assert metrics.registry.get_sample_value("heatnet_historian_written_total") == 220
    errors = metrics.registry.get_sample_value(
        "heatnet_historian_errors_total", {"reason": "unavailable"}
    )
    assert errors is not None and errors >= 2
    forwarded = [r for r in caplog.records if r.name == "collectors.writer"]
    assert any("historian unavailable" in r.getMessage() for r in forwarded)
    assert any("historian is back" in r.getMessage() for r in forwarded)
    buffer.close()


def test_a_killed_child_is_started_again_and_the_backlog_still_drains(tmp_path: Path) -> None:
    db_path = tmp_path / "historian.sqlite"
    buffer = DiskBuffer(tmp_path / "buffer.sqlite", max_bytes=10**9, max_age_s=1e9, clock=time.time)
    metrics = CollectorMetrics()
    writer = WriterProcess(buffer, opener(db_path), batch_size=1000, metrics=metrics, idle_s=0.05)
    writer.start()
    try:
        buffer.append(SampleBatch.of(PATHS, 1_000, np.arange(20.0)))
        wait_for(lambda: buffer.backlog().samples == 0, "the first batch")
        first = writer.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        buffer.append(SampleBatch.of(PATHS, 2_000, np.arange(20.0)))
        wait_for(lambda: writer.restarts == 1 and writer.pid != first, "a new child")
        writer.notify()
        wait_for(lambda: buffer.backlog().samples == 0, "the second batch")
    finally:
        writer.stop(5.0)
    historian = SqliteHistorian(db_path)
    assert historian.count() == 40
    historian.close()
    buffer.close()


PARENT = textwrap.dedent(
    """
    import functools, sys, time
    from pathlib import Path
    from collectors.buffer import DiskBuffer
    from collectors.metrics import CollectorMetrics
    from collectors.writer_process import WriterProcess
    from historian.sqlite import SqliteHistorian

    if __name__ == "__main__":
        folder = Path(sys.argv[1])
        buffer = DiskBuffer(folder / "buffer.sqlite", max_bytes=10**9, max_age_s=1e9,
                            clock=time.time)
        opener = functools.partial(SqliteHistorian, folder / "historian.sqlite")
        writer = WriterProcess(buffer, opener, batch_size=100, metrics=CollectorMetrics())
        writer.start()
        print(writer.pid, flush=True)
        time.sleep(600)
    """
)


def test_the_child_stops_when_the_collector_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(PARENT, encoding="utf-8")
    parent = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert alive(child)
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    wait_for(lambda: not alive(child), "the orphaned writer to stop", timeout_s=15.0)
