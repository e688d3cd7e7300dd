"""Alarms: the active list by priority, acknowledgement with the operator's name, the journal.

The journal lives in the historian (analytics.alarms.AlarmJournal); an acknowledgement is
stamped with the board's "now", the newest data time, like everything else on the board.
With login on, the acknowledging operator is the logged-in user, never a typed name.
"""

from __future__ import annotations

from dash import Dash, Input, Output, State, ctx, dash_table, dcc, html, no_update

from analytics.alarms import UnknownAlarm
from analytics.evaluate import SOURCES, evaluate
from dashboard.auth import current_user
from dashboard.board import DAY_MS, Board
from dashboard.i18n import tr
from dashboard.theme import PAPER, PLOT, PRIORITY_COLOURS

PATH = "/alarms"
LABEL = "alarms"
JOURNAL_DAYS = 30
JOURNAL_ROWS = 200
ACTIVE_COLUMNS = ("priority", "state", "source", "point", "message", "raised", "operator")
JOURNAL_COLUMNS = ("raised", "kind", "priority", "point", "message", "operator")


def _table(
    table_id: str, columns: tuple[str, ...], lang: str, selectable: bool
) -> dash_table.DataTable:
    return dash_table.DataTable(
        id=table_id,
        columns=[{"name": tr(c, lang), "id": c} for c in columns],
        data=[],
        row_selectable="single" if selectable else False,
        page_size=15 if selectable else 25,
        style_header={"backgroundColor": PLOT, "color": "#9fb3c8", "fontWeight": "bold"},
        style_cell={
            "backgroundColor": PAPER,
            "color": "#dfe6ee",
            "textAlign": "left",
            "border": "1px solid #1f3347",
            "whiteSpace": "normal",
            "height": "auto",
        },
        style_data_conditional=[
            {
                "if": {"filter_query": f'{{priority}} = "{p}"', "column_id": "priority"},
                "backgroundColor": colour,
                "color": "#111",
            }
            for p, colour in PRIORITY_COLOURS.items()
        ],
    )


def layout(board: Board, lang: str) -> html.Div:
    return html.Div(
        [
            html.H3(tr("active_alarms", lang)),
            _table("al-active", ACTIVE_COLUMNS, lang, selectable=True),
            html.Div(
                [
                    _operator_field(lang),
                    html.Button(tr("acknowledge", lang), id="al-ack"),
                    html.Button(tr("evaluate", lang), id="al-evaluate"),
                    html.Span(id="al-message", className="note"),
                ],
                className="actions",
            ),
            html.H3(tr("journal", lang)),
            _table("al-journal", JOURNAL_COLUMNS, lang, selectable=False),
        ]
    )


def _operator_field(lang: str) -> html.Span | dcc.Input:
    """Who acknowledges: the logged-in user when there is one, else a name typed in."""
    user = current_user()
    if user is None:
        return dcc.Input(id="al-operator", placeholder=tr("operator_name", lang), type="text")
    hidden = dcc.Input(id="al-operator", type="hidden", value=user.name)
    return html.Span([f"{tr('operator', lang)}: {user.name}", hidden], id="al-user")


def _act(
    board: Board, lang: str, selected: list[int] | None, rows: list[dict], operator: str | None
) -> str:
    user = current_user()
    if user is not None:  # the session says who, whatever the page sent
        operator = user.name
    now = board.now_ms()
    if now is None:
        return tr("no_data", lang)
    if ctx.triggered_id == "al-evaluate":
        recorded = board.journal.record(
            evaluate(board.data, now - DAY_MS, now + 1), now - DAY_MS, now + 1, SOURCES
        )
        board.forget_live()
        return f"{tr('evaluated', lang)}: {len(recorded)}"
    if not selected or selected[0] >= len(rows):
        return tr("need_selection", lang)
    if not operator or not operator.strip():
        return tr("need_operator", lang)
    row = rows[selected[0]]
    try:
        board.journal.acknowledge(row["alarm_id"], operator.strip(), max(now, row["raised_ms"]))
    except UnknownAlarm as err:
        return str(err)
    board.forget_live()
    return f"{tr('acked_by', lang)} {operator.strip()}: {row['point']}"


def register(app: Dash, board: Board) -> None:
    @app.callback(
        Output("al-message", "children"),
        Input("al-ack", "n_clicks"),
        Input("al-evaluate", "n_clicks"),
        State("al-active", "selected_rows"),
        State("al-active", "data"),
        State("al-operator", "value"),
        State("lang-switch", "value"),
        prevent_initial_call=True,
    )
    def act(
        _ack: int | None,
        _eval: int | None,
        selected: list[int] | None,
        rows: list[dict],
        operator: str | None,
        lang: str,
    ) -> str:
        return _act(board, lang, selected, rows or [], operator)

    @app.callback(
        Output("al-active", "data"),
        Output("al-active", "selected_rows"),
        Output("al-journal", "data"),
        Input("tick", "n_intervals"),
        Input("al-message", "children"),
        Input("lang-switch", "value"),
        State("al-active", "data"),
        State("al-active", "selected_rows"),
    )
    def refresh(
        _tick: int | None,
        _msg: object,
        lang: str,
        shown: list[dict] | None,
        selected: list[int] | None,
    ) -> tuple[list[dict], object, list[dict]]:
        active = [
            {
                "alarm_id": a.alarm_id,
                "raised_ms": a.raised_ms,
                "priority": a.priority,
                "state": a.state.value,
                "source": a.source,
                "point": a.path,
                "message": a.message,
                "raised": board.clock(a.raised_ms),
                "operator": a.operator or "",
            }
            for a in board.active_alarms()
        ]
        keep: object = []
        if shown is not None and [r["alarm_id"] for r in shown] == [r["alarm_id"] for r in active]:
            # same alarms in the same rows: leave the selection alone, since this refresh
            # may have started before the operator clicked and would undo the click
            keep = no_update
        elif selected and shown and selected[0] < len(shown):  # keep the operator's choice
            chosen = shown[selected[0]]["alarm_id"]
            keep = [i for i, row in enumerate(active) if row["alarm_id"] == chosen]
        now = board.now_ms() or 0
        events = board.historian.read_events(now - JOURNAL_DAYS * DAY_MS, 2**62)
        journal = [
            {
                "raised": board.clock(e.ts_ms, "%Y-%m-%d %H:%M:%S"),
                "kind": e.kind,
                "priority": e.priority,
                "point": e.path,
                "message": e.message,
                "operator": e.operator or "",
            }
            for e in reversed(events[-JOURNAL_ROWS:])
        ]
        return active, keep, journal
