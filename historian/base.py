"""The historian interface every backend implements, and its exceptions.

Exception tree:

    HistorianError              any failure of the store
      HistorianUnavailable      the store cannot be reached now (down, locked, network):
                                the caller keeps the data and retries later
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from heatnet.samples import SampleBatch

AGGREGATES = ("min", "max", "mean", "last", "count")


class HistorianError(Exception):
    """A failure of the time-series store."""


class HistorianUnavailable(HistorianError):
    """The store cannot be reached now; nothing was written, try again later."""


@dataclass(slots=True)
class Buckets:
    """Aggregates of one point per time bucket; `start_ms` is each bucket's start."""

    path: str
    bucket_s: int
    start_ms: NDArray[np.int64]
    min: NDArray[np.float64]
    max: NDArray[np.float64]
    mean: NDArray[np.float64]
    last: NDArray[np.float64]
    count: NDArray[np.int64]


EVENT_KINDS = ("raise", "clear", "ack", "write")


@dataclass(frozen=True, slots=True)
class AlarmEvent:
    """One alarm journal entry; stored idempotently on (alarm_id, ts_ms, kind).

    kind is "raise" (the condition began), "clear" (it ended) or "ack" (an operator
    acknowledged it; `operator` names who). `path` is the point or asset the alarm is on.
    kind "write" audits a set point written to a PLC (collectors.writeback): `operator` is
    who, `device` the device, `previous` and `value` the old and new values, `outcome` what
    came of it (ok, refused, mismatch, failed, unverified, not_written).
    """

    alarm_id: str
    ts_ms: int
    kind: str
    source: str  # limit, stale, comms, leak, outage, compliance, curve
    path: str
    priority: str  # low, medium, high, urgent
    message: str
    value: float | None = None
    operator: str | None = None
    device: str | None = None
    previous: float | None = None
    outcome: str | None = None


def in_journal_order(events: list[AlarmEvent]) -> list[AlarmEvent]:
    """Oldest first; at one instant a raise before its clear before an acknowledgement."""
    return sorted(events, key=lambda e: (e.ts_ms, EVENT_KINDS.index(e.kind), e.alarm_id))


class Historian(Protocol):
    """A time-series store of samples; writes are idempotent on (path, ts_ms)."""

    def write(self, batch: SampleBatch) -> None:
        """Store every sample; a sample already stored at (path, ts_ms) is replaced, not doubled.

        Raises HistorianUnavailable when the store cannot take it now (nothing half-written
        is lost: the caller retries the same batch).
        """
        ...

    def read_raw(self, path: str, start_ms: int, end_ms: int) -> SampleBatch:
        """Every stored sample of `path` with start_ms <= ts_ms < end_ms, in time order."""
        ...

    def read_buckets(self, path: str, start_ms: int, end_ms: int, bucket_s: int) -> Buckets:
        """min/max/mean/last/count of good and uncertain values per bucket; empty buckets left out.

        Backends answer from their rollups where bucket_s allows (1 min, 1 h), else from raw.
        """
        ...

    def read_buckets_many(
        self,
        paths: Sequence[str],
        start_ms: int,
        end_ms: int,
        bucket_s: int,
        *,
        aggregates: Collection[str] = AGGREGATES,
    ) -> dict[str, Buckets]:
        """`read_buckets` of every path in one pass (a path the store lacks: empty Buckets).

        Only the `aggregates` asked for are read (count always is); the others come back NaN.
        """
        ...

    def latest(self, paths: Sequence[str] | None = None) -> SampleBatch:
        """The newest sample of each point (all points when paths is None)."""
        ...

    def list_points(self) -> list[str]:
        """Every point path the store holds."""
        ...

    def count(self, path: str | None = None) -> int:
        """How many samples are stored (of one point, or of all)."""
        ...

    def write_events(self, events: Sequence[AlarmEvent]) -> None:
        """Store alarm journal entries; one at an existing (alarm_id, ts_ms, kind) is replaced."""
        ...

    def read_events(
        self, start_ms: int, end_ms: int, alarm_id: str | None = None
    ) -> list[AlarmEvent]:
        """Journal entries with start_ms <= ts_ms < end_ms (of one alarm), oldest first."""
        ...

    def close(self) -> None:
        """Release connections and files."""
        ...
