"""The board's parts without a browser: decimation and gaps, status of a substation, the
analysis cache, the shared live picture, the pinned "now", figures styled once, trends not
re-sent unchanged, and the `heatnet dashboard` command line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dashboard.app import create_app
from dashboard.board import Board, Latest
from dashboard.status import substation_status
from dashboard.theme import STYLED_LAYOUT, figure
from dashboard.trends import MAX_POINTS, decimate, read_trace
from heatnet.cli import build_parser, main
from heatnet.points import Quality
from tests.dashboard.conftest import Plant

T0 = 1_797_000_000_000


def test_decimation_keeps_at_most_max_points_and_the_extremes() -> None:
    t = T0 + np.arange(100_000, dtype=np.int64) * 1000
    values = np.sin(np.arange(t.size) / 5000.0)
    values[54_321] = 9.0  # a spike must survive
    trace = decimate(t, values, np.ones(t.size, dtype=bool))
    assert trace.points <= MAX_POINTS and None not in trace.values
    assert max(v for v in trace.values if v is not None) == 9.0
    assert trace.t_ms == sorted(trace.t_ms)  # type: ignore[type-var]


def test_bad_quality_and_missing_time_break_the_line() -> None:
    t = T0 + np.arange(100, dtype=np.int64) * 60_000
    t[60:] += 3_600_000  # an hour with nothing stored
    usable = np.ones(t.size, dtype=bool)
    usable[20:25] = False  # comms lost: values flagged BAD
    trace = decimate(t, np.arange(100.0), usable)
    breaks = [i for i, v in enumerate(trace.values) if v is None]
    assert len(breaks) == 2 and trace.points == 95
    assert trace.values[breaks[0] - 1] == 19.0 and trace.values[breaks[0] + 1] == 25.0
    assert trace.values[breaks[1] - 1] == 59.0 and trace.values[breaks[1] + 1] == 60.0


def test_long_ranges_read_rollups(plant: Plant) -> None:
    board = Board(plant.site, plant.historian)
    now = board.now_ms()
    assert now is not None
    path = board.path("ss01", "t2_supply")
    start, end = board.period("7d", now)
    week = read_trace(plant.historian, path, start, end)
    minutes = plant.historian.read_buckets(path, start, end, 60)
    assert week.points == len(minutes.start_ms) and None not in week.values
    start, end = board.period("30d", now)
    month = read_trace(plant.historian, path, start, end)
    assert month.points == len(plant.historian.read_buckets(path, start, end, 3600).start_ms)


def test_status_levels(plant: Plant) -> None:
    board = Board(plant.site, plant.historian)
    sub = plant.site.substations[0]
    now = board.now_ms()
    assert now is not None
    path = board.path(sub.id, "t2_supply")
    fine = {path: Latest(55.0, Quality.GOOD, 0, now)}
    assert substation_status(board, sub, fine, now, []).level == "ok"
    hot = {path: Latest(70.0, Quality.GOOD, 0, now)}  # the test site's limit is 62
    assert substation_status(board, sub, hot, now, []).level == "alarm"
    poor = {path: Latest(55.0, Quality.UNCERTAIN, 0, now)}
    assert substation_status(board, sub, poor, now, []).level == "warning"
    old = {path: Latest(55.0, Quality.GOOD, 0, now - 3_600_000)}
    assert substation_status(board, sub, old, now, []).level == "offline"
    assert substation_status(board, sub, {}, now, []).level == "offline"


def test_cache_recomputes_only_when_now_moves_past_the_range_resolution(plant: Plant) -> None:
    board = Board(plant.site, plant.historian, now=T0)
    assert board.now_ms() == T0  # pinned, whatever the historian holds
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    assert board.cached("balance", "season", T0, compute) == 1
    assert board.cached("balance", "season", T0 + 60_000, compute) == 1  # same hour
    assert board.cached("balance", "7d", T0, compute) == 2
    assert board.cached("balance", "season", T0 + 3_600_000, compute) == 3


def test_live_picture_is_read_once_per_live_s_and_dropped_after_a_write(plant: Plant) -> None:
    board = Board(plant.site, plant.historian, live_s=60.0)
    latest, alarms = board.latest(), board.active_alarms()
    assert board.latest() is latest and board.active_alarms() is alarms
    assert board.now_ms() == max(s.ts_ms for s in latest.values())
    board.forget_live()
    assert board.latest() is not latest and board.latest() == latest
    assert Board(plant.site, plant.historian, live_s=0.0).latest() is not latest


def test_figures_take_the_style_validated_once_and_validate_the_rest() -> None:
    before = repr(STYLED_LAYOUT)
    a, b = figure("a", "y (°C)", x_title="t", height=300), figure("b", "y")
    assert a.layout.title.text == "a" and b.layout.title.text == "b"
    assert a.layout.height == 300 and a.layout.xaxis.title.text == "t"
    assert a.layout.template.layout.paper_bgcolor is not None  # plotly_dark is there
    assert repr(STYLED_LAYOUT) == before
    with pytest.raises(ValueError):
        a.update_layout(barmodes="group")


def test_trend_is_not_sent_again_on_a_tick_while_its_traces_are_unchanged(plant: Plant) -> None:
    app = create_app(plant.site, plant.historian)
    key = next(k for k in app.callback_map if "tr-temps.figure" in k)
    outputs = [
        dict(zip(("id", "property"), o.rsplit(".", 1), strict=True))
        for o in key.strip(".").split("...")
    ]
    given = {"tr-substation": "ss01", "tr-range": "7d", "tick": 1, "lang-switch": "en"}

    def post(shown: str | None) -> tuple[int, bytes]:
        spec = app.callback_map[key]
        body = {
            "output": key,
            "outputs": outputs,
            "inputs": [{**i, "value": given[i["id"]]} for i in spec["inputs"]],
            "state": [{**s, "value": shown} for s in spec["state"]],
            "changedPropIds": ["tick.n_intervals"],
        }
        response = app.server.test_client().post("/_dash-update-component", json=body)
        return response.status_code, response.data

    status, data = post(None)
    assert status == 200
    shown = json.loads(data)["response"]["tr-shown"]["data"]
    assert post(shown)[0] == 204  # nothing new to draw
    assert post(shown.replace(":7d:", ":24h:"))[0] == 200


def test_cli_dashboard_binds_loopback_by_default_and_rejects_bad_ports(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = build_parser().parse_args(["dashboard", "-c", "site.yaml"])
    assert (args.host, args.port) == ("127.0.0.1", 8050)
    assert main(["dashboard", "-c", "site.yaml", "--port", "70000"]) == 2
    assert "expected a port" in capsys.readouterr().err
