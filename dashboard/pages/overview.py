"""Overview: the heat source, every substation as a status tile, heat on both sides, totals."""

from __future__ import annotations

import plotly.graph_objects as go
from dash import Dash, Input, Output, html

from dashboard.board import Board, Latest
from dashboard.i18n import tr
from dashboard.status import Status, substation_status
from dashboard.theme import ROLE_COLOURS, STATUS_COLOURS, figure, fmt, unit
from dashboard.widgets import graph
from heatnet.config import Substation
from heatnet.points import Quality

PATH = "/"
LABEL = "overview"
SOURCE_ROLES = ("t_outdoor", "src_t_supply", "src_t_return", "src_flow", "src_power", "src_running")


def layout(board: Board, lang: str) -> html.Div:
    return html.Div(
        [
            html.Div(id="ov-source", className="source"),
            html.Div(id="ov-tiles", className="tiles"),
            graph("ov-heat"),
        ]
    )


def _value(latest: dict[str, Latest], path: str) -> float | None:
    s = latest.get(path)
    return None if s is None or s.quality == Quality.BAD else s.value


def _figure(label: str, value: str, value_id: str) -> html.Div:
    return html.Div(
        [html.Div(label, className="label"), html.Div(value, id=value_id, className="big")]
    )


def _source(board: Board, latest: dict[str, Latest], q1: float, q2: float, lang: str) -> list:
    src = board.site.heat_source.id

    def v(role: str) -> float | None:
        return _value(latest, board.path(src, role))

    outdoor = v("t_outdoor")
    if outdoor is None:
        readings = [_value(latest, board.path(s.id, "t_outdoor")) for s in board.site.substations]
        known = [r for r in readings if r is not None]
        outdoor = sum(known) / len(known) if known else None
    power = v("src_power")
    running = v("src_running")
    loss = (power - q1) / power if power and power > 0 else None
    state = "—" if running is None else tr("running" if running >= 0.5 else "stopped", lang)
    return [
        _figure(tr("outdoor", lang), fmt(outdoor, 1, " °C"), "ov-outdoor"),
        _figure(
            f"{tr('heat_source', lang)} {tr('supply', lang)}/{tr('return', lang)}",
            f"{fmt(v('src_t_supply'))} / {fmt(v('src_t_return'))} °C",
            "ov-src-temps",
        ),
        _figure(tr("flow", lang), fmt(v("src_flow"), 0, f" {unit('src_flow')}"), "ov-src-flow"),
        _figure(tr("source_power", lang), fmt(power, 0, " kW"), "ov-src-power"),
        _figure(tr("source_state", lang), state, "ov-src-running"),
        _figure(f"{tr('totals', lang)} Q1", fmt(q1, 0, " kW"), "ov-total-q1"),
        _figure(f"{tr('totals', lang)} Q2", fmt(q2, 0, " kW"), "ov-total-q2"),
        _figure(
            tr("network_loss", lang), fmt(None if loss is None else 100 * loss, 1, " %"), "ov-loss"
        ),
    ]


def _tile(
    board: Board, sub: Substation, latest: dict[str, Latest], status: Status, lang: str
) -> html.Div:
    def v(role: str) -> float | None:
        return _value(latest, board.path(sub.id, role))

    rows = [
        (
            f"{tr('t2_supply', lang)}/{tr('return', lang)}",
            f"{fmt(v('t2_supply'))} / {fmt(v('t2_return'))} °C",
        ),
        (
            f"{tr('t1_supply', lang)}/{tr('return', lang)}",
            f"{fmt(v('t1_supply'))} / {fmt(v('t1_return'))} °C",
        ),
        ("Q1 / Q2", f"{fmt(v('q1_power'), 0)} / {fmt(v('q2_power'), 0)} kW"),
        (tr("f2_flow", lang), fmt(v("f2_flow"), 1, f" {unit('f2_flow')}")),
        (tr("makeup_flow", lang), fmt(v("makeup_flow"), 2, f" {unit('makeup_flow')}")),
    ]
    badge = html.Span(
        tr(status.level, lang),
        className="badge",
        style={"background": STATUS_COLOURS[status.level]},
        id=f"ov-status-{sub.id}",
    )
    return html.Div(
        [
            html.H4([sub.id, badge]),
            html.Div(sub.name, className="name"),
            *(html.Div([html.Span(k), html.Span(val)], className="row") for k, val in rows),
            html.Div("; ".join(status.reasons[:3]), className="why"),
        ],
        className=f"tile status-{status.level}",
        id=f"ov-tile-{sub.id}",
    )


def _heat_figure(board: Board, latest: dict[str, Latest], lang: str) -> go.Figure:
    ids = [s.id for s in board.site.substations]
    fig = figure(tr("primary_vs_secondary", lang), f"{tr('heat', lang)} (kW)", height=300)
    for role, label in (("q1_power", "q1"), ("q2_power", "q2")):
        fig.add_bar(
            x=ids,
            y=[_value(latest, board.path(sid, role)) for sid in ids],
            name=tr(label, lang),
            marker_color=ROLE_COLOURS[role],
        )
    fig.update_layout(barmode="group", uirevision="overview")
    return fig


def register(app: Dash, board: Board) -> None:
    @app.callback(
        Output("ov-source", "children"),
        Output("ov-tiles", "children"),
        Output("ov-heat", "figure"),
        Input("tick", "n_intervals"),
        Input("lang-switch", "value"),
    )
    def refresh(_: int | None, lang: str) -> tuple[list, list, go.Figure]:
        now = board.now_ms()
        if now is None:
            return [html.Div(tr("no_data", lang))], [], figure("", "")
        latest = board.latest()
        alarms = board.active_alarms()
        subs = board.site.substations
        tiles = [
            _tile(board, s, latest, substation_status(board, s, latest, now, alarms), lang)
            for s in subs
        ]
        q1 = sum(_value(latest, board.path(s.id, "q1_power")) or 0.0 for s in subs)
        q2 = sum(_value(latest, board.path(s.id, "q2_power")) or 0.0 for s in subs)
        return _source(board, latest, q1, q2, lang), tiles, _heat_figure(board, latest, lang)
