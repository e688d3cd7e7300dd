"""Samples in columns: what collectors produce, the buffer keeps and the historian stores.

A poll of a substation yields a hundred values at once, and a site a hundred thousand a
second; one Python object per value would cost more than the polling, so samples travel
as parallel numpy arrays.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from heatnet.points import Quality, QualityReason

# Stable small-integer codes for storage; append only, never renumber.
REASON_CODES: tuple[QualityReason, ...] = (
    QualityReason.NONE,
    QualityReason.COMMS_LOST,
    QualityReason.TIMEOUT,
    QualityReason.DEVICE_EXCEPTION,
    QualityReason.OUT_OF_RANGE,
    QualityReason.STALE,
    QualityReason.DECODE_ERROR,
    QualityReason.SENSOR_FAULT,
)
REASON_CODE = {reason: code for code, reason in enumerate(REASON_CODES)}


@dataclass(frozen=True, slots=True)
class Sample:
    """One value of one point, for code that handles a few at a time."""

    path: str
    ts_ms: int
    value: float | str | None
    quality: Quality = Quality.GOOD
    reason: QualityReason = QualityReason.NONE


@dataclass(slots=True)
class SampleBatch:
    """Parallel columns: sample i is (paths[i], ts_ms[i], values[i], quality[i], reason[i]).

    values is NaN where a point has no value (a failed read); a string point's value is
    in `texts` under its index, with NaN in values.
    """

    paths: list[str]
    ts_ms: NDArray[np.int64]
    values: NDArray[np.float64]
    quality: NDArray[np.uint8]
    reason: NDArray[np.uint8]
    texts: dict[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.paths)
        if not (len(self.ts_ms) == len(self.values) == len(self.quality) == len(self.reason) == n):
            raise ValueError("SampleBatch columns must have equal lengths")

    def __len__(self) -> int:
        return len(self.paths)

    @classmethod
    def empty(cls) -> SampleBatch:
        return cls(
            [], np.empty(0, np.int64), np.empty(0), np.empty(0, np.uint8), np.empty(0, np.uint8)
        )

    @classmethod
    def of(
        cls,
        paths: Sequence[str],
        ts_ms: int | Sequence[int] | NDArray[np.int64],
        values: Sequence[float] | NDArray[np.float64],
        quality: Quality | Sequence[int] | NDArray[np.uint8] = Quality.GOOD,
        reason: QualityReason | Sequence[int] | NDArray[np.uint8] = QualityReason.NONE,
        texts: dict[int, str] | None = None,
    ) -> SampleBatch:
        """Build a batch, broadcasting a single timestamp, quality or reason to every sample."""
        n = len(paths)
        q_in = int(quality) if isinstance(quality, Quality) else quality
        r_in = REASON_CODE[reason] if isinstance(reason, QualityReason) else reason
        return cls(
            list(paths),
            _column(ts_ms, n, np.int64),
            np.asarray(values, dtype=np.float64).reshape(n),
            _column(q_in, n, np.uint8),
            _column(r_in, n, np.uint8),
            dict(texts or {}),
        )

    @classmethod
    def concat(cls, batches: Sequence[SampleBatch]) -> SampleBatch:
        batches = [b for b in batches if len(b)]
        if not batches:
            return cls.empty()
        if len(batches) == 1:
            return batches[0]
        texts: dict[int, str] = {}
        offset = 0
        paths: list[str] = []
        for b in batches:
            texts.update({offset + i: t for i, t in b.texts.items()})
            paths.extend(b.paths)
            offset += len(b)
        return cls(
            paths,
            np.concatenate([b.ts_ms for b in batches]),
            np.concatenate([b.values for b in batches]),
            np.concatenate([b.quality for b in batches]),
            np.concatenate([b.reason for b in batches]),
            texts,
        )

    def take(self, index: NDArray[np.intp] | NDArray[np.bool_]) -> SampleBatch:
        """The samples at `index` (integer positions or a boolean mask), in that order."""
        positions = np.flatnonzero(index) if index.dtype == np.bool_ else np.asarray(index)
        where = {int(old): new for new, old in enumerate(positions)}
        return SampleBatch(
            [self.paths[i] for i in positions],
            self.ts_ms[positions],
            self.values[positions],
            self.quality[positions],
            self.reason[positions],
            {where[i]: t for i, t in self.texts.items() if i in where},
        )

    def value(self, i: int) -> float | str | None:
        """Sample i's value: text for a string point, None where there is none."""
        if i in self.texts:
            return self.texts[i]
        v = float(self.values[i])
        return None if np.isnan(v) else v

    def samples(self) -> Iterator[Sample]:
        """One Sample per row; for tests and small outputs, not hot paths."""
        for i, path in enumerate(self.paths):
            yield Sample(
                path,
                int(self.ts_ms[i]),
                self.value(i),
                Quality(int(self.quality[i])),
                REASON_CODES[int(self.reason[i])],
            )


def _column(value: object, n: int, dtype: type[np.generic]) -> NDArray:
    """A fresh column of n: a scalar repeated (the common case of a poll), or a copy."""
    if isinstance(value, int | np.integer):
        return np.full(n, value, dtype=dtype)
    return np.broadcast_to(np.asarray(value, dtype=dtype), (n,)).copy()
