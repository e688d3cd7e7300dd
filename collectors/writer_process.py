"""The historian writer in a process of its own, so storing never takes the polling loop's GIL.

In one process the writer thread and the asyncio loop share the GIL: every time the loop
comes back from a socket call while the writer holds it (binding rows, JSON, acking), the
loop waits, up to the 5 ms switch interval, and polls fall behind. Here a child process
drains the same buffer file (`DiskBuffer` is safe across processes) with the same
`HistorianWriter`, and talks to the collector through a pipe:

    collector ─ ("notify",) ("stop", timeout_s) ─▶ writer process
    collector ◀─ ("written", n) ("failed", reason) ("log", level, logger, text) ("stopped",) ─

The child opens the historian itself from a picklable opener (the site's `open_historian`)
and retries opening it like any failed write. When the collector dies (kill -9), the pipe
reaches end of file and the child stops after the batch in hand; whatever it has not
acked stays in the buffer for the next run. When the child dies, the collector logs it
and starts another.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from collectors.buffer import DiskBuffer
from collectors.metrics import CollectorMetrics
from collectors.writer import HistorianWriter, Sink
from heatnet.samples import SampleBatch

log = logging.getLogger(__name__)

RESTART_DELAY_S = 1.0
JOIN_GRACE_S = 10.0  # beyond the flush timeout: the child closes the historian and exits


@dataclass(frozen=True, slots=True)
class WriterSetup:
    """Everything the child needs, pickled once at start."""

    buffer_path: Path
    max_bytes: int
    max_age_s: float
    opener: Callable[[], Sink]
    batch_size: int
    idle_s: float
    log_level: int


class WriterProcess:
    """`HistorianWriter` run in a child process; the same start/notify/stop as the thread."""

    def __init__(
        self,
        buffer: DiskBuffer,
        opener: Callable[[], Sink],
        *,
        batch_size: int,
        metrics: CollectorMetrics,
        idle_s: float = 1.0,
    ) -> None:
        self.setup = WriterSetup(
            buffer.path,
            buffer.max_bytes,
            buffer.max_age_s,
            opener,
            batch_size,
            idle_s,
            logging.getLogger().getEffectiveLevel(),
        )
        self._metrics = metrics
        self._context = multiprocessing.get_context("spawn")
        self._conn: Connection | None = None
        self._process: BaseProcess | None = None
        self._listener: threading.Thread | None = None
        self._send_lock = threading.Lock()
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        self.failures = 0
        self.restarts = 0

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def start(self) -> None:
        self._spawn()
        self._listener = threading.Thread(
            target=self._listen, name="historian-writer-pipe", daemon=True
        )
        self._listener.start()

    def notify(self) -> None:
        """New data is in the buffer: the child writes it now rather than at its idle tick."""
        self._send(("notify",))

    def stop(self, flush_timeout_s: float = 10.0) -> None:
        """Let the child write what it can within the timeout, then wait for it to end."""
        self._stopping.set()
        if self._process is None:
            return
        self._send(("stop", flush_timeout_s))
        self._stopped.wait(flush_timeout_s + JOIN_GRACE_S)
        self._process.join(JOIN_GRACE_S)
        if self._process.is_alive():
            log.error("historian writer process did not stop; killing it")
            self._process.kill()
            self._process.join()
        if self._listener is not None:
            self._listener.join(JOIN_GRACE_S)
        if self._conn is not None:
            self._conn.close()

    def _spawn(self) -> None:
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=writer_main, args=(child, self.setup), name="historian-writer", daemon=True
        )
        process.start()
        child.close()
        self._conn, self._process = parent, process

    def _send(self, message: tuple[Any, ...]) -> None:
        with self._send_lock, contextlib.suppress(OSError, ValueError):
            if self._conn is not None:  # a child that is gone: the listener starts another
                self._conn.send(message)

    def _listen(self) -> None:
        while True:
            assert self._conn is not None
            try:
                message = self._conn.recv()
            except (EOFError, OSError):
                if self._stopping.is_set():
                    break
                assert self._process is not None
                self._process.join(JOIN_GRACE_S)
                log.error(
                    "historian writer process ended (exit code %s); the buffer keeps the "
                    "data; starting it again",
                    self._process.exitcode,
                )
                time.sleep(RESTART_DELAY_S)
                if self._stopping.is_set():
                    break
                self.restarts += 1
                with self._send_lock:
                    self._conn.close()
                    self._spawn()
                continue
            kind = message[0]
            if kind == "written":
                self._metrics.historian_wrote(message[1])
            elif kind == "failed":
                self.failures += 1
                self._metrics.historian_failed(message[1])
            elif kind == "log":
                logging.getLogger(message[2]).log(message[1], "%s", message[3])
            elif kind == "stopped":
                break
        self._stopped.set()


class _PipeMetrics:
    """The writer's two metrics, sent to the collector, which owns the Prometheus registry."""

    def __init__(self, send: Callable[[tuple[Any, ...]], None]) -> None:
        self._send = send

    def historian_wrote(self, samples: int) -> None:
        self._send(("written", samples))

    def historian_failed(self, reason: str) -> None:
        self._send(("failed", reason))


class _PipeLogHandler(logging.Handler):
    """Log records of the child go to the collector's logging, formatted once here."""

    def __init__(self, send: Callable[[tuple[Any, ...]], None]) -> None:
        super().__init__()
        self._send = send

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self._send(("log", record.levelno, record.name, text))


class _OpenOnWrite:
    """The historian, opened at the first write and again after a failed open."""

    def __init__(self, opener: Callable[[], Sink]) -> None:
        self._opener = opener
        self._historian: Sink | None = None

    def write(self, batch: SampleBatch) -> None:
        if self._historian is None:
            self._historian = self._opener()
        self._historian.write(batch)

    def close(self) -> None:
        close = getattr(self._historian, "close", None)
        if close is not None:
            close()


def writer_main(conn: Connection, setup: WriterSetup) -> None:
    """The child: drain the buffer until told to stop or the collector is gone."""
    lock = threading.Lock()

    def send(message: tuple[Any, ...]) -> None:
        with lock, contextlib.suppress(OSError, ValueError):
            conn.send(message)  # a collector that is gone: the loop below sees end of file

    root = logging.getLogger()
    root.handlers[:] = [_PipeLogHandler(send)]
    root.setLevel(setup.log_level)
    buffer = DiskBuffer(
        setup.buffer_path, max_bytes=setup.max_bytes, max_age_s=setup.max_age_s, clock=time.time
    )
    sink = _OpenOnWrite(setup.opener)
    writer = HistorianWriter(
        buffer,
        sink,
        batch_size=setup.batch_size,
        metrics=_PipeMetrics(send),
        idle_s=setup.idle_s,
    )
    writer.start()
    flush_timeout_s = 0.0  # the collector vanished: stop after the batch in hand
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            break
        if message[0] == "notify":
            writer.notify()
        elif message[0] == "stop":
            flush_timeout_s = float(message[1])
            break
    writer.stop(flush_timeout_s)
    sink.close()
    buffer.close()
    send(("stopped",))
    conn.close()
