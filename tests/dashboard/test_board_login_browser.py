"""Login, roles and the curve write-back in real headless Chromium.

The board of the shared simulated week asks for a login; ss01's PLC is served by the
simulator's real Modbus server (its own model, in a thread) with writes enabled. An
operator acknowledges an alarm under their own name and sees no Apply button; an
engineer applies the proposal, confirms, and the PLC's curve changes.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait
from werkzeug.serving import BaseWSGIServer, make_server

from analytics.alarms import AlarmJournal
from dashboard.app import create_app
from heatnet.config import SiteConfig
from heatnet.loader import load_site
from heatnet.users import site_users
from simulators.modbus_server import ModbusPlcServers
from simulators.model import SiteModel
from tests.conftest import free_ports, write_site
from tests.dashboard.conftest import Plant, site_doc
from tests.dashboard.test_board_browser import (
    WAIT_S,
    severe_errors,
    text,
    wait_evaluated,
    wait_js,
)

SECRET_ENV = "HEATNET_TEST_BROWSER_SECRET"
OPERATOR, ENGINEER = ("zhang", "operator-pw-1"), ("李工", "engineer-pw-2")
PROPOSAL_READY = "return !!document.querySelector('#cv-proposal table');"


@pytest.fixture(scope="module")
def login_site(tmp_path_factory: pytest.TempPathFactory) -> SiteConfig:
    tmp = tmp_path_factory.mktemp("login-board")
    doc = site_doc(tmp)
    doc["dashboard"] = {"users_file": "users.yaml", "session_secret_env": SECRET_ENV}
    doc["substations"][0]["devices"][0].update(write_enabled=True, timeout_s=1.0)
    site = load_site(write_site(tmp, doc))
    users = site_users(site)
    assert users is not None
    users.add(OPERATOR[0], "operator", OPERATOR[1])
    users.add(ENGINEER[0], "engineer", ENGINEER[1])
    return site


@pytest.fixture(scope="module")
def plc(login_site: SiteConfig) -> Iterator[SiteModel]:
    """The site's Modbus PLCs served from a model of their own, on a loop in a thread."""
    model = SiteModel(login_site, step_s=900.0)
    servers = ModbusPlcServers(model)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(servers.start(), loop).result(timeout=10)
    yield model
    asyncio.run_coroutine_threadsafe(servers.stop(), loop).result(timeout=10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)
    loop.close()


@pytest.fixture(scope="module")
def login_url(plant: Plant, login_site: SiteConfig) -> Iterator[str]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(SECRET_ENV, "browser-session-key-0123456789")
        app = create_app(login_site, plant.historian, refresh_s=1.0)
    port = free_ports(1)[0]
    server: BaseWSGIServer = make_server("127.0.0.1", port, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    thread.join(timeout=10)


def log_in(browser: Any, url: str, path: str, name: str, password: str) -> None:
    browser.delete_all_cookies()
    browser.get(url + path)
    WebDriverWait(browser, WAIT_S).until(lambda d: "/login" in d.current_url)
    browser.find_element(By.ID, "login-name").send_keys(name)
    browser.find_element(By.ID, "login-password").send_keys(password)
    browser.find_element(By.ID, "login-submit").click()
    wait_js(browser, "return !!document.querySelector('#user-name');")
    browser.get_log("browser")  # drop what the login page and earlier tests logged
    assert name in text(browser, "#user-name")


def test_wrong_password_stays_on_the_login_page(browser: Any, login_url: str) -> None:
    browser.delete_all_cookies()
    browser.get(login_url + "/login")
    browser.find_element(By.ID, "login-name").send_keys(OPERATOR[0])
    browser.find_element(By.ID, "login-password").send_keys("not-the-password")
    browser.find_element(By.ID, "login-submit").click()
    WebDriverWait(browser, WAIT_S).until(lambda d: d.find_elements(By.ID, "login-error"))
    browser.get(login_url + "/")
    WebDriverWait(browser, WAIT_S).until(lambda d: "/login" in d.current_url)


def test_operator_acknowledges_under_their_login_and_cannot_apply(
    browser: Any, login_url: str, plant: Plant, tmp_path: Path
) -> None:
    log_in(browser, login_url, "/alarms", *OPERATOR)
    assert not browser.find_elements(By.CSS_SELECTOR, "input#al-operator[type=text]")
    wait_js(browser, "return !!document.querySelector('#al-journal table');")
    browser.find_element(By.ID, "al-evaluate").click()
    wait_evaluated(browser)
    rows = browser.find_elements(By.CSS_SELECTOR, "#al-active tbody tr")
    unacked = next(r for r in rows if "_unacked" in r.text)  # earlier tests acked some
    unacked.find_element(By.CSS_SELECTOR, "input[type=radio]").click()
    browser.find_element(By.ID, "al-ack").click()
    WebDriverWait(browser, WAIT_S).until(lambda d: OPERATOR[0] in text(d, "#al-message"))
    acked = [s for s in AlarmJournal(plant.historian).statuses().values() if s.operator == "zhang"]
    assert len(acked) == 1
    browser.find_element(By.ID, "nav-curve").click()
    wait_js(browser, PROPOSAL_READY)
    assert browser.find_elements(By.ID, "cv-apply") == []
    browser.save_screenshot(str(tmp_path / "operator-curve.png"))
    assert severe_errors(browser) == []


def test_engineer_applies_the_proposal_to_the_plc(
    browser: Any, login_url: str, plc: SiteModel, login_site: SiteConfig, tmp_path: Path
) -> None:
    log_in(browser, login_url, "/curve", *ENGINEER)
    wait_js(browser, PROPOSAL_READY)
    slope_path = f"{login_site.site.id}/ss01/curve_slope"
    before = plc.read(slope_path)
    browser.find_element(By.ID, "cv-apply").click()
    WebDriverWait(browser, WAIT_S).until(expected_conditions.alert_is_present())
    alert = browser.switch_to.alert
    assert "ss01" in alert.text and "curve_slope" in alert.text
    alert.accept()
    WebDriverWait(browser, WAIT_S).until(lambda d: "ss01/plc: ok" in text(d, "#cv-apply-result"))
    browser.save_screenshot(str(tmp_path / "engineer-applied.png"))
    assert plc.read(slope_path) != pytest.approx(before)
    shown = [r.text for r in browser.find_elements(By.CSS_SELECTOR, "#cv-apply-result tr")]
    slope_row = next(row for row in shown if row.startswith("curve_slope"))
    assert f"{plc.read(slope_path):.2f}" in slope_row
    assert severe_errors(browser) == []
