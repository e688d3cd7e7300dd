"""The board's look: dark control-room figures, status colours, units as operators read them."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
from dash import html

from heatnet.roles import ROLES

STATUS_COLOURS = {"ok": "#2ecc71", "warning": "#f1c40f", "alarm": "#e74c3c", "offline": "#7f8c8d"}
PRIORITY_COLOURS = {"urgent": "#e74c3c", "high": "#e67e22", "medium": "#f1c40f", "low": "#95a5a6"}
ROLE_COLOURS = {
    "t1_supply": "#e74c3c",
    "t1_return": "#3498db",
    "t2_supply": "#ff9f43",
    "t2_return": "#54a0ff",
    "t2_setpoint": "#feca57",
    "t_outdoor": "#1dd1a1",
    "f1_flow": "#e74c3c",
    "f2_flow": "#ff9f43",
    "makeup_flow": "#1dd1a1",
    "q1_power": "#e74c3c",
    "q2_power": "#ff9f43",
    "v1_valve": "#a29bfe",
    "pump_speed": "#48dbfb",
}
UNIT_TEXT = {"degC": "°C", "m3/h": "m³/h", "m3": "m³", "K": "K"}
LABEL_STYLE = {"color": "#dfe6ee", "marginRight": "12px", "cursor": "pointer"}
PAPER = "#0f1720"
PLOT = "#15202b"


def unit(role: str) -> str:
    """The display unit of a role, e.g. "°C" for degC."""
    raw = ROLES[role].unit
    return UNIT_TEXT.get(raw, raw)


def _styled_layout() -> dict:
    """The board's layout (plotly_dark template and all), validated by plotly once."""
    layout = go.Layout(
        template="plotly_dark",
        title={"text": "", "x": 0.01, "font": {"size": 15}},
        paper_bgcolor=PAPER,
        plot_bgcolor=PLOT,
        margin={"l": 60, "r": 20, "t": 44, "b": 40},
        legend={"orientation": "h", "y": 1.02, "x": 1, "xanchor": "right", "yanchor": "bottom"},
        font={"family": "Noto Sans CJK SC, Microsoft YaHei, sans-serif", "size": 12},
    )
    return layout.to_plotly_json()


STYLED_LAYOUT = _styled_layout()


def figure(title: str, y_title: str, *, x_title: str | None = None, height: int = 320) -> go.Figure:
    """An empty figure in the board's style; axis titles carry their units.

    Validating the plotly_dark template again costs ~10 ms a figure and a callback draws up
    to five, so the layout validated once at import is taken as is, the way plotly takes its
    default template; what is set afterwards is validated as usual.
    """
    fig = go.Figure(layout=STYLED_LAYOUT, _validate=False)
    fig._validate = fig.layout._validate = True
    fig.update_layout(title_text=title, height=height, yaxis_title=y_title, xaxis_title=x_title)
    return fig


def fmt(value: float | None, digits: int = 1, suffix: str = "") -> str:
    """A number for a tile, or a dash when there is none."""
    if value is None:
        return "—"
    return f"{value:.{digits}f}{suffix}"


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> html.Table:
    """A plain dark table."""
    head = html.Thead(html.Tr([html.Th(h) for h in header]))
    body = html.Tbody([html.Tr([html.Td(c) for c in row]) for row in rows])
    return html.Table([head, body], className="grid")


def note(text: str) -> html.Div:
    return html.Div(text, className="note")
