"""Drain the disk buffer into the historian, oldest first, from a worker thread.

SQLite and HTTP writes block, so the writer has its own thread and never stalls the
polling loop. A batch is acked in the buffer only after the historian took it; when the
historian is unavailable the same batch is retried after an exponential, capped backoff.
A crash between the historian write and the ack replays that batch on restart, which
is harmless because historian writes are idempotent on (path, ts_ms).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

from collectors.buffer import DiskBuffer
from heatnet.samples import SampleBatch
from historian.base import HistorianError, HistorianUnavailable

log = logging.getLogger(__name__)

# A historian write takes up to this many samples from the buffer, however small its rows.
# A SQLite write costs about one leaf page per point it touches, whatever the number of
# samples per point, so a writer that falls behind writes more per transaction and catches
# up: 10,000 points with 20 min of history took 38k samples/s in 20k-sample writes and
# 107k in 200k-sample writes (bench/bench_historian_steady.py).
WRITE_MAX_SAMPLES = 600_000


class Sink(Protocol):
    """What the writer needs of a historian."""

    def write(self, batch: SampleBatch) -> None: ...


class WriterMetrics(Protocol):
    """What the writer reports (CollectorMetrics, or a pipe to it from a writer process)."""

    def historian_wrote(self, samples: int) -> None: ...

    def historian_failed(self, reason: str) -> None: ...


class HistorianWriter:
    """Moves batches of at most `batch_size` samples from the buffer to the historian."""

    def __init__(
        self,
        buffer: DiskBuffer,
        historian: Sink,
        *,
        batch_size: int,
        metrics: WriterMetrics,
        idle_s: float = 1.0,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
    ) -> None:
        self.buffer = buffer
        self.historian = historian
        self.batch_size = batch_size
        self.idle_s = idle_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self._metrics = metrics
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._deadline = float("inf")
        self._thread: threading.Thread | None = None
        self._down_since: float | None = None
        self.failures = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="historian-writer", daemon=True)
        self._thread.start()

    def notify(self) -> None:
        """New data is in the buffer: write it now rather than at the next idle tick."""
        self._wake.set()

    def stop(self, flush_timeout_s: float = 10.0) -> None:
        """Write what can be written within the timeout, then end the thread; the rest stays."""
        self._deadline = time.monotonic() + flush_timeout_s
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(flush_timeout_s + 5.0)
            self._thread = None

    def drain(self) -> int:
        """Write until the buffer is empty (or the stop deadline); samples written.

        Raises HistorianError when the historian refuses: the batch stays in the buffer.
        """
        written = 0
        while time.monotonic() < self._deadline:
            oldest = self.buffer.peek(self.batch_size)
            if oldest is None:
                break
            token, batch = oldest
            self.historian.write(batch)
            self.buffer.ack(token)
            written += len(batch)
            self._metrics.historian_wrote(len(batch))
        return written

    def _run(self) -> None:
        delay = self.backoff_initial_s
        while True:
            stopping = self._stop.is_set()
            try:
                self.drain()
            except Exception as err:  # any failure keeps the data and retries
                self._failed(err)
                if stopping:
                    return
                self._stop.wait(delay)
                delay = min(delay * 2, self.backoff_max_s)
                continue
            delay = self.backoff_initial_s
            self._recovered()
            if stopping:
                return
            self._wake.wait(self.idle_s)
            self._wake.clear()

    def _failed(self, err: Exception) -> None:
        reason = "unavailable" if isinstance(err, HistorianUnavailable) else type(err).__name__
        self._metrics.historian_failed(reason)
        self.failures += 1
        if self._down_since is None:
            self._down_since = time.monotonic()
            if isinstance(err, HistorianUnavailable):
                log.warning("historian unavailable, keeping data in the buffer: %s", err)
            else:
                log.error(
                    "historian write failed, keeping data in the buffer: %s",
                    err,
                    exc_info=not isinstance(err, HistorianError),
                )

    def _recovered(self) -> None:
        if self._down_since is not None:
            log.info(
                "historian is back after %.0f s; the buffer backlog is written",
                time.monotonic() - self._down_since,
            )
            self._down_since = None
