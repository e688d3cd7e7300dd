"""The disk buffer: order, durability across reopen, and its size and age bounds."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from collectors.buffer import WARN_FILL, DiskBuffer
from heatnet.points import Quality, QualityReason
from heatnet.samples import SampleBatch


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def poll(n: int, ts_ms: int, *, tag: float = 0.0) -> SampleBatch:
    return SampleBatch.of([f"demo/ss01/p{i}" for i in range(n)], ts_ms, np.arange(n) + tag)


def open_buffer(path: Path, clock: FakeClock, **bounds: float) -> DiskBuffer:
    return DiskBuffer(
        path,
        max_bytes=int(bounds.get("max_bytes", 10**9)),
        max_age_s=bounds.get("max_age_s", 86400.0),
        clock=clock,
    )


def test_peek_returns_oldest_first_and_ack_forgets(tmp_path: Path) -> None:
    buffer = open_buffer(tmp_path / "b.sqlite", FakeClock())
    for k in range(5):
        buffer.append(poll(10, 1000 * k, tag=k))
    token, first = buffer.peek(25)
    assert len(first) == 20  # whole batches only: a third would pass the limit
    assert first.ts_ms.tolist() == [0] * 10 + [1000] * 10
    buffer.ack(token)
    token, rest = buffer.peek(1000)
    assert rest.ts_ms[0] == 2000 and len(rest) == 30
    assert buffer.backlog().samples == 30
    buffer.ack(token)
    assert buffer.peek(1000) is None
    assert buffer.backlog().samples == 0 and buffer.backlog().bytes == 0


def test_batch_round_trips_quality_reason_and_text(tmp_path: Path) -> None:
    buffer = open_buffer(tmp_path / "b.sqlite", FakeClock())
    batch = SampleBatch.of(
        ["demo/ss01/plc_model", "demo/ss01/t2_supply"],
        [5, 6],
        [np.nan, np.nan],
        [Quality.GOOD, Quality.BAD],
        [0, 2],
        texts={0: "S7-1214C"},
    )
    buffer.append(batch)
    _, back = buffer.peek(10)
    assert list(back.samples()) == list(batch.samples())
    assert back.samples().__next__().value == "S7-1214C"
    assert list(back.samples())[1].reason is QualityReason.TIMEOUT


def test_a_reopened_buffer_has_every_unacked_batch(tmp_path: Path) -> None:
    clock = FakeClock()
    buffer = open_buffer(tmp_path / "b.sqlite", clock)
    for k in range(3):
        buffer.append(poll(4, k))
    token, _ = buffer.peek(4)
    buffer.ack(token)
    buffer.close()
    again = open_buffer(tmp_path / "b.sqlite", clock)
    assert again.backlog().samples == 8
    _, rest = again.peek(100)
    assert rest.ts_ms.tolist() == [1] * 4 + [2] * 4


def test_size_bound_warns_before_it_drops_the_oldest(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    probe = open_buffer(tmp_path / "probe.sqlite", clock)
    probe.append(poll(10, 0))
    row_bytes = probe.backlog().bytes
    buffer = open_buffer(tmp_path / "b.sqlite", clock, max_bytes=10 * row_bytes)
    caplog.set_level(logging.WARNING, "collectors.buffer")
    for k in range(7):
        buffer.append(poll(10, k))
    assert not caplog.records and buffer.backlog().fill < WARN_FILL
    buffer.append(poll(10, 7))  # 80 %: warned, nothing dropped yet
    assert buffer.backlog().fill == pytest.approx(0.8)
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert buffer.backlog().dropped_samples == 0
    buffer.append(poll(10, 8))
    assert len(caplog.records) == 1  # the warning is given once
    buffer.append(poll(10, 9))
    buffer.append(poll(10, 10))  # over: the oldest batch goes
    buffer.append(poll(10, 11))
    assert [r.levelname for r in caplog.records] == ["WARNING", "ERROR"]
    assert buffer.backlog().dropped_samples == 20
    _, kept = buffer.peek(1000)
    assert np.unique(kept.ts_ms).tolist() == list(range(2, 12))


def test_age_bound_drops_batches_older_than_max_age(tmp_path: Path) -> None:
    clock = FakeClock()
    buffer = open_buffer(tmp_path / "b.sqlite", clock, max_age_s=100.0)
    buffer.append(poll(3, 0))
    clock.now += 50
    buffer.append(poll(3, 1))
    clock.now += 35  # the oldest is 85 s old: past 80 %
    assert buffer.backlog().fill == pytest.approx(0.85)
    buffer.append(poll(3, 2))
    assert buffer.backlog().dropped_samples == 0
    clock.now += 20  # 105 s: over the bound
    buffer.append(poll(3, 3))
    assert buffer.backlog().dropped_samples == 3
    _, kept = buffer.peek(100)
    assert np.unique(kept.ts_ms).tolist() == [1, 2, 3]


def test_appended_counts_every_acknowledged_sample_of_this_opening(tmp_path: Path) -> None:
    buffer = open_buffer(tmp_path / "b.sqlite", FakeClock())
    buffer.append(poll(10, 0))
    buffer.append(poll(5, 1000))
    buffer.append(poll(0, 2000))
    token, _ = buffer.peek(1000)
    buffer.ack(token)  # written on: still acknowledged
    assert buffer.backlog().appended_samples == 15
    buffer.close()
    assert open_buffer(tmp_path / "b.sqlite", FakeClock()).backlog().appended_samples == 0


def test_two_openings_of_one_file_share_the_backlog_and_the_size_bound(tmp_path: Path) -> None:
    """As the collector (appends) and its writer process (peeks, acks) use one file."""
    clock = FakeClock()
    collector = open_buffer(tmp_path / "b.sqlite", clock, max_bytes=1000)
    writer = open_buffer(tmp_path / "b.sqlite", clock, max_bytes=1000)
    collector.append(poll(10, 0))
    collector.append(poll(10, 1000))
    assert writer.backlog().samples == collector.backlog().samples == 20
    token, _ = writer.peek(10)
    writer.ack(token)
    assert collector.backlog().samples == 10  # the other opening's ack is seen
    size = collector.backlog().bytes
    for k in range(2, 1 + 1000 // size):  # the bound counts only what is still held
        collector.append(poll(10, k * 1000))
    assert collector.backlog().dropped_samples == 0
    collector.append(poll(10, 99_000))
    assert collector.backlog().dropped_samples == 10
    assert writer.backlog().bytes <= 1000


def test_a_buffer_file_from_before_the_totals_table_is_counted_once(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    buffer = open_buffer(path, FakeClock())
    buffer.append(poll(7, 0))
    buffer.append(poll(5, 1000))
    buffer.close()
    old = sqlite3.connect(path, isolation_level=None)  # back to the earlier layout
    old.executescript("DROP TRIGGER batch_in; DROP TRIGGER batch_out; DROP TABLE totals;")
    old.close()
    reopened = open_buffer(path, FakeClock())
    assert reopened.backlog().samples == 12
    token, _ = reopened.peek(7)
    reopened.ack(token)
    assert open_buffer(path, FakeClock()).backlog().samples == 5
