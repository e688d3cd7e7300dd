"""Compliance: rooms × days against each room's own floor (18 °C, kitchens 15 °C), the
worst rooms and each building, from hourly rollups of every room sensor."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from dash import Dash, Input, Output, html
from numpy.typing import NDArray

from analytics.compliance import ComplianceReport, RoomIndex, compliance
from analytics.fetch import daily_means
from dashboard.board import Board
from dashboard.i18n import tr
from dashboard.theme import figure, fmt, note, table
from dashboard.widgets import graph, range_picker

PATH = "/compliance"
LABEL = "compliance"
RANGE_CHOICES = ("7d", "30d", "season")


@dataclass(frozen=True, slots=True)
class ComplianceView:
    days: NDArray[np.datetime64]
    daily: NDArray[np.float64]  # rooms × days
    rooms: RoomIndex
    report: ComplianceReport


def layout(board: Board, lang: str) -> html.Div:
    return html.Div(
        [
            html.Div(
                [range_picker("cmp-range", RANGE_CHOICES, "season", lang)], className="controls"
            ),
            html.Div(id="cmp-summary", className="note"),
            graph("cmp-heatmap"),
            html.Div([html.Div(id="cmp-worst"), graph("cmp-buildings")], className="cols"),
        ]
    )


def compute(board: Board, start: int, end: int) -> ComplianceView:
    """One read of hourly room means feeds the heat map and the compliance report."""
    data = board.data
    hourly = data.hourly_indoor(start, end)
    days = data.days(start, end)
    daily = daily_means(hourly.t_ms, hourly.mean, hourly.count, days, data.tz)
    report = compliance(
        daily,
        days,
        hourly.rooms,
        hourly_indoor=hourly.mean,
        hours=hourly.hours,
        season=board.site.season,
    )
    return ComplianceView(days, daily, hourly.rooms, report)


def _heatmap(view: ComplianceView, lang: str) -> go.Figure:
    rooms = view.rooms
    margin = view.daily - rooms.floors[:, None]
    height = max(320, 60 + 16 * len(rooms.paths))
    fig = figure(tr("rooms_days", lang), tr("room", lang), x_title=tr("day", lang), height=height)
    floors = np.broadcast_to(rooms.floors[:, None], margin.shape)
    fig.add_heatmap(
        z=np.where(np.isfinite(margin), np.round(margin, 2), None).tolist(),
        x=[str(d) for d in view.days],
        y=list(rooms.paths),
        customdata=np.dstack([np.round(view.daily, 1), floors]).tolist(),
        colorscale=[
            [0.0, "#c0392b"],
            [0.45, "#f5b7b1"],
            [0.5, "#f7f7f7"],
            [0.6, "#a9dfbf"],
            [1.0, "#1e8449"],
        ],
        zmid=0.0,
        zmin=-4.0,
        zmax=4.0,
        colorbar={"title": f"{tr('above_floor', lang)} (K)"},
        hovertemplate="%{y}<br>%{x}: %{customdata[0]} °C ("
        + tr("floor", lang)
        + " %{customdata[1]} °C)<extra></extra>",
    )
    fig.update_yaxes(autorange="reversed", tickfont={"size": 10}, title=None)
    fig.update_xaxes(type="category")
    return fig


def _buildings(view: ComplianceView, lang: str) -> go.Figure:
    rows = view.report.buildings
    fig = figure(tr("per_building", lang), f"{tr('mean_indoor', lang)} (°C)")
    fig.add_bar(
        x=[b.id for b in rows],
        y=[b.mean_indoor for b in rows],
        text=[f"{b.rooms_below}/{b.rooms}" for b in rows],
        hovertemplate="%{x}: %{y} °C, " + tr("rooms_below", lang) + " %{text}<extra></extra>",
        marker_color=["#e74c3c" if b.rooms_below else "#2ecc71" for b in rows],
        name=tr("mean_indoor", lang),
    )
    fig.add_hline(y=board_floor(view), line_dash="dash", line_color="#dfe6ee")
    fig.update_xaxes(type="category", tickangle=-45)
    return fig


def board_floor(view: ComplianceView) -> float:
    """The floor most rooms have (18 °C unless configured), for the reference line."""
    values, counts = np.unique(view.rooms.floors, return_counts=True)
    return float(values[counts.argmax()]) if values.size else 18.0


def _worst(view: ComplianceView, lang: str) -> list:
    by_path = {r.path: r for r in view.report.rooms}
    rows = [
        (
            p,
            fmt(by_path[p].floor, 0, " °C"),
            fmt(by_path[p].mean_indoor, 1, " °C"),
            by_path[p].days_below,
            fmt(by_path[p].deficit_degree_hours, 0, " K·h"),
        )
        for p in view.report.worst_rooms
    ]
    header = [
        tr("room", lang),
        tr("floor", lang),
        tr("mean_indoor", lang),
        tr("days_below", lang),
        tr("deficit", lang),
    ]
    return [html.H3(tr("worst_rooms", lang)), table(header, rows) if rows else note("—")]


def _summary(view: ComplianceView, lang: str) -> str:
    s = view.report.site
    withheld = view.report.evidence.withheld_reason
    text = (
        f"{tr('site_summary', lang)}: {tr('mean_indoor', lang)} {fmt(s.mean_indoor, 1, ' °C')} · "
        f"{tr('rooms_below', lang)} {s.rooms_below}/{s.rooms} · {tr('deficit', lang)} "
        f"{fmt(s.deficit_degree_hours, 0, ' K·h')}"
    )
    return f"{text} · {withheld}" if withheld else text


def register(app: Dash, board: Board) -> None:
    @app.callback(
        Output("cmp-summary", "children"),
        Output("cmp-heatmap", "figure"),
        Output("cmp-worst", "children"),
        Output("cmp-buildings", "figure"),
        Input("cmp-range", "value"),
        Input("lang-switch", "value"),
    )
    def refresh(range_key: str, lang: str) -> tuple:
        now = board.now_ms()
        if now is None:
            return tr("no_data", lang), figure("", ""), [], figure("", "")
        start, end = board.period(range_key, now)
        view = board.cached("compliance", range_key, now, lambda: compute(board, start, end))
        return (
            _summary(view, lang),
            _heatmap(view, lang),
            _worst(view, lang),
            _buildings(view, lang),
        )
