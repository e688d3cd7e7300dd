"""`heatnet collect` as an object: poll every device of a site into the historian, losing nothing.

    devices ─▶ PollScheduler ─▶ StaleWatch, DeadbandFilter ─▶ DiskBuffer ─▶ HistorianWriter
               (asyncio)         (in memory, per flush)        (fsynced)      (process) ─▶ historian

The writer runs in a process of its own (`WriterProcess`), which opens the site's
historian itself; given a historian object instead, the service writes to it from a
thread (tests and embedding).

Samples are acknowledged once `DiskBuffer.append` returns; from then on a crash, a
historian outage or a restart cannot lose them (up to the buffer's bounds). A clean stop
polls no more, appends what is in memory, writes what the historian takes within
`FLUSH_TIMEOUT_S` and leaves the rest in the buffer for the next run.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pymodbus.exceptions import ModbusException

from collectors.buffer import DiskBuffer
from collectors.deadband import DeadbandFilter
from collectors.metrics import CollectorMetrics
from collectors.registry import collector_for
from collectors.scheduler import DevicePlan, PollGroup, PollScheduler
from collectors.stale import StaleWatch
from collectors.timer import Timer, WallTimer
from collectors.writer import WRITE_MAX_SAMPLES, HistorianWriter
from collectors.writer_process import WriterProcess
from heatnet.config import SiteConfig
from heatnet.points import PointSpec, site_points
from heatnet.samples import SampleBatch
from historian import open_historian
from historian.base import Historian

log = logging.getLogger(__name__)

FLUSH_TIMEOUT_S = 10.0


def poll_intervals(site: SiteConfig, spec: PointSpec) -> dict[str, float]:
    """A device's poll groups: the profile's intervals with the device's overrides."""
    return {**site.profiles[spec.device.profile].poll_groups, **spec.device.poll_intervals}


def device_plans(
    site: SiteConfig, points: list[PointSpec], timer: Timer, base_dir: Path
) -> list[DevicePlan]:
    """One collector per device of the site, with the poll groups its points use."""
    by_device: dict[str, list[PointSpec]] = {}
    for spec in points:
        by_device.setdefault(spec.device_key, []).append(spec)
    plans = []
    for specs in by_device.values():
        device = specs[0].device
        factory = collector_for(device.protocol)
        if device.protocol == "opcua":
            collector = factory(device, specs, timer.now, base_dir=base_dir)  # type: ignore[call-arg]
        else:
            collector = factory(device, specs, timer.now)
        intervals = poll_intervals(site, specs[0])
        paths: dict[str, list[str]] = {}
        for spec in specs:
            paths.setdefault(spec.point.group, []).append(spec.path)
        groups = tuple(PollGroup(g, intervals[g], tuple(p)) for g, p in paths.items())
        subscribe = getattr(device, "mode", "poll") == "subscribe"
        plans.append(DevicePlan(collector, groups, subscribe))
    return plans


class CollectorService:
    """Scheduler, stale watch, deadband, disk buffer, historian writer and metrics of a site."""

    def __init__(
        self,
        site: SiteConfig,
        historian: Historian | None = None,
        *,
        clock: Timer | None = None,
        buffer_path: Path | None = None,
    ) -> None:
        settings = site.collector
        self.site = site
        self.timer = clock or WallTimer()
        self.metrics = CollectorMetrics()
        self.points = site_points(site)
        self.buffer = DiskBuffer(
            buffer_path or site.resolve(settings.buffer_path),
            max_bytes=int(settings.buffer_max_mb * 1e6),
            max_age_s=settings.buffer_max_age,
            clock=self.timer.now,
        )
        self.metrics.watch_buffer(self.buffer)
        self.writer: HistorianWriter | WriterProcess
        write_max = max(settings.batch_size, WRITE_MAX_SAMPLES)  # several buffer rows a write
        if historian is None:
            self.writer = WriterProcess(
                self.buffer,
                functools.partial(open_historian, site),
                batch_size=write_max,
                metrics=self.metrics,
            )
        else:
            self.writer = HistorianWriter(
                self.buffer, historian, batch_size=write_max, metrics=self.metrics
            )
        base_dir = site.source.parent if site.source else Path.cwd()
        self.plans = device_plans(site, self.points, self.timer, base_dir)
        self.scheduler = PollScheduler(
            self.plans, self._on_samples, timer=self.timer, metrics=self.metrics, stagger=True
        )
        self.deadband = DeadbandFilter(self.points)
        subscribing = {p.key for p in self.plans if p.subscribe}
        limits = [
            math.inf
            if spec.device_key in subscribing
            else settings.stale_after * poll_intervals(site, spec)[spec.point.group]
            for spec in self.points
        ]
        self.stale = StaleWatch(self.points, limits, self.timer.now())
        self.metrics_port: int | None = None
        self._pending: list[SampleBatch] = []
        self._pending_samples = 0
        self._full = asyncio.Event()

    async def run(self, stop: asyncio.Event, duration: float | None = None) -> None:
        """Collect until `stop` is set or `duration` seconds pass on the service's clock."""
        settings = self.site.collector
        self.metrics_port = self.metrics.serve(settings.metrics_host, settings.metrics_port)
        self.writer.start()
        self.scheduler.start()
        # What start-up built (site, point specs, a client per device) lives as long as the
        # service; frozen, a full collection no longer walks it, which with 1,000 devices
        # paused the loop long enough to make polls late.
        gc.freeze()
        end = math.inf if duration is None else self.timer.now() + duration
        loop = asyncio.get_running_loop()
        previous_handler = loop.get_exception_handler()
        loop.set_exception_handler(_malformed_reply_handler)
        try:
            while not stop.is_set() and self.timer.now() < end:
                await self._wait(min(self.timer.now() + settings.flush_interval, end), stop)
                await self.flush()
        finally:
            await self.scheduler.stop()
            await self.flush()
            await asyncio.to_thread(self.writer.stop, FLUSH_TIMEOUT_S)
            backlog = self.buffer.backlog()
            if backlog.samples:
                log.info("%d samples stay in the buffer for the next run", backlog.samples)
            self.buffer.close()
            self.metrics.close()
            loop.set_exception_handler(previous_handler)

    async def flush(self) -> None:
        """Record stale points and append everything polled so far to the disk buffer."""
        self._on_stale(self.stale.check(self.timer.now()))
        pending, self._pending, self._pending_samples = self._pending, [], 0
        self._full.clear()
        batch = SampleBatch.concat(pending)
        for chunk in _chunks(batch, self.site.collector.batch_size):
            await asyncio.to_thread(self.buffer.append, chunk)
        if len(batch):
            self.writer.notify()

    def _on_samples(self, device_key: str, batch: SampleBatch) -> None:
        self.stale.observe(batch, self.timer.now())
        self._keep(batch)

    def _on_stale(self, batch: SampleBatch) -> None:
        if len(batch):
            self.metrics.stale_samples.inc(len(batch))
            log.debug("stale: %s", ", ".join(batch.paths))
            self._keep(batch)

    def _keep(self, batch: SampleBatch) -> None:
        kept = self.deadband.filter(batch)
        if len(kept):
            self._pending.append(kept)
            self._pending_samples += len(kept)
            if self._pending_samples >= self.site.collector.batch_size:
                self._full.set()

    async def _wait(self, deadline: float, stop: asyncio.Event) -> None:
        """Until the deadline, a stop, or a full batch, whichever comes first."""
        waiters = [
            asyncio.ensure_future(self.timer.sleep_until(deadline)),
            asyncio.ensure_future(stop.wait()),
            asyncio.ensure_future(self._full.wait()),
        ]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await waiter


def _malformed_reply_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """One warning line, not an ERROR traceback, when pymodbus cannot frame a device's reply.

    pymodbus raises from its protocol's data_received on a reply it cannot frame; asyncio
    then closes the connection and logs "Fatal error" with a traceback. The collector
    marks the device's points comms_lost and reconnects: the device misbehaved, we did not.
    """
    err = context.get("exception")
    if isinstance(err, ModbusException) and "data_received" in context.get("message", ""):
        log.warning("a Modbus device sent a reply that cannot be framed; reconnecting: %s", err)
        return
    loop.default_exception_handler(context)


def _chunks(batch: SampleBatch, size: int) -> Iterator[SampleBatch]:
    """The batch in pieces of at most `size` samples, so a buffer row is one historian write."""
    if len(batch) <= size:
        yield batch
        return
    for start in range(0, len(batch), size):  # slices, not take(): no copies on the loop
        stop = min(start + size, len(batch))
        yield SampleBatch(
            batch.paths[start:stop],
            batch.ts_ms[start:stop],
            batch.values[start:stop],
            batch.quality[start:stop],
            batch.reason[start:stop],
            {i - start: text for i, text in batch.texts.items() if start <= i < stop},
        )
