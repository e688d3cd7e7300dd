"""Compliance counts on a crafted matrix (kitchen floors), and supply-vs-curve tracking."""

from __future__ import annotations

import json

import numpy as np
import pytest

from analytics.compliance import RoomIndex, compliance
from analytics.curvetrack import track_curve
from heatnet.config import Season, SiteConfig, SlopeShiftCurve

ROOMS = RoomIndex(
    paths=("ss1/b1/r1", "ss1/b1/k1", "ss1/b2/r1", "ss2/b1/r1"),
    buildings=("ss1/b1", "ss1/b1", "ss1/b2", "ss2/b1"),
    substations=("ss1", "ss1", "ss1", "ss2"),
    floors=np.array([18.0, 15.0, 18.0, 18.0]),
)
DAYS = np.arange(np.datetime64("2026-11-13"), np.datetime64("2026-11-18"))  # 2 days off season


def test_compliance_counts_days_degree_hours_and_overheating() -> None:
    daily = np.array(
        [
            [10.0, 10.0, 17.0, 18.5, 16.0],  # living room: two days below 18
            [10.0, 10.0, 15.5, 14.0, 16.0],  # kitchen: one day below 15 (not 18!)
            [25.0, 25.0, 21.0, 22.0, np.nan],  # warm; a missing day
            [18.0, 18.0, 18.0, 18.0, 18.0],
        ]
    )
    report = compliance(daily, DAYS, ROOMS, season=Season())
    rooms = {r.path: r for r in report.rooms}
    assert rooms["ss1/b1/r1"].days_below == 2
    assert rooms["ss1/b1/r1"].deficit_degree_hours == pytest.approx((1.0 + 2.0) * 24)
    assert rooms["ss1/b1/k1"].days_below == 1
    assert rooms["ss1/b1/k1"].deficit_degree_hours == pytest.approx(24.0)
    assert rooms["ss1/b2/r1"].days_reported == 2 and rooms["ss1/b2/r1"].coverage == pytest.approx(
        2 / 3, abs=1e-3
    )
    assert rooms["ss1/b2/r1"].overheating_k == pytest.approx(((21 - 19) + (22 - 19)) / 2)
    assert rooms["ss2/b1/r1"].days_below == 0
    assert report.worst_rooms == ("ss1/b1/r1", "ss1/b1/k1")
    subs = {g.id: g for g in report.substations}
    assert subs["ss1"].room_days_below == 3 and subs["ss1"].rooms_below == 2
    assert subs["ss1"].worst_room == "ss1/b1/r1"
    assert subs["ss2"].worst_room is None
    b2 = next(g for g in report.buildings if g.id == "ss1/b2")
    assert b2.overheating_cost_pct == pytest.approx(6.0 * 2.5)
    assert report.evidence.period_start == "2026-11-15"
    assert json.loads(json.dumps(report.to_dict()))["site"]["room_days_below"] == 3


def test_hourly_matrix_gives_hours_below() -> None:
    days = DAYS[2:4]
    daily = np.full((4, 2), 19.0)
    hours = np.arange(np.datetime64("2026-11-15T00"), np.datetime64("2026-11-17T00"))
    hourly = np.full((4, 48), 19.0)
    hourly[0, :5] = 17.5  # 5 h at 0.5 K below
    hourly[1, :3] = 14.0  # kitchen 3 h at 1 K below its 15 °C floor
    report = compliance(daily, days, ROOMS, hourly_indoor=hourly, hours=hours)
    rooms = {r.path: r for r in report.rooms}
    assert rooms["ss1/b1/r1"].hours_below == 5 and rooms["ss1/b1/r1"].deficit_degree_hours == 2.5
    assert rooms["ss1/b1/k1"].hours_below == 3 and rooms["ss1/b1/k1"].deficit_degree_hours == 3.0
    assert report.site.hours_below == 8


def test_room_index_from_site_uses_kitchen_floor(demo_site: SiteConfig) -> None:
    index = RoomIndex.from_site(demo_site)
    kitchens = [
        f"{s.id}/{b.id}/{r.id}"
        for s in demo_site.substations
        for b in s.buildings
        for r in b.rooms
        if r.type == "kitchen"
    ]
    floors = dict(zip(index.paths, index.floors, strict=True))
    assert all(floors[k] == 15.0 for k in kitchens)
    assert sum(f == 18.0 for f in floors.values()) == len(floors) - len(kitchens)


def test_curve_tracking_statistics() -> None:
    curve = SlopeShiftCurve(type="slope_shift", slope=2.0, shift=0.0)
    t_ms = np.arange(100, dtype=np.int64) * 600_000  # 10 min samples
    t_out = np.zeros(100)  # set point 60 °C
    supply = np.full(100, 61.0)
    supply[:12] = 70.0  # 2 h too hot by 10 K
    supply[50] = np.nan
    report = track_curve("ss1", t_ms, supply, t_out, curve)
    assert report.samples == 99
    assert report.hours_above == pytest.approx(2.0)
    assert report.hours_below == 0.0
    assert report.mean_deviation_k == pytest.approx((12 * 10 + 87 * 1) / 99, abs=1e-3)
    assert report.p95_abs_deviation_k == pytest.approx(10.0)
    assert report.evidence.coverage == pytest.approx(0.99)
