"""Alarms in the ISA-18.2 manner: conditions found in the data, a journal of what happened
to them in the historian, and the state each alarm is in.

Sources: limits per role (site.alarms) with hysteresis and an on/off delay, evaluated per
point over whole arrays; stale data (gaps, `stale` quality) and lost communications
(quality reasons, from the outage analysis); and the analyses: leak alerts, heat
outages, compliance deficits, curve deviation. Each condition is a `Finding` (an episode
with a start and perhaps an end); `AlarmJournal.record` turns findings into raise and
clear entries, `acknowledge` adds the operator's entry. The state of an alarm is its
journal folded in time order:

    raise → active_unacked ─ack→ active_acked ─clear→ normal
                └─clear→ cleared_unacked ─ack→ normal
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

from analytics.compliance import ComplianceReport
from analytics.curvetrack import CurveTracking
from analytics.evidence import Result
from analytics.leaks import MakeupReport
from analytics.outages import OutageReport
from analytics.runs import true_runs
from heatnet.config import AlarmLimit
from heatnet.points import Quality, QualityReason
from heatnet.samples import REASON_CODE, SampleBatch
from historian.base import AlarmEvent, Historian

Array = NDArray[np.float64]
PRIORITIES = ("low", "medium", "high", "urgent")
STALE = REASON_CODE[QualityReason.STALE]
COMMS = [REASON_CODE[QualityReason.COMMS_LOST], REASON_CODE[QualityReason.TIMEOUT]]
FAR_FUTURE_MS = 2**62


class AlarmState(StrEnum):
    NORMAL = "normal"
    ACTIVE_UNACKED = "active_unacked"
    ACTIVE_ACKED = "active_acked"
    CLEARED_UNACKED = "cleared_unacked"


@dataclass(frozen=True, slots=True)
class Finding(Result):
    """One episode of an alarm condition: [start_ms, end_ms), end None while it lasts."""

    alarm_id: str  # source:path[:condition], stable across evaluations
    source: str
    path: str
    priority: str
    message: str
    start_ms: int
    end_ms: int | None
    value: float | None = None


@dataclass(frozen=True, slots=True)
class AlarmStatus(Result):
    """Where one alarm stands after its journal: state, when raised, who acknowledged."""

    alarm_id: str
    source: str
    path: str
    priority: str
    message: str
    state: AlarmState
    raised_ms: int
    cleared_ms: int | None
    acked_ms: int | None
    operator: str | None


# ---- limits ---------------------------------------------------------------------------


def _hysteresis(on: NDArray[np.bool_], off: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """State that turns on where `on`, off where `off`, and holds in between (starts off)."""
    idx = np.arange(on.size)
    last_on = np.maximum.accumulate(np.where(on, idx, -1))
    last_off = np.maximum.accumulate(np.where(off, idx, -1))
    return last_on > last_off


def _delayed(
    t_ms: NDArray[np.int64], state: NDArray[np.bool_], delay_ms: float
) -> list[tuple[int, int | None]]:
    """Episodes of `state` held at least delay_ms, ended once it has been off delay_ms.

    Raised at the first sample delay_ms into a run (the on-delay restarts whenever the
    state drops); cleared at the first sample delay_ms after the state dropped, unless
    it came back before (the off-delay).
    """
    starts, ends = true_runs(state)
    episodes: list[tuple[int, int | None]] = []
    off_since: int | None = None  # index of the first off sample of the active episode
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        if off_since is not None and t_ms[s] - t_ms[off_since] < delay_ms:
            off_since = e + 1 if e + 1 < t_ms.size else None  # came back in time: goes on
            continue
        if off_since is not None:
            episodes[-1] = (episodes[-1][0], _clear_at(t_ms, off_since, delay_ms))
            off_since = None
        raise_at = int(np.searchsorted(t_ms, t_ms[s] + delay_ms))
        if raise_at <= e:
            episodes.append((int(t_ms[raise_at]), None))
            off_since = e + 1 if e + 1 < t_ms.size else None
    if off_since is not None:
        episodes[-1] = (episodes[-1][0], _clear_at(t_ms, off_since, delay_ms))
    return episodes


def _clear_at(t_ms: NDArray[np.int64], off_since: int, delay_ms: float) -> int | None:
    at = int(np.searchsorted(t_ms, t_ms[off_since] + delay_ms))
    return int(t_ms[at]) if at < t_ms.size else None


def limit_findings(path: str, batch: SampleBatch, limit: AlarmLimit) -> list[Finding]:
    """High and low limit episodes of one point's samples; BAD samples hold the state."""
    t = batch.ts_ms
    v = np.where(batch.quality < Quality.BAD, batch.values, np.nan)
    findings = []
    with np.errstate(invalid="ignore"):
        sides = []
        if limit.high is not None:
            sides.append(("high", v > limit.high, v < limit.high - limit.hysteresis, limit.high))
        if limit.low is not None:
            sides.append(("low", v < limit.low, v > limit.low + limit.hysteresis, limit.low))
    for side, on, off, bound in sides:
        state = _hysteresis(on, off)
        for start, end in _delayed(t, state, limit.delay * 1000.0):
            i = int(np.searchsorted(t, start))
            findings.append(
                Finding(
                    alarm_id=f"limit:{path}:{side}",
                    source="limit",
                    path=path,
                    priority=limit.priority,
                    message=f"{limit.role} {side} limit {bound:g} ({v[i]:.2f} at raise)",
                    start_ms=start,
                    end_ms=end,
                    value=float(v[i]),
                )
            )
    return findings


def stale_findings(
    path: str, batch: SampleBatch, now_ms: int, *, stale_after_s: float, priority: str = "low"
) -> list[Finding]:
    """No good sample for longer than stale_after_s (a gap, or samples flagged stale);
    samples of lost communications are left to the comms alarm."""
    good = (batch.quality < Quality.BAD) & np.isfinite(batch.values)
    comms = (batch.quality == Quality.BAD) & np.isin(batch.reason, COMMS)  # the comms alarm's
    fresh = (good | comms) & (batch.reason != STALE)
    t = batch.ts_ms[fresh]
    limit_ms = stale_after_s * 1000.0
    found = []
    edges = np.r_[t, now_ms] if t.size else np.array([now_ms])
    gaps = np.flatnonzero(np.diff(edges) > limit_ms) if t.size else np.array([], int)
    for g in gaps.tolist():
        ongoing = g == t.size - 1
        found.append(
            Finding(
                alarm_id=f"stale:{path}",
                source="stale",
                path=path,
                priority=priority,
                message=f"no good value for more than {stale_after_s:g} s",
                start_ms=int(t[g] + limit_ms),
                end_ms=None if ongoing else int(t[g + 1]),
            )
        )
    return found


# ---- the analyses as sources -----------------------------------------------------------


def analysis_findings(
    site_id: str,
    *,
    leaks: Iterable[MakeupReport] = (),
    outages: Iterable[OutageReport] = (),
    compliance: ComplianceReport | None = None,
    curves: Iterable[CurveTracking] = (),
    period_end_ms: int = 0,
    curve_share_outside: float = 0.2,
) -> list[Finding]:
    """Leak alerts, outages and communication losses, compliance deficits per building and
    curve deviation per substation, as findings (deficits and deviation at period end)."""
    found = []
    for report in leaks:
        for a in report.alerts:
            found.append(
                Finding(
                    f"leak:{site_id}/{a.substation}", "leak", f"{site_id}/{a.substation}", "high",
                    f"make-up water {a.excess_m3h:+.2f} m³/h above its baseline (z {a.robust_z})",
                    a.start_ms, a.end_ms, a.excess_m3h,
                )
            )  # fmt: skip
    for report in outages:
        asset = f"{site_id}/{report.asset}"
        for o in report.outages:
            priority = "urgent" if o.notice_required else "high"
            text = f"no heat ({o.cause}) for {o.duration_h:g} h"
            if o.notice_required:
                text += ": users must be notified"
            found.append(
                Finding(
                    f"outage:{asset}", "outage", asset, priority, text, o.start_ms, o.end_ms,
                    o.duration_h,
                )
            )  # fmt: skip
        for c in report.comms_losses:
            found.append(
                Finding(
                    f"comms:{asset}", "comms", asset, "medium",
                    f"communications lost for {c.duration_h:g} h", c.start_ms, c.end_ms,
                )
            )  # fmt: skip
    if compliance is not None:
        for b in compliance.buildings:
            if b.rooms_below:
                found.append(
                    Finding(
                        f"compliance:{site_id}/{b.id}", "compliance", f"{site_id}/{b.id}", "medium",
                        f"{b.rooms_below} room(s) below their floor on {b.room_days_below} "
                        f"room-days (worst {b.worst_room})",
                        period_end_ms, None, b.deficit_degree_hours,
                    )
                )  # fmt: skip
    for c in curves:
        if c.share_outside is not None and c.share_outside > curve_share_outside:
            found.append(
                Finding(
                    f"curve:{site_id}/{c.asset}", "curve", f"{site_id}/{c.asset}", "low",
                    f"supply off its curve {100 * c.share_outside:.0f} % of the time "
                    f"(mean {c.mean_deviation_k:+.1f} K)",
                    period_end_ms, None, c.mean_deviation_k,
                )
            )  # fmt: skip
    return found


# ---- the journal ------------------------------------------------------------------------


def fold(events: Sequence[AlarmEvent]) -> dict[str, AlarmStatus]:
    """Each alarm's status after its journal entries (in journal order)."""
    status: dict[str, AlarmStatus] = {}
    for e in events:
        now = status.get(e.alarm_id)
        if e.kind == "raise":
            if now is None or now.state in (AlarmState.NORMAL, AlarmState.CLEARED_UNACKED):
                status[e.alarm_id] = AlarmStatus(
                    e.alarm_id, e.source, e.path, e.priority, e.message,
                    AlarmState.ACTIVE_UNACKED, e.ts_ms, None, None, None,
                )  # fmt: skip
        elif now is not None and e.kind == "clear" and now.cleared_ms is None:
            acked = now.state == AlarmState.ACTIVE_ACKED
            state = AlarmState.NORMAL if acked else AlarmState.CLEARED_UNACKED
            status[e.alarm_id] = replace(now, state=state, cleared_ms=e.ts_ms)
        elif now is not None and e.kind == "ack" and now.acked_ms is None:
            active = now.state == AlarmState.ACTIVE_UNACKED
            state = AlarmState.ACTIVE_ACKED if active else AlarmState.NORMAL
            status[e.alarm_id] = replace(now, state=state, acked_ms=e.ts_ms, operator=e.operator)
    return status


UNACKED = (AlarmState.ACTIVE_UNACKED, AlarmState.CLEARED_UNACKED)


class UnknownAlarm(KeyError):
    """No alarm with that id needs acknowledging."""


class AlarmJournal:
    """The alarm journal kept in the historian (write_events / read_events)."""

    def __init__(self, historian: Historian) -> None:
        self.historian = historian

    def statuses(self, until_ms: int = FAR_FUTURE_MS) -> dict[str, AlarmStatus]:
        """Every alarm's status from its whole journal up to until_ms."""
        return fold(self.historian.read_events(0, until_ms))

    def active(self, until_ms: int = FAR_FUTURE_MS) -> list[AlarmStatus]:
        """Alarms needing attention (not normal), most urgent then oldest first."""
        shown = [s for s in self.statuses(until_ms).values() if s.state != AlarmState.NORMAL]
        return sorted(shown, key=lambda s: (-PRIORITIES.index(s.priority), s.raised_ms))

    def record(
        self, findings: Sequence[Finding], start_ms: int, end_ms: int, sources: Iterable[str]
    ) -> list[AlarmEvent]:
        """Journal the findings of one evaluation of [start_ms, end_ms) over `sources`.

        A finding raises its alarm unless the alarm is already active, and clears it at
        its end. An alarm of an evaluated source that is active but not found again is
        cleared at start_ms (episodes) or end_ms (compliance and curve: assessed at the end).
        Re-running the same evaluation writes the same entries, which replace themselves.
        """
        before = self.statuses(start_ms)
        events: list[AlarmEvent] = []
        found = {f.alarm_id for f in findings}
        for f in sorted(findings, key=lambda f: f.start_ms):
            was = before.get(f.alarm_id)
            raised = f.start_ms
            if was is not None and was.cleared_ms is None:
                raised = was.raised_ms  # still active: keep its raise
            else:
                events.append(self._event(f, raised, "raise"))
            if f.end_ms is not None and f.end_ms < end_ms:
                events.append(self._event(f, f.end_ms, "clear"))
        evaluated = set(sources)
        for s in before.values():
            if s.source in evaluated and s.cleared_ms is None and s.alarm_id not in found:
                at = end_ms if s.source in ("compliance", "curve") else start_ms
                events.append(
                    AlarmEvent(
                        s.alarm_id, at, "clear", s.source, s.path, s.priority, "condition gone"
                    )
                )
        self.historian.write_events(events)
        return events

    @staticmethod
    def _event(f: Finding, ts_ms: int, kind: str) -> AlarmEvent:
        return AlarmEvent(f.alarm_id, ts_ms, kind, f.source, f.path, f.priority, f.message, f.value)

    def acknowledge(self, alarm_id: str, operator: str, now_ms: int) -> AlarmEvent:
        """Record that `operator` acknowledged the alarm at now_ms; UnknownAlarm if nothing to."""
        if not operator.strip():
            raise ValueError("an acknowledgement needs the operator's name")
        status = self.statuses().get(alarm_id)
        if status is None or status.state not in UNACKED:
            raise UnknownAlarm(f"no unacknowledged alarm {alarm_id!r}")
        event = AlarmEvent(
            alarm_id, now_ms, "ack", status.source, status.path, status.priority,
            f"acknowledged by {operator}", None, operator,
        )  # fmt: skip
        self.historian.write_events([event])
        return event
