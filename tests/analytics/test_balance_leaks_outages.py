"""Exchanger ε-NTU design point, heat balance, imbalance; leak jumps; outage vs comms loss."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import numpy as np
import pytest

from analytics.balance import (
    exchanger_performance,
    fouling_trend,
    heat_balance,
    hydraulic_imbalance,
    network_loss,
)
from analytics.leaks import watch_makeup
from analytics.outages import NoticeContext, detect_outages
from analytics.water import capacity_rate_kw_k
from heatnet.points import Quality

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = int(np.datetime64("2026-12-15T00:00", "ms").astype(np.int64)) - 8 * 3_600_000


def test_exchanger_design_point_gives_domain_effectiveness() -> None:
    # DOMAIN.md: 130/70 primary feeding 60 → 85 secondary: ε ≈ 0.86, NTU ≈ 2.6
    f2 = 100.0
    c2 = capacity_rate_kw_k(f2, 72.5)
    q = float(c2 * 25.0)
    f1 = c2 * 25.0 / 60.0 / capacity_rate_kw_k(1.0, 100.0)  # C1 = Q / 60 K
    eps, ua = exchanger_performance(
        np.array([130.0]), np.array([70.0]), np.array([85.0]), np.array([60.0]),
        np.array([f1]), np.array([f2]),
    )  # fmt: skip
    assert eps[0] == pytest.approx(0.86, abs=0.01)
    c_min = float(capacity_rate_kw_k(f1, 100.0))
    assert ua[0] / c_min == pytest.approx(2.6, abs=0.1)  # NTU
    assert ua[0] == pytest.approx(q / ((45 - 10) / np.log(45 / 10)), rel=0.02)


def test_heat_balance_loss_ratio_and_rankings() -> None:
    t_ms = T0 + np.arange(2 * 288, dtype=np.int64) * 300_000  # two days of 5 min samples
    n = t_ms.size
    ones = np.ones((2, n))
    report = heat_balance(
        ("ss1", "ss2"), t_ms, SHANGHAI,
        f1_flow=ones * [[10.0], [10.0]], t1_supply=ones * 120.0, t1_return=ones * 60.0,
        f2_flow=ones * [[20.0], [30.0]], t2_supply=ones * [[80.0], [70.0]],
        t2_return=ones * [[51.0], [55.0]],
    )  # fmt: skip
    ss1, ss2 = report.substations
    assert ss2.dt2_mean_k == pytest.approx(15.0)
    assert ss1.q1_mean_kw == pytest.approx(10 * 1.163 * 60, rel=0.03)
    assert ss1.loss_ratio == pytest.approx(1 - (20 * 29) / (10 * 60), abs=0.01)
    assert ss1.e1_gj == pytest.approx(ss1.q1_mean_kw * 48 * 3.6e-3, rel=1e-3)
    assert report.low_dt_ranking == ("ss2", "ss1")
    assert report.high_return_ranking == ("ss2", "ss1")
    assert len(report.days) == 2 and len(report.q1_daily_kw[0]) == 2
    loss = network_loss(t_ms, np.full(n, 1500.0), np.vstack([np.full(n, 700.0)] * 2))
    assert loss.loss_ratio == pytest.approx(100 / 1500, abs=1e-4)


def test_imbalance_spread_and_fouling_trend() -> None:
    imbalance = hydraulic_imbalance(("a", "b", "c"), np.array([12.0, 10.0, 8.0]), np.full(3, 10.0))
    assert imbalance.ratios == {"a": 1.2, "b": 1.0, "c": 0.8}
    assert imbalance.spread_cv == pytest.approx(np.std([1.2, 1.0, 0.8]), abs=1e-4)
    assert (imbalance.most_over, imbalance.most_under) == ("a", "c")
    days = np.arange(np.datetime64("2026-12-01"), np.datetime64("2027-01-26"))
    weeks = np.arange(days.size) / 7.0
    ua = 100.0 * (1 - 0.01 * weeks) + np.random.default_rng(1).normal(0, 0.3, days.size)
    trend = fouling_trend("ss1", days, ua)
    assert trend.slope_pct_per_week == pytest.approx(-1.04, abs=0.1)  # −1 % of the mean
    assert trend.confidence == "high"
    assert fouling_trend("ss1", days[:5], ua[:5]).evidence.withheld


def test_leak_jump_found_at_its_start_and_spike_ignored() -> None:
    rng = np.random.default_rng(7)
    t_ms = T0 + np.arange(10 * 288, dtype=np.int64) * 300_000  # ten days, 5 min
    flow = 0.06 * (1 + 0.15 * rng.standard_normal(t_ms.size))
    spike_at, leak_at = 6 * 288 + 40, 8 * 288 + 100
    flow[spike_at] += 3.0  # one bad sample
    flow[leak_at:] += 2.0  # a lasting leak
    report = watch_makeup("ss1", t_ms, flow, np.full(t_ms.size, 14.0), tz=SHANGHAI)
    assert len(report.alerts) == 1
    alert = report.alerts[0]
    assert alert.start_ms == t_ms[leak_at]
    assert alert.end is None
    assert alert.excess_m3h == pytest.approx(2.0, abs=0.05)
    assert alert.excess_pct_of_circulation == pytest.approx(100 * 2 / 14, abs=0.5)
    assert report.to_dict()["alerts"][0]["start"].startswith("2026-12-")
    assert alert.start.endswith("+08:00")  # the site's local time


def test_lasting_leak_is_not_taken_into_the_baseline_and_ends_with_the_leak() -> None:
    rng = np.random.default_rng(3)
    t_ms = T0 + np.arange(24 * 288, dtype=np.int64) * 300_000  # 24 days, 5 min
    flow = 0.06 * (1 + 0.15 * rng.standard_normal(t_ms.size))
    leak = slice(8 * 288 + 100, 20 * 288)  # 12 days: longer than the 7-day baseline window
    flow[leak] += 1.5
    (alert,) = watch_makeup("ss1", t_ms, flow, tz=SHANGHAI).alerts
    assert alert.start_ms == t_ms[leak.start] and alert.end_ms == t_ms[leak.stop - 1]
    assert alert.baseline_m3h == pytest.approx(0.06, abs=0.01)
    assert alert.duration_h == pytest.approx((leak.stop - leak.start) / 12, abs=0.1)
    (ongoing,) = watch_makeup("ss1", t_ms[: leak.stop], flow[: leak.stop]).alerts
    assert ongoing.end is None and ongoing.start_ms == t_ms[leak.start]
    assert ongoing.start.endswith("+00:00")  # no zone given: UTC


def test_outage_is_told_apart_from_comms_loss() -> None:
    t_ms = T0 + np.arange(48 * 12, dtype=np.int64) * 300_000  # two days, 5 min
    n = t_ms.size
    t2 = np.full(n, 60.0)
    q2 = np.full(n, 400.0)
    quality = np.zeros(n, dtype=np.int8)
    reason = np.full(n, "", dtype=object)
    comms = slice(2 * 12, 12 * 12)  # 10 h of lost comms: values missing, quality BAD
    t2[comms], q2[comms], quality[comms], reason[comms] = np.nan, np.nan, Quality.BAD, "comms_lost"
    off = slice(20 * 12, 30 * 12)  # 10 h without heat, with a 1 h dropout inside
    t2[off], q2[off] = 22.0, 0.0
    gap = slice(24 * 12, 25 * 12)
    t2[gap], q2[gap], quality[gap], reason[gap] = np.nan, np.nan, Quality.BAD, "timeout"
    short = slice(40 * 12, 42 * 12)  # a 2 h stop: listed, no notice
    t2[short], q2[short] = 30.0, 1.0
    report = detect_outages(
        "ss1", t_ms, t2, q2, quality=quality, reason=reason.astype(str),
        buildings=("b1", "b2"), rooms=("b1/r1",), notice=NoticeContext(SHANGHAI, "示范", "12345"),
    )  # fmt: skip
    assert [o.duration_h for o in report.outages] == [10.0, 2.0]
    long, brief = report.outages
    assert long.start_ms == t_ms[20 * 12] and not long.ongoing
    assert long.notice_required and not brief.notice_required and brief.notice is None
    assert long.notice is not None
    assert "b1、b2" in long.notice["zh"] and "2026-12-15 20:00" in long.notice["zh"]
    assert "12345" in long.notice["en"] and "not yet known" in long.notice["en"]
    assert [c.duration_h for c in report.comms_losses] == [10.0]
    assert report.comms_losses[0].start_ms == t_ms[2 * 12]


def test_ongoing_outage_at_the_end_and_source_cause() -> None:
    t_ms = T0 + np.arange(24 * 12, dtype=np.int64) * 300_000
    t2 = np.full(t_ms.size, 60.0)
    q2 = np.full(t_ms.size, 400.0)
    running = np.ones(t_ms.size)
    t2[12 * 12 :], q2[12 * 12 :], running[12 * 12 :] = 25.0, 0.0, 0.0
    report = detect_outages(
        "ss1", t_ms, t2, q2, src_running=running, now_ms=int(t_ms[-1]) + 300_000
    )
    (outage,) = report.outages
    assert outage.ongoing and outage.end is None and outage.cause == "heat source stopped"
    assert outage.duration_h == pytest.approx(12.0)
    assert outage.notice is not None and "热源停运" in outage.notice["zh"]
