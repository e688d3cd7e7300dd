"""Runs of consecutive true samples: where they start and end, with short gaps bridged."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def true_runs(
    flag: NDArray[np.bool_], t_ms: NDArray[np.int64] | None = None, bridge_ms: float = 0.0
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """First and last index of each run of True; runs closer than bridge_ms are merged."""
    f = np.asarray(flag, dtype=bool)
    edges = np.diff(np.r_[0, f.astype(np.int8), 0])
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1) - 1
    if t_ms is None or bridge_ms <= 0 or starts.size < 2:
        return starts, ends
    gaps = t_ms[starts[1:]] - t_ms[ends[:-1]]
    new_group = np.r_[True, gaps > bridge_ms]
    return starts[new_group], ends[np.r_[new_group[1:], True]]
