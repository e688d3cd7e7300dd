"""The Historian contract, run the same way against every backend: SQLite and a real InfluxDB."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import numpy as np
import pytest

from heatnet.points import Quality, QualityReason
from heatnet.samples import REASON_CODE, SampleBatch
from historian import Historian, HistorianUnavailable, InfluxHistorian, SqliteHistorian
from tests.conftest import free_ports
from tests.influx_server import InfluxServer

SUPPLY = "demo/ss01/t2_supply"
ROOM = "demo/ss01/b1/r101/t_indoor"
MODEL = "demo/ss01/plc_model"
SOURCE = "demo/src/src_t_supply"
BASE_MS = 1_765_756_800_000  # 2025-12-15T00:00Z, a whole hour
HOURS = 3
_databases = itertools.count()


class Backend:
    """How a test gets a fresh store of one kind, and the same store made unreachable."""

    def __init__(
        self,
        make: Callable[[], Historian],
        unavailable: Callable[[Historian], AbstractContextManager[Historian]],
    ) -> None:
        self.make = make
        self.unavailable = unavailable


@contextmanager
def _sqlite_locked(historian: Historian) -> Iterator[Historian]:
    assert isinstance(historian, SqliteHistorian)
    locker = sqlite3.connect(historian.path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    blocked = SqliteHistorian(historian.path, busy_timeout_s=0.05)
    try:
        yield blocked
    finally:
        blocked.close()
        locker.execute("ROLLBACK")
        locker.close()


@contextmanager
def _influx_refused(historian: Historian) -> Iterator[Historian]:
    assert isinstance(historian, InfluxHistorian)
    yield InfluxHistorian(f"http://127.0.0.1:{free_ports(1)[0]}", database=historian.database)


@pytest.fixture(params=["sqlite", "influxdb-v1"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        return Backend(lambda: SqliteHistorian(tmp_path / "historian.sqlite"), _sqlite_locked)
    server: InfluxServer = request.getfixturevalue("influx_server")
    database = f"contract_{next(_databases)}"
    return Backend(lambda: InfluxHistorian(server.url, database=database), _influx_refused)


@pytest.fixture
def historian(backend: Backend) -> Iterator[Historian]:
    store = backend.make()
    yield store
    store.close()


def trend(seed: int = 1) -> SampleBatch:
    """Three hours of one point every ~7 s with ms jitter, some bad, some without a value."""
    rng = np.random.default_rng(seed)
    ts = BASE_MS + np.arange(0, HOURS * 3_600_000, 7_000) + rng.integers(0, 1000, 1543)
    values = np.round(rng.normal(60.0, 5.0, len(ts)), 2)
    values[::97] = rng.normal(60.0, 5.0, len(values[::97]))  # not whole thousandths
    quality = np.where(rng.random(len(ts)) < 0.1, Quality.BAD, Quality.GOOD).astype(np.uint8)
    quality[::13] = Quality.UNCERTAIN
    bad = quality == Quality.BAD
    values[bad & (rng.random(len(ts)) < 0.5)] = np.nan
    reason = np.where(bad, REASON_CODE[QualityReason.TIMEOUT], 0).astype(np.uint8)
    return SampleBatch.of([SUPPLY] * len(ts), ts, values, quality, reason)


def expected(batch: SampleBatch, lo: int, hi: int, bucket_s: int) -> dict[str, np.ndarray]:
    """The buckets numpy computes from the same samples."""
    keep = (batch.quality < Quality.BAD) & ~np.isnan(batch.values)
    keep &= (batch.ts_ms >= lo) & (batch.ts_ms < hi)
    ts, values = batch.ts_ms[keep], batch.values[keep]
    index = ts // (bucket_s * 1000)
    starts = np.unique(index)
    groups = [index == s for s in starts]
    return {
        "start_ms": starts * bucket_s * 1000,
        "min": np.array([values[g].min() for g in groups]),
        "max": np.array([values[g].max() for g in groups]),
        "mean": np.array([values[g].mean() for g in groups]),
        "last": np.array([values[g][np.argmax(ts[g])] for g in groups]),
        "count": np.array([g.sum() for g in groups]),
    }


def assert_buckets(historian: Historian, batch: SampleBatch, lo: int, hi: int, size: int) -> None:
    got = historian.read_buckets(SUPPLY, lo, hi, size)
    want = expected(batch, lo, hi, size)
    assert got.bucket_s == size and got.path == SUPPLY
    for name in ("start_ms", "min", "max", "last", "count"):
        np.testing.assert_array_equal(getattr(got, name), want[name], err_msg=f"{size} s {name}")
    np.testing.assert_allclose(got.mean, want["mean"], rtol=1e-12, err_msg=f"{size} s mean")


def test_raw_round_trip_keeps_values_quality_reason_and_text(historian: Historian) -> None:
    data = trend()
    historian.write(data)
    named = SampleBatch.of([MODEL, ROOM, SOURCE], BASE_MS + 5, [np.nan, 21.5, 118.25])
    named.texts[0] = 'S7-1214C "fw 4.5", line, a=b'
    historian.write(named)
    got = historian.read_raw(SUPPLY, BASE_MS, BASE_MS + HOURS * 3_600_000)
    assert got.paths == [SUPPLY] * len(data)
    np.testing.assert_array_equal(got.ts_ms, data.ts_ms)
    np.testing.assert_array_equal(got.values, data.values)  # NaN where there was no value
    np.testing.assert_array_equal(got.quality, data.quality)
    np.testing.assert_array_equal(got.reason, data.reason)
    for path, value in [(MODEL, named.texts[0]), (ROOM, 21.5), (SOURCE, 118.25)]:
        one = historian.read_raw(path, BASE_MS, BASE_MS + 10)
        assert [s.value for s in one.samples()] == [value]


def test_read_raw_is_half_open(historian: Historian) -> None:
    historian.write(SampleBatch.of([SUPPLY] * 3, [BASE_MS, BASE_MS + 1, BASE_MS + 2], [1, 2, 3]))
    assert historian.read_raw(SUPPLY, BASE_MS + 1, BASE_MS + 2).ts_ms.tolist() == [BASE_MS + 1]


def test_replays_are_idempotent_and_replace(historian: Historian) -> None:
    data = trend()
    historian.write(data)
    historian.write(data)
    historian.write(data.take(np.arange(0, len(data), 3)))
    assert historian.count(SUPPLY) == historian.count() == len(data)
    changed = data.take(np.arange(100, 200))
    changed.values[:] = 500.0
    changed.quality[:] = Quality.GOOD
    historian.write(changed)
    assert historian.count() == len(data)
    data.values[100:200], data.quality[100:200] = 500.0, Quality.GOOD
    assert_buckets(historian, data, BASE_MS, BASE_MS + HOURS * 3_600_000, 60)
    assert_buckets(historian, data, BASE_MS, BASE_MS + HOURS * 3_600_000, 3600)


@pytest.mark.parametrize("size", [45, 60, 300, 3600, 7200])
def test_buckets_match_numpy_after_out_of_order_writes(historian: Historian, size: int) -> None:
    data = trend()
    order = np.random.default_rng(2).permutation(len(data))
    for part in np.array_split(order, 9):
        historian.write(data.take(np.sort(part)))
    lo, hi = BASE_MS + 12_345, BASE_MS + HOURS * 3_600_000 - 777
    assert_buckets(historian, data, lo, hi, size)
    assert_buckets(historian, data, BASE_MS, BASE_MS + HOURS * 3_600_000, size)


def test_bad_quality_is_left_out_of_aggregates(historian: Historian) -> None:
    ts = BASE_MS + np.arange(6) * 1000
    quality = [Quality.GOOD, Quality.BAD, Quality.UNCERTAIN, Quality.BAD, Quality.GOOD, Quality.BAD]
    historian.write(SampleBatch.of([SUPPLY] * 6, ts, [1.0, 100.0, 3.0, -50.0, 2.0, 99.0], quality))
    historian.write(SampleBatch.of([SUPPLY], BASE_MS + 120_000, [7.0], Quality.BAD))
    got = historian.read_buckets(SUPPLY, BASE_MS, BASE_MS + 3_600_000, 60)
    assert got.start_ms.tolist() == [BASE_MS]  # the all-bad minute is left out
    assert (got.min[0], got.max[0], got.mean[0], got.last[0], got.count[0]) == (1, 3, 2, 2, 3)


def test_latest_list_points_and_count(historian: Historian) -> None:
    assert historian.list_points() == [] and historian.count() == 0
    assert len(historian.latest()) == 0
    historian.write(trend())
    historian.write(SampleBatch.of([ROOM, SOURCE], BASE_MS + 1000, [20.5, 120.0]))
    historian.write(SampleBatch.of([ROOM], BASE_MS, [19.0]))  # older: not the latest
    assert historian.list_points() == sorted([SUPPLY, ROOM, SOURCE])
    newest = historian.latest()
    assert newest.paths == sorted([SUPPLY, ROOM, SOURCE])
    assert newest.value(newest.paths.index(ROOM)) == 20.5
    assert newest.ts_ms[newest.paths.index(SUPPLY)] == trend().ts_ms.max()
    only = historian.latest([ROOM])
    assert only.paths == [ROOM] and only.ts_ms.tolist() == [BASE_MS + 1000]
    assert historian.count(ROOM) == 2 and historian.count() == len(trend()) + 3
    assert historian.count("demo/ss09/t1_supply") == 0


def test_unknown_point_reads_empty(historian: Historian) -> None:
    assert len(historian.read_raw(SUPPLY, 0, BASE_MS)) == 0
    assert len(historian.read_buckets(SUPPLY, 0, BASE_MS, 60).count) == 0


def test_unavailable_store_raises_unavailable(backend: Backend) -> None:
    store = backend.make()
    store.write(SampleBatch.of([SUPPLY], BASE_MS, [1.0]))
    with backend.unavailable(store) as gone, pytest.raises(HistorianUnavailable):
        gone.write(SampleBatch.of([SUPPLY], BASE_MS + 1000, [2.0]))
    store.write(SampleBatch.of([SUPPLY], BASE_MS + 1000, [2.0]))
    assert store.count() == 2
    store.close()


@pytest.mark.parametrize("size", [45, 60, 3600, 7200])
def test_read_buckets_many_matches_read_buckets(historian: Historian, size: int) -> None:
    historian.write(trend())
    for seed, path in enumerate((ROOM, SOURCE, "demo/ss02/t2_supply"), 2):
        other = trend(seed)
        historian.write(
            SampleBatch.of([path] * len(other), other.ts_ms, other.values, other.quality)
        )
    paths = [ROOM, SUPPLY, "demo/ss09/t1_supply", SOURCE, "demo/ss02/t2_supply"]
    lo, hi = BASE_MS + 12_345, BASE_MS + HOURS * 3_600_000 - 777
    many = historian.read_buckets_many(paths, lo, hi, size)
    assert list(many) == paths and len(many["demo/ss09/t1_supply"].count) == 0
    for path in paths:
        one = historian.read_buckets(path, lo, hi, size)
        assert many[path].path == path and many[path].bucket_s == size
        for name in ("start_ms", "min", "max", "mean", "last", "count"):
            np.testing.assert_array_equal(getattr(many[path], name), getattr(one, name), name)
    means = historian.read_buckets_many([SUPPLY], lo, hi, size, aggregates=("mean",))[SUPPLY]
    np.testing.assert_array_equal(means.mean, many[SUPPLY].mean)
    np.testing.assert_array_equal(means.count, many[SUPPLY].count)
    assert np.isnan(means.min).all() and np.isnan(means.last).all()
