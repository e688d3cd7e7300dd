"""Curve write-back against the simulator's real Modbus and OPC UA servers.

The plant (the model behind the servers) and the control room (the site file the write-back
reads) are two loads of one site: the plant's profiles accept curve_slope only up to 3.0
where the control room's allow 4.0, so a value between passes the write-back's own check
and is refused by the PLC.
"""

from __future__ import annotations

import copy
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml

from collectors import modbus_write
from collectors.writeback import CurveWriteBack, WriteReport
from heatnet.config import Fault, SiteConfig
from heatnet.loader import load_site
from heatnet.users import User
from historian import SqliteHistorian
from simulators.certs import generate_certificate
from simulators.modbus_server import ModbusPlcServers
from simulators.model import SiteModel
from simulators.opcua_server import OpcUaPlcServers
from tests.conftest import DEMO, relocate, write_site

pytestmark = pytest.mark.asyncio(loop_scope="module")

KEEP = ("ss01", "ss02", "ss03", "ss04", "ss06", "ss07", "ss08")
WRITABLE = ("ss01", "ss03", "ss04", "ss06", "ss07", "ss08")  # ss02 keeps write_enabled off
SECURED = "ss07"
PASSWORD_ENV, PASSWORD = "HEATNET_TEST_WRITEBACK_PASSWORD", "curve-writer-pw"
ENGINEER = User("李工", "engineer")
OPERATOR = User("王工", "operator")
NOW_S = 1_800_000_000.0
CURVE = {"curve_slope": 2.2, "curve_shift": 2.5, "curve_min": 33.0, "curve_max": 88.0}


def clock() -> float:
    return NOW_S


def site_doc() -> dict[str, Any]:
    """The demo site cut to seven substations, its profiles inline."""
    doc = relocate(yaml.safe_load(DEMO.read_text(encoding="utf-8")), DEMO)
    doc["profiles"] = {}
    for include in doc.pop("include"):
        doc["profiles"].update(
            yaml.safe_load(Path(include).read_text(encoding="utf-8"))["profiles"]
        )
    doc["substations"] = [s for s in doc["substations"] if s["id"] in KEEP]
    doc["steam_customers"] = []
    doc["heat_source"]["devices"] = []
    for sub in doc["substations"]:
        device = sub["devices"][0]
        device["write_enabled"] = sub["id"] in WRITABLE
        device["timeout_s"] = 0.5
        device["retries"] = 0
        if sub["id"] == SECURED:
            device.update(
                security_policy="Basic256Sha256",
                security_mode="SignAndEncrypt",
                username="engineer",
                password_env=PASSWORD_ENV,
                certificate="pki/client.cert.pem",
                private_key="pki/client.key.pem",
                server_certificate="pki/server.cert.pem",
            )
    return doc


@dataclass
class Plant:
    model: SiteModel
    control: SiteConfig
    historian: SqliteHistorian
    writeback: CurveWriteBack
    opcua: OpcUaPlcServers

    def curve(self, substation: str) -> dict[str, float]:
        site = self.control.site.id
        return {role: self.model.read(f"{site}/{substation}/{role}") for role in CURVE}

    def audit(self, substation: str) -> list[Any]:
        events = self.historian.read_events(0, 2**62)
        return [e for e in events if e.kind == "write" and f"/{substation}/" in e.path]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def plant(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Plant]:
    tmp = tmp_path_factory.mktemp("writeback")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(PASSWORD_ENV, PASSWORD)
        control_doc = site_doc()
        plant_doc = copy.deepcopy(control_doc)
        for profile in plant_doc["profiles"].values():
            for point in profile["points"]:
                if point.get("role") == "curve_slope":
                    point["max"] = 3.0
        model = SiteModel(load_site(write_site(tmp, plant_doc, "plant.yaml")), seed=2)
        control = load_site(write_site(tmp, control_doc, "control.yaml"))
        pki = tmp / "pki"
        generate_certificate(
            pki / "client.cert.pem",
            pki / "client.key.pem",
            "writeback",
            "urn:heatnet:test:writeback",
            ["localhost", socket.gethostname()],
        )
        modbus, opcua = ModbusPlcServers(model), OpcUaPlcServers(model, cert_dir=tmp / "srv")
        await modbus.start()
        await opcua.start()
        server_cert = next(e.certificate for e in opcua.endpoints() if e.certificate is not None)
        (pki / "server.cert.pem").write_bytes(server_cert.read_bytes())
        historian = SqliteHistorian(tmp / "audit.sqlite")
        writeback = CurveWriteBack(control, historian, clock=clock)
        yield Plant(model, control, historian, writeback, opcua)
        historian.close()
        await opcua.stop()
        await modbus.stop()


def outcomes(report: WriteReport) -> dict[str, str]:
    return {p.role: p.outcome for p in report.points}


@pytest.mark.parametrize(
    "substation", ["ss01", "ss06", SECURED], ids=["modbus", "opcua", "secured"]
)
async def test_engineer_applies_a_curve_and_it_is_audited(plant: Plant, substation: str) -> None:
    before = plant.curve(substation)
    report = await plant.writeback.apply(ENGINEER, substation, CURVE)
    assert report.result == "ok", report.message
    assert outcomes(report) == dict.fromkeys(CURVE, "ok")
    after = plant.curve(substation)
    for role, value in CURVE.items():
        assert after[role] == pytest.approx(value, abs=0.051), role  # int16 · 0.1 on Modbus
    audit = {e.path.rsplit("/", 1)[1]: e for e in plant.audit(substation)}
    assert set(audit) == set(CURVE)
    slope = audit["curve_slope"]
    assert (slope.operator, slope.outcome, slope.value) == ("李工", "ok", 2.2)
    assert slope.previous == pytest.approx(before["curve_slope"], rel=1e-6)
    assert slope.device == f"{substation}/plc" and slope.ts_ms == NOW_S * 1000


async def test_out_of_range_is_refused_before_anything_is_sent(plant: Plant) -> None:
    before = plant.curve("ss03")
    report = await plant.writeback.apply(ENGINEER, "ss03", {**CURVE, "curve_max": 130.0})
    assert report.result == "refused" and report.written == []
    assert "curve_max: 130 is outside the profile's range [40.0, 110.0]" in report.message
    assert set(outcomes(report).values()) == {"refused"}
    assert plant.curve("ss03") == before
    audit = plant.audit("ss03")
    assert len(audit) == 4 and {e.outcome for e in audit} == {"refused"}
    assert all(e.previous is None for e in audit)  # the device was not even asked


@pytest.mark.parametrize(
    ("substation", "status"), [("ss04", "exception 3"), ("ss08", "BadOutOfRange")]
)
async def test_the_plc_refusing_a_value_is_reported_as_refused(
    plant: Plant, substation: str, status: str
) -> None:
    report = await plant.writeback.apply(ENGINEER, substation, {"curve_slope": 3.5})
    assert report.result == "refused"
    refused = report.points[0]
    assert refused.outcome == "refused" and status in refused.reason
    assert plant.curve(substation)["curve_slope"] != pytest.approx(3.5)
    [entry] = [e for e in plant.audit(substation) if e.value == 3.5]
    assert entry.outcome == "refused" and entry.operator == "李工"


async def test_write_enabled_false_refuses_without_contacting_the_device(
    plant: Plant, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_contact(*_: Any, **__: Any) -> None:
        raise AssertionError("the device was contacted")

    monkeypatch.setattr(modbus_write, "modbus_client", no_contact)
    report = await plant.writeback.apply(ENGINEER, "ss02", CURVE)
    assert report.result == "refused"
    assert 'writes are off for device "ss02/plc" (write_enabled: false)' in report.message
    assert {e.outcome for e in plant.audit("ss02")} == {"refused"}


async def test_an_operator_may_not_write(plant: Plant) -> None:
    before = plant.curve("ss01")
    report = await plant.writeback.apply(OPERATOR, "ss01", {"curve_shift": -3.0})
    assert report.result == "refused" and "'王工' (operator) may not write" in report.message
    assert plant.curve("ss01") == before
    [entry] = [e for e in plant.audit("ss01") if e.operator == "王工"]
    assert entry.outcome == "refused" and entry.value == -3.0


@pytest.mark.parametrize("substation", ["ss03", "ss08"], ids=["modbus", "opcua"])
async def test_offline_device_fails_clearly_and_nothing_is_written(
    plant: Plant, substation: str
) -> None:
    fault = plant.model.faults.add(Fault(kind="device_offline", target=f"{substation}/plc"))
    try:
        await plant.opcua.refresh()
        report = await plant.writeback.apply(ENGINEER, substation, {"curve_shift": 4.0})
    finally:
        plant.model.faults.remove(fault)
        await plant.opcua.refresh()
    assert report.result == "failed" and report.written == []
    assert report.message.startswith("nothing written: ") and f"{substation}/plc" in report.message
    assert plant.curve(substation)["curve_shift"] != pytest.approx(4.0)
    [entry] = [e for e in plant.audit(substation) if e.value == 4.0]
    assert entry.outcome == "failed"


async def test_a_device_lost_midway_reports_what_was_written(
    plant: Plant, monkeypatch: pytest.MonkeyPatch
) -> None:
    write = modbus_write.ModbusPointWriter.write
    fault: list[int] = []

    async def then_offline(self: Any, spec: Any, value: float) -> None:
        await write(self, spec, value)
        if not fault:  # the device drops off the network after the first write
            fault.append(plant.model.faults.add(Fault(kind="device_offline", target="ss01/plc")))

    monkeypatch.setattr(modbus_write.ModbusPointWriter, "write", then_offline)
    try:
        report = await plant.writeback.apply(
            ENGINEER, "ss01", {"curve_slope": 1.9, "curve_shift": 0.5}
        )
    finally:
        plant.model.faults.remove(fault[0])
    assert report.result == "partial" and report.written == ["curve_slope"]
    assert outcomes(report) == {"curve_slope": "unverified", "curve_shift": "failed"}
    assert "written before it: curve_slope" in report.message
    assert plant.curve("ss01")["curve_slope"] == pytest.approx(1.9, rel=1e-6)
    assert {e.outcome for e in plant.audit("ss01") if e.value in (1.9, 0.5)} == {
        "unverified",
        "failed",
    }
