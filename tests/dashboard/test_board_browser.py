"""The board in real headless Chromium: every page loads cleanly, live values move, an alarm
is acknowledged, the time range changes a trend, the language switch changes labels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from analytics.alarms import AlarmJournal
from tests.dashboard.conftest import Plant

WAIT_S = 20
TRACES = (
    "const g = document.querySelector('#{0} .js-plotly-plot');"
    "return g && g.data ? g.data.length : 0;"
)
# path, name, a JavaScript condition that holds once the page has drawn its data
PAGES = [
    ("/", "overview", "return !!document.querySelector('#ov-tile-ss04 .badge');"),
    ("/balance", "balance", TRACES.format("bal-heat")),
    ("/substation", "substation", TRACES.format("tr-temps")),
    ("/compliance", "compliance", TRACES.format("cmp-heatmap")),
    ("/curve", "curve", TRACES.format("cv-chart")),
    ("/alarms", "alarms", "return !!document.querySelector('#al-journal table');"),
    ("/outages", "outages", "return document.querySelectorAll('.card.notice').length > 0;"),
]


def wait_js(browser: Any, script: str, timeout: float = WAIT_S) -> Any:
    """Wait until a script returns something truthy; that value."""
    return WebDriverWait(browser, timeout).until(lambda d: d.execute_script(script))


def open_page(browser: Any, url: str, path: str, ready: str) -> None:
    browser.get(url + path)
    wait_js(browser, ready)


def severe_errors(browser: Any) -> list[str]:
    return [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def text(browser: Any, css: str) -> str:
    return str(browser.find_element(By.CSS_SELECTOR, css).text)


@pytest.mark.parametrize(("path", "name", "ready"), PAGES, ids=[p[1] for p in PAGES])
def test_page_loads_without_console_errors(
    browser: Any, board_url: str, tmp_path: Path, path: str, name: str, ready: str
) -> None:
    browser.get_log("browser")  # drop what earlier pages logged
    open_page(browser, board_url, path, ready)
    assert "数据时间" in text(browser, "#data-time")  # the site's locale is zh-CN
    browser.save_screenshot(str(tmp_path / f"{name}.png"))
    assert severe_errors(browser) == []


def test_live_value_changes_on_overview(browser: Any, board_url: str, plant: Plant) -> None:
    open_page(browser, board_url, "/", PAGES[0][2])
    stamp = text(browser, "#data-time")
    before = {css: text(browser, css) for css in ("#ov-outdoor", "#ov-total-q2", "#ov-src-power")}
    plant.advance(4)  # one more simulated hour lands in the historian
    WebDriverWait(browser, WAIT_S).until(lambda d: text(d, "#data-time") != stamp)
    WebDriverWait(browser, WAIT_S).until(
        lambda d: any(text(d, css) != old for css, old in before.items())
    )
    assert severe_errors(browser) == []


def test_alarm_is_acknowledged_with_the_operators_name(
    browser: Any, board_url: str, plant: Plant, tmp_path: Path
) -> None:
    open_page(browser, board_url, "/alarms", PAGES[5][2])
    browser.find_element(By.ID, "al-evaluate").click()
    wait_evaluated(browser)
    alarm = text(browser, "#al-active tbody tr:nth-child(2)")  # row 1 is the header
    browser.find_element(By.CSS_SELECTOR, "#al-active input[type=radio]").click()
    browser.find_element(By.ID, "al-operator").send_keys("王工")
    browser.find_element(By.ID, "al-ack").click()
    WebDriverWait(browser, WAIT_S).until(lambda d: "王工" in text(d, "#al-message"))
    WebDriverWait(browser, WAIT_S).until(lambda d: "王工" in text(d, "#al-journal"))
    assert "ack" in text(browser, "#al-journal")
    browser.save_screenshot(str(tmp_path / "alarms-acknowledged.png"))
    acked = [s for s in AlarmJournal(plant.historian).statuses().values() if s.operator == "王工"]
    assert len(acked) == 1 and acked[0].path in alarm
    assert severe_errors(browser) == []


def wait_evaluated(browser: Any) -> None:
    """Until the evaluation has answered and the alarm list it refreshes has settled."""
    WebDriverWait(browser, WAIT_S).until(lambda d: text(d, "#al-message").strip())
    wait_js(browser, "return document.querySelectorAll('#al-active input[type=radio]').length;")
    wait_js(browser, "return !document.querySelector('[data-dash-is-loading=\"true\"]');")


def _trend(browser: Any) -> tuple[int, float]:
    """Points of the first temperature trace and the span of its x axis (ms)."""
    got = browser.execute_script(
        "const g = document.querySelector('#tr-temps .js-plotly-plot');"
        "const r = g._fullLayout.xaxis.range.map(v => new Date(v).getTime());"
        "return [g.data[0].x.filter(v => v !== null).length, r[1] - r[0]];"
    )
    return int(got[0]), float(got[1])


def test_time_range_changes_a_trend(browser: Any, board_url: str) -> None:
    open_page(browser, board_url, "/substation", PAGES[2][2])
    browser.find_element(By.CSS_SELECTOR, "#tr-range input[value='6h']").click()
    WebDriverWait(browser, WAIT_S).until(lambda d: 0 < _trend(d)[0] <= 30)
    points_6h, span_6h = _trend(browser)
    browser.find_element(By.CSS_SELECTOR, "#tr-range input[value='7d']").click()
    WebDriverWait(browser, WAIT_S).until(lambda d: _trend(d)[0] > 5 * points_6h)
    points_7d, span_7d = _trend(browser)
    assert points_7d <= 4000
    assert span_7d > 20 * span_6h
    assert severe_errors(browser) == []


def test_language_switch_changes_labels(browser: Any, board_url: str) -> None:
    open_page(browser, board_url, "/", PAGES[0][2])
    assert "总览" in text(browser, "#nav") and "室外温度" in text(browser, "#ov-source")
    browser.find_element(By.CSS_SELECTOR, "#lang-switch input[value='en']").click()
    WebDriverWait(browser, WAIT_S).until(lambda d: "Overview" in text(d, "#nav"))
    WebDriverWait(browser, WAIT_S).until(lambda d: "Outdoor temperature" in text(d, "#ov-source"))
    assert "Data time" in text(browser, "#data-time")
    browser.find_element(By.CSS_SELECTOR, "#lang-switch input[value='zh']").click()
    WebDriverWait(browser, WAIT_S).until(lambda d: "总览" in text(d, "#nav"))
    assert severe_errors(browser) == []
