"""A substation's status on the overview: ok, warning, alarm or offline, and why."""

from __future__ import annotations

from dataclasses import dataclass

from analytics.alarms import AlarmState, AlarmStatus
from dashboard.board import Board, Latest
from heatnet.config import AlarmLimit, Substation
from heatnet.points import Quality
from heatnet.samples import REASON_CODES

LEVELS = ("ok", "warning", "alarm", "offline")
URGENT = ("high", "urgent")
TILE_ROLES = (
    "t1_supply",
    "t1_return",
    "t2_supply",
    "t2_return",
    "f2_flow",
    "q1_power",
    "q2_power",
    "p2_return",
    "makeup_flow",
    "t_outdoor",
)


@dataclass(frozen=True, slots=True)
class Status:
    level: str  # one of LEVELS
    reasons: tuple[str, ...]
    newest_ms: int | None


def limit_breaches(role: str, value: float, limits: list[AlarmLimit]) -> list[str]:
    """Texts of the alarm limits a value is past, e.g. "t2_supply 96.1 > 95"."""
    found = []
    for limit in limits:
        if limit.role != role:
            continue
        if limit.high is not None and value > limit.high:
            found.append(f"{role} {value:.1f} > {limit.high:g}")
        if limit.low is not None and value < limit.low:
            found.append(f"{role} {value:.1f} < {limit.low:g}")
    return found


def substation_status(
    board: Board,
    sub: Substation,
    latest: dict[str, Latest],
    now_ms: int,
    alarms: list[AlarmStatus],
) -> Status:
    """Offline when its newest sample is too old or every value is lost; alarm when a value
    is past a limit or an urgent alarm is active; warning on poor quality or other alarms."""
    own = {role: latest.get(board.path(sub.id, role)) for role in TILE_ROLES}
    present = [s for s in own.values() if s is not None]
    newest = max((s.ts_ms for s in present), default=None)
    if newest is None:
        return Status("offline", ("no data",), None)
    if now_ms - newest > board.offline_after_ms(sub):
        return Status("offline", (f"no sample since {board.clock(newest)}",), newest)
    if all(s.quality == Quality.BAD for s in present):
        return Status("offline", (str(REASON_CODES[present[0].reason]) or "bad",), newest)
    prefix = f"{board.site.site.id}/{sub.id}/"
    mine = [a for a in alarms if a.path.startswith(prefix) or a.path == prefix[:-1]]
    active = [a for a in mine if a.state in (AlarmState.ACTIVE_UNACKED, AlarmState.ACTIVE_ACKED)]
    breaches = [
        text
        for role, s in own.items()
        if s is not None and s.value is not None and s.quality < Quality.BAD
        for text in limit_breaches(role, s.value, list(board.site.alarms))
    ]
    urgent = [a.message for a in active if a.priority in URGENT]
    if breaches or urgent:
        return Status("alarm", tuple(breaches + urgent), newest)
    poor = [
        f"{role}: {REASON_CODES[s.reason] or Quality(s.quality).name.lower()}"
        for role, s in own.items()
        if s is not None and s.quality != Quality.GOOD
    ]
    others = [a.message for a in active if a.priority not in URGENT]
    if poor or others:
        return Status("warning", tuple(poor + others), newest)
    return Status("ok", (), newest)
