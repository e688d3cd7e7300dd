"""Fixtures of the collector tests: a private InfluxDB server to stop and start."""

from tests.influx_server import own_influx_server  # noqa: F401
