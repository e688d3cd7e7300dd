"""Columnar sample batches: building, joining, selecting, reading back."""

from __future__ import annotations

import numpy as np
import pytest

from heatnet.points import Quality, QualityReason
from heatnet.samples import REASON_CODE, Sample, SampleBatch


def test_of_broadcasts_and_samples_read_back() -> None:
    batch = SampleBatch.of(
        ["a/ss01/t1_supply", "a/ss01/plc_model", "a/ss01/t1_return"],
        1_000,
        [95.5, np.nan, np.nan],
        quality=[0, 0, 2],
        reason=[0, 0, REASON_CODE[QualityReason.TIMEOUT]],
        texts={1: "S7-1214C"},
    )
    assert list(batch.samples()) == [
        Sample("a/ss01/t1_supply", 1_000, 95.5),
        Sample("a/ss01/plc_model", 1_000, "S7-1214C"),
        Sample("a/ss01/t1_return", 1_000, None, Quality.BAD, QualityReason.TIMEOUT),
    ]


def test_concat_and_take_keep_texts_aligned() -> None:
    first = SampleBatch.of(["p/a/x", "p/a/name"], 1, [1.0, np.nan], texts={1: "one"})
    second = SampleBatch.of(["p/b/x", "p/b/name"], 2, [2.0, np.nan], texts={1: "two"})
    both = SampleBatch.concat([first, SampleBatch.empty(), second])
    assert len(both) == 4 and both.texts == {1: "one", 3: "two"}
    picked = both.take(np.array([3, 0]))
    assert picked.paths == ["p/b/name", "p/a/x"] and picked.texts == {0: "two"}
    assert both.take(both.ts_ms == 2).value(1) == "two"


def test_unequal_columns_are_refused() -> None:
    with pytest.raises(ValueError, match="equal lengths"):
        SampleBatch(
            ["a"], np.zeros(2, np.int64), np.zeros(1), np.zeros(1, np.uint8), np.zeros(1, np.uint8)
        )
