"""What the service keeps of each poll: deadband with heartbeat, and stale points."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from collectors.deadband import DeadbandFilter
from collectors.stale import StaleWatch
from heatnet.config import ModbusDevice, ModbusPoint
from heatnet.points import PointSpec, Quality, QualityReason
from heatnet.samples import SampleBatch

DEVICE = ModbusDevice(id="plc", protocol="modbus", host="127.0.0.1", profile="p")


def spec(key: str, **point: Any) -> PointSpec:
    return PointSpec(
        path=f"demo/ss01/{key}",
        asset_kind="substation",
        asset_id="ss01",
        key=key,
        device=DEVICE,
        point=ModbusPoint(role=key, address=0, **point),
        unit="",
    )


def kept(db: DeadbandFilter, path: str, values: list[float], step_ms: int = 1000) -> list[int]:
    """Timestamps kept of a series fed one poll at a time."""
    out: list[int] = []
    for k, v in enumerate(values):
        batch = db.filter(SampleBatch.of([path], k * step_ms, [v]))
        out.extend(batch.ts_ms.tolist())
    return [t // step_ms for t in out]


def test_without_deadband_everything_is_kept() -> None:
    db = DeadbandFilter([spec("t2_supply")])
    batch = SampleBatch.of(["demo/ss01/t2_supply"] * 3, [1, 2, 3], [50.0, 50.0, 50.0])
    assert len(db.filter(batch)) == 3


def test_deadband_compares_with_the_last_kept_value_not_the_last_seen() -> None:
    db = DeadbandFilter([spec("t2_supply", deadband=0.5)])
    # creeping by 0.2 per poll: kept only each time it is more than 0.5 from the last kept
    values = [50.0, 50.2, 50.4, 50.6, 50.8, 51.0, 51.2, 50.0]
    assert kept(db, "demo/ss01/t2_supply", values) == [0, 3, 6, 7]


def test_heartbeat_keeps_a_flat_value_every_interval() -> None:
    db = DeadbandFilter([spec("t_outdoor", deadband=1.0, heartbeat=5.0)])
    assert kept(db, "demo/ss01/t_outdoor", [3.0] * 12) == [0, 5, 10]


def test_a_quality_change_is_always_kept() -> None:
    db = DeadbandFilter([spec("t2_supply", deadband=5.0)])
    path = "demo/ss01/t2_supply"
    db.filter(SampleBatch.of([path], 0, [50.0]))
    bad = SampleBatch.of([path], 1, [np.nan], Quality.BAD, QualityReason.TIMEOUT)
    assert len(db.filter(bad)) == 1
    assert len(db.filter(SampleBatch.of([path], 2, [np.nan], Quality.BAD, 2))) == 0
    assert len(db.filter(SampleBatch.of([path], 3, [50.1]))) == 1  # good again


def test_vectorised_over_a_batch_with_repeats_and_mixed_points() -> None:
    db = DeadbandFilter([spec("a", deadband=1.0), spec("b"), spec("c", deadband=1.0)])
    paths = ["demo/ss01/a", "demo/ss01/b", "demo/ss01/a", "demo/ss01/c", "demo/ss01/a"]
    batch = SampleBatch.of(paths, [0, 0, 1, 0, 2], [10.0, 1.0, 10.5, 7.0, 11.2])
    out = db.filter(batch)
    assert list(zip(out.paths, out.values.tolist(), strict=True)) == [
        ("demo/ss01/a", 10.0),
        ("demo/ss01/b", 1.0),
        ("demo/ss01/c", 7.0),
        ("demo/ss01/a", 11.2),
    ]


def test_string_points_are_kept_when_the_text_changes() -> None:
    db = DeadbandFilter([spec("plc_model", deadband=0.0)])
    path = "demo/ss01/plc_model"
    first = db.filter(SampleBatch.of([path], 0, [np.nan], texts={0: "S7"}))
    same = db.filter(SampleBatch.of([path], 1, [np.nan], texts={0: "S7"}))
    other = db.filter(SampleBatch.of([path], 2, [np.nan], texts={0: "S7-1500"}))
    assert (len(first), len(same), len(other)) == (1, 0, 1)
    assert other.texts == {0: "S7-1500"}


def test_a_point_without_a_good_value_for_its_limit_is_reported_stale_once() -> None:
    points = [spec("t2_supply"), spec("t2_return"), spec("t_outdoor")]
    watch = StaleWatch(points, [15.0, 15.0, math.inf], now=100.0)
    poll = SampleBatch.of([p.path for p in points], 50_000, [60.0, 40.0, 2.0])
    watch.observe(poll, now=100.0)
    watch.observe(SampleBatch.of(["demo/ss01/t2_return"], 60_000, [41.0]), now=110.0)
    assert len(watch.check(now=115.0)) == 0  # exactly at the limit: not yet
    stale = watch.check(now=116.0)
    assert stale.paths == ["demo/ss01/t2_supply"]
    sample = next(stale.samples())
    assert sample.quality is Quality.UNCERTAIN and sample.reason is QualityReason.STALE
    assert sample.value == 60.0  # the last good value
    assert sample.ts_ms == 50_000 + 16_000  # in the point's own time base
    assert len(watch.check(now=200.0)) == 1  # t2_return now; t2_supply is not repeated
    watch.observe(SampleBatch.of(["demo/ss01/t2_supply"], 70_000, [61.0]), now=201.0)
    assert watch.check(now=217.0).paths == ["demo/ss01/t2_supply"]  # a new spell


def test_bad_samples_do_not_refresh_a_point() -> None:
    watch = StaleWatch([spec("t2_supply")], [10.0], now=0.0)
    bad = SampleBatch.of(["demo/ss01/t2_supply"], 5_000, [np.nan], Quality.BAD, 1)
    watch.observe(bad, now=5.0)
    stale = watch.check(now=11.0)
    assert len(stale) == 1 and math.isnan(stale.values[0]) and stale.ts_ms[0] == 11_000
