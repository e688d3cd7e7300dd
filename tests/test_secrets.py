"""Secrets stay secret: with passwords, a token and the board's session key in the
environment, the collect and dashboard code paths put none of them in a log record, an
exception message or the repr of a config object."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
import yaml

from collectors.opcua_session import OpcUaError, open_session
from dashboard.app import create_app
from heatnet.cli import main
from heatnet.config import OpcUaDevice
from heatnet.loader import load_site
from heatnet.users import site_users
from historian import SqliteHistorian
from tests.conftest import DEMO, free_ports, relocate, write_site

SECRETS = {
    "HEATNET_TEST_OPCUA_PASSWORD": "opcua-Secret-7f3a",
    "HEATNET_TEST_INFLUX_PASSWORD": "influx-Secret-9b2c",
    "HEATNET_TEST_SESSION_KEY": "session-Secret-4d1e-0123456789",
}
TYPED_PASSWORD = "typed-Secret-5e6f"  # what someone types into the login form


def site_doc(tmp: Path) -> dict[str, Any]:
    doc = relocate(yaml.safe_load(DEMO.read_text(encoding="utf-8")), DEMO)
    doc["substations"] = [s for s in doc["substations"] if s["id"] == "ss06"]
    doc["substations"][0]["devices"][0].update(
        username="collector", password_env="HEATNET_TEST_OPCUA_PASSWORD", timeout_s=0.5
    )
    doc["heat_source"]["devices"] = []
    doc["steam_customers"] = []
    doc["historian"] = {
        "backend": "influxdb",
        "url": f"http://127.0.0.1:{free_ports(1)[0]}",  # nobody listens: writes fail
        "username": "heatnet",
        "password_env": "HEATNET_TEST_INFLUX_PASSWORD",
    }
    doc["collector"] = {"buffer_path": str(tmp / "buffer.sqlite")}
    doc["dashboard"] = {
        "users_file": "users.yaml",
        "session_secret_env": "HEATNET_TEST_SESSION_KEY",
    }
    return doc


def leaks(text: str) -> list[str]:
    return [s for s in (*SECRETS.values(), TYPED_PASSWORD) if s in text]


def test_no_secret_in_logs_errors_or_config_reprs(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.DEBUG)
    path = write_site(tmp_path, site_doc(tmp_path))
    site = load_site(path)

    assert main(["collect", "-c", str(path), "--duration", "1.5"]) in (0, 1)
    device = site.substations[0].devices[0]
    assert isinstance(device, OpcUaDevice)
    with pytest.raises(OpcUaError) as refused:
        asyncio.run(open_session(device, "ss06/plc", tmp_path))

    users = site_users(site)
    assert users is not None
    users.add("wang", "operator", "operator-pw-1")
    historian = SqliteHistorian(tmp_path / "board.sqlite")
    app = create_app(site, historian)
    client = app.server.test_client()
    client.post("/login", data={"name": "wang", "password": TYPED_PASSWORD})
    client.post("/login", data={"name": TYPED_PASSWORD[:3], "password": TYPED_PASSWORD})
    client.get("/_dash-layout")
    historian.close()

    formatter = logging.Formatter("%(message)s")
    logged = "\n".join(formatter.format(r) for r in caplog.records)
    assert "collector" in logged or "ss06" in logged  # the paths did run and log
    assert leaks(logged) == []
    assert leaks(str(refused.value)) == [] and leaks(repr(refused.value)) == []
    out = capsys.readouterr()
    assert leaks(out.out + out.err) == []
    reprs = [repr(site), repr(site.historian), repr(site.dashboard), repr(device), str(site)]
    reprs += [repr(users.entries()), repr(app.server.config.get("SESSION_COOKIE_NAME"))]
    assert leaks("\n".join(reprs)) == []
