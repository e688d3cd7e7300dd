"""Loss of heat per substation told apart from loss of communications, and the notice the
company owes its users when heat is off longer than the notice threshold (8 h, DOMAIN.md).

A sample says heat is off when q2_power is near zero or t2_supply has fallen to within a
few kelvin of indoor. A sample with BAD quality for comms_lost or timeout, or with no
value, says nothing: a gap in the data is a communications loss, never an outage. A
gap between two heat-off samples is bridged, so an outage is not split by a dropout.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from analytics.calendar import HOUR_MS, coverage
from analytics.evidence import Evidence, Result, iso_ms
from analytics.runs import true_runs
from heatnet.points import Quality, QualityReason

Array = NDArray[np.float64]
COMMS_REASONS = (QualityReason.COMMS_LOST.value, QualityReason.TIMEOUT.value)


@dataclass(frozen=True, slots=True)
class OutageOptions:
    q_off_kw: float = 5.0  # secondary heat at or below this is no heat
    supply_excess_k: float = 5.0  # t2_supply within this of indoor is no heat
    indoor_reference: float = 20.0
    min_duration_s: float = 900.0
    bridge_s: float = 900.0
    notice_hours: float = 8.0  # Indoor.outage_notice_hours


@dataclass(frozen=True, slots=True)
class Outage(Result):
    asset: str
    cause: str  # "heat source stopped" or "substation"
    start: str
    end: str | None  # None while ongoing
    start_ms: int
    end_ms: int | None
    duration_h: float
    ongoing: bool
    buildings: tuple[str, ...]
    rooms: tuple[str, ...]
    notice_required: bool
    notice: dict[str, str] | None  # {"zh": …, "en": …}


@dataclass(frozen=True, slots=True)
class CommsLoss(Result):
    asset: str
    start: str
    end: str | None
    start_ms: int
    end_ms: int | None
    duration_h: float
    ongoing: bool


@dataclass(frozen=True, slots=True)
class OutageReport(Result):
    asset: str
    evidence: Evidence
    outages: tuple[Outage, ...]
    comms_losses: tuple[CommsLoss, ...]


@dataclass(frozen=True, slots=True)
class NoticeContext:
    """What a drafted notice needs beyond the outage itself."""

    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    site_name: str = ""
    hotline: str | None = None
    restoration_ms: int | None = None  # estimated restoration, if the repair crew gave one


def draft_notice(outage: Outage, ctx: NoticeContext) -> dict[str, str]:
    """A heating-interruption notice in Chinese and English for the affected users."""
    since = datetime.fromtimestamp(outage.start_ms / 1000, ctx.tz).strftime("%Y-%m-%d %H:%M")
    if ctx.restoration_ms is None:
        restore_zh, restore_en = (
            "待定，抢修进展将及时通告",
            "not yet known; we will keep you informed",
        )
    else:
        eta = datetime.fromtimestamp(ctx.restoration_ms / 1000, ctx.tz).strftime("%Y-%m-%d %H:%M")
        restore_zh, restore_en = f"预计 {eta}", f"estimated {eta}"
    who = "、".join(outage.buildings) or outage.asset
    who_en = ", ".join(outage.buildings) or outage.asset
    cause_zh = "热源停运" if outage.cause == "heat source stopped" else "换热站故障"
    hotline_zh = ctx.hotline or "【热线电话】"
    hotline_en = ctx.hotline or "[hotline]"
    zh = (
        f"【停热通知】因{cause_zh}，{ctx.site_name}{outage.asset}换热站所供 {who} "
        f"自 {since} 起暂停供热。抢修已立即开始，恢复供热时间：{restore_zh}。"
        f"如有疑问请拨打 {hotline_zh}。给您带来不便，敬请谅解。"
    )
    en = (
        f"Heating interruption: because of a {outage.cause} fault, heat to {who_en} "
        f"(substation {outage.asset}{', ' + ctx.site_name if ctx.site_name else ''}) "
        f"has been off since {since}. Repairs started at once; restoration: {restore_en}. "
        f"Questions: {hotline_en}. We apologise for the inconvenience."
    )
    return {"zh": zh, "en": en}


def _spans(
    t: NDArray[np.int64], flag: NDArray[np.bool_], last_known: int, bridge_ms: float
) -> list[tuple[int, int, bool]]:
    """(start index, end index, ongoing) of each run; ongoing when nothing known follows."""
    starts, ends = true_runs(flag, t, bridge_ms)
    return [(s, e, e >= last_known) for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]


def detect_outages(
    asset: str,
    t_ms: NDArray[np.int64],
    t2_supply: Array,
    q2_power: Array,
    *,
    quality: NDArray[np.integer] | None = None,
    reason: NDArray[np.str_] | None = None,
    src_running: Array | None = None,
    buildings: tuple[str, ...] = (),
    rooms: tuple[str, ...] = (),
    now_ms: int | None = None,
    options: OutageOptions | None = None,
    notice: NoticeContext | None = None,
) -> OutageReport:
    """Heat outages and communications losses of one substation from its samples."""
    opts = options or OutageOptions()
    t = np.asarray(t_ms, dtype=np.int64)
    t2 = np.asarray(t2_supply, dtype=np.float64)
    q2 = np.asarray(q2_power, dtype=np.float64)
    comms = ~np.isfinite(t2) & ~np.isfinite(q2)
    if quality is not None:
        bad = np.asarray(quality) == Quality.BAD
        why = np.isin(np.asarray(reason), COMMS_REASONS) if reason is not None else bad
        comms |= bad & why
    known = ~comms
    with np.errstate(invalid="ignore"):
        off = known & ((q2 <= opts.q_off_kw) | (t2 < opts.indoor_reference + opts.supply_excess_k))
    idx = np.arange(t.size)
    prev_known = np.maximum.accumulate(np.where(known, idx, -1))
    next_known = np.minimum.accumulate(np.where(known, idx, t.size)[::-1])[::-1]
    prev_off = np.where(prev_known >= 0, off[np.maximum(prev_known, 0)], False)
    next_off = np.where(next_known < t.size, off[np.minimum(next_known, t.size - 1)], True)
    off_bridged = off | (comms & prev_off & next_off)
    last_known = int(np.flatnonzero(known)[-1]) if known.any() else -1
    end_of_data = int(now_ms if now_ms is not None else (t[-1] if t.size else 0))
    ctx = notice or NoticeContext()
    outages = []
    for s, e, ongoing in _spans(t, off_bridged, last_known, opts.bridge_s * 1000.0):
        end_ms = end_of_data if ongoing else int(t[min(e + 1, t.size - 1)])
        duration_h = (end_ms - int(t[s])) / HOUR_MS
        if duration_h * 3600.0 < opts.min_duration_s:
            continue
        stopped = src_running is not None and np.nanmean(np.asarray(src_running)[s : e + 1]) < 0.5
        outage = Outage(
            asset=asset,
            cause="heat source stopped" if stopped else "substation",
            start=iso_ms(t[s]),
            end=None if ongoing else iso_ms(end_ms),
            start_ms=int(t[s]),
            end_ms=None if ongoing else end_ms,
            duration_h=round(duration_h, 2),
            ongoing=ongoing,
            buildings=buildings,
            rooms=rooms,
            notice_required=duration_h >= opts.notice_hours,
            notice=None,
        )
        if outage.notice_required:
            outage = replace(outage, notice=draft_notice(outage, ctx))
        outages.append(outage)
    losses = []
    for s, e, _ in _spans(t, comms & ~off_bridged, last_known, 0.0):
        ongoing = e == t.size - 1
        end_ms = end_of_data if ongoing else int(t[e + 1])
        losses.append(
            CommsLoss(
                asset,
                iso_ms(t[s]),
                None if ongoing else iso_ms(end_ms),
                int(t[s]),
                None if ongoing else end_ms,
                round((end_ms - int(t[s])) / HOUR_MS, 2),
                ongoing,
            )
        )
    evidence = Evidence.from_ms(t, ("t2_supply", "q2_power"), coverage(t, int(known.sum())))
    return OutageReport(asset, evidence, tuple(outages), tuple(losses))
