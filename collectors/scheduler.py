"""The polling loop: one asyncio task per device connection, poll groups on deadlines.

Each poll group has its own interval (the profile's poll_groups, overridden by the
device's poll_intervals) and its own deadline on an injectable Timer. A poll that starts
a whole interval or more after its deadline counts the deadlines it missed and the
schedule skips ahead instead of bursting to catch up. With `stagger` (the service's
choice), device i of n first polls i/n of its shortest interval after the scheduler
started, and keeps that phase: a thousand PLCs polled every second take turns through
the second instead of all waking in the same instant, which made the last of them start
250 ms late (bench/bench_collector_scale.py). A device whose poll fails (raises,
or every sample comes back bad) backs off exponentially with jitter up to its
`backoff_max`; its first failure is logged once and its recovery once, as a Home
Assistant coordinator does. Devices never wait for each other: a slow or dead device
only ever delays its own task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from collectors.base import DeviceCollector, Subscribing
from collectors.metrics import CollectorMetrics
from collectors.timer import Timer
from heatnet.points import Quality, QualityReason
from heatnet.samples import REASON_CODES, SampleBatch

log = logging.getLogger(__name__)

BACKOFF_JITTER = 0.2  # a retry waits between 80 % and 100 % of its backoff step
GUARD_SLACK_S = 5.0  # beyond the collector's own timeouts before a hung poll is abandoned
STOP_RETRY_S = 0.1  # stop() cancels a device task again after this long

SampleSink = Callable[[str, SampleBatch], None]
"""Receives (device_key, batch) for every poll and every subscription delivery."""


@dataclass(frozen=True, slots=True)
class PollGroup:
    name: str
    interval_s: float
    paths: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DevicePlan:
    """What the scheduler runs for one device: its collector and its poll groups."""

    collector: DeviceCollector
    groups: tuple[PollGroup, ...]
    subscribe: bool = False

    @property
    def key(self) -> str:
        return self.collector.device_key


@dataclass(slots=True)
class _Health:
    """A device's run of failures, for backoff and log-once."""

    failures: int = 0
    down_since: float = 0.0
    reasons: Counter[str] = field(default_factory=Counter)


def poll_failure(batch: SampleBatch) -> str | None:
    """Why a poll failed (every sample bad: the worst common reason), or None when it did not."""
    if not len(batch) or not np.all(batch.quality == Quality.BAD):
        return None
    codes, counts = np.unique(batch.reason, return_counts=True)
    return str(REASON_CODES[int(codes[np.argmax(counts)])]) or "bad"


class PollScheduler:
    """Runs every device's task until stop(); delivers samples to `sink`."""

    def __init__(
        self,
        plans: list[DevicePlan],
        sink: SampleSink,
        *,
        timer: Timer,
        metrics: CollectorMetrics,
        rng: random.Random | None = None,
        stagger: bool = False,
    ) -> None:
        self._plans = plans
        self._stagger = stagger
        self._origin = 0.0
        self._sink = sink
        self._timer = timer
        self._metrics = metrics
        self._rng = rng or random.Random()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._origin = self._timer.now()
        self._tasks = [
            asyncio.create_task(self._run_device(plan, i), name=f"poll {plan.key}")
            for i, plan in enumerate(self._plans)
        ]

    async def stop(self) -> None:
        """Cancel every device task and close its connection.

        A task is cancelled again until it ends: on 3.11 `asyncio.wait_for`, which pymodbus
        awaits every reply with, swallows a cancel that arrives with the reply, and the
        device would poll on while stop() waited for it forever.
        """
        pending = set(self._tasks)
        while pending:
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=STOP_RETRY_S)
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for plan in self._plans:
            with contextlib.suppress(Exception):
                await plan.collector.close()
        self._tasks = []

    def backoff_s(self, plan: DevicePlan, failures: int) -> float:
        """The wait after `failures` failures in a row: doubling from the shortest interval."""
        base = min(g.interval_s for g in plan.groups)
        step = min(plan.collector.device.backoff_max, base * 2 ** (failures - 1))
        return step * self._rng.uniform(1 - BACKOFF_JITTER, 1)

    def first_due(self, plan: DevicePlan, index: int, now: float) -> float:
        """When a device's first poll is due: now, or with `stagger` its next turn in the cycle."""
        if not self._stagger:
            return now
        interval = min(g.interval_s for g in plan.groups)
        turn = self._origin + interval * index / len(self._plans)
        return turn + max(0, math.ceil((now - turn) / interval)) * interval

    async def _run_device(self, plan: DevicePlan, index: int) -> None:
        health = _Health()
        collector = plan.collector
        while True:
            try:
                await collector.connect()
                if plan.subscribe and isinstance(collector, Subscribing):
                    await collector.subscribe(lambda batch: self._deliver(plan.key, batch))
                    return
                await self._poll_loop(plan, health, self.first_due(plan, index, self._timer.now()))
            except Exception as err:  # a collector's own bug must not end the service
                self._failed(plan, health, type(err).__name__, err)
                await self._timer.sleep_until(
                    self._timer.now() + self.backoff_s(plan, health.failures)
                )

    async def _poll_loop(self, plan: DevicePlan, health: _Health, start: float) -> None:
        groups = {g.name: g for g in plan.groups}
        due = {name: start for name in groups}
        while True:
            name = min(due, key=due.__getitem__)
            group = groups[name]
            await self._timer.sleep_until(due[name])
            now = self._timer.now()
            missed = math.floor((now - due[name]) / group.interval_s)
            if missed > 0:
                self._metrics.missed_deadlines.labels(plan.key, name).inc(missed)
                due[name] += missed * group.interval_s
            reason = await self._poll(plan, group)
            if reason is None:
                self._recovered(plan, health)
                due[name] += group.interval_s
                continue
            self._failed(plan, health, reason)
            resume = self._timer.now() + self.backoff_s(plan, health.failures)
            due = dict.fromkeys(groups, resume)

    async def _poll(self, plan: DevicePlan, group: PollGroup) -> str | None:
        """Poll one group and deliver its samples; why it failed, or None."""
        device = plan.collector.device
        guard = device.timeout_s * (device.retries + 1) * 4 + GUARD_SLACK_S
        started = self._timer.now()
        try:
            async with asyncio.timeout(guard):  # not wait_for: no task per poll, see stop()
                batch = await plan.collector.poll(group.name)
            reason = poll_failure(batch)
        except Exception as err:
            reason = "timeout" if isinstance(err, TimeoutError) else type(err).__name__
            quality_reason = (
                QualityReason.TIMEOUT if reason == "timeout" else QualityReason.COMMS_LOST
            )
            batch = SampleBatch.of(
                group.paths,
                int(started * 1000),
                np.full(len(group.paths), np.nan),
                Quality.BAD,
                quality_reason,
            )
        self._metrics.poll_latency.labels(plan.key).observe(self._timer.now() - started)
        self._deliver(plan.key, batch)
        if reason is not None:
            self._metrics.poll_errors.labels(plan.key, reason).inc()
        return reason

    def _deliver(self, device_key: str, batch: SampleBatch) -> None:
        if len(batch):
            self._metrics.points.labels(device_key).inc(len(batch))
            self._sink(device_key, batch)

    def _failed(
        self, plan: DevicePlan, health: _Health, reason: str, err: Exception | None = None
    ) -> None:
        health.reasons[reason] += 1
        health.failures += 1
        if health.failures == 1:
            health.down_since = self._timer.now()
            log.warning(
                "device %s is unavailable (%s); retrying with backoff up to %g s",
                plan.key,
                f"{reason}: {err}" if err is not None else reason,
                plan.collector.device.backoff_max,
                exc_info=err if err is not None and not isinstance(err, OSError) else None,
            )

    def _recovered(self, plan: DevicePlan, health: _Health) -> None:
        self._metrics.last_success.labels(plan.key).set(self._timer.now())
        if health.failures:
            log.info(
                "device %s is back after %d failed polls over %.0f s (%s)",
                plan.key,
                health.failures,
                self._timer.now() - health.down_since,
                ", ".join(f"{r} ×{n}" for r, n in health.reasons.most_common()),
            )
            health.failures = 0
            health.reasons.clear()
