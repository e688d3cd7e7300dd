"""Controls the pages share: graphs, the time-range picker, the substation picker."""

from __future__ import annotations

from collections.abc import Sequence

from dash import dcc, html

from dashboard.board import Board
from dashboard.i18n import tr
from dashboard.theme import LABEL_STYLE


def graph(graph_id: str) -> dcc.Graph:
    """A chart with the zoom tools and without the plotly logo."""
    return dcc.Graph(id=graph_id, config={"displaylogo": False}, figure={})


def range_picker(picker_id: str, choices: Sequence[str], default: str, lang: str) -> html.Div:
    """Radio buttons of named ranges (RANGES keys); the choice survives page changes."""
    return html.Div(
        [
            html.Span(f"{tr('range', lang)}: "),
            dcc.RadioItems(
                id=picker_id,
                options=[{"label": tr(key, lang), "value": key} for key in choices],
                value=default,
                inline=True,
                labelStyle=LABEL_STYLE,
                persistence=True,
                persistence_type="session",
            ),
        ]
    )


def substation_picker(picker_id: str, board: Board) -> dcc.Dropdown:
    """A dropdown of the site's substations, the first one chosen."""
    subs = board.site.substations
    return dcc.Dropdown(
        id=picker_id,
        options=[{"label": f"{s.id} {s.name}".strip(), "value": s.id} for s in subs],
        value=subs[0].id,
        clearable=False,
        persistence=True,
        persistence_type="session",
        style={"minWidth": "280px", "color": "#111"},
    )
