"""Limit alarms with hysteresis and delays, stale data, and the journal's ISA-18.2 states."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from analytics.alarms import (
    AlarmJournal,
    AlarmState,
    Finding,
    UnknownAlarm,
    fold,
    limit_findings,
    stale_findings,
)
from heatnet.config import AlarmLimit
from heatnet.points import Quality, QualityReason
from heatnet.samples import REASON_CODE, SampleBatch
from historian import SqliteHistorian
from historian.base import AlarmEvent

PATH = "demo/ss01/t2_supply"
T0 = 1_765_756_800_000
MIN = 60_000


def series(values: list[float], step_ms: int = MIN) -> SampleBatch:
    ts = T0 + np.arange(len(values), dtype=np.int64) * step_ms
    return SampleBatch.of([PATH] * len(values), ts, values)


def test_high_limit_needs_the_delay_and_clears_below_the_hysteresis_band() -> None:
    limit = AlarmLimit(role="t2_supply", high=95.0, hysteresis=2.0, delay=3 * 60, priority="high")
    values = [90, 96, 96, 90, 96, 96, 96, 96, 94, 94, 94, 94, 92, 92, 92, 92, 92, 90]
    #          0   1   2   3   4   5   6   7   8   9  10  11  12  13  14  15  16  17
    (found,) = limit_findings(PATH, series(values), limit)
    assert found.alarm_id == f"limit:{PATH}:high" and found.priority == "high"
    assert found.start_ms == T0 + 7 * MIN  # on from minute 4, held 3 min
    assert found.end_ms == T0 + 15 * MIN  # below 93 from minute 12, off-delay 3 min
    short = limit_findings(PATH, series([90, 96, 96, 90, 90, 90, 90]), limit)
    assert short == []  # 2 min above: the on-delay filters it


def test_low_limit_ongoing_and_bad_samples_hold_the_state() -> None:
    limit = AlarmLimit(role="t_indoor", low=16.0, hysteresis=0.5, delay=0)
    batch = series([17, 15, 15, 15, 15.8, 15, 15])
    batch.quality[4] = Quality.BAD  # a bad reading neither raises nor clears
    (found,) = limit_findings(PATH, batch, limit)
    assert found.start_ms == T0 + MIN and found.end_ms is None
    assert found.value == 15.0


def test_stale_gap_and_ongoing_staleness_but_not_comms_loss() -> None:
    batch = series([1.0] * 10, step_ms=10 * MIN)
    gap = np.r_[np.arange(3), np.arange(7, 10)]
    data = batch.take(gap)  # 3 samples, a 40 min hole, 3 samples
    found = stale_findings(PATH, data, int(data.ts_ms[-1]) + 45 * MIN, stale_after_s=1800)
    assert [(f.start_ms, f.end_ms) for f in found] == [
        (T0 + 20 * MIN + 30 * MIN, T0 + 70 * MIN),
        (T0 + 90 * MIN + 30 * MIN, None),
    ]
    lost = series([1.0] * 10, step_ms=10 * MIN)
    lost.values[2:8] = np.nan
    lost.quality[2:8] = Quality.BAD
    lost.reason[2:8] = REASON_CODE[QualityReason.COMMS_LOST]
    assert stale_findings(PATH, lost, int(lost.ts_ms[-1]), stale_after_s=1800) == []


def event(kind: str, at: int, operator: str | None = None) -> AlarmEvent:
    return AlarmEvent("a", T0 + at, kind, "limit", PATH, "high", "", None, operator)


@pytest.mark.parametrize(
    ("kinds", "state"),
    [
        (["raise"], AlarmState.ACTIVE_UNACKED),
        (["raise", "ack"], AlarmState.ACTIVE_ACKED),
        (["raise", "clear"], AlarmState.CLEARED_UNACKED),
        (["raise", "ack", "clear"], AlarmState.NORMAL),
        (["raise", "clear", "ack"], AlarmState.NORMAL),
        (["raise", "clear", "ack", "raise"], AlarmState.ACTIVE_UNACKED),
        (["raise", "raise", "ack"], AlarmState.ACTIVE_ACKED),
    ],
)
def test_fold_follows_isa_18_2_states(kinds: list[str], state: AlarmState) -> None:
    status = fold([event(k, i, "op" if k == "ack" else None) for i, k in enumerate(kinds)])
    assert status["a"].state == state


def finding(start: int, end: int | None, alarm_id: str = "limit:x:high") -> Finding:
    return Finding(
        alarm_id, "limit", "x", "high", "m", T0 + start, None if end is None else T0 + end
    )


def test_journal_record_keeps_an_ongoing_alarm_across_evaluations(tmp_path: Path) -> None:
    store = SqliteHistorian(tmp_path / "h.sqlite")
    journal = AlarmJournal(store)
    first = journal.record([finding(10, None)], T0, T0 + 100, ["limit"])
    assert [(e.kind, e.ts_ms) for e in first] == [("raise", T0 + 10)]
    # the next window sees the same condition from its start, then its end
    second = journal.record([finding(100, 150)], T0 + 100, T0 + 200, ["limit"])
    assert [(e.kind, e.ts_ms) for e in second] == [("clear", T0 + 150)]
    status = journal.statuses()["limit:x:high"]
    assert (status.raised_ms, status.cleared_ms) == (T0 + 10, T0 + 150)
    assert status.state == AlarmState.CLEARED_UNACKED
    journal.record([finding(210, None)], T0 + 200, T0 + 300, ["limit"])
    gone = journal.record([], T0 + 300, T0 + 400, ["limit"])
    assert [(e.kind, e.ts_ms) for e in gone] == [("clear", T0 + 300)]
    ack = journal.acknowledge("limit:x:high", "张三", T0 + 500)
    assert ack.operator == "张三" and ack.kind == "ack"
    assert journal.active() == []
    with pytest.raises(UnknownAlarm):
        journal.acknowledge("limit:x:high", "张三", T0 + 600)
    with pytest.raises(ValueError, match="operator"):
        journal.acknowledge("limit:x:high", " ", T0 + 600)
    store.close()
