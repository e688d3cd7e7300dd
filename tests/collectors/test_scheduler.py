"""The poll scheduler on a manual clock: deadlines, missed ones, isolation, backoff, log-once.

The devices here are ScriptedCollector, not the Modbus or OPC UA collectors: a script
says how long each poll takes (in the manual clock's time) and whether it fails, which
no real server can do deterministically. The real collectors run in test_service_e2e.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable

import numpy as np
import pytest

from collectors.metrics import CollectorMetrics
from collectors.scheduler import DevicePlan, PollGroup, PollScheduler
from collectors.timer import ManualTimer
from heatnet.config import ModbusDevice
from heatnet.points import Quality, QualityReason
from heatnet.samples import SampleBatch


class ScriptedCollector:
    """A DeviceCollector whose polls take `duration(t)` seconds and fail when `down(t)`."""

    def __init__(
        self,
        name: str,
        timer: ManualTimer,
        *,
        duration: Callable[[float], float] = lambda t: 0.0,
        down: Callable[[float], bool] = lambda t: False,
        backoff_max: float = 60.0,
    ) -> None:
        self.device = ModbusDevice(
            id=name, protocol="modbus", host="127.0.0.1", profile="p", backoff_max=backoff_max
        )
        self.device_key = f"ss/{name}"
        self.timer = timer
        self.duration, self.down = duration, down
        self.polls: list[tuple[str, float]] = []

    async def connect(self) -> None:
        return None

    async def poll(self, group: str) -> SampleBatch:
        started = self.timer.now()
        self.polls.append((group, started))
        taken = self.duration(started)
        if taken:
            await self.timer.sleep_until(started + taken)
        failed = self.down(started)
        return SampleBatch.of(
            [f"demo/{self.device.id}/{group}"],
            int(started * 1000),
            [np.nan if failed else 1.0],
            Quality.BAD if failed else Quality.GOOD,
            QualityReason.COMMS_LOST if failed else QualityReason.NONE,
        )

    async def close(self) -> None:
        return None


def plan(collector: ScriptedCollector, **intervals: float) -> DevicePlan:
    groups = tuple(
        PollGroup(g, s, (f"demo/{collector.device.id}/{g}",)) for g, s in intervals.items()
    )
    return DevicePlan(collector, groups)  # type: ignore[arg-type]


@pytest.fixture
def timer() -> ManualTimer:
    return ManualTimer(start=1000.0)


async def run_for(
    timer: ManualTimer, plans: list[DevicePlan], seconds: float, metrics: CollectorMetrics
) -> list[tuple[str, SampleBatch]]:
    delivered: list[tuple[str, SampleBatch]] = []
    scheduler = PollScheduler(
        plans,
        lambda key, batch: delivered.append((key, batch)),
        timer=timer,
        metrics=metrics,
        rng=random.Random(3),
    )
    scheduler.start()
    await timer.advance(seconds, step=0.25)
    await scheduler.stop()
    return delivered


def missed(metrics: CollectorMetrics, device: str, group: str) -> float:
    value = metrics.registry.get_sample_value(
        "heatnet_missed_deadlines_total", {"device": device, "group": group}
    )
    return value or 0.0


async def test_each_group_polls_on_its_own_deadlines(timer: ManualTimer) -> None:
    plc = ScriptedCollector("plc", timer)
    metrics = CollectorMetrics()
    delivered = await run_for(timer, [plan(plc, fast=1.0, slow=5.0)], 10.0, metrics)
    fast = [t - 1000 for g, t in plc.polls if g == "fast"]
    slow = [t - 1000 for g, t in plc.polls if g == "slow"]
    assert fast == [float(k) for k in range(11)]
    assert slow == [0.0, 5.0, 10.0]
    assert len(delivered) == 14
    assert missed(metrics, "ss/plc", "fast") == 0


async def test_a_late_poll_counts_missed_deadlines_and_skips_ahead(timer: ManualTimer) -> None:
    # the poll at t=2 takes 3.5 s: deadlines 3 and 4 are missed, the poll at 5.5 stands in
    # (late) for 5, and the schedule goes on at 6, 7, ... instead of bursting to catch up
    plc = ScriptedCollector("plc", timer, duration=lambda t: 3.5 if t == 1002.0 else 0.0)
    metrics = CollectorMetrics()
    await run_for(timer, [plan(plc, fast=1.0)], 9.0, metrics)
    starts = [t - 1000 for _, t in plc.polls]
    assert starts == [0.0, 1.0, 2.0, 5.5, 6.0, 7.0, 8.0, 9.0]
    assert missed(metrics, "ss/plc", "fast") == 2


async def test_a_slow_device_does_not_delay_another(timer: ManualTimer) -> None:
    slow = ScriptedCollector("slow", timer, duration=lambda t: 4.0)
    quick = ScriptedCollector("quick", timer)
    metrics = CollectorMetrics()
    await run_for(timer, [plan(slow, default=1.0), plan(quick, default=1.0)], 8.0, metrics)
    assert [t - 1000 for _, t in quick.polls] == [float(k) for k in range(9)]
    assert [t - 1000 for _, t in slow.polls] == [0.0, 4.0, 8.0]
    assert missed(metrics, "ss/quick", "default") == 0
    assert missed(metrics, "ss/slow", "default") == 6


async def test_an_unreachable_device_backs_off_exponentially_up_to_its_cap(
    timer: ManualTimer,
) -> None:
    plc = ScriptedCollector("plc", timer, down=lambda t: True, backoff_max=16.0)
    metrics = CollectorMetrics()
    await run_for(timer, [plan(plc, default=1.0)], 80.0, metrics)
    starts = [t for _, t in plc.polls]
    gaps = np.diff(starts)
    steps = [1.0, 2.0, 4.0, 8.0, 16.0, 16.0, 16.0]
    for gap, step in zip(gaps, steps, strict=False):
        assert 0.8 * step <= gap <= step  # jittered down by at most 20 %
    assert len(gaps) >= 6
    errors = metrics.registry.get_sample_value(
        "heatnet_poll_errors_total", {"device": "ss/plc", "reason": "comms_lost"}
    )
    assert errors == len(starts)


async def test_failure_and_recovery_are_each_logged_once(
    timer: ManualTimer, caplog: pytest.LogCaptureFixture
) -> None:
    plc = ScriptedCollector("plc", timer, down=lambda t: 1003 <= t < 1020)
    metrics = CollectorMetrics()
    caplog.set_level(logging.INFO, "collectors.scheduler")
    delivered = await run_for(timer, [plan(plc, default=1.0)], 40.0, metrics)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2, messages
    assert "ss/plc is unavailable (comms_lost)" in messages[0]
    assert "ss/plc is back after" in messages[1] and "comms_lost" in messages[1]
    # the bad samples of the failed polls are delivered too: the gap is on record
    bad = [b for _, b in delivered if b.quality[0] == Quality.BAD]
    assert len(bad) >= 3
    last = metrics.registry.get_sample_value(
        "heatnet_last_success_timestamp_seconds", {"device": "ss/plc"}
    )
    assert last == pytest.approx(1040.0, abs=1.0)


async def test_a_poll_that_raises_becomes_bad_samples_and_backoff(timer: ManualTimer) -> None:
    class Broken(ScriptedCollector):
        async def poll(self, group: str) -> SampleBatch:
            self.polls.append((group, self.timer.now()))
            raise ConnectionResetError("peer reset")

    plc = Broken("plc", timer)
    delivered: list[SampleBatch] = []
    scheduler = PollScheduler(
        [plan(plc, default=1.0)],
        lambda key, batch: delivered.append(batch),
        timer=timer,
        metrics=CollectorMetrics(),
    )
    scheduler.start()
    await timer.advance(5.0, step=0.25)
    await scheduler.stop()
    assert delivered[0].paths == ["demo/plc/default"]
    assert delivered[0].quality[0] == Quality.BAD
    assert len(plc.polls) < 5  # backed off rather than polled every second
    await asyncio.sleep(0)


async def test_stagger_spreads_first_polls_over_the_interval_and_keeps_the_phase(
    timer: ManualTimer,
) -> None:
    plcs = [ScriptedCollector(f"plc{i}", timer) for i in range(4)]
    scheduler = PollScheduler(
        [plan(p, default=1.0) for p in plcs],
        lambda key, batch: None,
        timer=timer,
        metrics=CollectorMetrics(),
        stagger=True,
    )
    scheduler.start()
    await timer.advance(1.9, step=0.05)
    await scheduler.stop()
    for i, plc in enumerate(plcs):
        assert [t - 1000 for _, t in plc.polls] == pytest.approx([i / 4, 1 + i / 4])


class GatedCollector(ScriptedCollector):
    """A poll that waits until the test opens the gate."""

    def __init__(self, name: str, timer: ManualTimer) -> None:
        super().__init__(name, timer)
        self.gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def poll(self, group: str) -> SampleBatch:
        await self.gate
        return await super().poll(group)


async def test_stop_ends_a_device_whose_poll_finishes_as_it_is_cancelled(
    timer: ManualTimer,
) -> None:
    # asyncio.wait_for on 3.11 (pymodbus awaits replies with it) swallows such a cancel
    plc = GatedCollector("plc", timer)
    scheduler = PollScheduler(
        [plan(plc, default=1.0)], lambda key, batch: None, timer=timer, metrics=CollectorMetrics()
    )
    scheduler.start()
    await timer.advance(0.0)
    plc.gate.set_result(None)
    await asyncio.wait_for(scheduler.stop(), timeout=2.0)
