"""Heating curve: the curve in force, measured daily (outdoor, supply) points, and the
latest proposal with its predicted effect on the rooms and on heat.

An engineer may apply the proposal shown to the substation's PLC, after confirming it:
collectors.writeback checks the role, the device's write_enabled and every range again,
writes, reads back and audits; the page shows what came of each point.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from dash import Dash, Input, Output, State, dcc, html
from numpy.typing import NDArray

from analytics import report
from analytics.proposals import CurveProposal, curve_roles, roles_curve
from collectors.writeback import CurveWriteBack, WriteReport
from dashboard.auth import current_user
from dashboard.board import Board
from dashboard.i18n import tr
from dashboard.theme import figure, fmt, note, table
from dashboard.widgets import graph, range_picker, substation_picker
from heatnet.config import Curve
from heatnet.curves import curve_setpoint

PATH = "/curve"
LABEL = "curve"
RANGE_CHOICES = ("7d", "30d", "season")
OUTDOOR_AXIS = np.linspace(-20.0, 20.0, 81)


@dataclass(frozen=True, slots=True)
class CurveView:
    in_force: Curve
    days: NDArray[np.datetime64]
    t_outdoor: NDArray[np.float64]
    t2_supply: NDArray[np.float64]
    proposal: CurveProposal


def layout(board: Board, lang: str) -> html.Div:
    return html.Div(
        [
            html.Div(
                [
                    substation_picker("cv-substation", board),
                    range_picker("cv-range", RANGE_CHOICES, "season", lang),
                ],
                className="controls",
            ),
            html.Div([graph("cv-chart"), html.Div(id="cv-proposal")], className="cols"),
            dcc.Store(id="cv-proposed"),
            dcc.ConfirmDialog(id="cv-confirm"),
            html.Div(id="cv-apply-result"),
        ]
    )


def in_force(board: Board, sid: str) -> Curve:
    """The curve the PLC holds now (its curve_* points), else the configured one."""
    configured = board.site.curves[board.substation(sid).curve]
    roles = list(curve_roles(configured))
    latest = board.latest([board.path(sid, r) for r in roles])
    held = {r: latest[board.path(sid, r)].value for r in roles if board.path(sid, r) in latest}
    if len(held) < len(roles) or any(v is None for v in held.values()):
        return configured
    return roles_curve({r: float(v) for r, v in held.items() if v is not None}, configured)


def compute(board: Board, sid: str, start: int, end: int) -> CurveView:
    days, supply = board.data.daily("t2_supply", [sid], start, end)
    _, outdoor = board.data.daily("t_outdoor", [sid], start, end)
    proposal = report.proposals(board.data, start, end, substations=[sid])[0]
    return CurveView(in_force(board, sid), days, outdoor[0], supply[0], proposal)


def _chart(view: CurveView, lang: str) -> go.Figure:
    fig = figure(
        tr("curve", lang),
        f"{tr('t2_supply', lang)} (°C)",
        x_title=f"{tr('outdoor', lang)} (°C)",
        height=420,
    )
    fig.add_scatter(
        x=OUTDOOR_AXIS,
        y=curve_setpoint(view.in_force, OUTDOOR_AXIS),
        name=tr("curve_in_force", lang),
        mode="lines",
        line={"color": "#ff9f43", "width": 3},
    )
    proposed = view.proposal.proposed
    if proposed is not None:
        new = roles_curve(proposed, view.in_force)
        fig.add_scatter(
            x=OUTDOOR_AXIS,
            y=curve_setpoint(new, OUTDOOR_AXIS),
            name=tr("proposed_curve", lang),
            mode="lines",
            line={"color": "#1dd1a1", "width": 3, "dash": "dash"},
        )
    good = np.isfinite(view.t_outdoor) & np.isfinite(view.t2_supply)
    fig.add_scatter(
        x=view.t_outdoor[good],
        y=view.t2_supply[good],
        name=tr("measured_daily", lang),
        mode="markers",
        text=[str(d) for d in view.days[good]],
        marker={"color": "#54a0ff", "size": 9, "line": {"color": "#fff", "width": 1}},
        hovertemplate="%{text}: %{x:.1f} °C → %{y:.1f} °C<extra></extra>",
    )
    return fig


def _proposal(view: CurveView, lang: str) -> list:
    p = view.proposal
    head = html.H3(f"{tr('proposal', lang)} · {p.substation}")
    if p.proposed is None:
        reason = p.evidence.withheld_reason or ""
        return [
            head,
            html.Div(f"{tr('withheld', lang)}: {reason}", id="cv-withheld", className="note"),
        ]
    heat = fmt(p.heat_change_pct, 1, " %")
    facts = note(
        f"{tr('mode', lang)}: {p.mode} · {tr('confidence', lang)}: {p.confidence} · "
        f"{tr('heat_change', lang)}: {heat} · {p.reference} {p.reference_room or ''}"
    )
    params = table(
        [tr("parameter", lang), tr("current", lang), tr("proposed", lang)],
        [(k, fmt(v, 2), fmt(p.proposed.get(k), 2)) for k, v in p.current.items()],
    )
    effect = table(
        [
            tr("outdoor", lang),
            tr("supply_now", lang),
            tr("supply_new", lang),
            tr("ref_now", lang),
            tr("ref_new", lang),
            tr("mean_now", lang),
            tr("mean_new", lang),
        ],
        [
            (
                f"{c.t_outdoor:g} °C",
                fmt(c.supply_now),
                fmt(c.supply_proposed),
                fmt(c.reference_margin_now, 1, " K"),
                fmt(c.reference_margin_proposed, 1, " K"),
                fmt(c.mean_room_now, 1, " °C"),
                fmt(c.mean_room_proposed, 1, " °C"),
            )
            for c in p.changes
        ],
    )
    advice = [html.Li(a) for a in p.advice]
    shown = [head, facts, params, html.H3(tr("effect", lang)), effect, html.Ul(advice)]
    user = current_user()
    if user is not None and user.may_write:
        shown.append(html.Button(tr("apply_proposal", lang), id="cv-apply"))
    return shown


def _report(report: WriteReport, lang: str) -> list:
    rows = [
        (p.role, fmt(p.previous, 2), fmt(p.value, 2), fmt(p.read_back, 2), p.outcome, p.reason)
        for p in report.points
    ]
    header = [tr("parameter", lang), tr("previous", lang), tr("proposed", lang)]
    header += [tr("read_back", lang), tr("outcome", lang), ""]
    return [
        html.H3(f"{tr('write_result', lang)} · {report.device}: {report.result}"),
        note(report.message),
        table(header, rows),
    ]


def register(app: Dash, board: Board) -> None:
    writeback = CurveWriteBack(board.site, board.historian)

    @app.callback(
        Output("cv-chart", "figure"),
        Output("cv-proposal", "children"),
        Output("cv-proposed", "data"),
        Input("cv-substation", "value"),
        Input("cv-range", "value"),
        Input("lang-switch", "value"),
    )
    def refresh(sid: str, range_key: str, lang: str) -> tuple:
        now = board.now_ms()
        if now is None or sid is None:
            return figure("", ""), note(tr("no_data", lang)), None
        start, end = board.period(range_key, now)
        view = board.cached(f"curve:{sid}", range_key, now, lambda: compute(board, sid, start, end))
        shown = {"substation": sid, "values": view.proposal.proposed}
        return _chart(view, lang), _proposal(view, lang), shown

    @app.callback(
        Output("cv-confirm", "displayed"),
        Output("cv-confirm", "message"),
        Input("cv-apply", "n_clicks"),
        State("cv-proposed", "data"),
        State("lang-switch", "value"),
        prevent_initial_call=True,
    )
    def confirm(clicks: int | None, shown: dict | None, lang: str) -> tuple[bool, str]:
        if not clicks or not shown or not shown.get("values"):
            return False, ""
        values = ", ".join(f"{k} = {v:g}" for k, v in shown["values"].items())
        return True, f"{tr('confirm_apply', lang)} {shown['substation']}: {values}"

    @app.callback(
        Output("cv-apply-result", "children"),
        Input("cv-confirm", "submit_n_clicks"),
        State("cv-proposed", "data"),
        State("lang-switch", "value"),
        prevent_initial_call=True,
    )
    def apply(_: int | None, shown: dict | None, lang: str) -> list:
        user = current_user()
        if user is None or not shown or not shown.get("values"):
            return [note(tr("no_data", lang))]
        values = {str(k): float(v) for k, v in shown["values"].items()}
        try:
            report = asyncio.run(writeback.apply(user, str(shown["substation"]), values))
        except ValueError as err:  # a substation the site does not have
            return [note(str(err))]
        return _report(report, lang)
