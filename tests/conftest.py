"""Fixtures shared by every test folder: the demo site on free loopback ports."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from heatnet.config import SiteConfig
from heatnet.loader import load_site

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "config" / "demo.yaml"


def free_ports(count: int) -> list[int]:
    """Loopback ports nobody listens on right now."""
    sockets = []
    for _ in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        sockets.append(s)
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def wait_for(
    condition: Callable[[], bool], what: str, timeout_s: float = 30.0, step_s: float = 0.02
) -> None:
    """Poll `condition` until it holds; fail naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(step_s)


def relocate(doc: dict[str, Any], source: Path) -> dict[str, Any]:
    """Give every device of a site document its own free port; includes made absolute."""
    doc["include"] = [str((source.parent / p).resolve()) for p in doc.get("include", [])]
    assets = [
        doc.get("heat_source", {}),
        *doc.get("substations", []),
        *doc.get("steam_customers", []),
    ]
    devices = [d for a in assets for d in a.get("devices", [])]
    mapping: dict[int, int] = {}
    old_ports = []
    for d in devices:
        if "endpoint" in d:
            old_ports.append(int(d["endpoint"].split("//", 1)[1].split("/", 1)[0].split(":")[1]))
        elif "port" in d:
            old_ports.append(int(d["port"]))
    for old, new in zip(sorted(set(old_ports)), free_ports(len(set(old_ports))), strict=True):
        mapping[old] = new
    for d in devices:
        if "endpoint" in d:
            head, rest = d["endpoint"].split("//", 1)
            hostport, _, path = rest.partition("/")
            host, _, port = hostport.partition(":")
            d["endpoint"] = f"{head}//{host}:{mapping[int(port)]}/{path}"
        elif "port" in d:
            d["port"] = mapping[int(d["port"])]
    return doc


def write_site(tmp_path: Path, doc: dict[str, Any], name: str = "site.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def secured_demo_doc(substation: str, username: str, password_env: str) -> dict[str, Any]:
    """The demo on free ports with one OPC UA substation on Basic256Sha256 and a user login."""
    doc = relocate(yaml.safe_load(DEMO.read_text(encoding="utf-8")), DEMO)
    device = next(s for s in doc["substations"] if s["id"] == substation)["devices"][0]
    device.update(
        security_policy="Basic256Sha256",
        security_mode="SignAndEncrypt",
        username=username,
        password_env=password_env,
    )
    return doc


@pytest.fixture
def demo_doc() -> dict[str, Any]:
    """The demo site as a plain document on free ports, for tests that change it before loading."""
    return relocate(yaml.safe_load(DEMO.read_text(encoding="utf-8")), DEMO)


@pytest.fixture
def demo_site(tmp_path: Path, demo_doc: dict[str, Any]) -> SiteConfig:
    """The demo site, loaded, on free loopback ports."""
    return load_site(write_site(tmp_path, demo_doc))
