"""A simulated week of a four-substation site in a real SQLite historian, the board served
on a free loopback port, and headless Debian Chromium driven by Selenium."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from werkzeug.serving import BaseWSGIServer, make_server

from dashboard.app import create_app
from heatnet.config import SiteConfig
from heatnet.loader import load_site
from heatnet.samples import SampleBatch
from historian import SqliteHistorian
from simulators.model import SiteModel
from tests.conftest import DEMO, free_ports, relocate, write_site

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
DAYS = 7
STEP_S = 900.0
WRITE_EVERY = 96  # steps per historian write: one day


@dataclass
class Plant:
    """The simulated site, its model (stepped further by live tests) and its historian."""

    site: SiteConfig
    model: SiteModel
    historian: SqliteHistorian
    paths: list[str]

    def advance(self, steps: int) -> None:
        """Step the model and store every step's values."""
        batches = []
        for _ in range(steps):
            self.model.step()
            batches.append(
                SampleBatch.of(self.paths, self.model.now_ms(), self.model.values().copy())
            )
        self.historian.write(SampleBatch.concat(batches))


def site_doc(tmp: Path) -> dict[str, Any]:
    """The demo site cut to four substations, a 10 h source trip on day 3, a low alarm limit."""
    doc = relocate(yaml.safe_load(DEMO.read_text(encoding="utf-8")), DEMO)
    doc["substations"] = doc["substations"][:4]
    doc["steam_customers"] = []
    doc["historian"] = {"backend": "sqlite", "path": str(tmp / "board.sqlite")}
    doc["faults"] = [{"kind": "source_trip", "target": "src", "start": "3d", "duration": "10h"}]
    doc["alarms"].append({"role": "t2_supply", "high": 62, "delay": "30m", "priority": "urgent"})
    return doc


@pytest.fixture(scope="package")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plant]:
    tmp = tmp_path_factory.mktemp("board")
    site = load_site(write_site(tmp, site_doc(tmp)))
    model = SiteModel(site, step_s=STEP_S)
    historian = SqliteHistorian(tmp / "board.sqlite")
    plant = Plant(site, model, historian, [p.path for p in model.points])
    steps = int(DAYS * 86400 / STEP_S)
    for _ in range(steps // WRITE_EVERY):
        plant.advance(WRITE_EVERY)
    historian.flush()
    yield plant
    historian.close()


@pytest.fixture(scope="package")
def board_url(plant: Plant) -> Iterator[str]:
    """The board served by werkzeug in a thread on a free loopback port."""
    app = create_app(plant.site, plant.historian, refresh_s=1.0)
    port = free_ports(1)[0]
    server: BaseWSGIServer = make_server("127.0.0.1", port, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    thread.join(timeout=10)


def _need_chromium() -> None:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if not missing:
        return
    message = (
        f"headless Chromium needed: {', '.join(missing)} missing "
        "(apt-get install chromium chromium-driver)"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="package")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Debian's Chromium through Debian's chromedriver: nothing is downloaded."""
    _need_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tmp_path_factory.mktemp("chromium-profile")
    for flag in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1600,1000",
        "--lang=zh-CN",
    ):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)
