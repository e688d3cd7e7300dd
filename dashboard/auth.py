"""Board login: named users from the site's users file in a signed Flask session cookie.

Enforced on the server for every request by a before_request hook, not in the pages:
without a session a page redirects to /login and everything else (Dash's /_dash-*
routes, the callbacks among them) answers 401. The session holds only the user's name;
the role is looked up in the users file on each request, so removing a user or changing
a role takes effect at once. Failed logins are logged with the name tried, never the
password.
"""

from __future__ import annotations

import html
import logging
import os
from datetime import timedelta
from urllib.parse import quote

from flask import Flask, Response, g, has_request_context, redirect, request, session

from heatnet.config import SiteConfig
from heatnet.users import User, UserStore

log = logging.getLogger(__name__)

LOGIN_PATH = "/login"
LOGOUT_PATH = "/logout"
OPEN_PREFIXES = ("/assets/",)  # the board's stylesheet, which the login page uses too
SHIFT = timedelta(hours=12)  # a session lasts a control-room shift
MIN_SECRET = 16


class LoginSetupError(ValueError):
    """The board cannot offer a login: the session secret is missing or too short."""


def current_user() -> User | None:
    """The user of the request being served; None outside a request or with login off."""
    if not has_request_context():
        return None
    user: User | None = g.get("user")
    return user


def _session_secret(site: SiteConfig) -> str:
    env = site.dashboard.session_secret_env
    assert env is not None  # the config requires it with a login
    secret = os.environ.get(env)
    if secret is None:
        raise LoginSetupError(
            f"the board's session secret comes from environment variable {env}, which is not set"
        )
    if len(secret) < MIN_SECRET:
        raise LoginSetupError(
            f"the session secret in {env} is too short: at least {MIN_SECRET} characters"
        )
    return secret


def _safe_next(target: str | None) -> str:
    """Where to go after logging in: a path of this board only, never another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _page(target: str, error: str = "") -> str:
    problem = f'<p class="note" id="login-error">{html.escape(error)}</p>' if error else ""
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>heatnet · 登录 Log in</title>
<link rel="stylesheet" href="/assets/board.css"></head>
<body><div class="page"><form method="post" action="{LOGIN_PATH}" class="card" id="login">
<h3>供热监控大屏 · Heating control room</h3>{problem}
<label>用户名 User <input name="name" id="login-name" autocomplete="username" required></label>
<label>密码 Password <input name="password" id="login-password" type="password"
 autocomplete="current-password" required></label>
<input type="hidden" name="next" value="{html.escape(target)}">
<button type="submit" id="login-submit">登录 Log in</button>
</form></div></body></html>"""


def install_login(server: Flask, site: SiteConfig, users: UserStore) -> None:
    """Require a logged-in user of `users` for every request the board's server answers."""
    server.config.update(
        SECRET_KEY=_session_secret(site),
        SESSION_COOKIE_NAME="heatnet_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=SHIFT,
    )

    @server.before_request
    def require_login() -> Response | None:
        path = request.path
        if path == LOGIN_PATH or path.startswith(OPEN_PREFIXES):
            return None
        name = session.get("user")
        user = users.user(name) if isinstance(name, str) else None
        if user is None:
            session.clear()
            if request.method == "GET" and not path.startswith("/_"):
                return redirect(f"{LOGIN_PATH}?next={quote(path)}")  # type: ignore[return-value]
            return Response("login required\n", 401, mimetype="text/plain")
        g.user = user
        return None

    def login() -> Response | str | tuple[str, int]:
        if request.method == "GET":
            return _page(_safe_next(request.args.get("next")))
        name = request.form.get("name", "").strip()
        target = _safe_next(request.form.get("next"))
        user = users.authenticate(name, request.form.get("password", ""))
        if user is None:
            log.warning("board login refused for user %r from %s", name[:64], request.remote_addr)
            return _page(target, "用户名或密码错误 · Wrong user name or password"), 401
        session.clear()
        session["user"] = user.name
        session.permanent = True
        log.info("board login: %s (%s) from %s", user.name, user.role, request.remote_addr)
        return redirect(target)  # type: ignore[return-value]

    def logout() -> Response:
        session.clear()
        return redirect(LOGIN_PATH)  # type: ignore[return-value]

    server.add_url_rule(LOGIN_PATH, "login", login, methods=["GET", "POST"])
    server.add_url_rule(LOGOUT_PATH, "logout", logout, methods=["POST"])
