"""Outages: stops of heat per substation, those of notice length (8 h by default) with the
affected buildings and the drafted notice; communications losses listed apart."""

from __future__ import annotations

from dash import Dash, Input, Output, html

from analytics import report
from analytics.outages import OutageOptions, OutageReport
from dashboard.board import Board
from dashboard.i18n import tr
from dashboard.theme import fmt, note, table
from dashboard.widgets import range_picker

PATH = "/outages"
LABEL = "outages"
RANGE_CHOICES = ("7d", "30d", "season")
CAUSES = {"heat source stopped": "cause_source", "substation": "cause_substation"}


def layout(board: Board, lang: str) -> html.Div:
    return html.Div(
        [
            html.Div([range_picker("out-range", RANGE_CHOICES, "30d", lang)], className="controls"),
            html.Div(id="out-list"),
        ]
    )


def compute(board: Board, start: int, end: int) -> tuple[OutageReport, ...]:
    options = OutageOptions(notice_hours=board.site.indoor.outage_notice_hours)
    return report.outages(board.data, start, end, options=options)


def _outage_cards(board: Board, reports: tuple[OutageReport, ...], lang: str) -> list:
    hours = board.site.indoor.outage_notice_hours
    outages = sorted(
        (o for r in reports for o in r.outages), key=lambda o: (not o.notice_required, -o.start_ms)
    )
    cards = []
    for o in outages:
        end = tr("ongoing", lang) if o.end_ms is None else board.clock(o.end_ms)
        body = [
            html.H3(
                f"{o.asset} · {board.clock(o.start_ms)} – {end} · {fmt(o.duration_h, 1, ' h')}"
            ),
            note(
                f"{tr('cause', lang)}: {tr(CAUSES.get(o.cause, 'cause'), lang)} · "
                f"{tr('affected', lang)}: {', '.join(o.buildings)}"
            ),
        ]
        if o.notice_required and o.notice is not None:
            body.append(
                html.Div(
                    tr("notice_required", lang).format(h=hours),
                    className="badge",
                    style={"background": "#e74c3c", "float": "none"},
                )
            )
            body.append(html.H3(tr("notice", lang)))
            body.append(html.Div(o.notice["zh" if lang == "zh" else "en"], className="notice-text"))
        cards.append(html.Div(body, className="card notice" if o.notice_required else "card"))
    return cards or [note(tr("no_outages", lang))]


def _comms(board: Board, reports: tuple[OutageReport, ...], lang: str) -> list:
    losses = sorted((c for r in reports for c in r.comms_losses), key=lambda c: -c.start_ms)
    rows = [
        (
            c.asset,
            board.clock(c.start_ms),
            tr("ongoing", lang) if c.end_ms is None else board.clock(c.end_ms),
            fmt(c.duration_h, 2),
        )
        for c in losses
    ]
    header = [tr("substation", lang), tr("start", lang), tr("end", lang), tr("duration_h", lang)]
    return [html.H3(tr("comms_losses", lang)), table(header, rows) if rows else note("—")]


def register(app: Dash, board: Board) -> None:
    @app.callback(
        Output("out-list", "children"), Input("out-range", "value"), Input("lang-switch", "value")
    )
    def refresh(range_key: str, lang: str) -> list:
        now = board.now_ms()
        if now is None:
            return [note(tr("no_data", lang))]
        start, end = board.period(range_key, now)
        reports = board.cached("outages", range_key, now, lambda: compute(board, start, end))
        return [
            html.H3(tr("outage_list", lang)),
            *_outage_cards(board, reports, lang),
            *_comms(board, reports, lang),
        ]
