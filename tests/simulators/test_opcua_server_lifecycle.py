"""Starting and stopping the OPC UA servers: a clean stop, and a port someone else holds."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import pytest
from asyncua import Client

from heatnet.loader import load_site
from simulators.model import SiteModel
from simulators.opcua_server import OpcUaPlcServers, OpcUaServerError
from tests.conftest import write_site


def pending_tasks() -> set[asyncio.Task[Any]]:
    return {task for task in asyncio.all_tasks() if not task.done()}


@pytest.fixture
def model(tmp_path: Path, demo_doc: dict[str, Any]) -> SiteModel:
    """The demo site cut down to one Modbus and one OPC UA substation."""
    demo_doc["substations"] = [s for s in demo_doc["substations"] if s["id"] in ("ss01", "ss06")]
    return SiteModel(load_site(write_site(tmp_path, demo_doc)))


async def test_stop_leaves_no_tasks_behind(model: SiteModel) -> None:
    before = pending_tasks()
    servers = OpcUaPlcServers(model)
    await servers.start()
    (endpoint,) = servers.endpoints()
    async with Client(endpoint.url) as client:
        await client.get_node("ns=2;s=demo/ss06/t1_supply").read_value()
        await servers.stop()
    assert pending_tasks() == before


async def test_taken_port_fails_naming_the_endpoint(model: SiteModel) -> None:
    before = pending_tasks()
    servers = OpcUaPlcServers(model)
    (endpoint,) = servers.endpoints()
    port = int(endpoint.url.split(":")[2].split("/")[0])
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        with pytest.raises(OpcUaServerError, match=endpoint.url):
            await servers.start()
    assert pending_tasks() == before
