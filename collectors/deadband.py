"""On-change storage: keep a sample only when it says something the last kept one did not.

A sample is kept when its value moved more than the point's deadband (engineering units)
from the last KEPT value, when its quality or reason changed, when a value appears or
disappears (NaN), when a string changed, or when the heartbeat has passed since the last
kept sample. A point without a deadband keeps everything.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from heatnet.points import PointSpec
from heatnet.samples import SampleBatch


class DeadbandFilter:
    """Per-point deadband and heartbeat, applied a whole batch at a time."""

    def __init__(self, points: list[PointSpec]) -> None:
        self._index = {p.path: i for i, p in enumerate(points)}
        n = len(points)
        deadband = [p.point.deadband for p in points]
        heartbeat = [p.point.heartbeat for p in points]
        self._filtered = np.array([d is not None for d in deadband], dtype=bool)
        self._deadband = np.array([d or 0.0 for d in deadband], dtype=np.float64)
        self._heartbeat_ms = np.array(
            [np.inf if h is None else h * 1000 for h in heartbeat], dtype=np.float64
        )
        self._seen = np.zeros(n, dtype=bool)
        self._value = np.full(n, np.nan)
        self._ts_ms = np.zeros(n, dtype=np.int64)
        self._quality = np.zeros(n, dtype=np.uint8)
        self._reason = np.zeros(n, dtype=np.uint8)
        self._text: dict[int, str] = {}

    def filter(self, batch: SampleBatch) -> SampleBatch:
        """The samples of `batch` worth storing, in their order; remembers what it kept."""
        if not len(batch) or not self._filtered.any():
            return batch
        index = np.array([self._index.get(p, -1) for p in batch.paths], dtype=np.intp)
        keep = np.ones(len(batch), dtype=bool)
        known = np.flatnonzero(index >= 0)
        # a point may occur more than once (subscriptions): decide occurrence by occurrence
        for positions in _occurrence_rounds(index[known]):
            rows = known[positions]
            keep[rows] = self._decide(batch, rows, index[rows])
        return batch if keep.all() else batch.take(keep)

    def _decide(
        self, batch: SampleBatch, rows: NDArray[np.intp], points: NDArray[np.intp]
    ) -> NDArray[np.bool_]:
        value, ts = batch.values[rows], batch.ts_ms[rows]
        quality, reason = batch.quality[rows], batch.reason[rows]
        last = self._value[points]
        with np.errstate(invalid="ignore"):
            moved = np.abs(value - last) > self._deadband[points]
        keep = (
            ~self._filtered[points]
            | ~self._seen[points]
            | moved
            | (np.isnan(value) != np.isnan(last))
            | (quality != self._quality[points])
            | (reason != self._reason[points])
            | ((ts - self._ts_ms[points]) >= self._heartbeat_ms[points])
        )
        with_text = np.flatnonzero(np.isin(rows, list(batch.texts))) if batch.texts else []
        for j in with_text:
            if batch.texts[int(rows[j])] != self._text.get(int(points[j])):
                keep[j] = True
        kept, at = points[keep], rows[keep]
        self._seen[kept] = True
        self._value[kept] = batch.values[at]
        self._ts_ms[kept] = batch.ts_ms[at]
        self._quality[kept] = batch.quality[at]
        self._reason[kept] = batch.reason[at]
        for j in with_text:
            if keep[j]:
                self._text[int(points[j])] = batch.texts[int(rows[j])]
        return keep


def _occurrence_rounds(points: NDArray[np.intp]) -> list[NDArray[np.intp]]:
    """Positions grouped so each group holds every point at most once, in batch order."""
    if len(np.unique(points)) == len(points):
        return [np.arange(len(points))]
    seen: dict[int, int] = {}
    occurrence = np.empty(len(points), dtype=np.intp)
    for i, p in enumerate(points.tolist()):
        occurrence[i] = seen.get(p, 0)
        seen[p] = occurrence[i] + 1
    return [np.flatnonzero(occurrence == k) for k in range(int(occurrence.max()) + 1)]
