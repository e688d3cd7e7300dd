"""The OPC UA collector against the simulated PLCs' real asyncua servers.

One set of servers for the demo site serves the whole module (they take about a second
each to start); every fault test uses a substation of its own. ss07 is switched to
Basic256Sha256/SignAndEncrypt with a user login, as in the simulator's tests.
"""

from __future__ import annotations

import asyncio
import logging
import math
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import pytest_asyncio

from collectors.opcua import OpcUaCollector
from heatnet.config import Fault, OpcUaPoint
from heatnet.loader import load_site
from heatnet.points import PointSpec, Quality, QualityReason
from heatnet.samples import REASON_CODE, SampleBatch
from simulators.certs import generate_certificate
from simulators.model import SiteModel
from simulators.opcua_server import OpcUaPlcServers
from tests.conftest import secured_demo_doc, write_site

pytestmark = pytest.mark.asyncio(loop_scope="module")

SECURED = "ss07"
USER, PASSWORD, PASSWORD_ENV = "operator", "warm-homes-18", "HEATNET_TEST_COLLECTOR_PASSWORD"
CLIENT_URI = "urn:heatnet:test:collector"
NOW_S = 1_800_000_000.0


def clock() -> float:
    return NOW_S


@dataclass
class Plant:
    model: SiteModel
    servers: OpcUaPlcServers
    pki: Path  # the client's certificate and key, and the trusted server certificate

    def points(self, substation: str) -> list[PointSpec]:
        return [p for p in self.model.points if p.protocol == "opcua" and p.asset_id == substation]

    def collector(self, substation: str, **settings: Any) -> OpcUaCollector:
        points = self.points(substation)
        device = points[0].device.model_copy(update=settings)
        return OpcUaCollector(device, points, clock, base_dir=self.pki)

    def refresh(self) -> Any:
        return self.servers.refresh()


@pytest.fixture(scope="module")
def password() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(PASSWORD_ENV, PASSWORD)
        yield


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def plant(tmp_path_factory: pytest.TempPathFactory, password: None) -> AsyncIterator[Plant]:
    tmp = tmp_path_factory.mktemp("opcua-collector")
    doc = secured_demo_doc(SECURED, USER, PASSWORD_ENV)
    model = SiteModel(load_site(write_site(tmp, doc)))
    servers = OpcUaPlcServers(model, cert_dir=tmp / "server-pki")
    pki = tmp / "pki"
    hostnames = ["localhost", socket.gethostname()]
    generate_certificate(
        pki / "client.cert.pem", pki / "client.key.pem", "collector", CLIENT_URI, hostnames
    )
    generate_certificate(
        pki / "impostor.cert.pem", pki / "impostor.key.pem", "impostor", "urn:x", hostnames
    )
    await servers.start()
    server_cert = next(e.certificate for e in servers.endpoints() if e.certificate is not None)
    (pki / "server.cert.pem").write_bytes(server_cert.read_bytes())
    yield Plant(model, servers, pki)
    await servers.stop()


async def until(condition: Callable[[], bool], timeout_s: float = 15.0) -> None:
    """Wait for something the servers or the collector do in the background."""
    async with asyncio.timeout(timeout_s):
        while True:
            if condition():
                return
            await asyncio.sleep(0.05)


async def poll_every_group(collector: OpcUaCollector, specs: list[PointSpec]) -> SampleBatch:
    """One poll of each poll group the points belong to, joined in point order."""
    groups = dict.fromkeys(p.point.group for p in specs)
    batch = SampleBatch.concat([await collector.poll(group) for group in groups])
    order = {path: i for i, path in enumerate(batch.paths)}
    return batch.take(np.array([order[p.path] for p in specs]))


def assert_matches_model(plant: Plant, batch: SampleBatch, specs: list[PointSpec]) -> None:
    values, index = plant.model.values(), plant.model.point_index
    assert batch.paths == [p.path for p in specs]
    for i, spec in enumerate(specs):
        assert isinstance(spec.point, OpcUaPoint)
        expected = values[index[spec.path]]
        if spec.point.variant_type == "String":
            assert batch.texts[i] == plant.model.text(spec.path)
        elif spec.point.variant_type == "Float":
            assert batch.values[i] == pytest.approx(expected, rel=1e-6), spec.path
        else:
            assert batch.values[i] == expected, spec.path


def logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The collector's own log records (asyncua logs plenty of its own)."""
    return [r for r in caplog.records if r.name == "collectors.opcua"]


def reasons(batch: SampleBatch) -> set[int]:
    return set(batch.reason.tolist())


# ---- polling --------------------------------------------------------------------------


@pytest.mark.parametrize("substation", ["ss06", "ss08", "ss09", "ss10", "ss11", "ss12"])
async def test_poll_reads_every_point_with_the_plc_clock(plant: Plant, substation: str) -> None:
    plant.model.step(30)
    await plant.refresh()
    collector = plant.collector(substation)
    specs = plant.points(substation)
    try:
        await collector.connect()
        batch = await poll_every_group(collector, specs)
    finally:
        await collector.close()
    assert (batch.quality == Quality.GOOD).all(), batch.paths
    assert_matches_model(plant, batch, specs)
    assert {p.point.variant_type for p in specs if isinstance(p.point, OpcUaPoint)} == {
        "Double",
        "Float",
        "Boolean",
        "String",
    }
    assert (batch.ts_ms == plant.model.now_ms()).all()
    assert collector.stats.reads == 2  # two poll groups, one Read call each


async def test_collector_timestamps_come_from_the_injected_clock(plant: Plant) -> None:
    collector = plant.collector("ss06", timestamps="collector")
    try:
        batch = await collector.poll("default")  # connects on first use
    finally:
        await collector.close()
    assert (batch.quality == Quality.GOOD).all()
    assert (batch.ts_ms == round(NOW_S * 1000)).all()
    assert len(await collector.poll("no-such-group")) == 0


async def test_secured_endpoint_reads_with_the_right_password(plant: Plant) -> None:
    collector = plant.collector(
        SECURED,
        certificate="client.cert.pem",
        private_key="client.key.pem",
        server_certificate="server.cert.pem",
    )
    try:
        batch = await poll_every_group(collector, plant.points(SECURED))
    finally:
        await collector.close()
    assert (batch.quality == Quality.GOOD).all()
    assert_matches_model(plant, batch, plant.points(SECURED))


async def test_wrong_password_gives_bad_samples_and_one_clear_log(
    plant: Plant, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEATNET_TEST_WRONG_PASSWORD", "guess")
    collector = plant.collector(
        SECURED,
        certificate="client.cert.pem",
        private_key="client.key.pem",
        server_certificate="server.cert.pem",
        password_env="HEATNET_TEST_WRONG_PASSWORD",
        retries=2,
    )
    with caplog.at_level(logging.WARNING, logger="collectors.opcua"):
        try:
            first = await collector.poll("default")
            second = await collector.poll("default")
        finally:
            await collector.close()
    for batch in (first, second):
        assert (batch.quality == Quality.BAD).all()
        assert reasons(batch) == {REASON_CODE[QualityReason.COMMS_LOST]}
        assert np.isnan(batch.values).all()
    [record] = logged(caplog)
    assert f'"{SECURED}/plc"' in record.message
    assert "login refused (BadUserAccessDenied)" in record.message
    assert "guess" not in caplog.text
    assert collector.stats.errors == {"comms_lost": 2}  # refused logins are not retried


@pytest.mark.parametrize(
    ("trusted", "message"),
    [
        ("impostor.cert.pem", "does not match the trusted"),
        (None, "is not trusted; set server_certificate"),
    ],
)
async def test_untrusted_server_is_refused(
    plant: Plant, caplog: pytest.LogCaptureFixture, trusted: str | None, message: str
) -> None:
    collector = plant.collector(
        SECURED,
        certificate="client.cert.pem",
        private_key="client.key.pem",
        server_certificate=trusted,
    )
    with caplog.at_level(logging.WARNING, logger="collectors.opcua"):
        await collector.connect()
        batch = await collector.poll("default")
        await collector.close()
    assert (batch.quality == Quality.BAD).all()
    assert collector.stats.connects == 0
    [record] = logged(caplog)
    assert message in record.message


# ---- faults while polling --------------------------------------------------------------


async def test_offline_device_reads_comms_lost_then_recovers(
    plant: Plant, caplog: pytest.LogCaptureFixture
) -> None:
    collector = plant.collector("ss09", retries=0)
    await collector.connect()
    fault = plant.model.faults.add(Fault(kind="device_offline", target="ss09/plc"))
    with caplog.at_level(logging.INFO, logger="collectors.opcua"):
        try:
            await plant.refresh()
            lost = [await collector.poll("default") for _ in range(2)]
            plant.model.faults.remove(fault)
            await plant.refresh()
            back = [await collector.poll("default") for _ in range(2)]
        finally:
            await collector.close()
    for batch in lost:
        assert (batch.quality == Quality.BAD).all()
        assert reasons(batch) == {REASON_CODE[QualityReason.COMMS_LOST]}
    for batch in back:
        assert (batch.quality == Quality.GOOD).all()
    assert [r.levelname for r in logged(caplog)] == ["WARNING", "INFO"]
    assert "answers again" in logged(caplog)[1].message
    assert collector.stats.reconnects == 1


async def test_exception_replies_read_device_exception(plant: Plant) -> None:
    collector = plant.collector("ss08")
    fault = plant.model.faults.add(Fault(kind="exception_replies", target="ss08/plc"))
    try:
        await plant.refresh()
        batch = await collector.poll("default")
    finally:
        plant.model.faults.remove(fault)
        await plant.refresh()
        await collector.close()
    assert (batch.quality == Quality.BAD).all()
    assert reasons(batch) == {REASON_CODE[QualityReason.DEVICE_EXCEPTION]}


async def test_slow_replies_beyond_the_timeout_read_timeout(plant: Plant) -> None:
    collector = plant.collector("ss10", timeout_s=0.3, retries=1)
    await collector.connect()
    fault = plant.model.faults.add(Fault(kind="slow_replies", target="ss10/plc", delay_s=1.0))
    try:
        await plant.refresh()
        slow = await collector.poll("default")
        plant.model.faults.remove(fault)
        await plant.refresh()
        await asyncio.sleep(1.0)  # let the delayed replies drain
        healthy = await collector.poll("default")
    finally:
        await collector.close()
    assert (slow.quality == Quality.BAD).all()
    assert reasons(slow) == {REASON_CODE[QualityReason.TIMEOUT]}
    assert collector.stats.errors["timeout"] == 2  # the first try and one retry
    assert (healthy.quality == Quality.GOOD).all()


# ---- subscriptions ---------------------------------------------------------------------


class Sink:
    """Keeps what a subscription delivers, and the latest sample of every point."""

    def __init__(self) -> None:
        self.batches: list[SampleBatch] = []
        self.latest: dict[str, tuple[int, float | str | None, int, int]] = {}

    def __call__(self, batch: SampleBatch) -> None:
        self.batches.append(batch)
        for sample in batch.samples():
            self.latest[sample.path] = (
                sample.ts_ms,
                sample.value,
                sample.quality,
                REASON_CODE[sample.reason],
            )

    def good(self, paths: list[str]) -> bool:
        return all(self.latest.get(p, (0, None, Quality.BAD, 0))[2] == Quality.GOOD for p in paths)


async def test_subscription_delivers_changes_with_source_timestamps(plant: Plant) -> None:
    specs = plant.points("ss11")
    paths = [p.path for p in specs]
    sink = Sink()
    collector = plant.collector(
        "ss11", mode="subscribe", subscription_chunk=7, poll_intervals={"default": 0.05}
    )
    try:
        await collector.connect()
        await collector.subscribe(sink)
        await until(lambda: sink.good(paths))
        before = dict(sink.latest)
        plant.model.step(30)
        await plant.refresh()
        now_ms = plant.model.now_ms()
        values, index = plant.model.values(), plant.model.point_index
        changed = [p for p in paths if before[p][1] != values[index[p]] and p in index]
        changed = [p for p in changed if not math.isnan(values[index[p]])]
        await until(lambda: all(sink.latest[p][0] == now_ms for p in changed))
    finally:
        await collector.close()
    assert len(changed) > 10
    for path in changed:
        _, value, quality, _ = sink.latest[path]
        assert quality == Quality.GOOD
        assert value == pytest.approx(values[index[path]], rel=1e-6)
    assert collector.stats.monitored_item_calls == math.ceil(len(specs) / 7)
    assert collector.stats.connects == 1  # the subscription uses the session connect() opened
    assert collector.stats.data_changes == sum(len(b) for b in sink.batches)
    assert max(len(b) for b in sink.batches) > 1  # a batch per publish, not per item


async def test_subscription_records_the_outage_and_rebuilds(plant: Plant) -> None:
    specs = plant.points("ss12")
    paths = [p.path for p in specs]
    sink = Sink()
    collector = plant.collector(
        "ss12", mode="subscribe", poll_intervals={"default": 0.05}, backoff_max=0.5
    )
    collector.first_retry_s = 0.1
    fault: int | None = None
    try:
        await collector.subscribe(sink)
        await until(lambda: sink.good(paths))
        fault = plant.model.faults.add(Fault(kind="device_offline", target="ss12/plc"))
        await plant.refresh()
        await until(lambda: collector.stats.errors["comms_lost"] >= 2)  # lost, one retry failed
        outage = [b for b in sink.batches if (b.quality == Quality.BAD).any()]
        plant.model.faults.remove(fault)
        fault = None
        await plant.refresh()
        await until(lambda: sink.good(paths))
        plant.model.step(30)
        await plant.refresh()
        now_ms = plant.model.now_ms()
        await until(lambda: sink.latest["demo/ss12/t2_supply"][0] == now_ms)
    finally:
        if fault is not None:
            plant.model.faults.remove(fault)
            await plant.refresh()
        await collector.close()
    [gap] = outage  # reported once, however many reconnects fail
    assert gap.paths == paths
    assert reasons(gap) == {REASON_CODE[QualityReason.COMMS_LOST]}
    assert collector.stats.reconnects == 1
    assert collector.stats.monitored_item_calls == 2  # 33 nodes in one chunk, twice
    assert sink.latest["demo/ss12/t2_supply"][2] == Quality.GOOD


async def test_subscribing_to_a_refusing_server_keeps_trying_quietly(
    plant: Plant, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEATNET_TEST_WRONG_PASSWORD", "guess")
    sink = Sink()
    collector = plant.collector(
        SECURED,
        mode="subscribe",
        certificate="client.cert.pem",
        private_key="client.key.pem",
        server_certificate="server.cert.pem",
        password_env="HEATNET_TEST_WRONG_PASSWORD",
        backoff_max=0.2,
    )
    collector.first_retry_s = 0.05
    with caplog.at_level(logging.WARNING, logger="collectors.opcua"):
        try:
            await collector.subscribe(sink)
            await until(lambda: collector.stats.errors["comms_lost"] >= 3)
        finally:
            await collector.close()
    [gap] = sink.batches
    assert (gap.quality == Quality.BAD).all()
    assert len(logged(caplog)) == 1


async def test_a_device_without_points_or_of_another_protocol_is_refused(plant: Plant) -> None:
    device = plant.points("ss06")[0].device
    with pytest.raises(ValueError, match='device "plc": it has no points'):
        OpcUaCollector(device, [], clock)
    modbus = next(p for p in plant.model.points if p.protocol == "modbus")
    with pytest.raises(TypeError, match="speaks modbus, not opcua"):
        OpcUaCollector(modbus.device, [modbus], clock)
