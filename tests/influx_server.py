"""A real InfluxDB 1.x server (Debian's `influxdb` package) for tests, on free loopback ports.

Make the fixtures visible in your test folder's conftest.py:

    from tests.influx_server import influx_server, own_influx_server  # noqa: F401

then take the session-wide server, with a database of your own per test:

    def test_x(influx_server: InfluxServer) -> None:
        historian = InfluxHistorian(influx_server.url, database="test_x")

or a private one you may stop and start mid-test (same ports, same data):

    def test_outage(own_influx_server: InfluxServer) -> None:
        own_influx_server.stop(); ...; own_influx_server.start()

Without `influxd` the tests are skipped, or fail when CI=true.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_ports

START_TIMEOUT_S = 30.0
CONFIG = """\
reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"
[meta]
  dir = "{root}/meta"
[data]
  dir = "{root}/data"
  wal-dir = "{root}/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:{http_port}"
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[logging]
  level = "warn"
"""


def influxd_binary() -> str | None:
    return shutil.which("influxd") or (
        "/usr/bin/influxd" if Path("/usr/bin/influxd").exists() else None
    )


class InfluxServer:
    """One influxd process with its own data directory; start() and stop() keep ports and data."""

    def __init__(self, root: Path, binary: str) -> None:
        self.root = root
        self.binary = binary
        self.http_port, rpc_port = free_ports(2)
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.config = root / "influxdb.conf"
        self.config.write_text(
            CONFIG.format(root=root, rpc_port=rpc_port, http_port=self.http_port)
        )
        self.log = root / "influxd.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start influxd and return once /ping answers."""
        if self.running:
            return
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                [self.binary, "-config", str(self.config)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"influxd exited at start:\n{self.log_tail()}")
            if self.ping():
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(
            f"influxd did not answer /ping in {START_TIMEOUT_S} s:\n{self.log_tail()}"
        )

    def stop(self) -> None:
        """Stop influxd (SIGTERM, then SIGKILL after 10 s); its data stays for the next start."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def ping(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=1) as response:
                return response.status == 204
        except (urllib.error.URLError, OSError):
            return False

    def log_tail(self, lines: int = 20) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def _started(root: Path) -> InfluxServer:
    binary = influxd_binary()
    if binary is None:
        message = "influxd not found: install Debian's influxdb package (apt-get install influxdb)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    server = InfluxServer(root, binary)
    server.start()
    return server


@pytest.fixture(scope="session")
def influx_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    """One InfluxDB for the whole session; give each test its own database."""
    server = _started(tmp_path_factory.mktemp("influxdb"))
    yield server
    server.stop()


@pytest.fixture
def own_influx_server(tmp_path: Path) -> Iterator[InfluxServer]:
    """An InfluxDB for one test alone, to stop and start while the test runs."""
    (tmp_path / "influxdb").mkdir()
    server = _started(tmp_path / "influxdb")
    yield server
    server.stop()
