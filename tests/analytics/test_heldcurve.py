"""Curve tracking and proposals judge against the curve the PLC holds, read from its curve_*
points, even when it changes mid-period; the site file's curve without them."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from analytics import report
from analytics.fetch import SiteData, as_ms
from analytics.heldcurve import curve_history
from heatnet.config import SiteConfig, SlopeShiftCurve, TableCurve
from heatnet.curves import slope_shift_setpoint
from heatnet.samples import SampleBatch
from historian import SqliteHistorian
from tests.simulators.physics_sites import load, one_building_doc

T0 = datetime.fromisoformat("2026-12-15T00:00:00+08:00")
STEP_MS = 600_000
CHANGE_MS = as_ms(T0) + 37 * 3_600_000 + 20 * 60_000  # day 2, 13:20 local: inside an hour


@pytest.fixture
def site(tmp_path: Path) -> SiteConfig:
    doc = one_building_doc()  # the site file's curve: slope 2.0, shift 0
    doc["historian"] = {"backend": "sqlite", "path": str(tmp_path / "h.sqlite")}
    return load(tmp_path, doc)


def record(site: SiteConfig, curve_points: bool) -> SqliteHistorian:
    """Three days at 10 min; the PLC runs slope 1.5, shift 2, raised to shift 6 at CHANGE_MS,
    and the supply follows it exactly."""
    t = as_ms(T0) + np.arange(3 * 144, dtype=np.int64) * STEP_MS
    t_out = 2.0 + 5.0 * np.sin(np.arange(t.size) / 20.0)
    shift = np.where(t < CHANGE_MS, 2.0, 6.0)
    supply = slope_shift_setpoint(t_out, 1.5, shift, 25.0, 95.0)
    columns = {"t2_supply": supply, "t_outdoor": t_out, "b1/r1/t_indoor": np.full(t.size, 20.0)}
    if curve_points:
        flat = {"curve_slope": 1.5, "curve_min": 25.0, "curve_max": 95.0}
        columns |= {role: np.full(t.size, v) for role, v in flat.items()} | {"curve_shift": shift}
    store = SqliteHistorian(site.resolve(site.historian.path))
    paths = [f"t/ss1/{role}" for role in columns]
    for i, ts in enumerate(t.tolist()):
        store.write(SampleBatch.of(paths, ts, [v[i] for v in columns.values()]))
    store.flush()
    return store


def test_tracking_follows_the_held_curve_across_its_change(site: SiteConfig) -> None:
    data = SiteData(site, record(site, curve_points=True))
    lo, hi = as_ms(T0), as_ms(T0) + 3 * 86_400_000
    (tracking,) = report.curve_tracking(data, lo, hi, bucket_s=600)
    assert tracking.max_abs_deviation_k == pytest.approx(0.0, abs=1e-6)
    first, second = tracking.curves
    assert (first.source, first.parameters["curve_shift"]) == ("plc", 2.0)
    assert second.parameters["curve_shift"] == 6.0 and second.parameters["curve_slope"] == 1.5
    assert second.since == "2026-12-16T05:20:00+00:00"  # the raw sample of the change
    (proposal,) = report.proposals(data, lo, hi)
    assert proposal.curve_source == "plc" and proposal.current["curve_shift"] == 6.0


def test_without_curve_points_the_site_file_curve_is_judged(site: SiteConfig) -> None:
    data = SiteData(site, record(site, curve_points=False))
    (tracking,) = report.curve_tracking(data, as_ms(T0), as_ms(T0) + 3 * 86_400_000)
    ((only),) = tracking.curves
    assert only.source == "site file" and only.parameters["curve_slope"] == 2.0
    assert tracking.mean_abs_deviation_k > 1.0


def test_table_held_by_the_plc_and_limits_from_the_site_file() -> None:
    t_ms = np.arange(4, dtype=np.int64) * 3_600_000
    table = {
        f"curve_table_{i}": np.array([np.nan, 80.0 - i, 80.0 - i, 70.0 - i]) for i in range(1, 7)
    }
    site_curve = SlopeShiftCurve(type="slope_shift", slope=2.0, min_supply=30.0, max_supply=90.0)
    history = curve_history(t_ms, table, site_curve)
    assert history.since_ms == (0, 3 * 3_600_000) and history.source == "plc"
    assert all(isinstance(c, TableCurve) for c in history.curves)
    assert (history.current.min_supply, history.current.max_supply) == (30.0, 90.0)
    setpoints = history.setpoint(t_ms, np.full(4, 0.0))
    np.testing.assert_allclose(setpoints, [76.0, 76.0, 76.0, 66.0])  # curve_table_4 is 0 °C
