"""The InfluxDB server fixtures, for every historian test."""

from tests.influx_server import influx_server, own_influx_server  # noqa: F401
