"""Prometheus metrics of the collection service, on their own registry and loopback port.

Served on `collector.metrics_host:metrics_port` (port 0 or unset: off). Names:

    heatnet_poll_latency_seconds{device}          histogram of poll durations
    heatnet_poll_errors_total{device,reason}      failed polls by reason
    heatnet_points_total{device}                  samples polled (rate() = points per second)
    heatnet_missed_deadlines_total{device,group}  poll deadlines skipped because a poll ran late
    heatnet_last_success_timestamp_seconds{device}
    heatnet_stale_samples_total                   'stale' samples recorded
    heatnet_buffer_backlog_samples, heatnet_buffer_backlog_bytes, heatnet_buffer_oldest_age_seconds
    heatnet_buffer_fill_ratio                     of the size or age bound; warns at 0.8, drops at 1
    heatnet_buffer_dropped_samples_total          samples lost to the bounds
    heatnet_buffer_appended_samples_total         samples acknowledged (appended, fsynced)
    heatnet_historian_written_total, heatnet_historian_errors_total{reason}
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from collectors.buffer import DiskBuffer

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class _BufferGauges(Collector):
    """Reads the buffer's backlog at scrape time, so the numbers are never out of date."""

    def __init__(self, buffer: DiskBuffer) -> None:
        self._buffer = buffer

    def collect(self) -> Iterator[Metric]:
        backlog = self._buffer.backlog()
        for name, text, value in (
            ("heatnet_buffer_backlog_samples", "samples waiting to be written", backlog.samples),
            ("heatnet_buffer_backlog_bytes", "payload bytes waiting", backlog.bytes),
            ("heatnet_buffer_oldest_age_seconds", "age of the oldest batch", backlog.oldest_age_s),
            ("heatnet_buffer_fill_ratio", "fill of the size or age bound", backlog.fill),
        ):
            yield GaugeMetricFamily(name, text, value=value)
        yield CounterMetricFamily(
            "heatnet_buffer_dropped_samples",
            "samples dropped by the buffer bounds",
            value=backlog.dropped_samples,
        )
        yield CounterMetricFamily(
            "heatnet_buffer_appended_samples",
            "samples acknowledged: appended to the buffer and fsynced",
            value=backlog.appended_samples,
        )


class CollectorMetrics:
    """Every metric of one collection service."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.poll_latency = Histogram(
            "heatnet_poll_latency_seconds",
            "poll duration",
            ["device"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.poll_errors = Counter(
            "heatnet_poll_errors", "failed polls", ["device", "reason"], registry=r
        )
        self.points = Counter("heatnet_points", "samples polled", ["device"], registry=r)
        self.missed_deadlines = Counter(
            "heatnet_missed_deadlines", "poll deadlines skipped", ["device", "group"], registry=r
        )
        self.last_success = Gauge(
            "heatnet_last_success_timestamp_seconds",
            "when a poll last succeeded",
            ["device"],
            registry=r,
        )
        self.stale_samples = Counter("heatnet_stale_samples", "stale samples recorded", registry=r)
        self.historian_written = Counter(
            "heatnet_historian_written", "samples written to the historian", registry=r
        )
        self.historian_errors = Counter(
            "heatnet_historian_errors", "failed historian writes", ["reason"], registry=r
        )
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def historian_wrote(self, samples: int) -> None:
        self.historian_written.inc(samples)

    def historian_failed(self, reason: str) -> None:
        self.historian_errors.labels(reason).inc()

    def watch_buffer(self, buffer: DiskBuffer) -> None:
        self.registry.register(_BufferGauges(buffer))

    def serve(self, host: str, port: int | None) -> int | None:
        """Start the /metrics endpoint in a daemon thread; the port, or None when off."""
        if not port:
            return None
        try:
            self._server, self._thread = start_http_server(port, addr=host, registry=self.registry)
        except OSError as err:
            raise OSError(f"cannot serve metrics on {host}:{port}: {err.strerror or err}") from err
        return self._server.server_port

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
