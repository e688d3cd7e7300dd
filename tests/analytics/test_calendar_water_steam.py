"""Calendar buckets, water properties and steam enthalpy against hand values and IAPWS-IF97."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from iapws import IAPWS97

from analytics.calendar import bucket_mean, degree_days, in_season, local_buckets, season_bounds
from analytics.steam import SteamState, feedwater_enthalpy, steam_energy, steam_enthalpy
from analytics.water import density, heat_capacity, heat_kw
from heatnet.config import Season

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_season_spans_the_new_year() -> None:
    season = Season()
    days = np.array(["2026-11-14", "2026-11-15", "2027-01-01", "2027-03-15", "2027-03-16"])
    assert in_season(days, season).tolist() == [False, True, True, True, False]
    assert season_bounds(date(2027, 1, 10), season) == (date(2026, 11, 15), date(2027, 3, 15))
    assert season_bounds(date(2027, 6, 1), season) == (date(2027, 11, 15), date(2028, 3, 15))
    summer = Season(start="06-01", end="08-31")
    assert in_season(np.array(["2026-07-01", "2026-09-01"]), summer).tolist() == [True, False]


def test_local_days_follow_the_site_zone() -> None:
    t = np.array([np.datetime64("2026-12-14T15:59:00"), np.datetime64("2026-12-14T16:00:00")])
    t_ms = t.astype("datetime64[ms]").astype(np.int64)  # 23:59 and 00:00 in Shanghai
    assert local_buckets(t_ms, SHANGHAI).astype(str).tolist() == ["2026-12-14", "2026-12-15"]
    berlin = ZoneInfo("Europe/Berlin")  # DST ends 2026-10-25 01:00 UTC
    t = np.array(["2026-10-24T22:30", "2026-10-25T22:30"], dtype="datetime64[ms]")
    days = local_buckets(t.astype(np.int64), berlin)
    assert days.astype(str).tolist() == ["2026-10-25", "2026-10-25"]


def test_bucket_mean_skips_missing_samples() -> None:
    t0 = np.datetime64("2026-12-15T00:00", "ms").astype(np.int64) - 8 * 3_600_000
    t_ms = t0 + np.arange(48) * 3_600_000
    values = np.vstack([np.r_[np.full(24, 20.0), np.full(24, 16.0)], np.arange(48.0)])
    values[0, :12] = np.nan
    labels, means, counts = bucket_mean(values, t_ms, SHANGHAI)
    assert labels.astype(str).tolist() == ["2026-12-15", "2026-12-16"]
    np.testing.assert_allclose(means, [[20.0, 16.0], [11.5, 35.5]])
    assert counts.tolist() == [[12, 24], [24, 24]]
    np.testing.assert_allclose(degree_days([-2.0, 20.0, np.nan]), [20.0, 0.0, np.nan])


def test_water_properties_match_iapws() -> None:
    ref = IAPWS97(T=343.15, P=1.0)
    assert density(70.0) == pytest.approx(ref.rho, rel=1e-5)
    assert heat_capacity(70.0) == pytest.approx(ref.cp, rel=1e-4)
    ref_b = IAPWS97(T=273.15 + 47.3, P=1.0)
    rho_cp = density(47.3) * heat_capacity(47.3)
    assert rho_cp == pytest.approx(ref_b.rho * ref_b.cp, rel=1e-4)
    # 10 m³/h cooled 85 → 60 °C carries about 1.163 · 10 · 25 kW (DOMAIN.md rule of thumb)
    assert heat_kw(10.0, 85.0, 60.0) == pytest.approx(1.163 * 10 * 25, rel=0.03)


@pytest.mark.parametrize(("p", "t"), [(1.0, 250.0), (0.6, 200.0), (2.5, 400.0), (1.3, 193.7)])
def test_steam_enthalpy_matches_iapws(p: float, t: float) -> None:
    h, state = steam_enthalpy(np.array([p]), np.array([t]))
    assert state[0] == SteamState.SUPERHEATED
    assert h[0] == pytest.approx(IAPWS97(P=p, T=t + 273.15).h, abs=0.5)


def test_steam_states_and_energy() -> None:
    t_sat = IAPWS97(P=1.0, x=1.0).T - 273.15
    h, state = steam_enthalpy(np.array([1.0, 1.0, 1.0, 20.0]), np.array([t_sat, 150.0, 250.0, 300]))
    assert state.tolist() == [SteamState.SATURATED, SteamState.WET, SteamState.SUPERHEATED, 3]
    assert h[0] == pytest.approx(IAPWS97(P=1.0, x=1.0).h, abs=0.5)
    assert np.isnan(h[1])
    t_ms = np.datetime64("2026-12-15T00:00", "ms").astype(np.int64) + np.arange(24) * 3_600_000
    report = steam_energy(
        "c1", t_ms, np.full(24, 0.9), np.full(24, 250.0), np.full(24, 8.0), SHANGHAI, gauge=True
    )
    expected = 24 * 8.0 * (IAPWS97(P=1.001325, T=523.15).h - feedwater_enthalpy(20.0)) / 1000
    assert report.total_gj == pytest.approx(expected, rel=1e-3)
    assert sum(report.daily_gj) == pytest.approx(report.total_gj, rel=1e-6)
    assert report.to_dict()["samples_by_state"]["superheated"] == 24
