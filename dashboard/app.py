"""The Dash application: a top bar (site, pages, data time, language) over the page shown.

Pages are routed by one callback on the URL rather than Dash's global page registry, so
tests can build several boards in one process. With a users file in the site's
`dashboard:` section every request needs a login (dashboard.auth).
"""

from __future__ import annotations

import gc
from datetime import datetime
from pathlib import Path

from dash import Dash, Input, Output, dcc, html

from dashboard.auth import LOGOUT_PATH, current_user, install_login
from dashboard.board import Board
from dashboard.i18n import default_lang, tr
from dashboard.pages import PAGES
from dashboard.theme import LABEL_STYLE
from heatnet.config import SiteConfig
from heatnet.users import site_users
from historian.base import Historian

ASSETS = Path(__file__).resolve().parent / "assets"


def create_app(
    site: SiteConfig,
    historian: Historian,
    *,
    now: datetime | int | None = None,
    refresh_s: float = 5.0,
) -> Dash:
    """The board of one site; `now` pins the board's present (default: the newest data).

    Raises dashboard.auth.LoginSetupError when the site asks for a login the board cannot
    offer (its session secret is not in the environment).
    """
    board = Board(site, historian, now=now)
    lang = default_lang(site)
    app = Dash(
        __name__,
        title=site.site.name or site.site.id,
        assets_folder=str(ASSETS),
        suppress_callback_exceptions=True,
        update_title=None,
    )
    app.layout = html.Div(
        [
            dcc.Location(id="url"),
            dcc.Interval(id="tick", interval=int(refresh_s * 1000)),
            html.Div(
                [
                    html.Span(site.site.name or site.site.id, className="site"),
                    html.Nav(id="nav", className="nav"),
                    html.Span(id="data-time", className="data-time"),
                    dcc.RadioItems(
                        id="lang-switch",
                        options=[{"label": "中文", "value": "zh"}, {"label": "EN", "value": "en"}],
                        value=lang,
                        inline=True,
                        labelStyle=LABEL_STYLE,
                        className="lang",
                        persistence=True,
                    ),
                    html.Span(id="user-bar", className="user"),
                ],
                className="topbar",
            ),
            html.Div(id="page", className="page"),
        ]
    )
    users = site_users(site)
    if site.dashboard.login_required and users is not None:
        install_login(app.server, site, users)
    _register_shell(app, board)
    for page in PAGES:
        page.register(app, board)
    # The board runs for months: take what exists now (imports, site, layout) out of the
    # cyclic garbage collector. A refresh allocates ~10^5 short-lived objects, enough to set
    # off a full collection of these ~2·10^5 about once per overview refresh (~100 ms each).
    gc.collect()
    gc.freeze()
    return app


def _register_shell(app: Dash, board: Board) -> None:
    routes = {page.PATH: page for page in PAGES}

    @app.callback(
        Output("nav", "children"), Input("url", "pathname"), Input("lang-switch", "value")
    )
    def nav(pathname: str | None, lang: str) -> list[dcc.Link]:
        here = pathname if pathname in routes else "/"
        return [
            dcc.Link(
                tr(page.LABEL, lang),
                href=page.PATH,
                id=f"nav-{page.LABEL}",
                className="active" if here == page.PATH else "",
            )
            for page in PAGES
        ]

    @app.callback(
        Output("page", "children"), Input("url", "pathname"), Input("lang-switch", "value")
    )
    def show(pathname: str | None, lang: str) -> object:
        page = routes.get(pathname or "/")
        if page is None:
            return html.H3(tr("not_found", lang))
        return page.layout(board, lang)

    @app.callback(Output("user-bar", "children"), Input("url", "pathname"))
    def user_bar(_: str | None) -> list:
        user = current_user()
        if user is None:
            return []
        return [
            html.Span(f"{user.name} · {user.role}", id="user-name"),
            html.Form(
                html.Button("⏏", id="logout", title="log out", type="submit"),
                method="POST",
                action=LOGOUT_PATH,
                style={"display": "inline"},
            ),
        ]

    @app.callback(
        Output("data-time", "children"), Input("tick", "n_intervals"), Input("lang-switch", "value")
    )
    def data_time(_: int | None, lang: str) -> str:
        now = board.now_ms()
        if now is None:
            return tr("no_data", lang)
        stamp = board.clock(now, "%Y-%m-%d %H:%M:%S")
        return f"{tr('data_time', lang)} {stamp} ({board.site.site.timezone})"
