"""One function per analysis: fetch by role through `SiteData`, call the kernel, return its
result objects (each with `to_dict()`). `ANALYSES` names them for the command line."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from analytics.balance import BalanceReport, heat_balance
from analytics.compliance import ComplianceReport
from analytics.compliance import compliance as compliance_kernel
from analytics.curvetrack import CurveTracking, track_curve
from analytics.fetch import HOUR_S, Moment, SiteData, as_ms, daily_means
from analytics.leaks import LeakOptions, MakeupReport, watch_makeup
from analytics.outages import NoticeContext, OutageOptions, OutageReport, detect_outages
from analytics.proposals import CurveProposal, ProposalOptions, propose_curve
from analytics.steam import SteamEnergy, steam_energy
from heatnet.points import Quality
from heatnet.samples import REASON_CODES, SampleBatch

Array = NDArray[np.float64]
Substations = Iterable[str] | None
REASON_TEXT = np.array([r.value for r in REASON_CODES])
BALANCE_ROLES = ("f1_flow", "t1_supply", "t1_return", "f2_flow", "t2_supply", "t2_return")
STEAM_ROLES = ("steam_pressure", "steam_temperature", "steam_mass_flow")


def compliance(
    data: SiteData,
    start: Moment,
    end: Moment,
    *,
    substations: Substations = None,
    overheat_margin_k: float = 1.0,
) -> ComplianceReport:
    """Indoor compliance with the floors, from hourly rollups of every room sensor."""
    hourly = data.hourly_indoor(start, end, substations)
    days = data.days(start, end)
    return compliance_kernel(
        daily_means(hourly.t_ms, hourly.mean, hourly.count, days, data.tz),
        days,
        hourly.rooms,
        hourly_indoor=hourly.mean,
        hours=hourly.hours,
        season=data.site.season,
        overheat_margin_k=overheat_margin_k,
    )


def curve_tracking(
    data: SiteData,
    start: Moment,
    end: Moment,
    *,
    substations: Substations = None,
    bucket_s: int = 300,
    tolerance_k: float = 3.0,
) -> tuple[CurveTracking, ...]:
    """Secondary supply against the heating curve each PLC held (else the site file's) at
    its own outdoor sensor; a change of the held curve applies from its time on."""
    subs = data.substations(substations)
    aligned = data.aligned(("t2_supply", "t_outdoor"), [s.id for s in subs], start, end, bucket_s)
    held = data.held_curves(subs, start, end)
    return tuple(
        track_curve(
            s.id,
            aligned.t_ms,
            aligned["t2_supply"][i],
            aligned["t_outdoor"][i],
            held[s.id],
            tolerance_k=tolerance_k,
            expected_interval_s=bucket_s,
        )
        for i, s in enumerate(subs)
    )


def proposals(
    data: SiteData,
    start: Moment,
    end: Moment,
    *,
    substations: Substations = None,
    options: ProposalOptions | None = None,
) -> tuple[CurveProposal, ...]:
    """A heating-curve proposal per substation from daily means of supply, outdoor and rooms,
    changing the curve its PLC holds at the end of the period (else the site file's)."""
    subs = data.substations(substations)
    ids = [s.id for s in subs]
    held = data.held_curves(subs, start, end)
    days, t2_supply = data.daily("t2_supply", ids, start, end)
    _, t_outdoor = data.daily("t_outdoor", ids, start, end)
    _, indoor, rooms = data.daily_indoor(start, end, ids)
    owner = np.array(rooms.substations)
    result = []
    for i, s in enumerate(subs):
        rows = np.flatnonzero(owner == s.id)
        result.append(
            propose_curve(
                s.id,
                days,
                t2_supply[i],
                t_outdoor[i],
                indoor[rows],
                rooms.floors[rows],
                held[s.id].current,
                rooms=tuple(rooms.paths[r] for r in rows),
                curve_source=held[s.id].source,
                options=options,
            )
        )
    return tuple(result)


def balance(
    data: SiteData,
    start: Moment,
    end: Moment,
    *,
    substations: Substations = None,
    bucket_s: int = HOUR_S,
) -> BalanceReport:
    """Heat on both sides, loss ratio, ΔT and return rankings; hourly buckets by default."""
    ids = [s.id for s in data.substations(substations)]
    aligned = data.aligned(BALANCE_ROLES, ids, start, end, bucket_s)
    return heat_balance(tuple(ids), aligned.t_ms, data.tz, **aligned.series)


def leaks(
    data: SiteData,
    start: Moment,
    end: Moment,
    *,
    substations: Substations = None,
    bucket_s: int = 300,
    options: LeakOptions | None = None,
) -> tuple[MakeupReport, ...]:
    """Make-up water level and lasting jumps per substation (the leak and theft signal)."""
    ids = [s.id for s in data.substations(substations)]
    aligned = data.aligned(("makeup_flow", "f2_flow"), ids, start, end, bucket_s)
    return tuple(
        watch_makeup(
            sid,
            aligned.t_ms,
            aligned["makeup_flow"][i],
            aligned["f2_flow"][i],
            options=options,
            tz=data.tz,
        )
        for i, sid in enumerate(ids)
    )


def _on(t_ms: NDArray[np.int64], batch: SampleBatch) -> tuple[Array, NDArray[np.uint8], Any]:
    """A raw series placed on given timestamps: values, quality, reason text (missing: BAD)."""
    values = np.full(t_ms.size, np.nan)
    quality = np.full(t_ms.size, Quality.BAD, dtype=np.uint8)
    reason = np.zeros(t_ms.size, dtype=np.uint8)
    pos = np.searchsorted(t_ms, batch.ts_ms)
    values[pos], quality[pos], reason[pos] = batch.values, batch.quality, batch.reason
    return values, quality, reason


def outages(
    data: SiteData,
    start: Moment,
    end: Moment,
    *,
    substations: Substations = None,
    options: OutageOptions | None = None,
    hotline: str | None = None,
) -> tuple[OutageReport, ...]:
    """Heat outages (with drafted notices) told apart from communications losses, from raw
    samples: their quality reasons say which gaps are lost communications.

    While the heat source reports it is not firing (src_running 0) a substation counts as
    without heat: the stop the company must announce begins when the source trips, not
    hours later when the network's water has cooled.
    """
    source = data.site.heat_source.id
    running = data.raw("src_running", source, start, end)
    notice = NoticeContext(tz=data.tz, site_name=data.site.site.name, hotline=hotline)
    reports = []
    for s in data.substations(substations):
        t2 = data.raw("t2_supply", s.id, start, end)
        q2 = data.raw("q2_power", s.id, start, end)
        t_ms = np.union1d(t2.ts_ms, q2.ts_ms)
        t2_v, t2_q, t2_r = _on(t_ms, t2)
        q2_v, q2_q, q2_r = _on(t_ms, q2)
        worse = q2_q > t2_q
        src = None
        if len(running):
            at = np.clip(np.searchsorted(running.ts_ms, t_ms, side="right") - 1, 0, None)
            src = running.values[at]
            q2_v = np.where(src < 0.5, np.minimum(q2_v, 0.0), q2_v)  # NaN (no data) stays NaN
        reports.append(
            detect_outages(
                s.id,
                t_ms,
                t2_v,
                q2_v,
                quality=np.maximum(t2_q, q2_q),
                reason=REASON_TEXT[np.where(worse, q2_r, t2_r)],
                src_running=src,
                buildings=tuple(b.id for b in s.buildings),
                rooms=tuple(f"{b.id}/{r.id}" for b in s.buildings for r in b.rooms),
                now_ms=min(as_ms(end), data.newest_ms()),
                options=options,
                notice=notice,
            )
        )
    return tuple(reports)


def steam(
    data: SiteData, start: Moment, end: Moment, *, bucket_s: int = 300
) -> tuple[SteamEnergy, ...]:
    """Energy delivered to each steam customer (IAPWS-IF97 enthalpy of the metered state)."""
    ids = [c.id for c in data.site.steam_customers]
    if not ids:
        return ()
    aligned = data.aligned(STEAM_ROLES, ids, start, end, bucket_s)
    return tuple(
        steam_energy(
            cid,
            aligned.t_ms,
            aligned["steam_pressure"][i],
            aligned["steam_temperature"][i],
            aligned["steam_mass_flow"][i],
            data.tz,
        )
        for i, cid in enumerate(ids)
    )


ANALYSES: dict[str, Callable[..., Any]] = {
    "compliance": compliance,
    "curve": curve_tracking,
    "proposals": proposals,
    "balance": balance,
    "leaks": leaks,
    "outages": outages,
    "steam": steam,
}
