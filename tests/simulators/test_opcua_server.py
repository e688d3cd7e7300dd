"""The simulated PLCs' OPC UA servers, read and written by a real asyncua client.

One set of servers for the whole demo site serves every test of the module (they take
about a second each to start); ss07 is switched to Basic256Sha256 with a user login.
"""

from __future__ import annotations

import math
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import pytest_asyncio
from asyncua import Client, ua
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256
from asyncua.ua.uaerrors import UaStatusCodeError

from heatnet.config import Fault, OpcUaPoint, SiteConfig
from heatnet.loader import load_site
from heatnet.points import PointSpec
from simulators.certs import generate_certificate
from simulators.model import SiteModel
from simulators.opcua_server import OpcUaPlcServers
from simulators.opcua_space import UNECE_URI, UNITS
from tests.conftest import secured_demo_doc, write_site

pytestmark = pytest.mark.asyncio(loop_scope="module")

SECURED = "ss07"
USER, PASSWORD, PASSWORD_ENV = "operator", "warm-homes-18", "HEATNET_TEST_SS07_PASSWORD"
CLIENT_URI = "urn:heatnet:test:client"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class Plant:
    site: SiteConfig
    model: SiteModel
    servers: OpcUaPlcServers
    client_cert: Path
    client_key: Path

    def url(self, substation: str) -> str:
        return next(e.url for e in self.servers.endpoints() if e.url.endswith(f"/{substation}"))

    def points(self, substation: str) -> list[tuple[int, PointSpec]]:
        return [
            (i, p)
            for i, p in enumerate(self.model.points)
            if p.protocol == "opcua" and p.asset_id == substation
        ]


@pytest.fixture(scope="module")
def password() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(PASSWORD_ENV, PASSWORD)
        yield


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def plant(tmp_path_factory: pytest.TempPathFactory, password: None) -> AsyncIterator[Plant]:
    tmp = tmp_path_factory.mktemp("opcua")
    doc = secured_demo_doc(SECURED, USER, PASSWORD_ENV)
    site = load_site(write_site(tmp, doc))
    model = SiteModel(site)
    servers = OpcUaPlcServers(model, cert_dir=tmp / "pki")
    client_cert, client_key = tmp / "client.cert.pem", tmp / "client.key.pem"
    generate_certificate(
        client_cert, client_key, "heatnet test", CLIENT_URI, ["localhost", socket.gethostname()]
    )
    await servers.start()
    yield Plant(site, model, servers, client_cert, client_key)
    await servers.stop()


async def secure_client(plant: Plant, username: str | None, password: str | None) -> Client:
    endpoint = next(e for e in plant.servers.endpoints() if e.username is not None)
    client = Client(endpoint.url)
    client.application_uri = CLIENT_URI
    await client.set_security(
        SecurityPolicyBasic256Sha256,
        str(plant.client_cert),
        str(plant.client_key),
        server_certificate=str(endpoint.certificate),
        mode=ua.MessageSecurityMode.SignAndEncrypt,
    )
    if username is not None:
        client.set_user(username)
    if password is not None:
        client.set_password(password)
    return client


def expected(plant: Plant, index: int, spec: PointSpec, values: np.ndarray) -> object:
    assert isinstance(spec.point, OpcUaPoint)
    if spec.point.variant_type == "String":
        return plant.model.text(spec.path)
    if spec.point.variant_type == "Boolean":
        return bool(values[index])
    if spec.point.variant_type == "Float":
        return pytest.approx(float(values[index]), rel=1e-6)
    return float(values[index])


@pytest.mark.parametrize("substation", ["ss06", "ss08", "ss09", "ss10", "ss11", "ss12"])
async def test_values_units_and_clock_match_the_model(plant: Plant, substation: str) -> None:
    plant.model.step(30)
    await plant.servers.refresh()
    values, now_ms = plant.model.values(), plant.model.now_ms()
    points = plant.points(substation)
    async with Client(plant.url(substation)) as client:
        nodes = [client.get_node(spec.node_id) for _, spec in points]
        served = await client.read_attributes(nodes)
        units = [
            await (await node.get_child("0:EngineeringUnits")).read_value()
            for node, (_, spec) in zip(nodes, points, strict=True)
            if spec.unit
        ]
    profile = plant.site.profiles["plc-opcua-ss"]
    assert {p.key for _, p in points} == {p.key for p in profile.points} | {"t_indoor"}
    assert sum(p.key == "t_indoor" for _, p in points) > 1
    for (index, spec), data in zip(points, served, strict=True):
        assert isinstance(spec.point, OpcUaPoint)
        assert data.StatusCode.is_good(), spec.path
        assert data.Value.Value == expected(plant, index, spec, values), spec.path
        assert data.Value.VariantType.name == spec.point.variant_type, spec.path
        assert data.SourceTimestamp == EPOCH + timedelta(milliseconds=now_ms), spec.path
    assert {d.Value.VariantType.name for d in served} == {"Double", "Float", "Boolean", "String"}
    symbols = [UNITS[spec.unit][1] for _, spec in points if spec.unit]
    assert [u.DisplayName.Text for u in units] == symbols
    assert {u.NamespaceUri for u in units} == {UNECE_URI}
    assert units[0].UnitId == 4408652  # t1_supply: UNECE "CEL", degree Celsius


async def test_browse_paths_resolve_to_the_point_node_ids(plant: Plant) -> None:
    async with Client(plant.url("ss06")) as client:
        objects = client.nodes.objects
        supply = await objects.get_child(["2:demo", "2:ss06", "2:t2_supply"])
        room = await objects.get_child(["2:demo", "2:ss06", "2:b1", "2:r201", "2:t_indoor"])
        slope = await objects.get_child(["2:demo", "2:ss06", "2:curve_slope"])
        slope_range = await (await slope.get_child("0:EURange")).read_value()
    assert supply.nodeid == ua.NodeId.from_string("ns=2;s=demo/ss06/t2_supply")
    assert room.nodeid == ua.NodeId.from_string("ns=2;s=demo/ss06/b1/r201/t_indoor")
    assert (slope_range.Low, slope_range.High) == (0.1, 4.0)


async def test_curve_slope_write_reaches_the_model(plant: Plant) -> None:
    index = {p.path: i for i, p in enumerate(plant.model.points)}
    slope_path, setpoint_path = "demo/ss06/curve_slope", "demo/ss06/t2_setpoint"
    before = plant.model.values()
    async with Client(plant.url("ss06")) as client:
        slope = client.get_node(f"ns=2;s={slope_path}")
        await slope.write_value(ua.Variant(before[index[slope_path]] + 0.5, ua.VariantType.Double))
        plant.model.step(1)
        await plant.servers.refresh()
        after = plant.model.values()
        served_setpoint = await client.get_node(f"ns=2;s={setpoint_path}").read_value()
    assert after[index[slope_path]] == pytest.approx(before[index[slope_path]] + 0.5)
    assert after[index[setpoint_path]] > before[index[setpoint_path]] + 1.0
    assert served_setpoint == after[index[setpoint_path]]


async def test_out_of_range_and_read_only_writes_are_refused(plant: Plant) -> None:
    index = {p.path: i for i, p in enumerate(plant.model.points)}
    async with Client(plant.url("ss06")) as client:
        slope = client.get_node("ns=2;s=demo/ss06/curve_slope")
        served_before = await slope.read_value()
        with pytest.raises(ua.uaerrors.BadOutOfRange):
            await slope.write_value(ua.Variant(9.0, ua.VariantType.Double))
        assert await slope.read_value() == served_before
        assert plant.model.values()[index["demo/ss06/curve_slope"]] == served_before
        supply = client.get_node("ns=2;s=demo/ss06/t1_supply")
        supply_before = await supply.read_value()
        with pytest.raises(ua.uaerrors.BadNotWritable):
            await supply.write_value(ua.Variant(99.0, ua.VariantType.Double))
        assert await supply.read_value() == supply_before


async def test_secured_endpoint_admits_only_its_user(plant: Plant) -> None:
    values = plant.model.values()
    index, spec = next((i, p) for i, p in plant.points(SECURED) if p.key == "t2_supply")
    async with await secure_client(plant, USER, PASSWORD) as client:
        assert await client.get_node(spec.node_id).read_value() == values[index]
    with pytest.raises(ua.uaerrors.BadUserAccessDenied):
        async with await secure_client(plant, USER, "guess"):
            pass
    with pytest.raises(ua.uaerrors.BadIdentityTokenRejected):
        async with await secure_client(plant, None, None):
            pass


async def test_exception_fault_serves_bad_status_until_cleared(plant: Plant) -> None:
    fault_id = plant.model.faults.add(Fault(kind="exception_replies", target="ss08/plc"))
    node_id = "ns=2;s=demo/ss08/t1_supply"
    async with Client(plant.url("ss08")) as client:
        await plant.servers.refresh()
        faulty = await client.get_node(node_id).read_data_value(raise_on_bad_status=False)
        plant.model.faults.remove(fault_id)
        await plant.servers.refresh()
        healthy = await client.get_node(node_id).read_data_value()
    assert faulty.StatusCode.value == ua.StatusCodes.BadDeviceFailure
    assert healthy.StatusCode.is_good()


async def test_offline_fault_stops_answering_until_cleared(plant: Plant) -> None:
    fault_id = plant.model.faults.add(Fault(kind="device_offline", target="ss09/plc"))
    node_id = "ns=2;s=demo/ss09/t1_supply"
    client = Client(plant.url("ss09"), timeout=2)
    async with client:
        await plant.servers.refresh()
        with pytest.raises((ConnectionError, TimeoutError, UaStatusCodeError)):
            await client.get_node(node_id).read_value()
    with pytest.raises(OSError):
        async with Client(plant.url("ss09"), timeout=2):
            pass
    plant.model.faults.remove(fault_id)
    await plant.servers.refresh()
    async with Client(plant.url("ss09")) as client:
        assert math.isfinite(await client.get_node(node_id).read_value())


async def test_slow_replies_outlast_a_short_client_timeout(plant: Plant) -> None:
    fault_id = plant.model.faults.add(Fault(kind="slow_replies", target="ss10/plc", delay_s=3))
    async with Client(plant.url("ss10"), timeout=1) as client:
        await plant.servers.refresh()
        with pytest.raises(TimeoutError):
            await client.get_node("ns=2;s=demo/ss10/t1_supply").read_value()
    plant.model.faults.remove(fault_id)
    await plant.servers.refresh()
