"""The historian writer: an outage grows the backlog, then it drains, nothing lost or doubled."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import numpy as np

from collectors.buffer import DiskBuffer
from collectors.metrics import CollectorMetrics
from collectors.writer import HistorianWriter
from heatnet.samples import SampleBatch
from historian.influx import InfluxHistorian
from historian.sqlite import SqliteHistorian
from tests.conftest import wait_for
from tests.influx_server import InfluxServer

PATHS = [f"demo/ss01/p{i}" for i in range(20)]


def test_a_locked_sqlite_historian_is_waited_out_and_the_backlog_drains(tmp_path: Path) -> None:
    db_path = tmp_path / "historian.sqlite"
    historian = SqliteHistorian(db_path, busy_timeout_s=0.05)
    buffer = DiskBuffer(tmp_path / "buffer.sqlite", max_bytes=10**9, max_age_s=1e9, clock=time.time)
    metrics = CollectorMetrics()
    writer = HistorianWriter(
        buffer,
        historian,
        batch_size=45,
        metrics=metrics,
        idle_s=0.05,
        backoff_initial_s=0.02,
        backoff_max_s=0.1,
    )
    writer.start()
    polled = 0
    try:
        buffer.append(SampleBatch.of(PATHS, 1_000, np.arange(20.0)))
        polled += 20
        wait_for(lambda: buffer.backlog().samples == 0, "the first batch")

        blocker = sqlite3.connect(db_path, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")  # another process holds the database
        for k in range(2, 12):
            buffer.append(SampleBatch.of(PATHS, k * 1_000, np.arange(20.0) + k))
            polled += 20
            writer.notify()
        wait_for(lambda: writer.failures >= 3, "the writer to retry")
        assert buffer.backlog().samples == 200  # kept, not lost
        blocker.execute("COMMIT")
        blocker.close()

        wait_for(lambda: buffer.backlog().samples == 0, "the backlog to drain")
    finally:
        writer.stop()
    assert historian.count() == polled == 220
    for path in PATHS:
        ts = historian.read_raw(path, 0, 10**9).ts_ms
        assert len(ts) == len(np.unique(ts)) == 11
    errors = metrics.registry.get_sample_value(
        "heatnet_historian_errors_total", {"reason": "unavailable"}
    )
    assert errors is not None and errors >= 3
    assert metrics.registry.get_sample_value("heatnet_historian_written_total") == 220
    historian.close()


def test_a_replay_after_a_crash_between_write_and_ack_is_not_doubled(tmp_path: Path) -> None:
    historian = SqliteHistorian(tmp_path / "historian.sqlite")
    buffer = DiskBuffer(tmp_path / "buffer.sqlite", max_bytes=10**9, max_age_s=1e9, clock=time.time)
    buffer.append(SampleBatch.of(PATHS, 5_000, np.arange(20.0)))
    _, batch = buffer.peek(100) or (0, SampleBatch.empty())
    historian.write(batch)  # ...and the process dies before ack
    writer = HistorianWriter(buffer, historian, batch_size=100, metrics=CollectorMetrics())
    assert writer.drain() == 20
    assert historian.count() == 20
    historian.close()


def test_an_influxdb_outage_is_waited_out_and_the_backlog_drains(
    tmp_path: Path, own_influx_server: InfluxServer
) -> None:
    historian = InfluxHistorian(own_influx_server.url, database="writer_outage", timeout_s=2.0)
    buffer = DiskBuffer(tmp_path / "buffer.sqlite", max_bytes=10**9, max_age_s=1e9, clock=time.time)
    writer = HistorianWriter(
        buffer,
        historian,
        batch_size=50,
        metrics=CollectorMetrics(),
        idle_s=0.05,
        backoff_initial_s=0.05,
        backoff_max_s=0.5,
    )
    writer.start()
    try:
        buffer.append(SampleBatch.of(PATHS, 1_000, np.arange(20.0)))
        wait_for(lambda: buffer.backlog().samples == 0, "the first batch")
        own_influx_server.stop()
        for k in range(2, 8):
            buffer.append(SampleBatch.of(PATHS, k * 1_000, np.arange(20.0) + k))
            writer.notify()
        wait_for(lambda: writer.failures >= 2, "the writer to retry")
        assert buffer.backlog().samples == 120
        own_influx_server.start()
        wait_for(lambda: buffer.backlog().samples == 0, "the backlog to drain", timeout_s=60)
    finally:
        writer.stop()
    assert historian.count() == 140
    for path in PATHS:
        ts = historian.read_raw(path, 0, 10**9).ts_ms
        assert len(ts) == len(np.unique(ts)) == 7
    historian.close()


class CountingHistorian(SqliteHistorian):
    """A real SQLite historian that remembers the size of every write it was given."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.writes: list[int] = []

    def write(self, batch: SampleBatch) -> None:
        self.writes.append(len(batch))
        super().write(batch)


def test_a_backlog_of_many_buffer_rows_goes_in_one_historian_write(tmp_path: Path) -> None:
    historian = CountingHistorian(tmp_path / "historian.sqlite")
    buffer = DiskBuffer(tmp_path / "buffer.sqlite", max_bytes=10**9, max_age_s=1e9, clock=time.time)
    for k in range(5):  # five flushes' rows while the writer was behind
        buffer.append(SampleBatch.of(PATHS, (k + 1) * 1_000, np.arange(20.0)))
    writer = HistorianWriter(buffer, historian, batch_size=1_000, metrics=CollectorMetrics())
    assert writer.drain() == 100
    assert historian.writes == [100]
    historian.close()
