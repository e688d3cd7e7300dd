"""What every page reads through: the site, its historian, "now" and a cache of analyses.

"Now" is the newest data time of the site (or a moment pinned by the caller), so an
accelerated demo or a replayed season reads the same as a live plant. Analyses are
cached per (page, range, now rounded to the range's resolution), so refreshes every few
seconds recompute nothing until enough new data has arrived to change the picture.

The live picture (every point's newest sample, the active alarms) is read at most once per
LIVE_S and shared by the callbacks of one tick and by every screen showing the board: at
200 substations each read costs tens of milliseconds.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from analytics.alarms import AlarmJournal, AlarmStatus
from analytics.fetch import NoData, SiteData, as_ms
from heatnet.config import SiteConfig, Substation
from historian.base import Historian

T = TypeVar("T")
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
# range key -> (span in ms or None for the whole season, cache resolution in ms)
RANGES: dict[str, tuple[int | None, int]] = {
    "1h": (HOUR_MS, 1),
    "6h": (6 * HOUR_MS, 60_000),
    "24h": (DAY_MS, 300_000),
    "7d": (7 * DAY_MS, 900_000),
    "30d": (30 * DAY_MS, HOUR_MS),
    "season": (None, HOUR_MS),
}
LIVE_S = 1.0  # how long a read of the live picture is shared


@dataclass(frozen=True, slots=True)
class Latest:
    """The newest sample of one point."""

    value: float | None
    quality: int
    reason: int
    ts_ms: int


class Board:
    """The site, its historian and analytics as the pages use them."""

    def __init__(
        self,
        site: SiteConfig,
        historian: Historian,
        *,
        now: datetime | int | None = None,
        cache_size: int = 64,
        live_s: float = LIVE_S,
    ) -> None:
        self.site = site
        self.historian = historian
        self.data = SiteData(site, historian)
        self.journal = AlarmJournal(historian)
        self.tz = site.tz
        self._pinned = None if now is None else as_ms(now)
        self._cache: OrderedDict[Hashable, Any] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._live_s = live_s
        self._live: dict[str, tuple[float, Any]] = {}

    # ---- time -----------------------------------------------------------------------

    def now_ms(self) -> int | None:
        """The pinned moment, else the newest sample's time; None while the store is empty."""
        if self._pinned is not None:
            return self._pinned
        return max((s.ts_ms for s in self.latest().values()), default=None)

    def period(self, range_key: str, now_ms: int) -> tuple[int, int]:
        """[start, end) of a named range ending at now (the season: its start to now)."""
        span, _ = RANGES[range_key]
        end = now_ms + 1
        if span is not None:
            return end - span, end
        try:
            start, _ = self.data.season_period()
        except NoData:
            return end - 30 * DAY_MS, end
        return min(self._first_data_ms(start, end), end - DAY_MS), end

    def _first_data_ms(self, start: int, end: int) -> int:
        """Start of the first hour after `start` holding data (the season may predate it)."""
        probe = self.path(self.site.heat_source.id, "t_outdoor")
        if probe not in self.latest([probe]):
            probe = self.path(self.site.substations[0].id, "t2_supply")
        hours = self.historian.read_buckets(probe, start, end, 3600)
        return max(start, int(hours.start_ms[0])) if len(hours.start_ms) else start

    def local(self, t_ms: NDArray[np.int64] | list[int]) -> pd.DatetimeIndex:
        """Epoch milliseconds as naive site-local times, for axes labelled in the site zone."""
        utc = pd.to_datetime(np.asarray(t_ms, dtype=np.int64), unit="ms", utc=True)
        return utc.tz_convert(self.tz).tz_localize(None)

    def clock(self, t_ms: int, fmt: str = "%Y-%m-%d %H:%M") -> str:
        """One moment as site-local text."""
        return datetime.fromtimestamp(t_ms / 1000, self.tz).strftime(fmt)

    # ---- cache ----------------------------------------------------------------------

    def cached(self, page: str, range_key: str, now_ms: int, compute: Callable[[], T]) -> T:
        """compute() once per (page, range, now at the range's resolution)."""
        key = (page, range_key, now_ms // RANGES.get(range_key, (None, 1))[1])
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]  # type: ignore[no-any-return]
        value = compute()
        with self._lock:
            self._cache[key] = value
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return value

    # ---- points ---------------------------------------------------------------------

    def path(self, asset: str, role: str) -> str:
        return self.data.path(asset, role)

    def substation(self, sid: str) -> Substation:
        return self.data.substations([sid])[0]

    def _shared(self, name: str, read: Callable[[], T]) -> T:
        """read() at most once per live_s; callers share the result and must not change it."""
        with self._lock:
            hit = self._live.get(name)
        if hit is not None and time.monotonic() - hit[0] < self._live_s:
            return hit[1]  # type: ignore[no-any-return]
        value = read()
        with self._lock:
            self._live[name] = (time.monotonic(), value)
        return value

    def forget_live(self) -> None:
        """Drop the shared live picture, after a write through the board (an acknowledgement)."""
        with self._lock:
            self._live.clear()

    def active_alarms(self) -> list[AlarmStatus]:
        """The journal's active alarms, most urgent first (shared for live_s)."""
        return self._shared("alarms", self.journal.active)

    def latest(self, paths: list[str] | None = None) -> dict[str, Latest]:
        """The newest sample of each path (of every point when None, shared for live_s)."""
        if paths is None:
            return self._shared("latest", lambda: self._read_latest(None))
        return self._read_latest(paths)

    def _read_latest(self, paths: list[str] | None) -> dict[str, Latest]:
        batch = self.historian.latest(paths)
        found = {}
        for i, path in enumerate(batch.paths):
            value = batch.value(i)
            found[path] = Latest(
                value if isinstance(value, float) else None,
                int(batch.quality[i]),
                int(batch.reason[i]),
                int(batch.ts_ms[i]),
            )
        return found

    def offline_after_ms(self, sub: Substation) -> int:
        """Age of a substation's newest sample past which it counts as offline."""
        slowest = 1.0
        for device in sub.devices:
            groups = dict(self.site.profiles[device.profile].poll_groups)
            groups.update(device.poll_intervals)
            slowest = max(slowest, *groups.values())
        return int(max(self.site.collector.stale_after * slowest, 60.0) * 1000)
