"""The alarm journal part of the Historian contract, on SQLite and a real InfluxDB."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from heatnet.samples import SampleBatch
from historian import Historian
from historian.base import AlarmEvent
from tests.historian.test_contract import BASE_MS, SUPPLY, Backend, backend  # noqa: F401


@pytest.fixture
def store(backend: Backend) -> Iterator[Historian]:  # noqa: F811
    made = backend.make()
    yield made
    made.close()


LEAK = "leak:demo/ss02"


def journal() -> list[AlarmEvent]:
    raise_ = AlarmEvent(LEAK, BASE_MS, "raise", "leak", "demo/ss02", "high", "补水量 +2.0 m³/h")
    limit = AlarmEvent(
        "limit:demo/ss01/t2_supply:high", BASE_MS + 5, "raise", "limit", SUPPLY, "high",
        'supply 96.5 > 95, "hot"', value=96.5,
    )  # fmt: skip
    ack = AlarmEvent(LEAK, BASE_MS + 60_000, "ack", "leak", "demo/ss02", "high", "", None, "王工")
    clear = AlarmEvent(LEAK, BASE_MS + 60_000, "clear", "leak", "demo/ss02", "high", "ended")
    return [ack, limit, raise_, clear]


def test_events_round_trip_in_journal_order(store: Historian) -> None:
    events = journal()
    store.write_events(events)
    got = store.read_events(BASE_MS, BASE_MS + 3_600_000)
    assert [(e.alarm_id, e.kind) for e in got] == [
        (LEAK, "raise"),
        ("limit:demo/ss01/t2_supply:high", "raise"),
        (LEAK, "clear"),  # at one instant: clear before the acknowledgement
        (LEAK, "ack"),
    ]
    assert set(got) == set(events)  # every field back as written, None kept None
    ack = got[-1]
    assert ack.operator == "王工" and ack.value is None and ack.ts_ms == BASE_MS + 60_000


def test_events_filter_by_time_and_alarm_and_replays_replace(store: Historian) -> None:
    events = journal()
    store.write_events(events)
    store.write_events(events)
    assert len(store.read_events(0, BASE_MS + 3_600_000)) == 4
    assert [e.kind for e in store.read_events(BASE_MS, BASE_MS + 60_000)] == ["raise", "raise"]
    only = store.read_events(BASE_MS, BASE_MS + 3_600_000, alarm_id=LEAK)
    assert [e.kind for e in only] == ["raise", "clear", "ack"]
    assert store.read_events(BASE_MS + 3_600_000, BASE_MS + 7_200_000) == []


def test_journal_leaves_points_and_counts_alone(store: Historian) -> None:
    store.write(SampleBatch.of([SUPPLY], BASE_MS, [60.0]))
    store.write_events(journal())
    assert store.list_points() == [SUPPLY]
    assert store.count() == 1
    assert store.latest().paths == [SUPPLY]


def write_audit() -> list[AlarmEvent]:
    """A curve write-back as the journal keeps it: one entry per point, who and what came of it."""
    slope = AlarmEvent(
        "write:demo/ss01/curve_slope", BASE_MS + 1_000, "write", "writeback",
        "demo/ss01/curve_slope", "low", "curve_slope 2.45 → 2.3: ok", 2.3, "李工",
        device="ss01/plc", previous=2.45, outcome="ok",
    )  # fmt: skip
    shift = AlarmEvent(
        "write:demo/ss01/curve_shift", BASE_MS + 1_000, "write", "writeback",
        "demo/ss01/curve_shift", "high", "curve_shift: not written", 1.5, "李工",
        device="ss01/plc", previous=None, outcome="not_written",
    )  # fmt: skip
    return [slope, shift]


def test_write_audit_round_trips_beside_alarms(store: Historian) -> None:
    audit = write_audit()
    store.write_events([*journal(), *audit])
    got = store.read_events(BASE_MS, BASE_MS + 3_600_000)
    assert set(audit) <= set(got) and len(got) == 6
    writes = [e for e in got if e.kind == "write"]
    assert {(e.path, e.previous, e.value, e.outcome, e.device, e.operator) for e in writes} == {
        ("demo/ss01/curve_slope", 2.45, 2.3, "ok", "ss01/plc", "李工"),
        ("demo/ss01/curve_shift", None, 1.5, "not_written", "ss01/plc", "李工"),
    }
    alarms = [e for e in got if e.kind != "write"]
    assert all(e.device is None and e.previous is None and e.outcome is None for e in alarms)
    store.write_events(audit)  # a replay replaces
    assert len(store.read_events(0, BASE_MS + 3_600_000)) == 6
