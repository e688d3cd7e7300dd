"""Stale points: no good value for `stale_after` poll intervals gets one 'stale' sample.

Decision: the stale sample is UNCERTAIN (not BAD: the plant has not been seen to fail,
only to go quiet), carries the last good value (NaN if there never was one) and is
recorded once per stale spell; the next good value ends the spell. Its timestamp is the
last good sample's plus the collector time since that sample arrived, so it lands in
the same time base as the point's own (`source` or `collector`) timestamps.
Points of subscribing devices report only changes, so silence is not staleness there:
they are not watched.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from heatnet.points import PointSpec, Quality, QualityReason
from heatnet.samples import SampleBatch

MAX_PATH_SETS = 4096  # path lists whose indices are kept


class StaleWatch:
    """Tracks every point's last good value and reports the ones gone quiet."""

    def __init__(self, points: list[PointSpec], limits_s: list[float], now: float) -> None:
        """`limits_s[i]`: how long point i may go without a good value (inf: never stale)."""
        self._paths = [p.path for p in points]
        self._index = {path: i for i, path in enumerate(self._paths)}
        self._limit_s = np.asarray(limits_s, dtype=np.float64)
        n = len(points)
        self._seen_at = np.full(n, now)  # collector time of the last good value (or start)
        self._ts_ms = np.full(n, -1, dtype=np.int64)
        self._value = np.full(n, np.nan)
        self._stale = np.zeros(n, dtype=bool)
        self._known: dict[tuple[str, ...], NDArray[np.intp]] = {}

    def observe(self, batch: SampleBatch, now: float) -> None:
        """Remember the good samples of a poll."""
        good = np.flatnonzero(batch.quality == Quality.GOOD)
        if not len(good):
            return
        index = self._positions(batch.paths)[good]
        known = index >= 0
        if not known.all():
            index, good = index[known], good[known]
        self._seen_at[index] = now
        self._ts_ms[index] = batch.ts_ms[good]
        self._value[index] = batch.values[good]
        self._stale[index] = False

    def _positions(self, paths: list[str]) -> NDArray[np.intp]:
        """Each path's index (-1: not watched); a poll group sends the same paths every time."""
        key = tuple(paths)
        index = self._known.get(key)
        if index is None:
            if len(self._known) >= MAX_PATH_SETS:  # subscriptions send ever new subsets
                self._known.clear()
            index = np.array([self._index.get(p, -1) for p in paths], dtype=np.intp)
            self._known[key] = index
        return index

    def check(self, now: float) -> SampleBatch:
        """A stale sample for each point that went quiet since the last check."""
        quiet = np.flatnonzero(~self._stale & (now - self._seen_at > self._limit_s))
        if not len(quiet):
            return SampleBatch.empty()
        self._stale[quiet] = True
        elapsed_ms = ((now - self._seen_at[quiet]) * 1000).astype(np.int64)
        ts = np.where(self._ts_ms[quiet] >= 0, self._ts_ms[quiet] + elapsed_ms, int(now * 1000))
        return SampleBatch.of(
            [self._paths[i] for i in quiet],
            ts,
            self._value[quiet],
            Quality.UNCERTAIN,
            QualityReason.STALE,
        )
