"""Substation: trends of temperatures, flows, heat, valve and pump over a chosen range.

A tick re-sends the charts only when their cached traces have changed: a season of 13
traces is ~1 MB of JSON and ~0.4 s of server time, and its hourly traces change once an
hour, not every few seconds.
"""

from __future__ import annotations

import plotly.graph_objects as go
from dash import Dash, Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from dashboard.board import RANGES, Board
from dashboard.i18n import tr
from dashboard.theme import ROLE_COLOURS, figure, unit
from dashboard.trends import Trace, read_trace
from dashboard.widgets import graph, range_picker, substation_picker

PATH = "/substation"
LABEL = "substation"
RANGE_CHOICES = ("1h", "6h", "24h", "7d", "30d", "season")
# chart id -> (title key, roles, y-axis unit role)
CHARTS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "tr-temps": (
        "temperature",
        ("t1_supply", "t1_return", "t2_supply", "t2_return", "t2_setpoint", "t_outdoor"),
        "t2_supply",
    ),
    "tr-flows": ("flow", ("f1_flow", "f2_flow", "makeup_flow"), "f2_flow"),
    "tr-heat": ("heat", ("q1_power", "q2_power"), "q2_power"),
    "tr-valve": ("valve_pump", ("v1_valve", "pump_speed"), "v1_valve"),
}


def layout(board: Board, lang: str) -> html.Div:
    return html.Div(
        [
            html.Div(
                [
                    substation_picker("tr-substation", board),
                    range_picker("tr-range", RANGE_CHOICES, "24h", lang),
                    html.Span(id="tr-points", className="note"),
                    dcc.Store(id="tr-shown"),
                ],
                className="controls",
            ),
            html.Div([graph(chart) for chart in CHARTS], className="cols"),
        ]
    )


def _x(board: Board, trace: Trace) -> list:
    """Local times with the breaks (None) kept in place."""
    known = [t for t in trace.t_ms if t is not None]
    local = iter(board.local(known).to_pydatetime())
    return [None if t is None else next(local) for t in trace.t_ms]


def _chart(
    board: Board, chart: str, traces: dict[str, Trace], lang: str, uirevision: str
) -> go.Figure:
    title, roles, unit_role = CHARTS[chart]
    y_title = f"{tr(title, lang)} ({unit(unit_role)})"
    if chart == "tr-valve":
        y_title = f"{tr('valve', lang)} (%)"
    fig = figure(
        tr(title, lang), y_title, x_title=f"{tr('time', lang)} ({board.site.site.timezone})"
    )
    for role in roles:
        trace = traces[role]
        fig.add_scatter(
            x=_x(board, trace),
            y=[None if v is None else round(v, 3) for v in trace.values],
            name=f"{tr(role, lang)} ({unit(role)})",
            mode="lines",
            line={"color": ROLE_COLOURS[role], "width": 1.6},
            connectgaps=False,
            yaxis="y2" if role == "pump_speed" else "y",
        )
    if chart == "tr-valve":
        fig.update_layout(
            yaxis2={
                "title": f"{tr('pump', lang)} (Hz)",
                "overlaying": "y",
                "side": "right",
                "showgrid": False,
            }
        )
    fig.update_layout(uirevision=uirevision)
    return fig


def register(app: Dash, board: Board) -> None:
    @app.callback(
        *[Output(chart, "figure") for chart in CHARTS],
        Output("tr-points", "children"),
        Output("tr-shown", "data"),
        Input("tr-substation", "value"),
        Input("tr-range", "value"),
        Input("tick", "n_intervals"),
        Input("lang-switch", "value"),
        State("tr-shown", "data"),
    )
    def refresh(sid: str, range_key: str, _: int | None, lang: str, shown: str | None) -> list:
        now = board.now_ms()
        if now is None or sid is None:
            return [figure("", "") for _ in CHARTS] + [tr("no_data", lang), None]
        version = f"{sid}:{range_key}:{lang}:{now // RANGES[range_key][1]}"
        if version == shown:
            raise PreventUpdate  # the browser shows these very traces already
        start, end = board.period(range_key, now)
        roles = {role for _, chart_roles, _ in CHARTS.values() for role in chart_roles}

        def read() -> dict[str, Trace]:
            return {r: read_trace(board.historian, board.path(sid, r), start, end) for r in roles}

        traces = board.cached(f"substation:{sid}", range_key, now, read)
        figures = [_chart(board, c, traces, lang, f"{sid}:{range_key}") for c in CHARTS]
        most = max(t.points for t in traces.values())
        return [*figures, f"≤ {most} {tr('points_shown', lang)}/trace", version]
