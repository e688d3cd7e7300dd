"""The Modbus collector against the simulator's real pymodbus servers serving a SiteModel.

The `all_types` site (from the simulator's tests) has one substation per byte order with
every data type, and three substations whose devices are offline, slow and failing.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from collectors.modbus import ModbusCollector
from collectors.registry import collector_for
from heatnet.config import Fault, ModbusDevice, ModbusPoint, SiteConfig
from heatnet.loader import load_site
from heatnet.points import PointSpec, Quality, QualityReason
from heatnet.samples import SampleBatch
from simulators.modbus_server import ModbusPlcServers
from simulators.model import SiteModel
from tests.conftest import free_ports, write_site
from tests.simulators.test_modbus_server import all_types_doc, assert_served

NOW_S = 1_790_000_000.0  # the collector's injected clock


def fixed_clock() -> float:
    return NOW_S


@dataclasses.dataclass
class Plant:
    """A site model served by real pymodbus servers, and collectors made for its devices."""

    model: SiteModel
    servers: ModbusPlcServers
    collectors: list[ModbusCollector] = dataclasses.field(default_factory=list)

    def specs(self, device_key: str) -> list[PointSpec]:
        return [p for p in self.model.points if p.device_key == device_key]

    def collector(
        self,
        device_key: str,
        points: list[PointSpec] | None = None,
        clock: Callable[[], float] = fixed_clock,
        **device: Any,
    ) -> ModbusCollector:
        """A collector for a device, with device settings overridden (timeout_s, retries...)."""
        specs = points if points is not None else self.specs(device_key)
        base = self.specs(device_key)[0].device
        assert isinstance(base, ModbusDevice)
        made = ModbusCollector(base.model_copy(update=device), specs, clock)
        self.collectors.append(made)
        return made

    def index(self, spec: PointSpec) -> int:
        return self.model.point_index[spec.path]

    def assert_matches(self, batch: SampleBatch, specs: list[PointSpec]) -> None:
        """Every sample good and equal to the model's value within register resolution."""
        assert batch.paths == [s.path for s in specs]
        for i, spec in enumerate(specs):
            assert batch.quality[i] == Quality.GOOD, (spec.path, list(batch.samples())[i])
            value = batch.value(i)
            assert value is not None, spec.path
            assert_served(self.model, spec, self.index(spec), value)


async def serve(site: SiteConfig) -> AsyncIterator[Plant]:
    model = SiteModel(site, seed=3)
    model.step(5)
    servers = ModbusPlcServers(model)
    await servers.start()
    plant = Plant(model, servers)
    try:
        yield plant
    finally:
        for made in plant.collectors:
            await made.close()
        await plant.servers.stop()


@pytest.fixture
async def plant(tmp_path: Path) -> AsyncIterator[Plant]:
    async for served in serve(load_site(write_site(tmp_path, all_types_doc(free_ports(6))))):
        yield served


@pytest.fixture
async def demo_plant(demo_site: SiteConfig) -> AsyncIterator[Plant]:
    async for served in serve(demo_site):
        yield served


def reasons(batch: SampleBatch) -> set[QualityReason]:
    return {sample.reason for sample in batch.samples()}


def remove_faults(model: SiteModel, target: str) -> None:
    for entry in list(model.faults.entries()):
        if entry.fault.target == target:
            model.faults.remove(entry.id)


async def test_every_type_and_byte_order_polls_as_the_model_holds_it(plant: Plant) -> None:
    polled = 0
    for asset in ("abcd", "dcba", "badc", "cdab"):
        collector = plant.collector(f"{asset}/plc")
        await collector.connect()
        batch = await collector.poll("default")
        plant.assert_matches(batch, plant.specs(f"{asset}/plc"))
        assert set(batch.ts_ms.tolist()) == {round(NOW_S * 1000)}
        polled += len(batch)
    assert polled == 4 * (23 + 3)
    plant.model.step(30)
    plant.servers.refresh()
    for collector in plant.collectors:
        plant.assert_matches(await collector.poll("default"), plant.specs(collector.device_key))


async def test_demo_site_polls_every_modbus_point_good_on_the_plc_clock(demo_plant: Plant) -> None:
    modbus = [p for p in demo_plant.model.points if isinstance(p.device, ModbusDevice)]
    polled = 0
    for device_key in dict.fromkeys(p.device_key for p in modbus):
        specs = demo_plant.specs(device_key)
        collector = demo_plant.collector(device_key)
        for group in dict.fromkeys(s.point.group for s in specs):
            batch = await collector.poll(group)
            demo_plant.assert_matches(batch, [s for s in specs if s.point.group == group])
            assert set(batch.ts_ms.tolist()) == {demo_plant.model.now_ms()}, device_key
            polled += len(batch)
    assert polled == len(modbus)
    assert any(c.device.framer == "rtu" for c in demo_plant.collectors)


def regrouped(specs: list[PointSpec], fast: set[str]) -> list[PointSpec]:
    """The specs with the keys in `fast` moved to a poll group of their own."""
    return [
        dataclasses.replace(s, point=s.point.model_copy(update={"group": "fast"}))
        if s.key in fast
        else s
        for s in specs
    ]


async def test_every_group_reads_the_plc_clock_for_its_timestamps(demo_plant: Plant) -> None:
    specs = regrouped(demo_plant.specs("ss01/plc"), {"t1_supply", "t2_supply"})
    source = demo_plant.collector("ss01/plc", specs)
    clock_address = next(s.point for s in specs if s.key == "plc_clock").address
    assert any(r.address <= clock_address < r.end for r in source.plan("fast"))
    batch = await source.poll("fast")
    assert batch.paths == ["demo/ss01/t1_supply", "demo/ss01/t2_supply"]
    assert set(batch.ts_ms.tolist()) == {demo_plant.model.now_ms()}
    assert batch.quality.tolist() == [Quality.GOOD] * 2

    collector = demo_plant.collector("ss01/plc", specs, timestamps="collector")
    assert [(r.address, r.count) for r in collector.plan("fast")] == [(0, 3)]
    assert set((await collector.poll("fast")).ts_ms.tolist()) == {round(NOW_S * 1000)}


async def test_an_unreadable_plc_clock_falls_back_to_the_collector_clock(
    demo_plant: Plant,
) -> None:
    specs = [
        dataclasses.replace(s, point=s.point.model_copy(update={"address": 60}))  # a hole
        if s.key == "plc_clock"
        else s
        for s in demo_plant.specs("ss01/plc")
    ]
    collector = demo_plant.collector("ss01/plc", specs)
    batch = await collector.poll("default")
    assert set(batch.ts_ms.tolist()) == {round(NOW_S * 1000)}
    assert collector.stats.clock_fallbacks == 1
    clock = batch.paths.index("demo/ss01/plc_clock")
    assert list(batch.samples())[clock].reason == QualityReason.DEVICE_EXCEPTION
    others = [s for s in batch.samples() if s.path != "demo/ss01/plc_clock"]
    assert {s.quality for s in others} == {Quality.GOOD}


async def test_a_read_over_an_unmapped_gap_is_split_and_the_split_remembered(
    plant: Plant,
) -> None:
    collector = plant.collector("abcd/plc")  # holding 27-29 and 35 are holes it reads over
    holding = [r for r in collector.plan("default") if r.register_type == "holding"]
    assert [(r.address, r.count) for r in holding] == [(0, 42)]

    first = await collector.poll("default")
    plant.assert_matches(first, plant.specs("abcd/plc"))
    assert collector.stats.exception_codes == {2: 1} and collector.stats.splits == 1
    assert collector.cuts == {"holding": {27, 35}}
    first_requests = collector.stats.requests

    second = await collector.poll("default")
    plant.assert_matches(second, plant.specs("abcd/plc"))
    assert collector.stats.exception_codes == {2: 1}  # no new refusal
    assert collector.stats.requests - first_requests == first_requests - 1  # not the wide one


async def test_a_point_the_device_lacks_fails_alone(plant: Plant) -> None:
    specs = plant.specs("abcd/plc")
    ghost = dataclasses.replace(
        specs[0], path="t/abcd/ghost", key="ghost", point=ModbusPoint(name="ghost", address=44)
    )
    collector = plant.collector("abcd/plc", [*specs, ghost])
    for _ in range(2):
        batch = await collector.poll("default")
        plant.assert_matches(batch.take(batch.quality == Quality.GOOD), specs)
        (bad,) = [s for s in batch.samples() if s.quality != Quality.GOOD]
        assert (bad.path, bad.quality, bad.reason) == (
            "t/abcd/ghost",
            Quality.BAD,
            QualityReason.DEVICE_EXCEPTION,
        )
    assert collector.stats.exception_codes[2] == 3  # the first wide read, then ghost per poll
    assert collector.stats.errors == {"device_exception": 2}


async def test_offline_device_is_bad_while_another_polled_with_it_stays_good(
    plant: Plant,
) -> None:
    offline = plant.collector("off/plc", timeout_s=0.5, retries=1)
    healthy = plant.collector("abcd/plc")
    finished: list[str] = []

    async def poll(collector: ModbusCollector) -> SampleBatch:
        batch = await collector.poll("default")
        finished.append(collector.device_key)
        return batch

    off, good = await asyncio.gather(poll(offline), poll(healthy))
    assert finished == ["abcd/plc", "off/plc"]
    assert set(off.quality.tolist()) == {Quality.BAD}
    assert reasons(off) <= {QualityReason.TIMEOUT, QualityReason.COMMS_LOST}
    plant.assert_matches(good, plant.specs("abcd/plc"))
    assert offline.stats.errors["timeout"] == 1  # the reads after the first were not sent

    remove_faults(plant.model, "off/plc")
    plant.assert_matches(await offline.poll("default"), plant.specs("off/plc"))


async def test_exception_replies_mark_device_exception_until_removed(plant: Plant) -> None:
    failing = plant.collector("fail/plc")
    batch = await failing.poll("default")
    assert reasons(batch) == {QualityReason.DEVICE_EXCEPTION}
    assert failing.stats.exception_codes[6] >= 1

    collector = plant.collector("abcd/plc")
    plant.model.faults.add(Fault(kind="exception_replies", target="abcd/plc", exception_code=4))
    assert reasons(await collector.poll("default")) == {QualityReason.DEVICE_EXCEPTION}
    remove_faults(plant.model, "abcd/plc")
    plant.assert_matches(await collector.poll("default"), plant.specs("abcd/plc"))


async def test_slow_replies_beyond_the_timeout_are_timeout_then_recover(plant: Plant) -> None:
    slow = plant.collector("slow/plc", timeout_s=0.3, retries=0)
    batch = await slow.poll("default")
    assert reasons(batch) == {QualityReason.TIMEOUT}
    assert set(batch.quality.tolist()) == {Quality.BAD}

    remove_faults(plant.model, "slow/plc")
    for _ in range(20):  # replies to the timed-out read may still be on their way
        batch = await slow.poll("default")
        if set(batch.quality.tolist()) == {Quality.GOOD}:
            break
    plant.assert_matches(batch, plant.specs("slow/plc"))


async def test_lost_connection_is_comms_lost_and_the_next_poll_reconnects(plant: Plant) -> None:
    collector = plant.collector("abcd/plc", timeout_s=1.0, retries=0)
    await collector.connect()
    assert collector.connected
    await plant.servers.stop()
    lost = await collector.poll("default")  # may go out before the close reaches the client
    assert set(lost.quality.tolist()) == {Quality.BAD}
    assert reasons(lost) <= {QualityReason.COMMS_LOST, QualityReason.TIMEOUT}
    refused = await collector.poll("default")
    assert reasons(refused) == {QualityReason.COMMS_LOST}
    assert not collector.connected

    plant.servers = ModbusPlcServers(plant.model)
    await plant.servers.start()
    plant.assert_matches(await collector.poll("default"), plant.specs("abcd/plc"))
    assert collector.connected


async def test_unknown_group_is_empty_and_misconfiguration_names_the_device(
    plant: Plant,
) -> None:
    assert collector_for("modbus") is ModbusCollector
    assert len(await plant.collector("abcd/plc").poll("nonesuch")) == 0
    specs = [s for s in plant.specs("abcd/plc") if s.key != "plc_clock"]
    with pytest.raises(ValueError, match=r'device "abcd/plc".*plc_clock'):
        plant.collector("abcd/plc", specs, timestamps="source")
