"""Board login enforced on the server: Flask's test client, no browser.

Every request without a session is turned away (pages redirect, Dash's routes answer 401);
a failed login is logged without its password; the session cookie is HttpOnly and
SameSite=Lax; an operator posting the write-back callback directly is refused by the
write-back service and audited.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask.testing import FlaskClient

from dashboard.app import create_app
from dashboard.auth import LoginSetupError
from heatnet.cli import main
from heatnet.config import SiteConfig
from heatnet.loader import load_site
from heatnet.users import UserStore, site_users
from historian import SqliteHistorian
from tests.conftest import DEMO, relocate, write_site

SECRET_ENV, SECRET = "HEATNET_TEST_BOARD_SECRET", "board-session-key-0123456789"
OPERATOR, ENGINEER = ("wang", "operator-pw-1"), ("李工", "engineer-pw-2")
DASH_ROUTES = ["/_dash-layout", "/_dash-dependencies", "/_dash-update-component"]


def board_doc(tmp: Path) -> dict[str, Any]:
    doc = relocate(yaml.safe_load(DEMO.read_text(encoding="utf-8")), DEMO)
    doc["substations"] = doc["substations"][:2]
    doc["steam_customers"] = []
    doc["historian"] = {"backend": "sqlite", "path": str(tmp / "board.sqlite")}
    doc["dashboard"] = {"users_file": "users.yaml", "session_secret_env": SECRET_ENV}
    return doc


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> SiteConfig:
    tmp = tmp_path_factory.mktemp("login")
    site = load_site(write_site(tmp, board_doc(tmp)))
    store = site_users(site)
    assert store is not None
    store.add(*OPERATOR[:1], "operator", OPERATOR[1])
    store.add(*ENGINEER[:1], "engineer", ENGINEER[1])
    return site


@pytest.fixture(scope="module")
def server(site: SiteConfig) -> Iterator[Any]:
    historian = SqliteHistorian(site.resolve("board.sqlite"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(SECRET_ENV, SECRET)
        app = create_app(site, historian, now=1_800_000_000_000)
    yield app.server
    historian.close()


def login(server: Any, name: str, password: str) -> tuple[FlaskClient, Any]:
    client = server.test_client()
    answer = client.post("/login", data={"name": name, "password": password, "next": "/curve"})
    return client, answer


@pytest.mark.parametrize("path", DASH_ROUTES)
def test_dash_routes_refuse_requests_without_a_session(server: Any, path: str) -> None:
    client = server.test_client()
    answer = client.post(path, json={}) if path.endswith("component") else client.get(path)
    assert answer.status_code == 401


def test_pages_redirect_to_the_login(server: Any) -> None:
    answer = server.test_client().get("/alarms")
    assert answer.status_code == 302 and answer.location == "/login?next=/alarms"
    page = server.test_client().get(answer.location)
    assert page.status_code == 200 and b'name="password"' in page.data


def test_wrong_password_is_refused_and_logged_without_it(
    server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    client, answer = login(server, "wang", "guess-password-9")
    assert answer.status_code == 401 and "heatnet_session" not in answer.headers.get(
        "Set-Cookie", ""
    )
    assert client.get("/_dash-layout").status_code == 401
    refused = [r for r in caplog.records if "login refused" in r.getMessage()]
    assert len(refused) == 1 and "'wang'" in refused[0].getMessage()
    assert all("guess-password-9" not in r.getMessage() for r in caplog.records)
    _, unknown = login(server, "nobody", "guess-password-9")
    assert unknown.status_code == 401


def test_login_sets_a_httponly_samesite_cookie_and_opens_the_board(server: Any) -> None:
    client, answer = login(server, *ENGINEER)
    assert answer.status_code == 302 and answer.location == "/curve"
    cookie = answer.headers["Set-Cookie"]
    assert "heatnet_session=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert client.get("/_dash-layout").status_code == 200
    assert client.post("/logout").status_code == 302
    assert client.get("/_dash-layout").status_code == 401


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil"])
def test_login_sends_nowhere_but_the_board(server: Any, target: str) -> None:
    client = server.test_client()
    data = {"name": OPERATOR[0], "password": OPERATOR[1], "next": target}
    assert client.post("/login", data=data).location == "/"


def test_a_removed_user_loses_the_session_at_once(server: Any, site: SiteConfig) -> None:
    store = site_users(site)
    assert store is not None
    store.add("temp", "operator", "temporary-pw")
    client, _ = login(server, "temp", "temporary-pw")
    assert client.get("/_dash-layout").status_code == 200
    doc = yaml.safe_load(store.path.read_text(encoding="utf-8"))
    doc["users"] = [u for u in doc["users"] if u["name"] != "temp"]
    store.path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    assert client.get("/_dash-layout").status_code == 401


def apply_callback(sid: str) -> dict[str, Any]:
    """The request the Apply confirmation sends, as Dash's renderer would post it."""
    values = {"curve_slope": 2.0, "curve_shift": 1.0, "curve_min": 35.0, "curve_max": 90.0}
    return {
        "output": "cv-apply-result.children",
        "outputs": {"id": "cv-apply-result", "property": "children"},
        "inputs": [{"id": "cv-confirm", "property": "submit_n_clicks", "value": 1}],
        "changedPropIds": ["cv-confirm.submit_n_clicks"],
        "state": [
            {
                "id": "cv-proposed",
                "property": "data",
                "value": {"substation": sid, "values": values},
            },
            {"id": "lang-switch", "property": "value", "value": "en"},
        ],
    }


def test_an_operator_posting_the_apply_callback_is_refused_and_audited(
    server: Any, site: SiteConfig
) -> None:
    client, _ = login(server, *OPERATOR)
    answer = client.post("/_dash-update-component", json=apply_callback("ss01"))
    assert answer.status_code == 200
    shown = json.dumps(answer.get_json(), ensure_ascii=False)
    assert "refused" in shown and "may not write set points" in shown
    historian = SqliteHistorian(site.resolve("board.sqlite"))
    audit = [e for e in historian.read_events(0, 2**62) if e.kind == "write"]
    historian.close()
    assert {(e.operator, e.outcome) for e in audit} == {("wang", "refused")}


def test_a_login_without_its_session_secret_is_refused(site: SiteConfig, tmp_path: Path) -> None:
    historian = SqliteHistorian(tmp_path / "h.sqlite")
    with pytest.raises(LoginSetupError, match=SECRET_ENV):
        create_app(site, historian)
    historian.close()


def test_users_command_reads_the_password_from_stdin_and_stores_only_a_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_site(tmp_path, board_doc(tmp_path))
    monkeypatch.setattr("sys.stdin", io.StringIO("night-shift-pw\n"))
    assert main(["users", "-c", str(path), "add", "zhao", "--role", "engineer"]) == 0
    text = (tmp_path / "users.yaml").read_text(encoding="utf-8")
    assert "night-shift-pw" not in text and "n: 16384" in text
    assert (tmp_path / "users.yaml").stat().st_mode & 0o077 == 0
    store = UserStore(tmp_path / "users.yaml")
    assert store.authenticate("zhao", "night-shift-pw") == store.user("zhao")
    assert store.authenticate("zhao", "night-shift-px") is None
    assert main(["users", "-c", str(path), "list"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "zhao\tengineer"
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["users", "-c", str(path), "add", "qian", "--role", "operator"]) == 2
    assert "at least 8 characters" in capsys.readouterr().err
