"""Balance: Q1 against Q2 and the loss ratio, flow against design, ΔT and return rankings,
make-up water, per substation over a chosen range (hourly rollups)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from dash import Dash, Input, Output, html

from analytics.balance import (
    BalanceReport,
    HydraulicImbalance,
    design_flow_m3h,
    heat_balance,
    hydraulic_imbalance,
)
from analytics.fetch import HOUR_S
from analytics.leaks import MakeupReport, watch_makeup
from analytics.report import BALANCE_ROLES
from dashboard.board import Board
from dashboard.i18n import tr
from dashboard.theme import ROLE_COLOURS, figure, fmt, note, table, unit
from dashboard.widgets import graph, range_picker

PATH = "/balance"
LABEL = "balance"
RANGE_CHOICES = ("24h", "7d", "30d", "season")


@dataclass(frozen=True, slots=True)
class BalanceView:
    balance: BalanceReport
    imbalance: HydraulicImbalance
    makeup: tuple[MakeupReport, ...]


def layout(board: Board, lang: str) -> html.Div:
    return html.Div(
        [
            html.Div([range_picker("bal-range", RANGE_CHOICES, "7d", lang)], className="controls"),
            html.Div([graph("bal-heat"), graph("bal-flow")], className="cols"),
            html.Div([graph("bal-dt"), graph("bal-return")], className="cols"),
            html.Div([graph("bal-makeup"), html.Div(id="bal-alerts")], className="cols"),
        ]
    )


def compute(board: Board, start: int, end: int) -> BalanceView:
    """Heat balance, imbalance and make-up from one read of hourly rollups."""
    subs = board.site.substations
    ids = tuple(s.id for s in subs)
    aligned = board.data.aligned((*BALANCE_ROLES, "makeup_flow"), ids, start, end, HOUR_S)
    flows = {r: aligned[r] for r in BALANCE_ROLES}
    report = heat_balance(ids, aligned.t_ms, board.tz, **flows)
    with np.errstate(invalid="ignore"):
        mean_f2 = np.array(
            [np.nanmean(r) if np.isfinite(r).any() else np.nan for r in aligned["f2_flow"]]
        )
    imbalance = hydraulic_imbalance(ids, mean_f2, np.array([design_flow_m3h(s) for s in subs]))
    makeup = tuple(
        watch_makeup(sid, aligned.t_ms, aligned["makeup_flow"][i], aligned["f2_flow"][i])
        for i, sid in enumerate(ids)
    )
    return BalanceView(report, imbalance, makeup)


def _heat(view: BalanceView, lang: str) -> go.Figure:
    rows = view.balance.substations
    ids = [r.id for r in rows]
    fig = figure(f"{tr('q1', lang)} / {tr('q2', lang)}", f"{tr('heat', lang)} (kW)")
    fig.add_bar(
        x=ids,
        y=[r.q1_mean_kw for r in rows],
        name=tr("q1", lang),
        marker_color=ROLE_COLOURS["q1_power"],
    )
    fig.add_bar(
        x=ids,
        y=[r.q2_mean_kw for r in rows],
        name=tr("q2", lang),
        marker_color=ROLE_COLOURS["q2_power"],
    )
    fig.add_scatter(
        x=ids,
        y=[None if r.loss_ratio is None else 100 * r.loss_ratio for r in rows],
        name=f"{tr('loss_ratio', lang)} (%)",
        mode="markers+lines",
        yaxis="y2",
        marker={"color": "#f1c40f", "size": 9},
    )
    fig.update_layout(
        barmode="group",
        yaxis2={
            "title": f"{tr('loss_ratio', lang)} (%)",
            "overlaying": "y",
            "side": "right",
            "rangemode": "tozero",
            "tickformat": ".1f",
            "showgrid": False,
        },
    )
    return fig


def _flow(view: BalanceView, lang: str) -> go.Figure:
    ratios = view.imbalance.ratios
    spread = view.imbalance.spread_cv
    title = f"{tr('flow_vs_design', lang)} · {tr('spread', lang)} {fmt(spread, 3)}"
    fig = figure(title, f"{tr('ratio', lang)} (1 = design)")
    values = list(ratios.values())
    colours = ["#e74c3c" if v is not None and abs(v - 1) > 0.2 else "#48dbfb" for v in values]
    fig.add_bar(x=list(ratios), y=values, marker_color=colours, name=tr("ratio", lang))
    fig.add_hline(y=1.0, line_dash="dash", line_color="#dfe6ee")
    return fig


def _ranking(
    ids: tuple[str, ...], value: dict[str, float | None], title: str, y_title: str
) -> go.Figure:
    fig = figure(title, y_title)
    fig.add_bar(x=list(ids), y=[value[i] for i in ids], marker_color="#54a0ff")
    fig.update_xaxes(type="category")
    return fig


def _makeup(view: BalanceView, lang: str) -> go.Figure:
    fig = figure(tr("makeup", lang), f"{tr('makeup', lang)} ({unit('makeup_flow')})")
    fig.add_bar(
        x=[m.substation for m in view.makeup],
        y=[m.mean_m3h for m in view.makeup],
        text=[fmt(m.mean_pct_of_circulation, 2, " %") for m in view.makeup],
        hovertemplate="%{x}: %{y:.3f} m³/h (%{text} "
        + tr("makeup_share", lang)
        + ")<extra></extra>",
        marker_color=ROLE_COLOURS["makeup_flow"],
    )
    return fig


def _alerts(board: Board, view: BalanceView, lang: str) -> list:
    alerts = [a for m in view.makeup for a in m.alerts]
    rows = [
        (
            a.substation,
            board.clock(a.start_ms),
            "—" if a.end_ms is None else board.clock(a.end_ms),
            fmt(a.excess_m3h, 2, " m³/h"),
            fmt(a.duration_h, 1, " h"),
        )
        for a in alerts
    ]
    header = [
        tr("substation", lang),
        tr("start", lang),
        tr("end", lang),
        tr("makeup", lang),
        tr("duration_h", lang),
    ]
    return [html.H3(tr("leak_alerts", lang)), table(header, rows) if rows else note("—")]


def register(app: Dash, board: Board) -> None:
    @app.callback(
        Output("bal-heat", "figure"),
        Output("bal-flow", "figure"),
        Output("bal-dt", "figure"),
        Output("bal-return", "figure"),
        Output("bal-makeup", "figure"),
        Output("bal-alerts", "children"),
        Input("bal-range", "value"),
        Input("lang-switch", "value"),
    )
    def refresh(range_key: str, lang: str) -> tuple:
        now = board.now_ms()
        if now is None:
            return (*(figure("", "") for _ in range(5)), note(tr("no_data", lang)))
        start, end = board.period(range_key, now)
        view = board.cached("balance", range_key, now, lambda: compute(board, start, end))
        rows = {r.id: r for r in view.balance.substations}
        dt = _ranking(
            view.balance.low_dt_ranking,
            {i: r.dt2_mean_k for i, r in rows.items()},
            tr("dt_ranking", lang),
            "ΔT (K)",
        )
        ret = _ranking(
            view.balance.high_return_ranking,
            {i: r.t2_return_mean for i, r in rows.items()},
            tr("return_ranking", lang),
            f"{tr('t2_return', lang)} (°C)",
        )
        return (
            _heat(view, lang),
            _flow(view, lang),
            dt,
            ret,
            _makeup(view, lang),
            _alerts(board, view, lang),
        )
